"""Chip profiles: per-operation energy and time, and the limits that decide mapping.

Two built-in profiles (``loihi1``, ``loihi2``) and user profiles read from a TOML or
JSON file. Every figure carries its source; a figure nobody has published is
``None`` (shown as "unknown") and never filled in.

A profile file names every figure of :data:`ENERGY_FIELDS`, :data:`TIME_FIELDS` and
:data:`LIMIT_FIELDS`, each as a table with ``value`` (or ``low`` and ``high``) and
``source``; ``value = "unknown"`` (JSON: ``null``) marks a figure as unknown::

    name = "mychip"
    description = "my neuromorphic chip"
    energy_stand_in = "loihi1"     # optional: whose energies to use where ours are unknown

    [energy.synop]                 # pJ
    value = 23.6
    source = "Davies et al. 2018, Table 2"
    [time.timestep]                # ns
    value = "unknown"
    [limits.neurons_per_core]
    value = 1024
    source = "..."
"""
from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from spikeport.errors import SpikeportError
import spikeport.hw.figures as F
from spikeport.fixed_point import DECAY_SHIFT, MAX_DELAY, VTH_BITS, WEIGHT_BITS
from spikeport.hw.figures import Figure

# figure name -> what it is (unit pJ)
ENERGY_FIELDS: dict[str, str] = {
    "synop": "one synaptic operation (a spike arriving at one synapse)",
    "neuron_update_active": "one neuron (compartment) update of an active neuron",
    "neuron_update_inactive": "one neuron (compartment) update of an inactive neuron",
    "spike_within_tile": "sending one spike message within a tile",
    "hop_east_west": "one east-west router hop of a spike message",
    "hop_north_south": "one north-south router hop of a spike message",
    "synaptic_update": "one synaptic weight update when learning (not used for inference)",
    "timestep_overhead": "fixed cost per timestep of one inference (barrier sync, management)",
}
# figure name -> what it is (unit ns)
TIME_FIELDS: dict[str, str] = {
    "synop": "one synaptic operation (the slowest)",
    "neuron_update_active": "one update of an active neuron",
    "neuron_update_inactive": "one update of an inactive neuron",
    "spike_within_tile": "one spike message within a tile",
    "hop_east_west": "one east-west router hop",
    "hop_north_south": "one north-south router hop",
    "timestep": "one whole timestep (wall clock per algorithmic step)",
}
# limit name -> (unit, what it is)
LIMIT_FIELDS: dict[str, tuple[str, str]] = {
    "cores_per_chip": ("cores", "neuromorphic cores per chip"),
    "neurons_per_core": ("neurons", "neurons (compartments) per core"),
    "neurons_per_chip": ("neurons", "neurons per chip"),
    "synapses_per_chip": ("synapses", "synapses per chip"),
    "synaptic_memory_bytes_per_core": ("bytes", "synaptic memory per core"),
    "in_axons_per_core": ("axons", "input axons (distinct presynaptic sources) per core: the fan-in limit"),
    "out_axons_per_core": ("axons", "output axons (neuron-to-core routes) per core: the fan-out limit"),
    "weight_bits": ("bits", "synaptic weight bits (sign included for mixed-sign synapses)"),
    "decay_bits": ("bits", "current/voltage decay bits"),
    "threshold_bits": ("bits", "threshold mantissa bits"),
    "max_delay": ("timesteps", "largest synaptic/axonal delay"),
    "spike_payload_bits": ("bits", "graded spike payload bits (0: binary spikes only)"),
}


@dataclass(frozen=True)
class ChipProfile:
    """A chip's figures: ``energy`` (pJ), ``time`` (ns) and ``limits`` keyed by the
    names in :data:`ENERGY_FIELDS`, :data:`TIME_FIELDS`, :data:`LIMIT_FIELDS`."""

    name: str
    description: str
    energy: dict[str, Figure]
    time: dict[str, Figure]
    limits: dict[str, Figure]
    energy_stand_in: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    path: str | None = None

    def limit(self, key: str) -> int | None:
        """The limit ``key`` as an int, or None when unknown."""
        f = self.limits[key]
        return None if f.low is None else int(f.low)

    @property
    def energy_known(self) -> bool:
        """True when the figures an SNN energy estimate needs (synop, neuron update) are known."""
        return self.energy["synop"].known and (self.energy["neuron_update_active"].known
                                               or self.energy["neuron_update_inactive"].known)

    def to_json(self) -> dict:
        return {
            "name": self.name, "description": self.description, "path": self.path,
            "energy_stand_in": self.energy_stand_in, "notes": list(self.notes),
            "energy_pJ": {k: f.to_json() for k, f in self.energy.items()},
            "time_ns": {k: f.to_json() for k, f in self.time.items()},
            "limits": {k: f.to_json() for k, f in self.limits.items()},
        }


def _loihi1() -> ChipProfile:
    d, v, u, s = F.DAVIES_2018, F.value, F.unknown, F.span
    energy = {
        "synop": s(23.6, 27.1, "pJ", f"{d}; {F.KERASSPIKING}",
                   "23.6 pJ is Davies' minimum energy per synaptic spike op; 27.1 pJ is KerasSpiking's "
                   "figure (23.6 + 3.5, the 3.5 being the table's 3.5 ns time per synop), used as the "
                   "upper end only"),
        "neuron_update_active": v(81, "pJ", d),
        "neuron_update_inactive": v(52, "pJ", d),
        "spike_within_tile": v(1.7, "pJ", d),
        "hop_east_west": v(3.0, "pJ", d),
        "hop_north_south": v(4.0, "pJ", d),
        "synaptic_update": v(120, "pJ", d, "learning only"),
        "timestep_overhead": u("pJ"),
    }
    time = {
        "synop": v(3.5, "ns", d, "maximum time per synaptic spike op"),
        "neuron_update_active": u("ns"),
        "neuron_update_inactive": u("ns"),
        "spike_within_tile": v(2.1, "ns", d),
        "hop_east_west": v(4.1, "ns", d),
        "hop_north_south": v(6.5, "ns", d),
        "timestep": u("ns"),
    }
    limits = {
        "cores_per_chip": v(128, "cores", F.LOIHI1_RESOURCES),
        "neurons_per_core": v(1024, "neurons", f"{F.LOIHI1_RESOURCES}; {F.NENGO_LOIHI_LIMITS}"),
        "neurons_per_chip": v(131072, "neurons", F.LOIHI1_RESOURCES),
        "synapses_per_chip": v(130_000_000, "synapses", F.LOIHI1_RESOURCES, "approximate (~130 M)"),
        "synaptic_memory_bytes_per_core": v(128 * 1024, "bytes", f"{F.LOIHI1_RESOURCES}; {F.NENGO_LOIHI_LIMITS}"),
        "in_axons_per_core": v(4096, "axons", F.NENGO_LOIHI_LIMITS),
        "out_axons_per_core": v(4096, "axons", F.NENGO_LOIHI_LIMITS),
        "weight_bits": v(8, "bits", F.NENGO_LOIHI_LIMITS),
        "decay_bits": v(12, "bits", F.BRIAN2LOIHI, "decays 0..4096 (4096 = full decay)"),
        "threshold_bits": v(17, "bits", F.BRIAN2LOIHI),
        "max_delay": u("timesteps"),
        "spike_payload_bits": v(0, "bits", F.GRADED_SPIKES),
    }
    return ChipProfile("loihi1", "Intel Loihi (2018, 14 nm): measured per-operation energies", energy, time,
                       limits, notes=("Dynamic energy only: static (leakage) power is not included.",))


def _loihi2() -> ChipProfile:
    v, u = F.value, F.unknown
    energy = {k: u("pJ", F.LOIHI2_NO_ENERGY) for k in ENERGY_FIELDS}
    time = {k: u("ns", F.LOIHI2_NO_ENERGY) for k in TIME_FIELDS}
    b = F.LOIHI2_BRIEF
    limits = {
        "cores_per_chip": v(128, "cores", b),
        "neurons_per_core": v(8192, "neurons", b, "up to; fewer when neurons need more state"),
        "neurons_per_chip": v(1_000_000, "neurons", b, "up to"),
        "synapses_per_chip": v(120_000_000, "synapses", b, "up to"),
        "synaptic_memory_bytes_per_core": v(128 * 1024, "bytes", b,
                                            "flexibly partitioned: shared with neuron state, so an upper bound"),
        "in_axons_per_core": u("axons"),
        "out_axons_per_core": u("axons"),
        "weight_bits": v(WEIGHT_BITS, "bits", F.LAVA_DENSE),
        "decay_bits": v(DECAY_SHIFT, "bits", F.LAVA_LIF, "CUBA LIF as Lava's bit-accurate model runs it"),
        "threshold_bits": v(VTH_BITS, "bits", F.LAVA_LIF, "CUBA LIF as Lava's bit-accurate model runs it"),
        "max_delay": v(MAX_DELAY, "timesteps", F.NETX_DELAY),
        "spike_payload_bits": v(32, "bits", b),
    }
    return ChipProfile(
        "loihi2", "Intel Loihi 2 (2021, Intel 4): resources published, per-operation energy not", energy, time,
        limits, energy_stand_in="loihi1",
        notes=("Loihi 2 per-operation energy is unpublished: its joule figures here are Loihi 1's measured "
               "figures used as a stand-in (an assumption), next to the N-DNS operation-count proxy.",
               "Dynamic energy only: static (leakage) power is not included."))


BUILTIN = {"loihi1": _loihi1, "loihi2": _loihi2}


def builtin_names() -> list[str]:
    return sorted(BUILTIN)


def load_profile(name_or_path: str | os.PathLike) -> ChipProfile:
    """A built-in profile by name (``loihi1``, ``loihi2``) or a user profile from a
    ``.toml`` / ``.json`` file; raises :class:`SpikeportError` for an unknown name
    or a file with missing, negative or malformed figures."""
    key = str(name_or_path)
    if key.lower() in BUILTIN:
        return BUILTIN[key.lower()]()
    path = Path(key)
    if path.suffix.lower() not in (".toml", ".json"):
        raise SpikeportError(f"unknown chip '{key}': use {', '.join(builtin_names())} "
                             f"or a profile file (.toml or .json)")
    if not path.is_file():
        raise SpikeportError(f"{path}: no such profile file")
    try:
        if path.suffix.lower() == ".toml":
            with open(path, "rb") as f:
                data = tomllib.load(f)
        else:
            with open(path) as f:
                data = json.load(f)
    except (tomllib.TOMLDecodeError, ValueError, UnicodeDecodeError) as e:  # ValueError: a 5000-digit number
        raise SpikeportError(f"{path}: not valid {path.suffix[1:].upper()} ({' '.join(str(e).split())[:160]})") \
            from None
    except RecursionError:
        raise SpikeportError(f"{path}: nested too deeply to be a chip profile") from None
    except OSError as e:
        raise SpikeportError(f"{path}: cannot read ({e.strerror or e})") from None
    return profile_from_dict(data, str(path))


# Upper bounds that catch typos and keep every product finite: 1 uJ per operation,
# 1000 s per step, 1e15 of any resource (the largest published figures are ~100 pJ,
# ~10 us and ~1e9)
FIGURE_MAX = {"pJ": 1e6, "ns": 1e12}
LIMIT_MAX = 1e15
# limits below which no network maps (0 cores, 0 neurons per core, 0-bit weights)
LIMIT_MIN = {"cores_per_chip": 1, "neurons_per_core": 1, "neurons_per_chip": 1, "synapses_per_chip": 1,
             "synaptic_memory_bytes_per_core": 1, "in_axons_per_core": 1, "out_axons_per_core": 1,
             "weight_bits": 1, "decay_bits": 1, "threshold_bits": 1}


def _brief(x) -> str:
    text = repr(x)
    return text if len(text) <= 30 else f"{text[:12]}...({len(text)} digits)"


def _figure(where: str, key: str, raw, unit: str, integer: bool) -> Figure:
    name = f"{where}: {key}"
    if not isinstance(raw, dict):
        raise SpikeportError(f"{name} must be a table with 'value' (or 'low' and 'high') and 'source'")
    extra = set(raw) - {"value", "low", "high", "source", "note", "unit"}
    if extra:
        raise SpikeportError(f"{name}: unknown field(s) {', '.join(sorted(extra))}")
    if "unit" in raw and raw["unit"] != unit:
        raise SpikeportError(f"{name}: unit must be {unit!r}, not {raw['unit']!r}")
    note = str(raw.get("note", ""))
    source = raw.get("source", "")
    if not isinstance(source, str):
        raise SpikeportError(f"{name}: 'source' must be a string")
    if "value" in raw and ("low" in raw or "high" in raw):
        raise SpikeportError(f"{name}: give either 'value' or 'low' and 'high', not both")
    if "value" in raw:
        lo = hi = raw["value"]
    elif "low" in raw and "high" in raw:
        lo, hi = raw["low"], raw["high"]
    else:
        raise SpikeportError(f"{name}: missing 'value' (write value = \"unknown\" if it is not known)")
    if all(x is None or x == "unknown" for x in (lo, hi)):
        return Figure(None, None, unit, source, note or "unknown")
    top = FIGURE_MAX[unit] if unit in FIGURE_MAX else LIMIT_MAX
    for x in (lo, hi):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or (isinstance(x, float) and not math.isfinite(x)):
            raise SpikeportError(f"{name}: {_brief(x)} is not a number (or \"unknown\")")
        if x < 0:
            raise SpikeportError(f"{name}: negative figure {_brief(x)}")
        if x > top:
            raise SpikeportError(f"{name}: {_brief(x)} {unit} is beyond any chip (at most {top:g} {unit})")
        if integer and x < LIMIT_MIN.get(key.split(".")[-1], 0):
            raise SpikeportError(f"{name}: {_brief(x)} {unit}; allowed: at least {LIMIT_MIN[key.split('.')[-1]]}")
        if integer and float(x) != int(x):
            raise SpikeportError(f"{name}: {x} must be a whole number of {unit}")
    if lo > hi:
        raise SpikeportError(f"{name}: low {lo} is above high {hi}")
    if not source.strip():
        raise SpikeportError(f"{name}: a known figure needs its 'source'")
    return Figure(float(lo), float(hi), unit, source, note)


def profile_from_dict(data: dict, where: str = "profile") -> ChipProfile:
    """Build and validate a :class:`ChipProfile` from a parsed TOML/JSON mapping."""
    if not isinstance(data, dict):
        raise SpikeportError(f"{where}: a profile must be a table/object")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SpikeportError(f"{where}: missing 'name'")
    extra = set(data) - {"name", "description", "energy", "time", "limits", "energy_stand_in", "notes"}
    if extra:
        raise SpikeportError(f"{where}: unknown top-level field(s) {', '.join(sorted(extra))}")
    sections = {}
    for section, fields, unit_of, integer in (
        ("energy", ENERGY_FIELDS, lambda k: "pJ", False),
        ("time", TIME_FIELDS, lambda k: "ns", False),
        ("limits", LIMIT_FIELDS, lambda k: LIMIT_FIELDS[k][0], True),
    ):
        sec = data.get(section)
        if not isinstance(sec, dict):
            raise SpikeportError(f"{where}: missing section [{section}] (figures: {', '.join(fields)})")
        unknown_keys = set(sec) - set(fields)
        if unknown_keys:
            raise SpikeportError(f"{where}: [{section}] has unknown figure(s) {', '.join(sorted(unknown_keys))} "
                                 f"(known: {', '.join(fields)})")
        out = {}
        for k in fields:
            if k not in sec:
                raise SpikeportError(f"{where}: {section}.{k} missing (write value = \"unknown\" "
                                     f"if it is not known)")
            out[k] = _figure(where, f"{section}.{k}", sec[k], unit_of(k), integer)
        sections[section] = out
    stand_in = data.get("energy_stand_in")
    if stand_in is not None and str(stand_in).lower() not in BUILTIN:
        raise SpikeportError(f"{where}: energy_stand_in '{stand_in}' is not a built-in chip "
                             f"({', '.join(builtin_names())})")
    notes = data.get("notes", [])
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise SpikeportError(f"{where}: notes must be a string or a list of strings")
    if not isinstance(data.get("description", ""), str):
        raise SpikeportError(f"{where}: description must be a string")
    return ChipProfile(name.strip(), str(data.get("description", "")), sections["energy"], sections["time"],
                       sections["limits"], None if stand_in is None else str(stand_in).lower(),
                       tuple(str(n) for n in notes), path=where)
