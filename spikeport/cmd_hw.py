"""Subcommands of the hw stage: ``spikeport hw map`` and ``spikeport hw profile``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikeport.errors import SpikeportError

CHIP_HELP = "chip: loihi1, loihi2 or a profile file (.toml/.json); default loihi2"


def network_file(path: str) -> Path:
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
    mp = map_network(network_file(args.net), load_profile(args.chip))
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


def register(sub) -> None:
    """Add ``hw`` to the ``spikeport`` subparsers ``sub``."""
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
