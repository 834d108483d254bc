"""The sim stage's subcommand: ``spikeport sim``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikeport.errors import SpikeportError
from spikeport.options import integer


def _cmd_sim(args: argparse.Namespace) -> int:
    import numpy as np

    from spikeport.arrays import load_array
    from spikeport.atomic import atomic_path, check_output
    from spikeport.sim.simulate import simulate

    net = Path(args.net)
    if not net.is_file():
        raise SpikeportError(f"{net}: no such network file")
    check_output(args.output, [args.net, args.input], what="output (-o)")
    if args.counts:
        check_output(args.counts, [args.net, args.input, args.output], what="--counts file")
    if args.backend == "loihi":
        from spikeport.sim.loihi_backend import require_loihi

        require_loihi()   # say what is missing before reading anything
    x = load_array(args.input)
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


def _cmd_check(args: argparse.Namespace) -> int:
    from spikeport.sim.netx_validate import problems, read_layers

    found = problems(args.net)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} problem{'s' if len(found) != 1 else ''} in {args.net}")
        return 2
    print(f"ok: {args.net} ({len(read_layers(args.net))} layers, every field as netx 0.6 and the chip accept it)")
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
    s.add_argument("--steps", type=integer(1, 2 ** 31 - 1), default=None,
                   help="timesteps to run (default: T of the input; the input repeats beyond T)")
    s.add_argument("--num-layers", type=integer(1, 10_000), default=None,
                   help="run only the first N layers of the file (netx's num_layers)")
    s.add_argument("-o", "--output", required=True,
                   help=".npy file for the output layer's events (outputs..., T), int32; float32 group means "
                        "for a network that ends with an 'average' readout")
    s.add_argument("--counts", default=None, help="also write activity counts (spikeport-activity/1 JSON) here")
    s.add_argument("--progress", action="store_true", help="show a progress bar")
    s.set_defaults(func=_cmd_sim)

    c = sub.add_parser("check", help="check every field of a netx HDF5 network (exit status 2 on any problem)",
                       description="List every problem of a netx file: missing, mistyped, non-finite or "
                                   "out-of-range fields, shapes that do not chain, fields netx would ignore.")
    c.add_argument("net", help="netx HDF5 network file")
    c.set_defaults(func=_cmd_check)
