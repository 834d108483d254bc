"""Training-step speed of the keyword-spotting SNN on the CPU: SLAYER's own Python loops
against spikeport's replacements (train/slayer_cpu.py), measured in one run.

    .venv/bin/python bench/train_step.py [--batch 32] [--steps 151] [--repeats 6] [--epoch-clips N]

Four configurations of the same default conv SNN, same batch, same weights:
SLAYER's loops (leaky integrators and per-neuron axonal delay); the compiled leaky
integrators; those plus the gathered axonal delay; and those plus the one-step shift,
the delay gradient's time difference and the surrogate derivative done without
SLAYER's extra allocations and 3-D convolution (what training uses). Prints seconds per
training step (forward + backward + Adam) and ms per clip, and checks that all four
give identical output spikes and that the last two give bit-identical gradients.
With ``--epoch-clips N`` it also times one real training epoch (the embedded corpus's
first N training clips, default recipe) without and with those three drop-ins.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

import spikeport  # noqa: F401
from spikeport.train import slayer_cpu
from spikeport.train.config import KwsConfig
from spikeport.train.kws import build_snn, model_spec, spike_penalty
from spikeport.train.kws_data import encode_batch


# the SLAYER CPU functions each mode replaces (train/slayer_cpu.py), each adding to the one before
MODE_FUNCTIONS = {"slayer": (), "compiled": ("fwd", "bwd"), "compiled+gather": ("fwd", "bwd", "shift"),
                  "training": tuple(slayer_cpu.SLAYER_CPU_FUNCTIONS)}
MODES = tuple(MODE_FUNCTIONS)


def _configure(mode: str) -> None:
    """Route SLAYER's CPU functions for ``mode``: its drop-ins on, SLAYER's own for the rest."""
    slayer_cpu.install()
    for key in slayer_cpu.SLAYER_CPU_FUNCTIONS:
        slayer_cpu.route(key, key in MODE_FUNCTIONS[mode])


def _epoch_comparison(clips: int) -> None:
    """One default training epoch over the first ``clips`` clips of the embedded
    corpus's training split, timed without and with the in-place drop-ins, from the
    same weights and draws: seconds, and whether loss and accuracy came out equal."""
    import tempfile
    from pathlib import Path

    from spikeport.train import kws

    cfg = KwsConfig(limit=clips)
    cfg.validate()
    data = kws.prepare_data(cfg, None, progress=False)
    seen = {}
    for mode in ("compiled+gather", "training"):
        _configure(mode)
        torch.manual_seed(cfg.seed)
        with tempfile.TemporaryDirectory() as tmp:
            run, _ = kws._setup(cfg, Path(tmp), data, torch.device("cpu"), False, 0, 1)
            t0 = time.perf_counter()
            m = kws._train_epoch(run, 0, False)
            seconds = time.perf_counter() - t0
        seen[mode] = (m["loss"], m["train_accuracy"])
        print(f"epoch of {len(data['train'][0])} clips, {mode:16s} {seconds:6.1f} s  "
              f"({1000 * seconds / len(data['train'][0]):.1f} ms per clip)  loss {m['loss']:.6f}", flush=True)
    print(f"same loss and accuracy: {seen['compiled+gather'] == seen['training']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=151, help="timesteps per clip (frames + tail)")
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--epoch-clips", type=int, default=0,
                    help="also time one real training epoch over this many corpus clips, without and "
                         "with the in-place drop-ins (0: skip)")
    a = ap.parse_args()
    cfg = KwsConfig(tail=0)
    feats = np.random.default_rng(0).standard_normal((a.batch, 3, 40, a.steps)).astype(np.float32)
    x = encode_batch(cfg, feats, 0)
    y = torch.randint(0, 12, (a.batch,), generator=torch.Generator().manual_seed(0))
    spec = model_spec(cfg, 3, 40, 12)
    times, outputs, grads = {}, {}, {}
    for mode in MODES:
        _configure(mode)
        torch.manual_seed(0)
        net = build_snn(spec, seed=0)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)

        def step(update: bool = True):
            outs = net(x, return_all=True)
            loss = F.cross_entropy(outs[-1].mean(-1) * cfg.ce_gain, y) + cfg.penalty * spike_penalty(outs)
            opt.zero_grad()
            loss.backward()
            if update:
                opt.step()
            return outs[-1].detach()

        outputs[mode] = step(update=False)  # warm-up (numba compiles or loads its cache)
        grads[mode] = [p.grad.clone() for p in net.parameters() if p.grad is not None]
        t0 = time.perf_counter()
        for _ in range(a.repeats):
            step()
        times[mode] = (time.perf_counter() - t0) / a.repeats
        print(f"{mode:16s} {times[mode]:7.3f} s per step  {1000 * times[mode] / a.batch:6.1f} ms per clip",
              flush=True)
    _configure("training")
    same = all(torch.equal(outputs["slayer"], o) for o in outputs.values())
    same_grads = all(torch.equal(g, h) for g, h in zip(grads["compiled+gather"], grads["training"]))
    print(f"speed-up vs SLAYER's loops: compiled x{times['slayer'] / times['compiled']:.2f}, "
          f"compiled+gather x{times['slayer'] / times['compiled+gather']:.2f}, "
          f"training x{times['slayer'] / times['training']:.2f}; gather alone "
          f"x{times['compiled'] / times['compiled+gather']:.2f}, in-place drop-ins alone "
          f"x{times['compiled+gather'] / times['training']:.2f}; identical output spikes: {same}; "
          f"in-place drop-ins give bit-identical gradients: {same_grads}")
    if a.epoch_clips:
        _epoch_comparison(a.epoch_clips)

if __name__ == "__main__":
    main()
