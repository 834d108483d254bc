"""The sim stage's subcommand: ``spikeport sim``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikeport.errors import SpikeportError


def _cmd_sim(args: argparse.Namespace) -> int:
    import numpy as np

    from spikeport.atomic import atomic_path
    from spikeport.sim import run_fast, run_lava

    net = Path(args.net)
    if not net.is_file():
        raise SpikeportError(f"{net}: no such network file")
    try:
        x = np.load(args.input)
    except (OSError, ValueError) as e:
        raise SpikeportError(f"{args.input}: cannot read as a .npy array ({e})") from None
    if not np.isfinite(x).all():
        raise SpikeportError(f"{args.input}: input contains NaN or infinite values")
    if args.steps is not None:
        x = x[..., :args.steps]
    out = run_lava(net, x) if args.backend == "lava" else run_fast(net, x).astype(x.dtype)
    with atomic_path(args.output) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, out)
    print(json.dumps({"output": args.output, "shape": list(out.shape), "spikes": int(out.sum())}))
    return 0


def register(sub) -> None:
    """Add ``sim`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("sim", help="run a netx HDF5 network on an input array (Lava fixed_pt or fast)")
    s.add_argument("net", help="netx HDF5 network file")
    s.add_argument("--input", required=True, help=".npy input shaped (inputs..., T)")
    s.add_argument("--backend", choices=["lava", "fast"], default="lava")
    s.add_argument("--steps", type=int, default=None, help="timesteps to run (default: T of the input)")
    s.add_argument("-o", "--output", required=True, help=".npy file for the output spikes (outputs..., T)")
    s.set_defaults(func=_cmd_sim)
