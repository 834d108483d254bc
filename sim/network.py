"""A netx network as the fast backend runs it: plain parameters, no behaviour.

:mod:`spikeport.sim.netx_reader` fills these from an HDF5 file exactly as netx
derives them (and :mod:`spikeport.sim.netx_reference` from the processes netx
builds, for the tests that prove the two equal). Shapes are netx's: a layer's
neurons ``(x, y, c)`` for convolution layers, ``(n,)`` for dense ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np


@dataclass
class Synapse:
    """A layer's synapse as Lava's fixed_pt model runs it.

    ``weight``: dense ``(out, in)`` int64, the weights after Lava's clipping and
    truncation to ``num_weight_bits``; conv ``(out, kx, ky, in/groups)`` int64 in
    Lava's layout (netx flips the HDF5 kernel; see :meth:`torch_kernel`).
    ``weight_exp``: the accumulator's exponent (dense only). ``graded``: the input's
    values are used (``num_message_bits > 0``), else any nonzero input counts as 1.
    ``delays``: ``(out, in)`` axonal delays in steps (``delay_dense`` only).
    ``stride``, ``padding``, ``dilation``: ``(x, y)``, Lava's order. ``in_shape``,
    ``out_shape``: netx shapes of the source and of the layer.
    """

    kind: str                      # "dense", "delay_dense" or "conv"
    weight: np.ndarray
    weight_exp: int = 0
    delays: np.ndarray | None = None
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1
    in_shape: tuple = ()
    out_shape: tuple = ()
    graded: bool = False
    num_weight_bits: int = 8

    @property
    def max_delay(self) -> int:
        return 0 if self.delays is None else int(self.delays[self.weight != 0].max(initial=0))

    @property
    def min_delay(self) -> int:
        return 0 if self.delays is None else int(self.delays[self.weight != 0].min(initial=0))

    def torch_kernel(self) -> np.ndarray:
        """Conv kernel ``(out, in/groups, kH, kW)`` in the ``(C, H=y, W=x)`` layout of
        a plain cross-correlation: what Lava's flipped-kernel convolution computes."""
        return np.array(self.weight[:, ::-1, ::-1].transpose(0, 3, 2, 1), order="C", copy=True)


@dataclass
class Neuron:
    """A layer's neurons. ``kind``: ``cuba`` (Lava ``LIF``/``LIFReset``), ``delta``
    (sigma-delta input), ``sigma_delta``, ``sigma`` (sigma-delta readout), ``rf`` or
    ``rf_iz`` (resonate-and-fire, Lava ``RF``/``RF_IZ``).

    CUBA: ``du`` (netx ``iDecay - 1``), ``dv``, ``vth`` (mantissa), ``bias`` the
    effective bias ``bias_mant << bias_exp`` (int32, broadcastable to ``shape``),
    ``reset_interval``/``reset_offset`` for ``LIFReset``. Sigma-delta: ``vth`` and
    ``bias`` as the process holds them (scaled by ``2**(spike_exp + state_exp)``),
    ``relu`` for the ReLU activation. RF: ``sin_decay``, ``cos_decay`` (12-bit), ``vth``
    scaled by ``2**6``. ``message_bits``: bits of the events the layer sends (0:
    binary spikes).
    """

    kind: str
    shape: tuple
    du: int = 0
    dv: int = 0
    vth: int = 0
    bias: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int32))
    reset_interval: int | None = None
    reset_offset: int = 0
    spike_exp: int = 6
    state_exp: int = 6
    relu: bool = True
    sin_decay: int = 0
    cos_decay: int = 0
    message_bits: int = 0

    @property
    def graded(self) -> bool:
        """Whether the neurons send integer payloads (sigma-delta) rather than 0/1."""
        return self.kind in ("delta", "sigma_delta", "sigma")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Layer:
    """One netx block: ``index`` its place in netx's block list, ``name`` its HDF5
    group (``layer<i>``), ``kind`` the activity-count kind (``input``, ``dense``,
    ``delay_dense``, ``conv``, ``dense_rec``, ``complex_dense``, ``sdnn_dense`` ...).
    ``synapse`` is None for an input layer fed by the external input; ``imag`` is the
    imaginary-part synapse of a complex (resonate-and-fire) layer; ``recurrent`` the
    synapse through which a ``dense_rec`` layer's own spikes return one step later."""

    name: str
    neuron: Neuron
    synapse: Synapse | None = None
    index: int = 0
    kind: str = ""
    imag: Synapse | None = None
    recurrent: Synapse | None = None

    @property
    def synapses(self) -> list[Synapse]:
        return [s for s in (self.synapse, self.imag, self.recurrent) if s is not None]


@dataclass
class Network:
    """A netx network as the fast backend runs it (indexable like its layer list).

    ``input_shape``: the shape (netx order) of the port external input enters: an
    input layer's neurons, or the first synapse's input.
    """

    path: str
    layers: list[Layer]
    input_shape: tuple
    options: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    @property
    def output_shape(self) -> tuple:
        return self.layers[-1].neuron.shape

    @property
    def latency(self) -> int:
        """Steps from an input to its earliest possible effect at the output:
        ``1 + d_min`` per feed-forward synapse (``d_min``: its smallest axonal delay)."""
        return sum(1 + l.synapse.min_delay for l in self.layers if l.synapse is not None)


def layer_kind(neuron: Neuron, synapse: Synapse | None, recurrent: bool = False) -> str:
    """The activity-count kind of a layer with these neurons and feed-forward synapse."""
    if neuron.kind in ("rf", "rf_iz"):
        return "complex_dense"
    base = "input" if synapse is None else ("dense_rec" if recurrent else synapse.kind)
    return {"cuba": base, "delta": "sdnn_" + base, "sigma_delta": "sdnn_" + base,
            "sigma": "sigma_" + base}[neuron.kind]
