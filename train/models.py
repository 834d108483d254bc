"""Spiking networks built from lava-dl SLAYER blocks, exportable to netx HDF5.

One block = synapse + CUBA neuron (+ the one-timestep axonal shift that Loihi's
synapse adds). Weights pass through :func:`spikeport.export.fixed_point.quantize_weight`
in every forward pass, so training sees the weights that the chip will hold.
"""
from __future__ import annotations

from typing import Sequence

import torch

from spikeport.export.fixed_point import quantize_weight
from spikeport.lava_compat import import_slayer

# Per-step fractions; threshold in units of one (unquantized) weight.
CUBA_DEFAULTS = {
    "threshold": 1.25,
    "current_decay": 0.25,
    "voltage_decay": 0.03,
    "tau_grad": 0.03,
    "scale_grad": 3.0,
    "requires_grad": False,
}


def _identity_hook(w: torch.Tensor, descale: bool = False) -> torch.Tensor:
    return w


class DenseSNN(torch.nn.Module):
    """A stack of ``slayer.block.cuba.Dense`` blocks.

    ``sizes`` = ``[inputs, hidden..., outputs]``. Input spikes ``(batch, inputs, T)``;
    output spikes ``(batch, outputs, T)``. ``quantized=False`` runs the same network
    with float weights (for comparing accuracies).
    """

    def __init__(self, sizes: Sequence[int], neuron: dict | None = None, weight_scale: float = 1.0):
        super().__init__()
        slayer = import_slayer()
        if len(sizes) < 2:
            raise ValueError("DenseSNN needs at least [inputs, outputs]")
        self.sizes = list(sizes)
        self.neuron = {**CUBA_DEFAULTS, **(neuron or {})}
        self.blocks = torch.nn.ModuleList(
            slayer.block.cuba.Dense(
                self.neuron, n_in, n_out,
                weight_scale=weight_scale, pre_hook_fx=quantize_weight,
            )
            for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])
        )
        self.quantized = True

    def set_quantized(self, flag: bool) -> "DenseSNN":
        """Switch weight quantization on (chip weights) or off (float weights)."""
        self.quantized = flag
        for b in self.blocks:
            b.synapse.pre_hook_fx = quantize_weight if flag else _identity_hook
        return self

    def forward(self, spikes: torch.Tensor, return_all: bool = False):
        """Run the network. Returns output spikes ``(batch, outputs, T)``, or the
        list of every block's spikes when ``return_all``."""
        outs = []
        x = spikes
        for b in self.blocks:
            x = b(x)
            outs.append(x)
        return outs if return_all else x

    @property
    def latency(self) -> int:
        """Timesteps from an input spike to its earliest effect at the output."""
        return len(self.blocks)
