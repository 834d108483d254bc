"""Resource mapping of a netx network onto a chip profile: cores per layer, chips, and
every limit a layer exceeds.

Packing model (an assumption, stated in every report):

* each compute layer gets its own cores (no two layers share a core, as NengoLoihi
  places one block per core); its neurons are split evenly, in file order, over the
  fewest cores that satisfy every per-core limit below;
* a core holds at most ``neurons_per_core`` neurons and the synapses onto them; each
  synapse stores its weight mantissa (the layer's weight bits) plus its delay bits,
  with no index, header or word-alignment overhead and no weight sharing, so the
  memory use, and the cores it implies, is a lower bound;
* input axons of a core = distinct presynaptic neurons with a nonzero weight onto it
  (exact for dense layers; for conv layers the sources of one neuron, a lower bound);
* output axons of a core = for each of its neurons, the cores of the next layer it
  reaches (exact when the next layer is dense; 1 per neuron otherwise, a lower bound);
* chips = the most of: cores / cores per chip, neurons / neurons per chip,
  synapses / synapses per chip.

A limit whose figure is unknown for the chip is listed as not checked.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from spikeport.hw.profiles import LIMIT_FIELDS, ChipProfile
from spikeport.hw.topology import LayerTopology, compute_layers, read_topology

PACKING_MODEL = (
    "Each layer on its own cores, neurons split evenly in file order over the fewest cores that meet every "
    "per-core limit; synaptic memory = nonzero synapses x (layer weight bits + delay bits), no index/header "
    "overhead and no conv weight sharing (a lower bound); input axons exact for dense layers, one neuron's "
    "sources for conv layers (a lower bound); output axons = next-layer cores reached per neuron (exact "
    "for a dense next layer, else 1 per neuron)."
)


@dataclass
class Exceeded:
    """A limit a layer (or the whole network) exceeds."""

    layer: str          # e.g. "layer2" or "network"
    limit: str          # a key of LIMIT_FIELDS (or a derived per-core check)
    value: float        # what the layer needs
    allowed: float      # what the chip allows
    unit: str

    @property
    def amount(self) -> float:
        return self.value - self.allowed

    def text(self) -> str:
        return (f"{self.layer}: {self.limit} needs {_n(self.value)} {self.unit}, the chip allows "
                f"{_n(self.allowed)} (over by {_n(self.amount)})")

    def to_json(self) -> dict:
        return {"layer": self.layer, "limit": self.limit, "value": self.value, "allowed": self.allowed,
                "amount": self.amount, "unit": self.unit, "text": self.text()}


def _n(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.3g}"


@dataclass
class LayerMap:
    """One compute layer's resources. ``index`` is its position among compute layers."""

    index: int
    topology: LayerTopology
    cores: int = 0
    neurons_per_core: int = 0
    synapse_bits_per_core: int = 0
    in_axons_per_core: int = 0
    out_axons_per_core: int = 0
    exceeded: list[Exceeded] = field(default_factory=list)

    def to_json(self) -> dict:
        t = self.topology
        return {"index": self.index, **t.to_json(), "label": t.describe(), "cores": self.cores,
                "neurons_per_core": self.neurons_per_core,
                "synaptic_memory_bytes_per_core": math.ceil(self.synapse_bits_per_core / 8),
                "in_axons_per_core": self.in_axons_per_core, "out_axons_per_core": self.out_axons_per_core,
                "exceeded": [e.to_json() for e in self.exceeded]}


@dataclass
class Mapping:
    """The network on one chip profile: per-layer maps, totals, and what does not fit."""

    network: str
    chip: str
    layers: list[LayerMap]
    other_layers: list[LayerTopology]
    cores: int
    chips: int
    neurons: int
    synapses: int
    exceeded: list[Exceeded]
    unchecked: list[str]

    @property
    def fits(self) -> bool:
        return not self.exceeded

    def to_json(self) -> dict:
        return {"network": self.network, "chip": self.chip, "fits": self.fits, "cores": self.cores,
                "chips": self.chips, "neurons": self.neurons, "synapses": self.synapses,
                "layers": [l.to_json() for l in self.layers],
                "other_layers": [l.to_json() for l in self.other_layers],
                "exceeded": [e.to_json() for e in self.exceeded], "unchecked": self.unchecked,
                "packing_model": PACKING_MODEL}


def _chunks(n: int, k: int) -> list[tuple[int, int]]:
    """``n`` items split evenly into ``k`` contiguous chunks: (start, stop) pairs."""
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _per_core(t: LayerTopology, k: int) -> tuple[int, int, int]:
    """(neurons, synapse bits, input axons) of the fullest core for ``k`` cores."""
    bits_per_syn = max(t.weight_bits, 1) + t.delay_bits
    if t.synapse_matrix is not None:
        worst = (0, 0, 0)
        for a, b in _chunks(t.neurons, k):
            block = t.synapse_matrix[a:b]
            worst = (max(worst[0], b - a), max(worst[1], int(block.sum()) * bits_per_syn),
                     max(worst[2], int((block != 0).any(axis=0).sum())))
        return worst
    neurons = math.ceil(t.neurons / k)
    # conv: synapses spread in proportion to neurons; sources of one neuron as the axon bound
    syn = math.ceil(t.synapses * neurons / max(t.neurons, 1))
    return neurons, syn * bits_per_syn, t.fan_in


def _fit_cores(t: LayerTopology, profile: ChipProfile) -> int:
    """The fewest cores meeting the neuron, memory and input-axon limits (known ones).
    When more cores cannot bring the input axons under the limit (a dense layer whose
    neurons all read more sources than a core has axons), the fewest cores meeting the
    other limits; the mapping then reports the axon limit as exceeded."""
    npc = profile.limit("neurons_per_core")
    mem = profile.limit("synaptic_memory_bytes_per_core")
    axons = profile.limit("in_axons_per_core")

    def ok(k: int, with_axons: bool) -> bool:
        n, bits, ax = _per_core(t, k)
        return ((not npc or n <= npc) and (not mem or bits <= mem * 8)
                and (not with_axons or not axons or ax <= axons))

    k0 = max(1, math.ceil(t.neurons / npc) if npc else 1)
    if mem:
        k0 = max(k0, math.ceil(t.synapses * (max(t.weight_bits, 1) + t.delay_bits) / (mem * 8)))
    k0 = min(k0, max(t.neurons, 1))
    grow = lambda k: min(t.neurons, k + 1 if k < k0 + 64 else int(k * 1.25))
    k = k0
    while k < t.neurons and not ok(k, False):
        k = grow(k)
    base = k
    if t.synapse_matrix is not None and axons:   # conv: the one-neuron axon bound does not shrink
        while k < t.neurons and not ok(k, True):
            k = grow(k)
        if not ok(k, True):
            return base
    return k


def _dest_cores(src: LayerTopology, nxt: LayerMap | None, k_src: int) -> int:
    """Output axons of the fullest core of ``src`` split into ``k_src`` cores."""
    if nxt is None:
        return math.ceil(src.neurons / k_src)         # one route out (to the host/sink) per neuron
    t = nxt.topology
    if t.dense_weight is None or t.dense_weight.shape[1] != src.neurons:
        return math.ceil(src.neurons / k_src)
    nz = t.dense_weight != 0
    reach = np.zeros(src.neurons, np.int64)
    for a, b in _chunks(t.neurons, nxt.cores):
        reach += nz[a:b].any(axis=0)
    return max(int(reach[a:b].sum()) for a, b in _chunks(src.neurons, k_src))


# ------------------------------------------------------------ design rules --
# One small function per chip limit: (layer map, profile) -> what it exceeds. A new
# chip is a profile plus, where it has limits of its own, rules added to RULES.

def _over(m: LayerMap, profile: ChipProfile, key: str, need: float, unit: str | None = None) -> list[Exceeded]:
    allowed = profile.limit(key)
    if allowed is None or need <= allowed:
        return []
    return [Exceeded(m.topology.name, key, need, allowed, unit or LIMIT_FIELDS[key][0])]


def neurons_per_core(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    return _over(m, profile, "neurons_per_core", m.neurons_per_core)


def synaptic_memory(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    return _over(m, profile, "synaptic_memory_bytes_per_core", math.ceil(m.synapse_bits_per_core / 8))


def input_axons(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    return _over(m, profile, "in_axons_per_core", m.in_axons_per_core)


def output_axons(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    return _over(m, profile, "out_axons_per_core", m.out_axons_per_core)


def weight_precision(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    return _over(m, profile, "weight_bits", m.topology.weight_bits)


def axonal_delay(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    return _over(m, profile, "max_delay", m.topology.max_delay)


def spike_payload(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    return _over(m, profile, "spike_payload_bits", m.topology.payload_bits)


def cuba_decays(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    """CUBA current and voltage decays within ``0 .. 2**decay_bits``."""
    t, bits = m.topology, profile.limit("decay_bits")
    if t.neuron_type not in ("CUBA", "LOIHI") or bits is None:
        return []
    return [Exceeded(t.name, f"decay_bits: {name}", val, 1 << bits, "(decay units)")
            for name, val in (("current decay (iDecay)", t.du), ("voltage decay (vDecay)", t.dv))
            if val is not None and not 0 <= val <= (1 << bits)]


def cuba_threshold(m: LayerMap, profile: ChipProfile) -> list[Exceeded]:
    t = m.topology
    if t.neuron_type not in ("CUBA", "LOIHI") or t.vth is None:
        return []
    return _over(m, profile, "threshold_bits", max(int(t.vth), 0).bit_length())


RULES = (neurons_per_core, synaptic_memory, input_axons, output_axons, weight_precision, axonal_delay,
         spike_payload, cuba_decays, cuba_threshold)


def map_network(net_path: str | os.PathLike, profile: ChipProfile) -> Mapping:
    """Map the netx network at ``net_path`` onto ``profile`` (packing model: module doc)."""
    topo = read_topology(net_path)
    comp = compute_layers(topo)
    maps = [LayerMap(i, t) for i, t in enumerate(comp)]
    unchecked = [k for k in LIMIT_FIELDS if profile.limit(k) is None]

    for m in maps:
        t = m.topology
        m.cores = _fit_cores(t, profile)
        m.neurons_per_core, m.synapse_bits_per_core, m.in_axons_per_core = _per_core(t, m.cores)
    out_limit = profile.limit("out_axons_per_core")
    for i, m in enumerate(maps):
        nxt = maps[i + 1] if i + 1 < len(maps) else None
        m.out_axons_per_core = _dest_cores(m.topology, nxt, m.cores)
        # more cores for this layer when its neurons need more routes out than a core has
        while out_limit and m.out_axons_per_core > out_limit and m.cores < m.topology.neurons:
            m.cores = min(m.topology.neurons, max(m.cores + 1, int(m.cores * 1.25)))
            m.neurons_per_core, m.synapse_bits_per_core, m.in_axons_per_core = _per_core(m.topology, m.cores)
            m.out_axons_per_core = _dest_cores(m.topology, nxt, m.cores)

    for m in maps:
        for rule in RULES:
            m.exceeded += rule(m, profile)

    neurons = sum(m.topology.neurons for m in maps)
    synapses = sum(m.topology.synapses for m in maps)
    cores = sum(m.cores for m in maps)
    chips = 1
    for key, need in (("cores_per_chip", cores), ("neurons_per_chip", neurons), ("synapses_per_chip", synapses)):
        per_chip = profile.limit(key)
        if per_chip:
            chips = max(chips, math.ceil(need / per_chip))
    exceeded = [e for m in maps for e in m.exceeded]
    return Mapping(str(net_path), profile.name, maps, [t for t in topo if not t.compute], cores, chips,
                   neurons, synapses, exceeded, unchecked)


def format_mapping(mp: Mapping) -> str:
    """A plain-text table of ``mp`` for the terminal."""
    head = ["layer", "kind", "neurons", "synapses", "fan-in", "fan-out", "w bits", "delay", "cores",
            "neur/core", "KB/core", "in-ax/core", "out-ax/core"]
    rows = []
    for m in mp.layers:
        t = m.topology
        rows.append([t.name, t.describe(), f"{t.neurons:,}", f"{t.synapses:,}", f"{t.fan_in:,}", f"{t.fan_out:,}",
                     str(t.weight_bits), str(t.max_delay), str(m.cores), f"{m.neurons_per_core:,}",
                     f"{m.synapse_bits_per_core / 8 / 1024:.1f}", f"{m.in_axons_per_core:,}",
                     f"{m.out_axons_per_core:,}"])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = lambda r: "  ".join(c.rjust(w) if j >= 2 else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths)))
    lines = [f"{mp.network} on {mp.chip}", fmt(head), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    lines.append(f"total: {mp.neurons:,} neurons, {mp.synapses:,} synapses, {mp.cores} cores, "
                 f"{mp.chips} chip{'s' if mp.chips != 1 else ''}")
    for t in mp.other_layers:
        for note in t.notes:
            if "not mapped" in note:
                lines.append(f"note: {t.name}: {note}")
    if mp.unchecked:
        lines.append(f"not checked (unknown for {mp.chip}): {', '.join(mp.unchecked)}")
    if mp.fits:
        lines.append("fits: every known limit is met")
    else:
        lines.append(f"DOES NOT FIT: {len(mp.exceeded)} limit{'s' if len(mp.exceeded) != 1 else ''} exceeded")
        lines += [f"  {e.text()}" for e in mp.exceeded]
    lines.append(f"packing model: {PACKING_MODEL}")
    return "\n".join(lines)
