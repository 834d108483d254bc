"""The NIR interop subcommands: ``spikeport nir export`` and ``spikeport nir import``."""
from __future__ import annotations

import argparse
import json

from spikeport.options import integer, number


def _cmd_export(args: argparse.Namespace) -> int:
    from spikeport.nir_export import export_nir

    graph = export_nir(args.net, args.output, dt=args.dt, num_layers=args.num_layers)
    kinds: dict[str, int] = {}
    for node in graph.nodes.values():
        kinds[type(node).__name__] = kinds.get(type(node).__name__, 0) + 1
    print(json.dumps({"output": args.output, "dt": args.dt, "convention": "snntorch", "nodes": kinds}))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from spikeport.nir_import import format_table, import_nir

    report = import_nir(args.graph, args.output, dt=args.dt, convention=args.convention)
    exact = "bit-exact from spikeport's netx metadata" if report["exact"] else "quantized"
    print(f"{args.graph} -> {args.output}: {exact}; convention {report['convention']}, dt {report['dt']:g} s "
          f"({report['dt_from']})")
    print(format_table(report))
    for note in report["notes"]:
        print(f"note: {note}")
    return 0


def register(sub) -> None:
    """Add ``nir`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("nir", help="exchange networks with snnTorch, Norse, Sinabs, Rockpool ... via NIR "
                                   "(spikeport nir export|import)")
    nir = s.add_subparsers(dest="nir_command", metavar="NIR_COMMAND", required=True)
    e = nir.add_parser("export", help="a netx network as a NIR graph (snnTorch's convention, exact integers in "
                                      "the metadata)")
    e.add_argument("net", help="netx HDF5 network file")
    e.add_argument("-o", "--output", required=True, help="NIR graph file to write (.nir)")
    e.add_argument("--dt", type=number(0.0, 1e6, lo_open=True), default=1e-3,
                   help="seconds per timestep the continuous parameters assume (default 1e-3; snnTorch's "
                        "import_nir assumes 1e-4)")
    e.add_argument("--num-layers", type=integer(1, 10_000), default=None,
                   help="export only the first N layers of the file (e.g. to leave out an average readout)")
    e.set_defaults(func=_cmd_export)
    i = nir.add_parser("import", help="a NIR graph quantized to Loihi fixed point, as a netx network")
    i.add_argument("graph", help="NIR graph file (nir.write)")
    i.add_argument("-o", "--output", required=True, help="netx HDF5 network file to write")
    i.add_argument("--dt", type=number(0.0, 1e6, lo_open=True), default=None,
                   help="seconds per timestep (default: what the graph implies, e.g. tau_mem / r for snnTorch)")
    i.add_argument("--convention", choices=["snntorch", "norse", "sinabs", "rockpool"], default=None,
                   help="how the graph's framework discretises NIR's neurons (default: snntorch when the graph "
                        "shows it)")
    i.set_defaults(func=_cmd_import)
