"""A walked NIR layer to Loihi fixed point: per-step decays, gains and biases in a
framework's convention, then the per-layer scale, integer weights, threshold and bias
(the derivation: :mod:`spikeport.nir_import`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.fixed_point import (DECAY_UNITY, NETX_MIXED_MAX, NETX_WEIGHT_RANGE, VTH_MAX, WEIGHT_SCALE,
                                   decay_int, netx_keeps)
from spikeport.nir_graph import BIAS_LIMIT, CONVENTIONS, DEFAULT_DT, EXACT, Spec, neuron_params


# ------------------------------------------------------------------ steps --

@dataclass
class Discrete:
    """A neuron population per step of ``dt``: current and voltage decay factors
    ``alpha``, ``beta``, synapse-to-voltage ``gain``, voltage ``bias`` per step and
    ``threshold`` (arrays of the layer's shape, in the graph's voltage units)."""

    alpha: np.ndarray
    beta: np.ndarray
    gain: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with ``inf / inf = 1`` (snnTorch's ``w_in = tau_syn / dt`` without leak)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isinf(a) & np.isinf(b), 1.0, a / b)


def discretise(node, shape: tuple, convention: str, dt: float, where: str) -> Discrete:
    """The per-step form of a CubaLIF, LIF or IF node under ``convention`` at step
    ``dt`` (the module doc's table)."""
    p = neuron_params(node, shape, where)
    if np.any(p["v_reset"] != 0):
        raise SpikeportError(f"{where}: v_reset {p['v_reset'].reshape(-1)[np.argmax(p['v_reset'] != 0)]:g}; Loihi's "
                             f"CUBA neuron resets to 0")
    kind, exp = type(node).__name__, convention in ("sinabs", "rockpool")
    zero, one = np.zeros(shape), np.ones(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "IF":
            return Discrete(zero, one, p["r"] * (1.0 if convention == "sinabs" else dt), zero, p["v_threshold"])
        tau_mem = p["tau_mem"] if kind == "CubaLIF" else p["tau"]
        decay = (lambda tau: np.exp(-dt / tau)) if exp else (lambda tau: 1 - dt / tau)  # noqa: E731
        alpha = decay(p["tau_syn"]) if kind == "CubaLIF" else zero
        beta = decay(tau_mem)
        w_in = p["w_in"] if kind == "CubaLIF" else one
        if convention == "sinabs":
            gain, bias = w_in * p["r"], p["v_leak"] * (1 - beta)
        elif convention == "rockpool":
            gain, bias = w_in * (alpha if kind == "CubaLIF" else one), p["v_leak"]
        else:
            syn = _ratio(w_in * dt, p["tau_syn"]) if kind == "CubaLIF" else one
            gain = syn * _ratio(p["r"] * dt, tau_mem)
            bias = np.where(np.isinf(tau_mem), 0.0, p["v_leak"] * dt / tau_mem)
    return Discrete(alpha, beta, gain, bias, p["v_threshold"])


def _neuron_nodes(graph) -> list:
    out = []
    for node in graph.nodes.values():
        if type(node).__name__ == "NIRGraph":
            out += _neuron_nodes(node)
        elif type(node).__name__ in ("CubaLIF", "LIF"):
            out.append(node)
    return out


def implied_dts(graph, convention: str) -> np.ndarray:
    """The steps (s) the neurons' parameters imply under ``convention``: snnTorch's
    ``tau_mem / r`` (``w_in`` may carry a gain, so it is not used), Rockpool's ``r = tau e^(-dt/tau) / dt``
    solved with Lambert's W; finite positive values only."""
    vals = []
    for node in _neuron_nodes(graph):
        tau = np.asarray(node.tau_mem if hasattr(node, "tau_mem") else node.tau, np.float64).reshape(-1)
        r = np.broadcast_to(np.asarray(node.r, np.float64).reshape(-1), tau.shape)
        with np.errstate(all="ignore"):
            if convention == "rockpool":
                from scipy.special import lambertw

                vals.append(tau * np.real(lambertw(1.0 / r)))
            else:
                vals.append(tau / r)
    v = np.concatenate(vals) if vals else np.zeros(0)
    return v[np.isfinite(v) & (v > 0)]


def choose_step(graph, convention: str | None, dt: float | None, where: str) -> tuple[str, float, str]:
    """``(convention, dt, how)``: the ones asked for, else what the graph implies."""
    meta = (graph.metadata or {}).get("spikeport", {}) if isinstance(graph.metadata, dict) else {}
    if convention is None and meta:
        convention = "snntorch"
    if convention is None:
        dts = implied_dts(graph, "snntorch")
        unit_r = all(np.allclose(np.asarray(n.r, np.float64), 1.0) for n in _neuron_nodes(graph))
        if dts.size and np.allclose(dts, dts[0], rtol=1e-6) and not unit_r:
            convention = "snntorch"
        else:
            raise SpikeportError(f"{where}: cannot tell which framework's convention the graph uses (its r and tau "
                                 f"do not imply snnTorch's step); pass --convention {'|'.join(CONVENTIONS)}")
    if dt is not None:
        return convention, float(dt), "--dt"
    if meta and convention == "snntorch" and "dt" in meta:
        return convention, float(meta["dt"]), "the graph's spikeport metadata"
    if convention in ("snntorch", "rockpool"):
        dts = implied_dts(graph, convention)
        if dts.size:
            if not np.allclose(dts, dts[0], rtol=1e-6):
                raise SpikeportError(f"{where}: its neurons imply steps from {dts.min():g} to {dts.max():g} s under "
                                     f"the {convention} convention; pass --dt")
            how = "tau_mem / r" if convention == "snntorch" else "r = tau exp(-dt/tau) / dt"
            return convention, float(dts[0]), how
    return convention, DEFAULT_DT[convention], f"{convention}'s default"



# ------------------------------------------------------------------ fixed point --

def layer_decays(d: Discrete, where: str) -> tuple[int, int, float]:
    """``(iDecay, vDecay, error)``: the one 12-bit current and voltage decay of a
    layer and the largest error of its per-step decay factors."""
    got = []
    for name, f in (("current", d.alpha), ("voltage", d.beta)):
        if not np.isfinite(f).all() or f.min() < -1e-12 or f.max() > 1 + 1e-12:
            bad = f.reshape(-1)[np.argmax(~np.isfinite(f) | (f < 0) | (f > 1))]
            raise SpikeportError(f"{where}: {name} decay factor {bad:g} per step is outside [0, 1] (a time "
                                 f"constant shorter than the step?)")
        ints = decay_int(1 - f)
        if ints.min() != ints.max():
            raise SpikeportError(f"{where}: per-neuron {name} time constants (12-bit decays {ints.min()}.."
                                 f"{ints.max()}); netx holds one per layer and a time constant cannot fold into "
                                 f"the weights")
        got.append(int(ints.reshape(-1)[0]))
    err = max(float(np.abs(1 - got[0] / DECAY_UNITY - d.alpha).max()),
              float(np.abs(1 - got[1] / DECAY_UNITY - d.beta).max()))
    return got[0], got[1], err


def neuron_factors(d: Discrete, where: str) -> tuple[np.ndarray, float]:
    """Per-neuron factors ``th / th_i`` that fold thresholds into the synapse and the
    bias, and the layer's one threshold ``th`` (the largest)."""
    thr = d.threshold
    if thr.min() < 0:
        raise SpikeportError(f"{where}: v_threshold {thr.min():g} < 0; Loihi's threshold mantissa is unsigned")
    th = float(thr.max())
    if th > 0 and thr.min() == 0:
        raise SpikeportError(f"{where}: thresholds of 0 beside positive ones cannot fold into one per layer")
    if not np.isfinite(d.gain).all():
        raise SpikeportError(f"{where}: its input gain (w_in, r, tau) is not finite under this convention")
    return (th / thr if th > 0 else np.ones_like(thr)), th


def synapse_in_voltage(spec: Spec, d: Discrete, c: np.ndarray, alpha_q: float, where: str):
    """``(weights, bias, notes)``: the synapse (and recurrent) weights times the
    neurons' gains and threshold factors ``c``, and the voltage bias per step (graph
    units, threshold-folded)."""
    k = d.gain * c
    b, notes = d.bias.copy(), []
    if spec.bias is not None:
        syn = spec.bias if spec.kind != "conv" else spec.bias[:, None, None] * np.ones(spec.out_shape)
        if alpha_q >= 1:
            raise SpikeportError(f"{where}: a synapse bias into a current that never decays grows without bound")
        b = b + d.gain * syn / (1 - alpha_q)
        if alpha_q > 0:
            notes.append("synapse bias as its steady-state voltage bias")
    b = b * c
    if spec.kind == "conv":
        kc = k.reshape(k.shape[0], -1)
        if not np.allclose(kc, kc[:, :1], rtol=1e-12, atol=0):
            raise SpikeportError(f"{where}: gains or thresholds vary within a channel; a conv kernel is shared, so "
                                 f"they cannot fold")
        weights = [spec.weight * kc[:, 0][:, None, None, None]]
    else:
        weights = [spec.weight * k[:, None]]
        if spec.weight_rec is not None:
            weights.append(spec.weight_rec * k[:, None])
    return weights, b, notes


def quant_errors(s: float, weights: list[np.ndarray], th: float, bias: np.ndarray, step: int = 1) -> dict:
    """Relative weight error (2-norm), threshold error and bias error (per threshold)
    of quantizing at scale ``s`` (weights to multiples of ``step``)."""
    w = np.concatenate([x.reshape(-1) for x in weights])
    norm = np.linalg.norm(w)
    werr = float(np.linalg.norm(np.round(s * w / step) * step / s - w) / norm) if norm else 0.0
    terr = float(abs(round(s * th) / s - th) / th) if th > 0 else 0.0
    berr = float(np.abs(np.round(s * bias) / s - bias).max(initial=0) / (th if th > 0 else 1.0))
    return {"weight_error": werr, "threshold_error": terr, "bias_error": berr}


def choose_scale(weights: list[np.ndarray], th: float, bias: np.ndarray, where: str) -> float:
    """The layer's scale: the largest at which weights, threshold and bias fit netx's
    mantissas, or the power of two below it when that is more exact."""
    w = np.concatenate([x.reshape(-1) for x in weights])
    pos, neg = float(w.max(initial=0)), float(w.min(initial=0))
    if pos == 0 and neg == 0:
        raise SpikeportError(f"{where}: every weight is zero (netx cannot load such a layer)")
    hi = NETX_MIXED_MAX if pos > 0 and neg < 0 else NETX_WEIGHT_RANGE[1]
    caps = [hi / pos] if pos > 0 else []
    # an all-negative matrix runs in Lava's inhibitory mode, clipped to magnitude 255
    caps += [(-NETX_WEIGHT_RANGE[0] if pos > 0 else NETX_WEIGHT_RANGE[1]) / -neg] if neg < 0 else []
    caps += [VTH_MAX / th] if th > 0 else []
    bmax = float(np.abs(bias).max(initial=0))
    caps += [BIAS_LIMIT / bmax] if bmax > 0 else []
    cap = min(caps)
    binary = 2.0 ** np.floor(np.log2(cap))
    step = mantissa_step(weights)
    worst = lambda s: max(quant_errors(s, weights, th, bias, step).values())  # noqa: E731
    # float noise in the parameters (1e-16) must not outvote an exact binary grid
    return cap if worst(cap) < worst(binary) - EXACT else binary


def _neuron_dict(idecay: int, vdecay: int, vth: int) -> dict:
    return {"type": "CUBA", "iDecay": idecay, "vDecay": vdecay, "vThMant": vth}


def _netx_bias(bq: np.ndarray, spec: Spec) -> np.ndarray:
    """A conv layer's integer bias per channel when uniform, else per neuron in netx's
    ``(x, y, c)`` order; dense ``(out,)``."""
    if spec.kind != "conv":
        return bq
    per = bq.reshape(bq.shape[0], -1)
    return per[:, 0].copy() if (per == per[:, :1]).all() else bq.transpose(2, 1, 0).copy()


def quantize_input(spec: Spec, d: Discrete, where: str) -> tuple[dict, dict]:
    """An ``Input -> neurons`` layer: netx's input layer, fed ``a_in = round(64 x)``."""
    idecay, vdecay, derr = layer_decays(d, where)
    c, th = neuron_factors(d, where)
    k = d.gain * c
    if not np.allclose(k, k.reshape(-1)[0], rtol=1e-12) or k.reshape(-1)[0] <= 0:
        raise SpikeportError(f"{where}: input neurons need one positive gain per layer (netx's input layer takes "
                             f"a_in = round(64 x) for all)")
    if np.any(d.bias):
        raise SpikeportError(f"{where}: a bias (v_leak) on input neurons; netx ignores an input layer's bias")
    s = WEIGHT_SCALE / float(k.reshape(-1)[0])
    vth = int(round(s * th))
    if vth > VTH_MAX:
        raise SpikeportError(f"{where}: threshold {th:g} is {vth} at the input's scale, beyond vThMant's {VTH_MAX}")
    row = {"kind": "input", "scale": s, "iDecay": idecay, "vDecay": vdecay, "vThMant": vth, "threshold": th,
           "decay_error": derr, **quant_errors(s, [np.ones(1)], th, np.zeros(1)), "weight_error": 0.0, "notes": []}
    return {"type": "input", "shape": list(spec.in_shape), "neuron": _neuron_dict(idecay, vdecay, vth)}, row


def mantissa_step(weights: list[np.ndarray]) -> int:
    """2 for weights of both signs: Loihi's 8-bit signed mantissa times 2 spans
    [-256, 254] in steps of 2 (odd mixed weights would need 9 bits); 1 for one sign
    (an unsigned 8-bit magnitude, up to 255)."""
    w = np.concatenate([x.reshape(-1) for x in weights])
    return 2 if w.min() < 0 < w.max() else 1


def weight_step(spec: Spec, s: float, weights: list[np.ndarray], where: str) -> int:
    """The grid of a layer's integer weights: :func:`mantissa_step`, doubled while
    netx would change them (its optimiser counts a sign bit a one-signed matrix does
    not have, all <= 0 with zeros or a one-signed part of a mixed recurrent layer, and
    Lava's Dense model then drops the lowest bit)."""
    first = mantissa_step(weights)
    if spec.kind == "conv":
        return first
    for step in (first, 2 * first, 4 * first, 8 * first):
        if netx_keeps([(np.round(s * w / step) * step).astype(np.int64) for w in weights]):
            return step
    raise SpikeportError(f"{where}: netx's weight optimiser would change this layer's weights at any grid")


def quantize_layer(spec: Spec, d: Discrete, where: str) -> tuple[dict, dict]:
    """``(netx layer dict, table row)`` of a dense, recurrent or conv layer."""
    idecay, vdecay, derr = layer_decays(d, where)
    c, th = neuron_factors(d, where)
    weights, b, notes = synapse_in_voltage(spec, d, c, 1 - idecay / DECAY_UNITY, where)
    s = choose_scale(weights, th, b, where)
    step = weight_step(spec, s, weights, where)
    q = [(np.round(s * w / step) * step).astype(np.int64) for w in weights]
    if not np.any(q[0]):
        raise SpikeportError(f"{where}: every weight rounds to zero at the layer's scale {s:g}")
    vth, bq = int(round(s * th)), np.round(s * b).astype(np.int64)
    layer = {"type": spec.kind, "weight": q[0], "neuron": _neuron_dict(idecay, vdecay, vth)}
    if spec.kind == "dense_rec":
        layer["weight_rec"] = q[1]
    if spec.kind == "conv":
        g = spec.geometry
        layer.update(stride=list(g["stride"]), padding=list(g["padding"]), dilation=list(g["dilation"]),
                     groups=int(g["groups"]))
    if bq.any():
        layer["bias"] = _netx_bias(bq, spec)
    if spec.delay is not None and spec.delay.any():
        layer["delay"] = spec.delay
    if not np.allclose(c, 1.0):
        notes.append(f"thresholds folded into weights ({d.threshold.min():g}..{th:g})")
    row = {"kind": spec.kind, "scale": s, "iDecay": idecay, "vDecay": vdecay, "vThMant": vth, "threshold": th,
           "decay_error": derr, **quant_errors(s, weights, th, b, step), "notes": notes}
    if step > mantissa_step(weights):
        notes.append(f"weights on a grid of {step} (netx would drop their low bits)")
    return layer, row


def netx_layers(in_shape: tuple, items: list, convention: str, dt: float, where: str) -> tuple[list, list]:
    """The netx layer dicts (:func:`~spikeport.sim.synthetic.write_network`'s format)
    and quantization rows of the walked graph."""
    layers, rows = [], []
    specs = [x for x in items if isinstance(x, Spec)]
    if specs and specs[0].kind == "conv":
        layers.append({"type": "input", "shape": list(in_shape)})   # netx cannot infer a conv's input
    for item in items:
        if not isinstance(item, Spec):
            if layers:
                layers.append({"type": "flatten"})
            continue
        at = f"{where}: node '{item.label}' ({type(item.neuron).__name__})"
        d = discretise(item.neuron, item.out_shape, convention, dt, at)
        layer, row = (quantize_input if item.kind == "input" else quantize_layer)(item, d, at)
        layers.append(layer)
        rows.append({"layer": len(layers) - 1, "node": item.label, "neurons": int(np.prod(item.out_shape)), **row})
    return layers, rows
