"""Write small netx HDF5 networks from plain layer descriptions.

For tests and benchmarks: property-based tests draw random geometries, weights,
delays and neuron parameters and write them with :func:`write_network`, so both
backends can be compared on networks no training run would produce (odd weights,
2-D delay matrices, grouped and dilated convolutions, sigma-delta layers).

A layer is a dict with netx's field names, channel-first shapes (as lava-dl
exports them)::

    {"type": "input", "shape": [C, H, W], "neuron": {...}}          # neuron optional
    {"type": "conv", "weight": (O, C/g, kH, kW), "stride": [sh, sw], "padding": [ph, pw],
     "dilation": [dh, dw], "groups": g, "bias": (O,), "neuron": {...}}   # shape derived
    {"type": "flatten"}
    {"type": "dense", "weight": (out, in), "delay": (out,) | (in,) | (out, in), "bias": (out,),
     "neuron": {...}}
    {"type": "dense_rec", "weight": (out, in), "weight_rec": (out, out), "neuron": {...}}
    {"type": "dense" | "dense_comp", "weight_real": (out, in), "weight_imag": (out, in),
     "neuron": {"type": "RF_PHASE" | "RF_IZ", "sinDecay": int, "cosDecay": int, "vThMant": int}}
    neuron: {"type": "CUBA" | "LOIHI", "iDecay": int, "vDecay": int, "vThMant": int}
            {"type": "SDNN", "vThMant": int}   (+ "sigma_output": True for a readout)

Any other ``type`` is written as given (to test that it is refused).
"""
from __future__ import annotations

import os

import h5py
import numpy as np

from spikeport.atomic import atomic_path
from spikeport.geometry import conv_out

POOL_GEOMETRY = ("kernelSize", "stride", "padding", "dilation")


def conv_output_shape(in_shape, weight_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)) -> tuple:
    """``(O, H', W')`` of a convolution of ``(C, H, W)`` with an ``(O, C/g, kH, kW)`` kernel."""
    o, _, kh, kw = weight_shape
    return (int(o),) + tuple(conv_out(in_shape[a + 1], (kh, kw)[a], stride[a], padding[a], dilation[a]) for a in (0, 1))


def _neuron(group, neuron: dict) -> None:
    g = group.create_group("neuron")
    for key, value in neuron.items():
        if key == "type":
            g.create_dataset("type", data=np.bytes_(value))
        else:
            g.create_dataset(key, data=value)


def write_network(path: str | os.PathLike, layers: list[dict]) -> None:
    """Write ``layers`` (see the module doc) as a netx HDF5 file at ``path`` (atomic)."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            top = f.create_group("layer")
            shape = None
            for i, layer in enumerate(layers):
                g = top.create_group(str(i))
                kind = layer["type"]
                g.create_dataset("type", (1,), "S10", [kind.encode("ascii")])
                if kind == "conv":
                    w = np.asarray(layer["weight"], np.float32)
                    pair = lambda key, dflt: tuple(int(v) for v in np.broadcast_to(layer.get(key, dflt), 2))  # noqa: E731
                    stride, padding, dilation = pair("stride", 1), pair("padding", 0), pair("dilation", 1)
                    shape = conv_output_shape(shape, w.shape, stride, padding, dilation)
                    for key, value in (("weight", w), ("stride", stride), ("padding", padding),
                                       ("dilation", dilation), ("groups", int(layer.get("groups", 1))),
                                       ("inChannels", w.shape[1] * int(layer.get("groups", 1))),
                                       ("outChannels", w.shape[0]), ("kernelSize", w.shape[2:])):
                        g.create_dataset(key, data=np.asarray(value))
                elif kind in ("dense", "dense_rec", "dense_comp") and "weight_real" in layer:
                    wr = np.asarray(layer["weight_real"], np.float32)
                    shape = (wr.shape[0],)
                    g.create_dataset("weight/real", data=wr)
                    g.create_dataset("weight/imag", data=np.asarray(layer["weight_imag"], np.float32))
                elif kind in ("dense", "dense_rec"):
                    w = np.asarray(layer["weight"], np.float32)
                    shape = (w.shape[0],)
                    g.create_dataset("weight", data=w)
                    if kind == "dense_rec":
                        g.create_dataset("weight_rec", data=np.asarray(layer["weight_rec"], np.float32))
                    g.create_dataset("inFeatures", data=w.shape[1])
                    g.create_dataset("outFeatures", data=w.shape[0])
                    if layer.get("delay") is not None:
                        g.create_dataset("delay", data=np.asarray(layer["delay"], np.float32))
                elif kind == "flatten":
                    shape = (int(np.prod(shape)),)
                elif kind == "input":
                    shape = tuple(int(s) for s in layer["shape"])
                else:
                    shape = tuple(int(s) for s in layer.get("shape", shape or (1,)))
                    if layer.get("weight") is not None:       # e.g. a pool layer's shared kernel
                        g.create_dataset("weight", data=np.asarray(layer["weight"], np.float32))
                    for key in POOL_GEOMETRY:                 # a pool layer's window, when given
                        if layer.get(key) is not None:
                            g.create_dataset(key, data=np.asarray(layer[key]))
                if "shape" in layer and kind not in ("input",):
                    shape = tuple(int(s) for s in layer["shape"])
                g.create_dataset("shape", data=np.asarray(shape))
                if layer.get("bias") is not None:
                    g.create_dataset("bias", data=np.asarray(layer["bias"], np.float32))
                if layer.get("neuron"):
                    _neuron(g, layer["neuron"])
