"""A NIR graph onto Loihi fixed point, written as a netx HDF5 file (``spikeport nir import``).

**From continuous time to steps.** NIR's CubaLIF is ``tau_syn I' = -I + w_in S``,
``tau_mem v' = (v_leak - v) + r I``, spike when ``v > v_threshold``, then
``v = v_reset``. Frameworks turn it into steps of ``dt`` in different ways; with
``alpha``, ``beta`` the per-step current and voltage decay factors, ``g`` the gain from
a synapse's output to the voltage and ``b`` the voltage bias per step, spikeport
reads a graph in the framework's own way (``--convention``):

* ``snntorch``, ``norse`` (forward Euler): ``alpha = 1 - dt/tau_syn``,
  ``beta = 1 - dt/tau_mem``, ``g = (w_in dt/tau_syn) (r dt/tau_mem)``,
  ``b = v_leak dt/tau_mem``;
* ``sinabs`` (exponential, time in steps): ``alpha = exp(-dt/tau_syn)``,
  ``beta = exp(-dt/tau_mem)``, ``g = w_in r``, ``b = v_leak (1 - beta)``;
* ``rockpool`` (exponential; the current decays once before it reaches the
  voltage): ``alpha``, ``beta`` as sinabs, ``g = w_in alpha``, ``b = v_leak``.

(LIF: no current state, ``alpha = 0``, ``tau_mem = tau``, ``w_in = 1``; IF: also
``beta = 1``, ``g = r dt``, or ``r`` for sinabs; ``inf / inf`` gains, snnTorch's
``w_in = tau_syn/dt`` with no current leak, count as 1.) Steps: snnTorch writes
``r = tau_mem/dt``, so its graphs give ``dt = tau_mem / r`` (1e-4 when no neuron has
finite values: snnTorch's fixed export step); Norse runs at 1e-3 s, Sinabs counts
time constants in steps (``dt = 1``), Rockpool writes ``r = tau e^(-dt/tau) / dt``,
solved for ``dt`` with Lambert's W. ``--dt`` overrides; without ``--convention`` a
graph is read as snnTorch's when its ``r`` and ``tau`` imply one step, else refused.

The discrete layer ``I = alpha I + g (W S + c)``, ``v = beta v + I + b`` is Loihi's
CUBA neuron (:func:`spikeport.fixed_point.cuba_step`) in units where the chip's
integers are divided by a per-layer scale ``s``:

* decays: ``iDecay = round(4096 (1 - alpha))``, ``vDecay = round(4096 (1 - beta))``,
  one per layer (netx holds one): per-neuron time constants that round to different
  12-bit decays are refused;
* per-neuron gains and thresholds fold into the synapse: neuron ``i``'s weights,
  recurrent weights and bias are multiplied by ``g_i th / th_i`` (``th`` the largest
  threshold), which leaves its spikes unchanged; a conv layer needs this factor
  uniform within each output channel (its kernel is shared);
* ``s`` is the largest scale at which the weights fit Loihi's 8-bit weights (a
  signed mantissa times 2, even integers in ``[-256, 254]``, with mixed signs; an
  unsigned magnitude, ``[0, 255]`` or ``[-255, 0]``, with one), the threshold the
  17-bit ``vThMant`` and the bias the 13-bit mantissa, or the largest power of two
  below it when that represents the layer more exactly (binary fractions, e.g.
  weights trained on a 1/64 grid, then come out exact); ``W_int = round(s g W)``
  (to even integers with mixed signs), ``vThMant = round(s th)``,
  ``bias = round(s b)``; weights netx's optimiser would alter (one-signed matrices
  with zeros, see :func:`weight_step`) go on a coarser even grid;
* a synapse bias ``c`` (a constant input current) becomes the voltage bias
  ``g c / (1 - alpha)``: exact when the current does not decay across steps
  (``alpha = 0``), the steady state otherwise (noted in the table);
* an input layer with neurons (``Input -> neuron``) takes ``a_in = round(64 x)``
  (:func:`spikeport.fixed_point.input_current`), so its scale is ``64 / g``;
* ``Delay`` nodes become axonal delays of ``delay / dt`` steps (integers in 0..62).

A graph written by ``spikeport nir export`` carries its netx integers; when its
parameters are still the ones those integers give (at its own ``dt``, in snnTorch's
convention), they are written back as they were: bit-exact.

Refused, naming the node: not a NIR file, unknown node types, missing fields,
shapes that do not chain, ``v_reset != 0``, time constants that do not fold, delays
that are not whole steps, branches netx cannot wire (netx layers form a chain: each
layer's synapse reads the previous layer, parallel ``Delay -> Affine`` branches
into one neuron population are merged into one delayed dense synapse).

The quantization table (per layer: relative weight error, decay error, threshold)
is printed and stored as JSON in the output's ``spikeport`` group (attribute ``nir``).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.fixed_point import WEIGHT_SCALE
from spikeport.nir_graph import CONVENTIONS, Walk, read_graph, walk_layers
from spikeport.nir_quantize import choose_step, netx_layers
from spikeport.sim.synthetic import write_network


# ------------------------------------------------------------------ spikeport's own graphs --

def _plain(v):
    """Metadata values as written back to netx: numpy scalars as Python numbers."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def metadata_layers(graph) -> list[dict] | None:
    """The netx layer dicts a spikeport export stored in the node metadata, in file
    order, or None when the graph does not carry all of them."""
    from spikeport.nir_export import FORMAT

    top = graph.metadata.get("spikeport", {}) if isinstance(graph.metadata, dict) else {}
    if _plain(top.get("format")) != FORMAT:
        return None
    found = {}
    for node in graph.nodes.values():
        m = node.metadata.get("spikeport") if isinstance(node.metadata, dict) else None
        if isinstance(m, dict) and "netx" in m and "layer" in m:
            found[int(m["layer"])] = _plain(m["netx"])
    count = int(_plain(top.get("layers", -1)))
    return [found[i] for i in range(count)] if sorted(found) == list(range(count)) else None


def _fields(node) -> dict:
    skip = ("metadata", "input_type", "output_type", "nodes", "edges")
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node) if f.name not in skip} \
        if dataclasses.is_dataclass(node) and type(node).__name__ != "NIRGraph" else {}


def graph_difference(a, b, prefix: str = "") -> str | None:
    """The first node or field where graphs ``a`` and ``b`` differ (parameters compared
    to 1e-9 relative), or None."""
    if set(a.nodes) != set(b.nodes) or {tuple(e) for e in a.edges} != {tuple(e) for e in b.edges}:
        return f"{prefix or 'graph'}: nodes or edges differ"
    for name, x in a.nodes.items():
        y = b.nodes[name]
        if type(x) is not type(y):
            return f"node '{prefix}{name}' is {type(x).__name__}, expected {type(y).__name__}"
        if type(x).__name__ == "NIRGraph":
            diff = graph_difference(x, y, f"{prefix}{name}/")
            if diff:
                return diff
        for key, v in _fields(x).items():
            u = _fields(y)[key]
            va, vb = np.asarray(v), np.asarray(u)
            if va.dtype.kind in "biuf" and vb.dtype.kind in "biuf":
                if va.shape != vb.shape or not np.allclose(va, vb, rtol=1e-9, atol=0, equal_nan=True):
                    return f"node '{prefix}{name}' {key}"
            elif _plain(v) != _plain(u) and str(v) != str(u):
                return f"node '{prefix}{name}' {key}"
    return None


def metadata_mismatch(graph, layers: list[dict], dt: float) -> str | None:
    """Why the stored integers do not describe ``graph`` (its parameters were edited),
    or None: they are written to a scratch file and exported again at ``dt``."""
    import tempfile

    from spikeport.nir_export import export_graph

    with tempfile.TemporaryDirectory(prefix="spikeport-nir-") as tmp:
        path = Path(tmp) / "metadata.net"
        try:
            write_network(path, layers)
            again = export_graph(path, dt)
        except (SpikeportError, KeyError, ValueError, TypeError) as e:
            return f"its netx metadata does not load ({' '.join(str(e).split())[:120]})"
    return graph_difference(graph, again)


def exact_rows(layers: list[dict]) -> list[dict]:
    """Table rows of a bit-exact import: the stored integers, no error."""
    rows = []
    for i, layer in enumerate(layers):
        n = layer.get("neuron")
        if layer["type"] == "flatten" or (layer["type"] == "input" and not n):
            continue
        n = n or {}
        rows.append({"layer": i, "node": f"layer{i}", "kind": layer["type"], "scale": float(WEIGHT_SCALE),
                     "iDecay": n.get("iDecay"), "vDecay": n.get("vDecay"), "vThMant": n.get("vThMant"),
                     "threshold": None if n.get("vThMant") is None else n["vThMant"] / WEIGHT_SCALE,
                     "weight_error": 0.0, "decay_error": 0.0, "threshold_error": 0.0, "bias_error": 0.0,
                     "notes": ["exact: spikeport's netx integers"]})
    return rows


# ------------------------------------------------------------------ writing --

def check_integers(path: str | os.PathLike, layers: list[dict], where: str) -> None:
    """Read the written file back as Lava runs it and check that every synapse holds
    the weights and every neuron the decays and threshold intended."""
    from spikeport.sim.netx_reader import read_network

    net = {layer.name: layer for layer in read_network(path)}
    for i, d in enumerate(layers):
        got = net.get(f"layer{i}")
        if got is None or "neuron" not in d:
            continue
        n = d["neuron"]
        same = (got.neuron.du + 1, got.neuron.dv, got.neuron.vth) == (n["iDecay"], n["vDecay"], n["vThMant"])
        syn, w = got.synapse, np.asarray(d.get("weight", 0))
        if syn is not None and syn.kind == "conv":
            kernel = syn.torch_kernel()
            same = same and np.array_equal(kernel, np.broadcast_to(w.reshape(w.shape[:4]), kernel.shape))
        elif syn is not None:
            same = same and np.array_equal(syn.weight * 2.0 ** syn.weight_exp, w.reshape(syn.weight.shape))
        if not same:
            raise SpikeportError(f"{where}: layer {i}: netx would not run the quantized integers as written")


def write_netx(out: str | os.PathLike, layers: list[dict], report: dict, check: bool = True) -> None:
    """Write ``layers`` as a netx file at ``out`` (atomic) with the quantization
    report in ``spikeport`` attribute ``nir``; the file must pass netx validation and
    (with ``check``) hold exactly the integers asked for, else nothing is written."""
    import h5py

    from spikeport.atomic import atomic_path
    from spikeport.sim.netx_validate import validate

    with atomic_path(out) as tmp:
        write_network(tmp, layers)
        with h5py.File(tmp, "a") as h:
            g = h.require_group("spikeport")
            g.attrs["metadata"] = json.dumps({"source": "spikeport nir import"})
            g.attrs["nir"] = json.dumps(report, sort_keys=True)
        try:
            validate(tmp)
            if check:
                check_integers(tmp, layers, str(out))
        except SpikeportError as e:
            raise SpikeportError(f"{out}: the imported network fails netx's checks: "
                                 f"{str(e).replace(str(tmp), str(out))}") from None


def import_nir(path: str | os.PathLike, out: str | os.PathLike, dt: float | None = None,
               convention: str | None = None) -> dict:
    """Import the NIR graph at ``path`` as the netx network ``out`` (see the module
    doc). ``dt``: the step (s; default what the graph implies), ``convention``: the
    framework convention (:data:`CONVENTIONS`). Returns the report (also stored in
    ``out``): ``convention``, ``dt``, ``exact`` and per-layer ``layers`` rows."""
    from spikeport.atomic import check_output

    if convention is not None and convention not in CONVENTIONS:
        raise SpikeportError(f"unknown convention {convention!r} (known: {', '.join(CONVENTIONS)})")
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise SpikeportError(f"--dt {dt}: the timestep must be a positive number of seconds")
    check_output(out, [path], what="output (-o)")
    where = str(path)
    graph = read_graph(path)
    convention, dt, how = choose_step(graph, convention, dt, where)
    in_shape, items = walk_layers(Walk(graph, where, dt))
    notes, layers, rows = [], None, None
    stored = metadata_layers(graph)
    if stored is not None:
        meta_dt = float(_plain(graph.metadata["spikeport"].get("dt", float("nan"))))
        same_step = convention == "snntorch" and np.isclose(dt, meta_dt, rtol=1e-12)
        diff = metadata_mismatch(graph, stored, dt) if same_step else "a different --dt or --convention"
        if diff is None:
            layers, rows = stored, exact_rows(stored)
        else:
            notes.append(f"spikeport's netx integers not used ({diff}); quantized from the parameters")
    if layers is None:
        layers, rows = netx_layers(in_shape, items, convention, dt, where)
    report = {"format": "spikeport-nir-import/1", "source": Path(path).name, "convention": convention,
              "dt": dt, "dt_from": how, "exact": stored is not None and not notes, "layers": rows, "notes": notes}
    write_netx(out, layers, report, check=not report["exact"])   # an exact copy runs as its source does
    return report


def format_table(report: dict) -> str:
    """The quantization table as text, one row per layer with neurons."""
    head = f"{'layer':>5}  {'node':<22} {'kind':<9} {'scale':>9}  {'weight err':>10}  {'decay err':>9}  " \
           f"{'threshold':>16}  {'bias err':>8}  notes"
    lines = [head]
    for r in report["layers"]:
        th = "-" if r.get("threshold") is None else f"{r['threshold']:.4g} -> {r['vThMant']}"
        lines.append(f"{r['layer']:>5}  {str(r['node'])[:22]:<22} {r['kind']:<9} {r['scale']:>9.4g}  "
                     f"{r['weight_error']:>10.2e}  {r['decay_error']:>9.2e}  {th:>16}  {r['bias_error']:>8.2e}  "
                     f"{'; '.join(r['notes'])}")
    return "\n".join(lines)
