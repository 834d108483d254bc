"""Published figures: every energy, time and hardware constant with its source.

A :class:`Figure` is a value (or a low-high range) with its unit and source; an
unknown figure has ``low = high = None`` and is reported as unknown, never guessed.
Energies are in pJ, times in ns.
"""
from __future__ import annotations

from dataclasses import dataclass

# -- sources (one string per publication or code base, quoted in energy.json) --
DAVIES_2018 = ("Davies et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip Learning', "
               "IEEE Micro 38(1), 2018, Table 2 (nominal 0.75 V), as commonly quoted")
KERASSPIKING = "KerasSpiking ModelEnergy, device 'loihi' (Nengo): 27.1 pJ per synop, 81 pJ per neuron update"
LOIHI1_RESOURCES = "Davies et al., IEEE Micro 38(1), 2018: 128 cores/chip, 1,024 compartments/core, ~130 M synapses/chip"
NENGO_LOIHI_LIMITS = ("nengo-loihi block.py / SynapseConfig (Loihi 1 hardware limits): MAX_COMPARTMENTS 1024, "
                      "MAX_IN_AXONS 4096, MAX_OUT_AXONS 4096, MAX_SYNAPSE_BITS 1,048,576 (128 KB), "
                      "WEIGHT_BITS_MAP up to 8 bits (sign included for mixed-sign synapses)")
BRIAN2LOIHI = ("brian2-loihi (Michaelis et al., Front. Neuroinform. 2022), emulator matching Loihi 1: "
               "decay_v, decay_I in 0...4096; threshold_v_mant in 0...131071")
LOIHI2_BRIEF = ("Intel, Loihi 2 technology brief (2021); Orchard et al., 'Efficient Neuromorphic Signal "
                "Processing with Loihi 2', 2021: 128 cores/chip, up to 8,192 neurons/core, up to 1 M neurons "
                "and 120 M synapses/chip, 128 KB flexibly partitioned memory/core, graded spikes up to 32-bit")
LOIHI2_NO_ENERGY = ("Intel has not published a per-operation energy table for Loihi 2 (Timcheck et al., "
                    "Neuromorph. Comput. Eng. 3, 034005, 2023 score Loihi 2 by operation counts instead)")
LAVA_LIF = ("lava-nc 0.10.0, lava/proc/lif/models.py PyLifModelBitAcc (Loihi bit-accurate LIF): "
            "du, dv unsigned 12-bit; vth unsigned 17-bit (0..131071)")
LAVA_DENSE = ("lava-nc 0.10.0, lava/proc/dense/process.py: weights use 8 bits, the sign included for "
              "mixed-sign synapses")
NETX_DELAY = ("lava-dl 0.6.0 netx (delays above 62 are clamped; utils.num_delay_bits rejects >= 63); "
              "lava-nc DelayDense: 'Loihi 2 has a maximum of 6 bits for delays'")
GRADED_SPIKES = "Orchard et al. 2021: graded spikes (integer payloads) are new in Loihi 2; Loihi 1 spikes are binary"
NDNS = ("Timcheck et al., 'The Intel Neuromorphic DNS Challenge', Neuromorph. Comput. Eng. 3, 034005, 2023; "
        "metricsboard of github.com/IntelLabs/IntelNeuromorphicDNSChallenge")
HOROWITZ = "Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014 (45 nm, 0.9 V)"
NOT_IN_SOURCES = "no published figure among the sources spikeport cites: unknown"


@dataclass(frozen=True)
class Figure:
    """One published figure: ``low``..``high`` in ``unit`` (equal for a single value;
    both None when unknown), with its ``source`` and an optional ``note``."""

    low: float | None
    high: float | None
    unit: str
    source: str
    note: str = ""

    @property
    def known(self) -> bool:
        return self.low is not None

    @property
    def mid(self) -> float | None:
        return None if self.low is None else (self.low + self.high) / 2

    def to_json(self) -> dict:
        return {"low": self.low, "high": self.high, "unit": self.unit, "source": self.source, "note": self.note}

    def text(self) -> str:
        if not self.known:
            return "unknown"
        if self.low == self.high:
            return f"{_num(self.low)} {self.unit}"
        return f"{_num(self.low)}–{_num(self.high)} {self.unit}"


def _num(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def value(v: float, unit: str, source: str, note: str = "") -> Figure:
    return Figure(float(v), float(v), unit, source, note)


def span(low: float, high: float, unit: str, source: str, note: str = "") -> Figure:
    return Figure(float(low), float(high), unit, source, note)


def unknown(unit: str, note: str = NOT_IN_SOURCES) -> Figure:
    return Figure(None, None, unit, "", note)


# -- conventional arithmetic and memory, 45 nm (pJ) --
CONVENTIONAL: dict[str, Figure] = {
    "int8_add": value(0.03, "pJ", HOROWITZ),
    "int8_mult": value(0.2, "pJ", HOROWITZ),
    "int32_add": value(0.1, "pJ", HOROWITZ),
    "int32_mult": value(3.1, "pJ", HOROWITZ),
    "fp16_add": value(0.4, "pJ", HOROWITZ),
    "fp16_mult": value(1.1, "pJ", HOROWITZ),
    "fp32_add": value(0.9, "pJ", HOROWITZ),
    "fp32_mult": value(3.7, "pJ", HOROWITZ),
    "sram_8kb_read64": value(10, "pJ", HOROWITZ, "64-bit read from an 8 KB SRAM array"),
    "sram_32kb_read64": value(20, "pJ", HOROWITZ, "64-bit read from a 32 KB SRAM array"),
    "sram_1mb_read64": value(100, "pJ", HOROWITZ, "64-bit read from a 1 MB SRAM array"),
    "dram_read64": span(1300, 2600, "pJ", HOROWITZ, "64-bit DRAM read"),
}

# SRAM arrays in Horowitz's table: (capacity in bytes, figure key), smallest first
SRAM_ARRAYS: list[tuple[int, str]] = [(8 * 1024, "sram_8kb_read64"), (32 * 1024, "sram_32kb_read64"),
                                      (1024 * 1024, "sram_1mb_read64")]


def mac_energy(precision: str) -> Figure:
    """Energy of one multiply-accumulate (pJ) from Horowitz's 45 nm figures.

    int8: 8-bit multiply plus an 8-bit add (0.23 pJ, the figure usually quoted) up to a
    32-bit accumulate (0.3 pJ, what int8 accelerators do); fp32: multiply plus add (4.6 pJ).
    """
    c = CONVENTIONAL
    if precision == "int8":
        return span(c["int8_mult"].low + c["int8_add"].low, c["int8_mult"].low + c["int32_add"].low, "pJ",
                    HOROWITZ, "8-bit multiply + 8-bit add (low) or + 32-bit accumulate (high)")
    if precision == "fp32":
        return value(c["fp32_mult"].low + c["fp32_add"].low, "pJ", HOROWITZ, "32-bit float multiply + add")
    raise ValueError(f"unknown precision {precision!r}")


def add_energy(precision: str) -> Figure:
    """Energy of one addition (pJ), Horowitz's 45 nm figures: int8 an 8-bit add (low)
    to a 32-bit accumulate (high); fp32 a 32-bit float add."""
    c = CONVENTIONAL
    if precision == "int8":
        return span(c["int8_add"].low, c["int32_add"].low, "pJ", HOROWITZ, "8-bit add (low) or 32-bit add (high)")
    if precision == "fp32":
        return value(c["fp32_add"].low, "pJ", HOROWITZ, "32-bit float add")
    raise ValueError(f"unknown precision {precision!r}")


# -- measured keyword-spotting deployments: other networks on real hardware (context, not comparisons) --
BLOUW_2019 = ("Blouw, Choo, Hunsberger, Eliasmith, 'Benchmarking Keyword Spotting Efficiency on Neuromorphic "
              "Hardware', NICE 2019: a 2-layer keyword spotter of 256 neurons per layer, dynamic energy per inference")
XYLO_AUDIO_2 = ("SynSense Xylo Audio 2, 'Aloha' keyword-spotting benchmark (2024): 95% accuracy, 291 uW dynamic "
                "inference power")
HARDWARE_ANCHORS: list[dict] = [
    {"system": "Intel Loihi", "energy_pJ": 0.27e9, "network": "Blouw et al. 2019 KWS (2 x 256 neurons)",
     "source": BLOUW_2019},
    {"system": "Intel Movidius NCS", "energy_pJ": 1.5e9, "network": "Blouw et al. 2019 KWS", "source": BLOUW_2019},
    {"system": "NVIDIA Jetson TX1", "energy_pJ": 5.6e9, "network": "Blouw et al. 2019 KWS", "source": BLOUW_2019},
    {"system": "CPU", "energy_pJ": 6.3e9, "network": "Blouw et al. 2019 KWS", "source": BLOUW_2019},
    {"system": "GPU", "energy_pJ": 29.8e9, "network": "Blouw et al. 2019 KWS", "source": BLOUW_2019},
    {"system": "SynSense Xylo Audio 2", "energy_pJ": 6.6e6, "network": "Aloha KWS benchmark network (95% accuracy)",
     "source": XYLO_AUDIO_2},
]
