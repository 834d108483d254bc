"""The sim stage's subcommand: ``spikeport sim``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikeport.errors import SpikeportError


def _load_input(path: str):
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        msg = " ".join(str(e).split())
        raise SpikeportError(f"{path}: cannot read as a .npy array ({msg})") from None


def _cmd_sim(args: argparse.Namespace) -> int:
    import numpy as np

    from spikeport.atomic import atomic_path
    from spikeport.sim import simulate

    net = Path(args.net)
    if not net.is_file():
        raise SpikeportError(f"{net}: no such network file")
    if args.counts and Path(args.counts).resolve() == Path(args.output).resolve():
        raise SpikeportError(f"--counts and -o name the same file ({args.output})")
    if args.backend == "loihi":
        from spikeport.sim.loihi_backend import require_loihi

        require_loihi()   # say what is missing before reading anything
    x = _load_input(args.input)
    options = {} if args.num_layers is None else {"num_layers": args.num_layers}
    res = simulate(net, x, backend=args.backend, steps=args.steps, counts=bool(args.counts),
                   progress=args.progress, input_name=args.input, **options)
    out = res.output if res.batched else res.output[0]
    with atomic_path(args.output) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, out)
        if args.counts:
            with atomic_path(args.counts) as ctmp:
                ctmp.write_text(json.dumps(res.counts) + "\n")
    spikes = out if res.readout_input is None else res.readout_input
    line = {"output": args.output, "shape": list(out.shape), "spikes": int(np.count_nonzero(spikes)),
            "backend": res.backend, "steps": res.steps, "latency": res.latency}
    if res.readout:
        line["readout"] = res.readout
    if args.counts:
        line["counts"] = args.counts
    print(json.dumps(line))
    return 0


def register(sub) -> None:
    """Add ``sim`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("sim", help="run a netx HDF5 network on an input array (Lava fixed_pt, fast, or Loihi 2)",
                       description="Run a netx HDF5 network on an input array and save the output layer's "
                                   "events as a RingBuffer sink records them.")
    s.add_argument("net", help="netx HDF5 network file")
    s.add_argument("--input", required=True,
                   help=".npy input shaped as netx's input takes it: (inputs..., T), or (batch, inputs..., T)")
    s.add_argument("--backend", choices=["lava", "fast", "loihi"], default="lava",
                   help="lava: Lava's fixed_pt CPU simulator (reference); fast: spikeport's batched "
                        "bit-exact re-implementation; loihi: Loihi 2 hardware (needs lava-loihi)")
    s.add_argument("--steps", type=int, default=None,
                   help="timesteps to run (default: T of the input; the input repeats beyond T)")
    s.add_argument("--num-layers", type=int, default=None,
                   help="run only the first N layers of the file (netx's num_layers)")
    s.add_argument("-o", "--output", required=True,
                   help=".npy file for the output layer's events (outputs..., T), int32; float32 group means "
                        "for a network that ends with an 'average' readout")
    s.add_argument("--counts", default=None, help="also write activity counts (spikeport-activity/1 JSON) here")
    s.add_argument("--progress", action="store_true", help="show a progress bar")
    s.set_defaults(func=_cmd_sim)
