"""Post-training int8 quantization of the ANNs, emulated exactly in float64.

The scheme is the usual one for int8 accelerators (TFLite / CMSIS-NN style):

* batch norm folded into the convolution or dense layer before it;
* weights: symmetric int8 per output channel, ``w = q_w * s_w``, ``q_w`` in
  [-127, 127], ``s_w = max|w| / 127``;
* each convolution's or dense layer's input: one scale per tensor from a calibration
  set (the 99.99th percentile of ``|x|`` over the calibration clips), uint8 [0, 255]
  where the calibration inputs are never negative (after ReLU), int8 [-127, 127]
  otherwise;
* biases: int32 at scale ``s_in * s_w``; accumulation in integers; the output is
  rescaled by ``s_in * s_w`` and quantized again at the next layer's input.

:func:`quantize` turns a float ``torch.nn.Sequential`` into one that computes
exactly that: an :class:`ActQuant` (integer-valued output) before every
``Conv2d``/``Linear``, whose weights and biases hold the integers, then a
:class:`Rescale`. In float64 every accumulator (|value| < 2**53) is exact, so the
module *is* the int8 network, and hooks on its ``Conv2d``/``Linear`` layers see the
quantized integer inputs (NeuroBench counts its effective MACs from them).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

SCHEME = ("post-training int8: batch norm folded; weights symmetric int8 per output channel; each layer's input "
          "uint8 (never negative in calibration) or int8, one scale per tensor from the 99.99th percentile of |x| "
          "over 128 training clips; int32 biases and accumulators; rescaled and requantized at the next layer")
PERCENTILE = 99.99
INT8_MAX = 127
UINT8_MAX = 255


class ActQuant(torch.nn.Module):
    """Quantize activations to integers: ``clamp(round(x / scale), lo, hi)``."""

    def __init__(self, scale: float, lo: int, hi: int):
        super().__init__()
        self.scale, self.lo, self.hi = float(scale), int(lo), int(hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(torch.round(x / self.scale), self.lo, self.hi)

    def extra_repr(self) -> str:
        return f"scale={self.scale:.4g}, range=[{self.lo}, {self.hi}]"


class Rescale(torch.nn.Module):
    """Multiply an integer accumulator by its per-channel scale ``s_in * s_w``."""

    def __init__(self, scale: torch.Tensor, conv: bool):
        super().__init__()
        shape = (-1, 1, 1) if conv else (-1,)
        self.register_buffer("scale", scale.reshape(shape).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def fold_batchnorm(seq: torch.nn.Sequential) -> torch.nn.Sequential:
    """A copy of ``seq`` (eval mode) with every ``BatchNorm2d``/``BatchNorm1d`` that
    follows a ``Conv2d``/``Linear`` folded into it, and dropout layers removed:
    ``w' = w * g / sqrt(var + eps)``, ``b' = (b - mean) * g / sqrt(var + eps) + beta``."""
    out: list[torch.nn.Module] = []
    for m in copy.deepcopy(seq).eval():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            prev = out[-1] if out else None
            if not isinstance(prev, (torch.nn.Conv2d, torch.nn.Linear)):
                raise ValueError("a batch norm must follow a Conv2d or Linear layer to be folded")
            k = m.weight.detach() / torch.sqrt(m.running_var + m.eps)
            shape = (-1,) + (1,) * (prev.weight.dim() - 1)
            bias = prev.bias.detach() if prev.bias is not None else torch.zeros_like(m.running_mean)
            folded = copy.deepcopy(prev)
            folded.weight = torch.nn.Parameter(prev.weight.detach() * k.reshape(shape))
            folded.bias = torch.nn.Parameter((bias - m.running_mean) * k + m.bias.detach())
            out[-1] = folded
        elif isinstance(m, torch.nn.Dropout):
            continue
        else:
            out.append(m)
    return torch.nn.Sequential(*out).eval()


def _layer_inputs(seq: torch.nn.Sequential, batches) -> dict[int, list[torch.Tensor]]:
    """Inputs of every Conv2d/Linear of ``seq`` over ``batches`` (float)."""
    seen: dict[int, list[torch.Tensor]] = {}
    hooks = []
    for i, m in enumerate(seq):
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            hooks.append(m.register_forward_pre_hook(
                lambda mod, inp, i=i: seen.setdefault(i, []).append(inp[0].detach().flatten())))
    try:
        with torch.no_grad():
            for x in batches:
                seq(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


def quantize(seq: torch.nn.Sequential, calibration) -> torch.nn.Sequential:
    """The int8 version of the batch-norm-free float ``seq`` (see the module doc).

    ``calibration``: an iterable of input batches for ``seq`` (float). Returns a
    float64 ``Sequential``; feed it float64 inputs.
    """
    seq = copy.deepcopy(seq).double().eval()
    inputs = _layer_inputs(seq, [torch.as_tensor(x).double() for x in calibration])
    out: list[torch.nn.Module] = []
    for i, m in enumerate(seq):
        if not isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            out.append(m)
            continue
        x = torch.cat(inputs[i]).numpy()
        signed = bool(x.min() < 0)
        qmax = INT8_MAX if signed else UINT8_MAX
        s_in = float(np.percentile(np.abs(x), PERCENTILE)) / qmax or 1.0
        w = m.weight.detach()
        s_w = w.abs().reshape(w.shape[0], -1).max(dim=1).values / INT8_MAX
        s_w = torch.where(s_w > 0, s_w, torch.ones_like(s_w))
        q = copy.deepcopy(m)
        q.weight = torch.nn.Parameter(torch.round(w / s_w.reshape((-1,) + (1,) * (w.dim() - 1))),
                                      requires_grad=False)
        if m.bias is not None:
            q.bias = torch.nn.Parameter(torch.round(m.bias.detach() / (s_in * s_w)), requires_grad=False)
        out += [ActQuant(s_in, -qmax if signed else 0, qmax), q, Rescale(s_in * s_w, isinstance(m, torch.nn.Conv2d))]
    return torch.nn.Sequential(*out).eval()


def int8_weights(seq: torch.nn.Sequential) -> list[np.ndarray]:
    """The integer weight tensors of a :func:`quantize` d network, in order."""
    return [m.weight.detach().numpy().astype(np.int64) for m in seq
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
