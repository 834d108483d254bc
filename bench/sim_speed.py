"""Lava fixed_pt vs the fast backend, measured in one run.

Usage: .venv/bin/python bench/sim_speed.py [--steps 300] [--batch 64] [--net PATH]

Prints per-sample wall time for Lava and for the fast backend (one sample, and per
sample within a batch), the ratios, and whether the outputs were bit-identical.
"""
from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import distribution

import numpy as np

from spikeport.sim import load_network, run_fast, run_fast_batch, run_lava


def bench(name, path, x, batch, netx_options):
    t = time.perf_counter()
    lava = run_lava_opts(path, x, netx_options)
    t_lava = time.perf_counter() - t
    t = time.perf_counter()
    layers = load_network(path, **netx_options)
    fast = run_fast(layers, x)
    t_fast = time.perf_counter() - t
    xb = np.stack([x] * batch)
    t = time.perf_counter()
    fb = run_fast_batch(layers, xb)
    t_batch = (time.perf_counter() - t) / batch
    exact = bool((fast == lava).all() and (fb == fast[None]).all())
    return {"network": name, "steps": int(x.shape[-1]), "lava_s": t_lava, "fast_s": t_fast,
            "fast_per_sample_in_batch_s": t_batch, "batch": batch,
            "speedup_one_sample": t_lava / t_fast, "speedup_throughput": t_lava / t_batch,
            "bit_exact": exact}


def run_lava_opts(path, x, netx_options):
    if not netx_options:
        return run_lava(path, x)
    from spikeport.sim.lava_backend import _imports, input_port, load_netx

    netx, io, RunSteps, Loihi2SimCfg = _imports()
    net = load_netx(path, **netx_options)
    src = io.source.RingBuffer(data=x)
    src.s_out.connect(input_port(net))
    sink = io.sink.RingBuffer(shape=net.out.shape, buffer=x.shape[-1])
    net.out.connect(sink.a_in)
    net.run(condition=RunSteps(num_steps=x.shape[-1]), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    out = sink.data.get()
    net.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--net", default="runs/demo/model.net", help="a 64-input network (make demo writes one)")
    a = ap.parse_args()
    root = [f for f in distribution("lava-dl").files
            if f.as_posix().endswith("netx/tiny.net")][0].locate().parent
    x = np.load(root / "gts/ntidigits/input.npy")[:, :a.steps]
    rows = [bench("ntidigits (64-256-256-242, delays)", root / "gts/ntidigits/ntidigits.net", x, a.batch,
                  {"num_layers": 5})]
    rng = np.random.default_rng(0)
    xd = (rng.random((64, a.steps)) < 0.3).astype(np.float64)
    rows.append(bench(f"digits demo ({a.net})", a.net, xd, a.batch, {}))
    for r in rows:
        print(f"{r['network']}: {r['steps']} steps | Lava {r['lava_s']:.2f} s | fast {r['fast_s']:.3f} s "
              f"(x{r['speedup_one_sample']:.0f}) | fast per sample in batch {r['batch']}: "
              f"{r['fast_per_sample_in_batch_s'] * 1e3:.1f} ms (x{r['speedup_throughput']:.0f}) | "
              f"bit-exact: {r['bit_exact']}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
