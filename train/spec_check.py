"""The network spec (see :mod:`spikeport.train.models`) checked before anything is
built: a spec comes from the user's ``arch`` options and from checkpoints, so every
key, type and range is one :class:`SpikeportError` line naming the field, not a
``KeyError`` from inside the builder."""
from __future__ import annotations

import math

from spikeport.errors import SpikeportError
from spikeport.fixed_point import MAX_DELAY, VTH_MAX, WEIGHT_SCALE

LAYER_KEYS = {"conv": {"kind", "out", "kernel", "stride", "padding", "dilation", "neuron"},
              "pool": {"kind", "kernel", "weight", "neuron"},
              "flatten": {"kind"},
              "dense": {"kind", "out", "delay", "delay_init", "neuron"}}
TOP_KEYS = {"input_shape", "input_neuron", "neuron", "dropout", "layers", "weight_scale"}
# (lo, hi, open ends) of the CUBA neuron parameters SLAYER takes; the threshold's
# mantissa (threshold x WEIGHT_SCALE) must fit Loihi's 17 bits
NEURON_LIMITS = {"threshold": (0.0, VTH_MAX / WEIGHT_SCALE, True, False), "current_decay": (0.0, 1.0, False, False),
                 "voltage_decay": (0.0, 1.0, False, False), "tau_grad": (0.0, 1e3, True, False),
                 "scale_grad": (0.0, 1e3, True, False)}
SIZE_MAX = 1 << 16       # channels, neurons, input sizes
GEOMETRY = {"kernel": (1, 64), "stride": (1, 64), "padding": (0, 64), "dilation": (1, 64)}


def _int(v, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise SpikeportError(f"{where} is {v!r}; allowed: an integer in [{lo}, {hi}]")
    return v


def _num(v, where: str, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
          and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi))
    if not ok:
        raise SpikeportError(f"{where} is {v!r}; allowed: a number in "
                             f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}")
    return float(v)


def _pair(v, where: str, lo: int, hi: int) -> None:
    items = v if isinstance(v, list) and len(v) == 2 else [v] if not isinstance(v, list) else None
    if items is None:
        raise SpikeportError(f"{where} is {v!r}; allowed: an integer or a list of two")
    for x in items:
        _int(x, where, lo, hi)


def check_neuron(neuron, where: str) -> None:
    """CUBA parameters ``neuron`` (any subset of :data:`NEURON_LIMITS` and ``requires_grad``)."""
    if not isinstance(neuron, dict):
        raise SpikeportError(f"{where}: allowed: an object of neuron parameters")
    for key, v in neuron.items():
        if key == "requires_grad":
            if not isinstance(v, bool):
                raise SpikeportError(f"{where}.requires_grad is {v!r}; allowed: true or false")
        elif key in NEURON_LIMITS:
            _num(v, f"{where}.{key}", *NEURON_LIMITS[key])
        else:
            raise SpikeportError(f"{where}: unknown parameter {key!r} (known: {', '.join(NEURON_LIMITS)}, "
                                 "requires_grad)")


def check_layer(layer, where: str) -> None:
    """One entry of ``spec["layers"]``."""
    if not isinstance(layer, dict) or layer.get("kind") not in LAYER_KEYS:
        kind = layer.get("kind") if isinstance(layer, dict) else layer
        raise SpikeportError(f"{where}: kind is {kind!r}; allowed: {', '.join(LAYER_KEYS)}")
    kind = layer["kind"]
    extra = sorted(set(layer) - LAYER_KEYS[kind])
    if extra:
        raise SpikeportError(f"{where}: unknown key(s) {', '.join(map(str, extra))} for a {kind} layer "
                             f"(known: {', '.join(sorted(LAYER_KEYS[kind]))})")
    if kind in ("conv", "dense"):
        if "out" not in layer:
            raise SpikeportError(f"{where}: a {kind} layer needs 'out'")
        _int(layer["out"], f"{where}.out", 1, SIZE_MAX)
    for key, (lo, hi) in GEOMETRY.items():
        if key in layer:
            _pair(layer[key], f"{where}.{key}", lo, hi)
    if "weight" in layer:
        _num(layer["weight"], f"{where}.weight", 0.0, 1e3, True)
    if "delay" in layer and not isinstance(layer["delay"], bool):
        raise SpikeportError(f"{where}.delay is {layer['delay']!r}; allowed: true or false")
    if "delay_init" in layer:
        _int(layer["delay_init"], f"{where}.delay_init", 0, MAX_DELAY)
    if "neuron" in layer:
        check_neuron(layer["neuron"], f"{where}.neuron")


def check_spec(spec, where: str = "spec") -> None:
    """Raise :class:`SpikeportError` naming ``where`` and the field for any key, type or
    range of ``spec`` the builder would fail on or the chip cannot hold."""
    if not isinstance(spec, dict):
        raise SpikeportError(f"{where}: allowed: a spec object")
    extra = sorted(set(spec) - TOP_KEYS)
    if extra:
        raise SpikeportError(f"{where}: unknown key(s) {', '.join(map(str, extra))} (known: {', '.join(sorted(TOP_KEYS))})")
    shape = spec.get("input_shape")
    if not isinstance(shape, list) or len(shape) not in (1, 3):
        raise SpikeportError(f"{where}.input_shape is {shape!r}; allowed: [C, H, W] or [n]")
    for n in shape:
        _int(n, f"{where}.input_shape", 1, SIZE_MAX)
    if not isinstance(spec.get("input_neuron", False), bool):
        raise SpikeportError(f"{where}.input_neuron is {spec['input_neuron']!r}; allowed: true or false")
    check_neuron(spec.get("neuron", {}), f"{where}.neuron")
    _num(spec.get("dropout", 0.0), f"{where}.dropout", 0.0, 1.0, False, True)
    _num(spec.get("weight_scale", 1.0), f"{where}.weight_scale", 0.0, 1e3, True)
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpikeportError(f"{where}.layers: allowed: a non-empty list of layers")
    for i, layer in enumerate(layers):
        check_layer(layer, f"{where}.layers[{i}]")
