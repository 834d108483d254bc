"""An exponential moving average of a network's weights, for validation, test and the
saved model (``KwsConfig.ema``)."""
from __future__ import annotations

import contextlib

import torch


def ema_init(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``net``'s parameters to average into (see :func:`ema_update`)."""
    return {n: p.detach().clone() for n, p in net.named_parameters()}


def ema_update(ema: dict[str, torch.Tensor], net: torch.nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * parameters``, in place."""
    with torch.no_grad():
        for n, p in net.named_parameters():
            ema[n].lerp_(p.detach(), 1.0 - decay)


def ema_load(net: torch.nn.Module, ema: dict[str, torch.Tensor]) -> None:
    """Overwrite ``net``'s parameters with the averaged ones."""
    params = dict(net.named_parameters())
    with torch.no_grad():
        for n, v in ema.items():
            params[n].copy_(v)


@contextlib.contextmanager
def ema_weights(net: torch.nn.Module, ema: dict[str, torch.Tensor]):
    """Run the ``with`` body on the averaged weights (none: unchanged), then put the
    trained weights back."""
    if not ema:
        yield net
        return
    trained = ema_init(net)
    ema_load(net, ema)
    try:
        yield net
    finally:
        ema_load(net, trained)
