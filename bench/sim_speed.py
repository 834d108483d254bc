"""Lava fixed_pt vs the fast backend, measured in one run, outputs compared bit for bit.

Usage::

    .venv/bin/python bench/sim_speed.py                       # ntidigits, KWS-shaped (+ the trained runs/demo/model.net if present)
    .venv/bin/python bench/sim_speed.py --net NET --input X.npy [--steps T] [--batch 64]
    .venv/bin/python bench/sim_speed.py --whole-only          # only the whole-command rows

Whole commands (what a user waits for): ``spikeport sim NET --input X.npy --backend
fast|lava -o Y.npy`` from process start to output file, one sample, with the peak
memory of the command's whole process tree (Lava's workers included), on ntidigits
(300 steps), a 200-256-200 CUBA network (2000 steps) and the demo's keyword spotter
(one test clip); the two outputs must be identical.

``X.npy``: ``(inputs..., T)`` or ``(batch, inputs..., T)`` as ``spikeport sim`` takes it.

Per network it prints: Lava's wall time for one sample (network build, compile, run,
stop: what one ``spikeport sim --backend lava`` pays) and, with ``--lava-marginal``,
Lava's cost per extra step (from a second, shorter run, start-up excluded); the fast
backend's load time, its time for the same sample (warm: numba's one-time compile is
done first and reported), and its time per sample within a batch of distinct inputs;
the ratios; and whether every compared output was identical.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from importlib.metadata import distribution
from pathlib import Path

import numpy as np

from spikeport.fixed_point import _cuba_kernel
from spikeport.sim import load_network, run_lava, simulate
from spikeport.sim.synthetic import write_network


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench(name: str, path, xs: np.ndarray, batch: int, repeat: int, lava_marginal: bool, **netx_options) -> dict:
    """``xs``: ``(n, inputs..., T)`` distinct inputs; sample 0 goes through Lava."""
    x0 = xs[0]
    steps = int(x0.shape[-1])
    t = time.perf_counter()
    lava = np.rint(run_lava(path, x0, **netx_options)).astype(np.int32)
    t_lava = time.perf_counter() - t
    marginal = None
    if lava_marginal:
        short = max(1, steps // 3)
        t = time.perf_counter()
        run_lava(path, x0[..., :short], **netx_options)
        marginal = (t_lava - (time.perf_counter() - t)) / (steps - short)
    t_load, net = _best(lambda: load_network(path, **netx_options), repeat)
    t = time.perf_counter()
    _cuba_kernel()                      # in-process figures run numba's kernel: compiled (or loaded) once
    t_jit = time.perf_counter() - t
    t_one, one = _best(lambda: simulate(net, x0).output[0], repeat)
    reps = int(np.ceil(batch / len(xs)))
    xb = np.concatenate([xs] * reps)[:batch]
    t_batch, res = _best(lambda: simulate(net, xb).output, max(1, repeat - 1))
    per_sample = t_batch / batch
    checks = [bool((one == lava).all()), bool((res[0] == lava).all())]
    for k in sorted({1, len(xs) // 2, len(xs) - 1} & set(range(1, min(len(xs), batch)))):
        checks.append(bool((res[k] == simulate(net, xb[k]).output[0]).all()))
    return {"network": name, "steps": steps, "batch": batch, "distinct_inputs": int(min(len(xs), batch)),
            "lava_s": t_lava, "lava_marginal_s_per_step": marginal, "fast_load_s": t_load, "fast_jit_s": t_jit,
            "fast_one_s": t_one, "fast_per_sample_in_batch_s": per_sample,
            "speedup_one_sample": t_lava / (t_load + t_one), "speedup_one_sample_run_only": t_lava / t_one,
            "speedup_throughput": t_lava / per_sample,
            "speedup_marginal_one": None if marginal is None else marginal * steps / t_one,
            "speedup_marginal_throughput": None if marginal is None else marginal * steps / per_sample,
            "output_spikes": int(np.count_nonzero(lava)), "bit_exact": all(checks)}


def _ntidigits(steps: int, n: int) -> tuple[Path, np.ndarray]:
    root = [f for f in distribution("lava-dl").files if f.as_posix().endswith("netx/tiny.net")][0].locate().parent
    x = np.load(root / "gts/ntidigits/input.npy")
    # distinct samples: windows of the recording at different offsets
    offsets = np.linspace(0, x.shape[-1] - steps, n).astype(int)
    return root / "gts/ntidigits/ntidigits.net", np.stack([x[:, o:o + steps] for o in offsets])


def _kws_shaped(path: Path, steps: int, n: int, seed: int = 0) -> np.ndarray:
    """A network shaped like our keyword-spotting conv net (train.models.kws_spec('conv'):
    3x40 analog input neurons, convs of 32/64/64 channels with 3x1 kernels, strides 1/2/2,
    a 128-neuron dense layer with axonal delays up to 31, 12 outputs), random integer
    weights; returns ``n`` random input currents ``(n, 1, 40, 3, steps)``."""
    rng = np.random.default_rng(seed)
    cuba = {"type": "CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 100}

    def w(*shape):
        return rng.integers(-64, 56, shape) * 2

    write_network(path, [
        {"type": "input", "shape": [3, 40, 1], "neuron": cuba},
        {"type": "conv", "weight": w(32, 3, 3, 1), "padding": [1, 0], "neuron": cuba},
        {"type": "conv", "weight": w(64, 32, 3, 1), "stride": [2, 1], "padding": [1, 0], "neuron": cuba},
        {"type": "conv", "weight": w(64, 64, 3, 1), "stride": [2, 1], "padding": [1, 0], "neuron": cuba},
        {"type": "flatten"},
        {"type": "dense", "weight": w(128, 640), "delay": rng.integers(0, 32, 128), "neuron": cuba},
        {"type": "dense", "weight": w(12, 128), "neuron": cuba}])
    return rng.integers(-100, 250, (n, 1, 40, 3, steps))


def _tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants (from /proc)."""
    parents, rss = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parents[int(d)] = int(fields[1])
                rss[int(d)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
    tree, grew = {pid}, True
    while grew:
        new = {p for p, pp in parents.items() if pp in tree} - tree
        grew = bool(new)
        tree |= new
    return sum(rss.get(p, 0) for p in tree)


def whole_command(args: list[str]) -> tuple[float, float]:
    """Wall seconds of ``spikeport ARGS`` from process start to exit, and the peak
    resident memory (MB) of its process tree, sampled every 10 ms."""
    exe = str(Path(sys.executable).with_name("spikeport"))
    t = time.perf_counter()
    proc = subprocess.Popen([exe, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.01)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"spikeport {' '.join(args)} failed: {proc.stderr.read().decode()[-400:]}")
    return wall, peak / 2 ** 20


def _cuba_200(path: Path, steps: int, seed: int = 0) -> np.ndarray:
    """A 200-256-200 CUBA network (random integer weights) and one input of ``steps`` steps."""
    rng = np.random.default_rng(seed)
    cuba = {"type": "CUBA", "iDecay": 1024, "vDecay": 256, "vThMant": 40}
    write_network(path, [{"type": "input", "shape": [200]},
                         {"type": "dense", "weight": rng.integers(-30, 31, (256, 200)) * 2, "neuron": cuba},
                         {"type": "dense", "weight": rng.integers(-30, 31, (200, 256)) * 2, "neuron": cuba}])
    return (rng.random((200, steps)) < 0.05).astype(np.int8)


def whole_rows(tmp: Path) -> list[dict]:
    """Whole ``spikeport sim`` commands, fast vs Lava, one sample per network."""
    cases = []
    nti, xn = _ntidigits(300, 1)
    cases.append(("ntidigits 64-256-256-242, axonal delays", nti, xn[0]))
    cuba = tmp / "cuba_200_256_200.net"
    cases.append(("200-256-200 CUBA", cuba, _cuba_200(cuba, 2000)))
    demo = Path("runs/demo/model.net")
    if demo.is_file():
        from spikeport.evaluate import dataset_inputs, network_metadata
        from spikeport.train.config import default_cache_dir

        xd, _, _ = dataset_inputs(network_metadata(demo), default_cache_dir() / "corpus", "test", limit=1,
                                  progress=False)
        cases.append(("trained KWS net (runs/demo/model.net), one test clip", demo, xd[0]))
    rows = []
    for name, net, x in cases:
        np.save(tmp / "x.npy", x)
        got = {}
        for backend in ("fast", "lava"):
            out = tmp / f"y_{backend}.npy"
            got[backend] = whole_command(["sim", str(net), "--input", str(tmp / "x.npy"), "--backend", backend,
                                          "-o", str(out)])
        same = bool(np.array_equal(np.load(tmp / "y_fast.npy"), np.load(tmp / "y_lava.npy")))
        rows.append({"network": name, "steps": int(x.shape[-1]), "fast_command_s": got["fast"][0],
                     "fast_peak_MB": got["fast"][1], "lava_command_s": got["lava"][0],
                     "lava_peak_MB": got["lava"][1], "speedup_command": got["lava"][0] / got["fast"][0],
                     "bit_exact": same})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3, help="fast timings: best of this many runs")
    ap.add_argument("--net", default=None, help="a netx network to bench instead of the defaults")
    ap.add_argument("--input", default=None, help=".npy input for --net, (inputs..., T) or (batch, inputs..., T)")
    ap.add_argument("--num-layers", type=int, default=None, help="netx num_layers for --net")
    ap.add_argument("--lava-marginal", action="store_true",
                    help="also time a shorter Lava run: Lava's per-step cost without its start-up")
    ap.add_argument("--kws-steps", type=int, default=100, help="steps for the KWS-shaped network")
    ap.add_argument("--json", default=None, help="write the rows here")
    ap.add_argument("--whole-only", action="store_true", help="only the whole-command rows")
    a = ap.parse_args()
    rows = []
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        whole = whole_rows(Path(tmp))
    for r in whole:
        print(f"whole command, {r['network']}: {r['steps']} steps | fast {r['fast_command_s']:.2f} s, peak "
              f"{r['fast_peak_MB']:.0f} MB | Lava {r['lava_command_s']:.2f} s, peak {r['lava_peak_MB']:.0f} MB | "
              f"x{r['speedup_command']:.1f} | bit-exact: {r['bit_exact']}")
    if a.whole_only:
        print(json.dumps(whole))
        return
    if a.net:
        if not a.input:
            ap.error("--net needs --input")
        net = load_network(a.net, **({} if a.num_layers is None else {"num_layers": a.num_layers}))
        x = np.load(a.input)
        xs = x[None] if x.ndim == len(net.input_shape) + 1 else x
        xs = xs[..., :a.steps] if a.steps else xs
        opts = {} if a.num_layers is None else {"num_layers": a.num_layers}
        rows.append(bench(Path(a.net).name, a.net, xs, a.batch, a.repeat, a.lava_marginal, **opts))
    else:
        path, xs = _ntidigits(a.steps, a.batch)
        rows.append(bench("ntidigits 64-256-256-242, axonal delays", path, xs, a.batch, a.repeat, a.lava_marginal,
                          num_layers=5))
        with tempfile.TemporaryDirectory() as tmp:
            kws = Path(tmp) / "kws_shaped.net"
            xk = _kws_shaped(kws, a.kws_steps, a.batch)
            rows.append(bench("KWS-shaped conv net (random weights)", kws, xk, a.batch, a.repeat, a.lava_marginal))
        demo = Path("runs/demo/model.net")
        if demo.is_file():
            # the trained keyword spotter of `make demo`, on real test clips of the embedded corpus
            from spikeport.evaluate import dataset_inputs, network_metadata
            from spikeport.train.config import default_cache_dir

            xd, _, _ = dataset_inputs(network_metadata(demo), default_cache_dir() / "corpus", "test",
                                      limit=a.batch, progress=False)
            rows.append(bench("trained KWS net (runs/demo/model.net), test clips", demo, xd, a.batch, a.repeat,
                              a.lava_marginal))
    for r in rows:
        line = (f"{r['network']}: {r['steps']} steps | Lava {r['lava_s']:.2f} s | fast load {r['fast_load_s'] * 1e3:.0f} ms"
                f" + run {r['fast_one_s'] * 1e3:.1f} ms (x{r['speedup_one_sample']:.0f}; run only "
                f"x{r['speedup_one_sample_run_only']:.0f}) | per sample in a batch of {r['batch']}: "
                f"{r['fast_per_sample_in_batch_s'] * 1e3:.2f} ms (x{r['speedup_throughput']:.0f})")
        if r["lava_marginal_s_per_step"] is not None:
            line += (f" | Lava without start-up {r['lava_marginal_s_per_step'] * 1e3:.1f} ms/step: "
                     f"x{r['speedup_marginal_one']:.0f} one, x{r['speedup_marginal_throughput']:.0f} batch")
        line += f" | numba compile/cache load {r['fast_jit_s']:.2f} s once | bit-exact: {r['bit_exact']}"
        print(line)
    print(json.dumps({"whole_commands": whole, "in_process": rows}))
    if a.json:
        Path(a.json).write_text(json.dumps({"whole_commands": whole, "in_process": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
