"""ANNs as the hardware stage counts them: the ``spikeport-ann/1`` description of a
torch network, and its NeuroBench workload figures measured on a data split.

:func:`describe` walks a batch-norm-free ``torch.nn.Sequential`` (``Conv2d``,
``Linear``, ``AvgPool2d``, ``Flatten``, activations) and lists its layers with the
shapes of one evaluation; the hw stage counts MACs from that alone.

:func:`measure` runs a network on a split and counts, per layer and per inference,
what NeuroBench's ``SynapticOperations`` counts (Yik et al. 2025; neurobench 2.3):
*effective* operations = connections whose input and weight are both nonzero
(each layer re-run with nonzero entries set to 1 and biases dropped), *dense* =
every in-bounds connection; an input whose values all lie in {-1, 0, 1} counts as
accumulates (ACs), otherwise multiply-accumulates (MACs). It also counts the
nonzero and total outputs of every ReLU (NeuroBench's ``ActivationSparsity``) and
the accuracy.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F

ANN_FORMAT = "spikeport-ann/1"
SKIPPED = (torch.nn.ReLU, torch.nn.Identity)


def _pair(v) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(a) for a in v]


def _shapes(seq: torch.nn.Sequential, frame_shape: tuple[int, ...]) -> list[tuple[tuple, tuple]]:
    """(input shape, output shape) of every module of ``seq`` for one evaluation."""
    shapes = []
    x = torch.zeros((1,) + tuple(frame_shape), dtype=next(seq.parameters()).dtype)
    with torch.no_grad():
        for m in seq:
            y = m(x)
            shapes.append((tuple(x.shape[1:]), tuple(y.shape[1:])))
            x = y
    return shapes


def _layer(m: torch.nn.Module, name: str, sin: tuple, sout: tuple, per_frame: bool) -> dict | None:
    base = {"name": name, "per_frame": per_frame}
    if isinstance(m, torch.nn.Conv2d):
        w = m.weight.detach()
        return {**base, "kind": "conv", "in_shape": list(sin), "out_shape": list(sout),
                "kernel": _pair(m.kernel_size), "stride": _pair(m.stride), "padding": _pair(m.padding),
                "dilation": _pair(m.dilation), "groups": int(m.groups), "bias": m.bias is not None,
                "zero_weights": int((w == 0).sum())}
    if isinstance(m, torch.nn.Linear):
        return {**base, "kind": "dense", "in_features": int(m.in_features), "out_features": int(m.out_features),
                "bias": m.bias is not None, "zero_weights": int((m.weight.detach() == 0).sum())}
    if isinstance(m, torch.nn.AvgPool2d):
        return {**base, "kind": "pool", "in_shape": list(sin), "out_shape": list(sout),
                "kernel": _pair(m.kernel_size), "stride": _pair(m.stride)}
    if isinstance(m, torch.nn.Flatten):
        return {**base, "kind": "flatten", "in_shape": list(sin), "out_features": int(np.prod(sout))}
    if isinstance(m, SKIPPED):
        return None
    raise ValueError(f"{type(m).__name__} cannot be described (fold batch norm and drop dropout first)")


def describe(seq: torch.nn.Sequential, frame_shape: tuple[int, ...], frames: int, per_frame: bool,
             name: str, source: str = "", readout: str = "") -> dict:
    """The ``spikeport-ann/1`` description of ``seq`` for inputs of one evaluation
    shaped ``frame_shape`` (``(C, H, W)`` or ``(n,)``). ``per_frame``: every layer
    runs ``frames`` times per inference (the ANN twin, one frame per timestep);
    else once (a network over the whole spectrogram, ``frames`` = 1)."""
    layers = []
    for i, (m, (sin, sout)) in enumerate(zip(seq, _shapes(seq, frame_shape))):
        entry = _layer(m, f"{type(m).__name__.lower()}{i}", sin, sout, per_frame)
        if entry is not None:
            layers.append(entry)
    return {"format": ANN_FORMAT, "name": name, "source": source, "frames": int(frames),
            "input_shape": list(frame_shape), "readout": readout, "layers": layers,
            "parameters": int(sum(p.numel() for p in seq.parameters()))}


class _Counter:
    """Hooks that count NeuroBench's operations and activations on ``seq``."""

    def __init__(self, seq: torch.nn.Sequential):
        self.ops = {}        # module index -> [effective MACs, effective ACs, dense]
        self.nonzero = self.total = 0
        self.hooks = []
        for i, m in enumerate(seq):
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                self.ops[i] = [0, 0, 0]
                self.hooks.append(m.register_forward_pre_hook(lambda mod, inp, i=i: self._synops(i, mod, inp[0])))
            elif isinstance(m, torch.nn.ReLU):
                self.hooks.append(m.register_forward_hook(lambda mod, inp, out: self._acts(out)))

    def _synops(self, i: int, m: torch.nn.Module, x: torch.Tensor) -> None:
        x = x.detach().double()
        binary = bool(((x == 0) | (x == 1) | (x == -1)).all())
        w = (m.weight.detach() != 0).double()
        ones_w = torch.ones_like(w)
        if isinstance(m, torch.nn.Conv2d):
            run = lambda a, k: F.conv2d(a, k, None, m.stride, m.padding, m.dilation, m.groups)  # noqa: E731
        else:
            run = F.linear
        eff = int(round(float(run((x != 0).double(), w).sum())))
        dense = int(round(float(run(torch.ones_like(x), ones_w).sum())))
        self.ops[i][1 if binary else 0] += eff
        self.ops[i][2] += dense

    def _acts(self, out: torch.Tensor) -> None:
        self.nonzero += int(torch.count_nonzero(out))
        self.total += int(out.numel())

    def close(self) -> None:
        for h in self.hooks:
            h.remove()


def measure(model: torch.nn.Module, seq: torch.nn.Sequential, batches: Iterable[torch.Tensor],
            labels: np.ndarray) -> dict:
    """Run ``model`` (whose layers are ``seq``) on ``batches`` (inputs in order,
    labels ``(clips,)``) and return per inference: ``effective_macs``,
    ``effective_acs`` and ``dense`` per Conv2d/Linear layer (in order), the ReLU
    outputs that are nonzero and in all, and the accuracy."""
    counter = _Counter(seq)
    preds = []
    try:
        with torch.no_grad():
            for x in batches:
                preds.append(model(x).argmax(1).numpy())
    finally:
        counter.close()
    n = len(labels)
    pred = np.concatenate(preds)
    ops = [counter.ops[i] for i in sorted(counter.ops)]
    return {"clips": int(n), "accuracy": float((pred == np.asarray(labels)).mean()),
            "effective_macs": [o[0] / n for o in ops], "effective_acs": [o[1] / n for o in ops],
            "dense": [o[2] / n for o in ops],
            "activations_nonzero": counter.nonzero / n, "activations_total": counter.total / n}


def attach(desc: dict, precision: str, measured: dict, seq: torch.nn.Sequential, split: str) -> dict:
    """Record ``measured`` (from :func:`measure`) for ``precision`` (``fp32`` or
    ``int8``) in ``desc["measured"]``, with the zero weights of ``seq``'s
    Conv2d/Linear layers (``seq`` being the network that was measured)."""
    zeros = [int((m.weight.detach() == 0).sum()) for m in seq if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    m = desc.setdefault("measured", {"split": split})
    m[precision] = {**measured, "zero_weights": zeros}
    return desc
