"""The energy report's subcommand: ``spikeport report NET`` (SNN against ANNs on a chip)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikeport.cmd_hw import CHIP_HELP, network_file
from spikeport.errors import SpikeportError
from spikeport.options import integer, number


def _report_from_data(args, net: Path) -> tuple[dict, dict, list]:
    """Activity, accuracy and one sample's raster of ``net`` on a dataset split."""
    from spikeport.evaluate import evaluate_network, report_inputs

    if not Path(args.data).is_dir():
        raise SpikeportError(f"--data {args.data}: no such folder")
    ev = evaluate_network(net, args.data, split=args.split, limit=args.limit, backend=args.backend,
                          progress=not args.quiet)
    return report_inputs(net, ev, args.data, args.split)


def _cmd_report(args: argparse.Namespace) -> int:
    from spikeport.atomic import check_output
    from spikeport.hw.counts import count_activity, load_activity
    from spikeport.hw.profiles import load_profile
    from spikeport.hw.report import write_report

    from spikeport.hw.report import output_files

    net = network_file(args.net)
    inputs = [args.net, args.input, args.activity, args.chip] + list(args.ann or [])
    for f in output_files(args.output):
        check_output(f, inputs, what="report file")
    profile = load_profile(args.chip)
    if args.backend == "loihi":
        from spikeport.sim.loihi_backend import require_loihi

        require_loihi()
        if args.data is None:
            raise SpikeportError("--backend loihi measures accuracy on a dataset: use it with --data")
    if args.input is None and args.activity is None and args.data is None:
        raise SpikeportError("give --data DIR (a dataset, for a network spikeport exported), --input X.npy "
                             "(arrays (inputs..., T) or (batch, inputs..., T)) or --activity COUNTS.json")
    from spikeport.hw.ann_description import load_anns

    anns = load_anns(args.ann)
    raster = accuracy = None
    if args.data is not None:
        activity, accuracy, raster = _report_from_data(args, net)
    elif args.activity is not None:
        activity = load_activity(args.activity)
    else:
        from spikeport.arrays import load_array

        x = load_array(args.input)
        activity, raster = count_activity(net, x, backend=args.backend, progress=not args.quiet,
                                          input_name=args.input)
    doc = write_report(args.output, net, activity, profile, anns=anns, accuracy=accuracy, raster=raster,
                       step_seconds=args.step_seconds)
    print(json.dumps({"report": str(Path(args.output) / "report.html"), "fits": doc["mapping"]["fits"],
                      "headline": doc["headline"]["text"]}))
    return 0


def register(sub) -> None:
    """Add ``report`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("report", help="the SNN-vs-ANN energy report (HTML, Markdown, JSON, PNG)")
    s.add_argument("net", help="netx HDF5 network file")
    src = s.add_mutually_exclusive_group()
    src.add_argument("--input", help=".npy input, (inputs..., T) or (batch, inputs..., T)")
    src.add_argument("--activity", help="activity counts JSON (spikeport-activity/1) measured earlier")
    src.add_argument("--data", help="dataset folder (Speech Commands layout) for a network spikeport exported")
    s.add_argument("--split", choices=["train", "validation", "test"], default="test", help="with --data")
    s.add_argument("--limit", type=integer(1), default=None, help="with --data: at most N clips")
    s.add_argument("--ann", action="append", metavar="ANN",
                   help="an ANN to compare with: a spikeport-ann/1 JSON file, or a training run folder (its "
                        "ann.json and reference_ann.json); repeatable")
    s.add_argument("--chip", default="loihi2", help=CHIP_HELP)
    s.add_argument("--backend", choices=["fast", "lava", "loihi"], default="fast",
                   help="what runs the network (default fast; fast and lava are bit-exact). loihi: accuracy "
                        "from the chip (needs lava-loihi), activity counts from the fast simulator")
    s.add_argument("--step-seconds", type=number(0.0, 3600.0, lo_open=True), default=None,
                   help="real time per timestep (s), for the N-DNS power proxy in ops/s")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.set_defaults(func=_cmd_report)
