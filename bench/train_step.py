"""Training-step speed of the keyword-spotting SNN on the CPU: SLAYER's own Python loops
against spikeport's replacements (train/slayer_cpu.py), measured in one run.

    .venv/bin/python bench/train_step.py [--batch 32] [--steps 151] [--repeats 4]

Three configurations of the same default conv SNN, same batch, same weights:
SLAYER's loops (leaky integrators and per-neuron axonal delay); the compiled leaky
integrators; and the compiled integrators plus the gathered axonal delay (what
training uses). Prints seconds per training step (forward + backward + Adam) and ms
per clip, and checks that the three give identical output spikes.
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


def _configure(mode: str) -> None:
    from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator as li

    slayer_cpu.install()
    compiled = mode != "slayer"
    li._li_dynamics_fwd = slayer_cpu.li_forward if compiled else slayer_cpu.ORIGINAL["fwd"]
    li._li_dynamics_bwd = slayer_cpu.li_backward if compiled else slayer_cpu.ORIGINAL["bwd"]
    slayer_cpu._shift_module()._shift_individual = (slayer_cpu.shift_individual if mode == "compiled+gather"
                                                    else slayer_cpu.ORIGINAL["shift"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=151, help="timesteps per clip (frames + tail)")
    ap.add_argument("--repeats", type=int, default=6)
    a = ap.parse_args()
    cfg = KwsConfig(tail=0)
    feats = np.random.default_rng(0).standard_normal((a.batch, 3, 40, a.steps)).astype(np.float32)
    x = encode_batch(cfg, feats, 0)
    y = torch.randint(0, 12, (a.batch,), generator=torch.Generator().manual_seed(0))
    spec = model_spec(cfg, 3, 40, 12)
    times, outputs = {}, {}
    for mode in ("slayer", "compiled", "compiled+gather"):
        _configure(mode)
        torch.manual_seed(0)
        net = build_snn(spec, seed=0)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        with torch.no_grad():
            outputs[mode] = net(x)

        def step():
            outs = net(x, return_all=True)
            loss = F.cross_entropy(outs[-1].mean(-1) * cfg.ce_gain, y) + cfg.penalty * spike_penalty(outs)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()  # warm-up (numba compiles or loads its cache)
        t0 = time.perf_counter()
        for _ in range(a.repeats):
            step()
        times[mode] = (time.perf_counter() - t0) / a.repeats
        print(f"{mode:16s} {times[mode]:7.3f} s per step  {1000 * times[mode] / a.batch:6.1f} ms per clip",
              flush=True)
    _configure("compiled+gather")
    same = all(torch.equal(outputs["slayer"], o) for o in outputs.values())
    print(f"speed-up vs SLAYER's loops: compiled x{times['slayer'] / times['compiled']:.2f}, "
          f"compiled+gather x{times['slayer'] / times['compiled+gather']:.2f}; "
          f"gather alone x{times['compiled'] / times['compiled+gather']:.2f}; identical output spikes: {same}")


if __name__ == "__main__":
    main()
