"""Subcommands of the hw stage: ``spikeport hw map``, ``spikeport hw profile`` and
``spikeport report``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikeport.errors import SpikeportError
from spikeport.options import integer, number

CHIP_HELP = "chip: loihi1, loihi2 or a profile file (.toml/.json); default loihi2"


def _net(path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise SpikeportError(f"{p}: no such network file")
    return p


def _cmd_map(args: argparse.Namespace) -> int:
    from spikeport.atomic import atomic_path, check_output
    from spikeport.hw.mapping import format_mapping, map_network
    from spikeport.hw.profiles import load_profile

    if args.json:
        check_output(args.json, [args.net, args.chip], what="--json file")
    mp = map_network(_net(args.net), load_profile(args.chip))
    print(format_mapping(mp))
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(mp.to_json(), indent=1) + "\n")
    return 0 if mp.fits else 1


def _cmd_profile(args: argparse.Namespace) -> int:
    from spikeport.hw.profiles import load_profile

    p = load_profile(args.chip)
    print(f"{p.name}: {p.description}")
    for section, figs in (("energy", p.energy), ("time", p.time), ("limits", p.limits)):
        for k, f in figs.items():
            src = f"  [{f.source}]" if f.source else ""
            note = f"  ({f.note})" if f.note else ""
            print(f"  {section}.{k:<32} {f.text():<18}{note}{src}")
    for n in p.notes:
        print(f"note: {n}")
    if p.energy_stand_in:
        print(f"energy stand-in: {p.energy_stand_in}")
    return 0


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
    from spikeport.hw.activity import count_activity, load_activity
    from spikeport.hw.profiles import load_profile
    from spikeport.hw.report import write_report

    from spikeport.hw.report import output_files

    net = _net(args.net)
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
    """Add ``hw`` and ``report`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("hw", help="Loihi resource mapping and chip profiles (spikeport hw map NET.net)")
    hw = s.add_subparsers(dest="hw_command", metavar="HW_COMMAND", required=True)
    m = hw.add_parser("map", help="per-layer neurons, synapses, cores and exceeded limits of a netx network "
                                  "(exit status 1 when it does not fit)")
    m.add_argument("net", help="netx HDF5 network file")
    m.add_argument("--chip", default="loihi2", help=CHIP_HELP)
    m.add_argument("--json", help="also write the mapping as JSON to this file")
    m.set_defaults(func=_cmd_map)
    p = hw.add_parser("profile", help="a chip profile's figures and their sources")
    p.add_argument("chip", nargs="?", default="loihi2", help=CHIP_HELP)
    p.set_defaults(func=_cmd_profile)

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
