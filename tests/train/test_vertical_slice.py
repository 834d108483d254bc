"""Train -> export -> Lava: the PyTorch quantized forward pass and Lava's fixed_pt
simulator agree on every spike of every neuron of every layer at every timestep."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from spikeport.export import read_metadata
from spikeport.sim import run_lava
from spikeport.train.models import DenseSNN
from support.digits_slice import LATENCY_OFFSET, compare_spikes, rate_encode

pytestmark = pytest.mark.lava


def test_lava_equals_pytorch_spike_for_spike(digits_slice, record_property):
    s = digits_slice
    print(f"\nfloat {s['float_accuracy']:.3f}  quantized {s['quantized_accuracy']:.3f}  "
          f"Lava {s['lava_accuracy']:.3f} on {s['lava_samples']} held-out samples "
          f"(quantized on the same {s['quantized_accuracy_on_lava_samples']:.3f})")
    for key in ("float_accuracy", "quantized_accuracy", "lava_accuracy"):
        record_property(key, s[key])
    assert LATENCY_OFFSET == 0
    # 16 samples x (128 hidden + 10 output neurons) x 32 steps
    assert s["spikes_compared"] == 16 * (128 + 10) * 32
    assert s["output_spikes"] > 100, "a silent network would agree trivially"
    assert s["spikes_mismatched"] == 0, f"first mismatch: {s['first_mismatch']}"
    assert s["lava_accuracy"] == s["quantized_accuracy_on_lava_samples"]
    assert s["float_accuracy"] > 0.8 and s["quantized_accuracy"] > 0.8


def test_checkpoint_and_metadata(digits_slice):
    net = digits_slice["net"]
    meta = read_metadata(net)
    assert meta["task"] == "digits8x8" and meta["steps"] == 32 and meta["latency"] == 2
    ckpt = torch.load(str(net).replace("model.net", "model.pt"), weights_only=True)
    model = DenseSNN(ckpt["config"]["sizes"], ckpt["config"]["neuron"])
    model.load_state_dict(ckpt["state_dict"])
    with h5py.File(net) as h:
        w = h["layer/0/weight"][()]
    # exported weights are the quantized weights the model computes with
    np.testing.assert_array_equal(w, model.blocks[0].synapse.pre_hook_fx(
        model.blocks[0].synapse.weight, descale=True).detach().reshape(w.shape).numpy())
    assert np.all(w == np.round(w)) and np.all(w % 2 == 0)


def test_comparison_detects_a_changed_weight(digits_slice, tmp_path):
    """The check can fail: one weight off by one LSB pair changes Lava's spikes."""
    src = digits_slice["net"]
    ckpt = torch.load(str(src).replace("model.net", "model.pt"), weights_only=True)
    model = DenseSNN(ckpt["config"]["sizes"], ckpt["config"]["neuron"])
    model.load_state_dict(ckpt["state_dict"])
    x = torch.from_numpy(rate_encode(np.full((1, 64), 0.8), 32, seed=5))
    with torch.no_grad():
        expected = [o[0].numpy() for o in model(x, return_all=True)]
    bad = tmp_path / "bad.net"
    bad.write_bytes(open(src, "rb").read())
    with h5py.File(bad, "r+") as h:
        w = h["layer/0/weight"]
        arr = w[()]
        arr[:, :] += 8  # every hidden neuron gets more input
        w[...] = arr
    got = run_lava(bad, x[0].numpy(), all_layers=True)
    assert compare_spikes(expected, got)["mismatched"] > 0
    good = run_lava(src, x[0].numpy(), all_layers=True)
    assert compare_spikes(expected, good)["mismatched"] == 0


# --- the digits demo's encoder is unchanged ----------------------------------

def test_rate_encode_digits_contract():
    x = np.full((2, 64), 0.8)
    s = rate_encode(x, 32, seed=5)
    assert s.shape == (2, 64, 32) and s.dtype == np.float32
    expected = (np.random.default_rng(5).random((2, 64, 32)) < 0.8 * 0.5).astype(np.float32)
    np.testing.assert_array_equal(s, expected)
    assert rate_encode(np.full(64, 0.5), 4).shape == (1, 64, 4)
    with pytest.raises(ValueError, match="NaN"):
        rate_encode(np.array([np.nan]), 4)
