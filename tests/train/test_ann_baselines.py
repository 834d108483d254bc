"""The ANN baselines: batch-norm folding, post-training int8 quantization (integer
arithmetic emulated exactly), the spikeport-ann/1 description of DS-CNN, NeuroBench
counts against hand counts, and the accuracy-matched headline."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeport.hw.ann_description import ann_layers
from spikeport.hw.ann_energy import ann_energy
from spikeport.hw.comparison import headline
from spikeport.train import ann_measure, int8, reference_ann


def _dscnn(seed=0):
    torch.manual_seed(seed)
    net = reference_ann.build_dscnn(3, 12, 20, 5, {"channels": 8, "blocks": 2})
    net.train()
    with torch.no_grad():                      # non-trivial batch-norm statistics
        for _ in range(3):
            net(torch.randn(16, 3, 12, 20))
    return net.eval()


def test_fold_batchnorm_keeps_the_function():
    net = _dscnn()
    folded = int8.fold_batchnorm(net)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout)) for m in folded)
    x = torch.randn(4, 3, 12, 20)
    torch.testing.assert_close(folded(x), net(x), rtol=1e-5, atol=1e-5)


def test_int8_network_is_integer_arithmetic():
    folded = int8.fold_batchnorm(_dscnn())
    calib = [torch.randn(32, 3, 12, 20)]
    q = int8.quantize(folded, calib)
    convs = [m for m in q if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    for m in convs:
        w = m.weight.detach()
        assert torch.equal(w, torch.round(w)) and w.abs().max() <= 127
    seen = []
    hooks = [m.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0])) for m in convs]
    q(torch.randn(4, 3, 12, 20).double())
    for h in hooks:
        h.remove()
    # every layer's input is an integer in its 8-bit range: uint8 after ReLU, int8 for the signed features
    assert seen[0].min() < 0 and seen[0].abs().max() <= 127
    for x in seen:
        assert torch.equal(x, torch.round(x)) and x.min() >= -127 and x.max() <= 255
    assert all(x.min() >= 0 for x in seen[1:])
    # close to the float network, not equal to it
    x = torch.randn(8, 3, 12, 20)
    ref, got = folded(x), q(x.double()).float()
    assert not torch.equal(ref, got)
    assert (ref.argmax(1) == got.argmax(1)).float().mean() >= 0.75


def test_dscnn_description_counts_equal_torch():
    folded = int8.fold_batchnorm(_dscnn())
    desc = ann_measure.describe(folded, (3, 12, 20), frames=1, per_frame=False, name="ds")
    layers = ann_layers(desc)
    kinds = [l["kind"] for l in layers]
    assert kinds == ["conv"] * 5 + ["pool", "flatten", "dense"]
    assert desc["layers"][1]["groups"] == 8                                     # depthwise
    assert desc["layers"][2]["kernel"] == [1, 1]                                 # pointwise
    assert sum(l["weights"] + l["biases"] for l in layers) == desc["parameters"] == sum(
        p.numel() for p in folded.parameters())
    # dense MACs from the shapes equal an all-ones run of each layer (NeuroBench's Dense)
    m = ann_measure.measure(folded, folded, [torch.randn(6, 3, 12, 20)], np.zeros(6, np.int64))
    assert m["dense"] == [l["macs"] for l in layers if l["kind"] in ("conv", "dense")]


def test_effective_macs_equal_a_hand_count():
    lin = torch.nn.Linear(4, 3, bias=True)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1., 0., 2., 0.], [0., 0., 0., 3.], [1., 1., 1., 1.]]))
    seq = torch.nn.Sequential(lin, torch.nn.ReLU())
    x = torch.tensor([[0.5, 0., 2., 0.], [0., 0., 0., 0.]])
    m = ann_measure.measure(seq, seq, [x], np.zeros(2, np.int64))
    # sample 0: inputs 0 and 2 nonzero: row 0 has 2 nonzero weights there, row 1 none, row 2 two -> 4
    assert m["effective_macs"] == [4 / 2] and m["effective_acs"] == [0] and m["dense"] == [12.0]
    y = seq(x)
    assert m["activations_nonzero"] == int((y != 0).sum()) / 2 and m["activations_total"] == 3


def _ann(label_acc: dict[str, float], macs: int) -> dict:
    meas = {p: {"clips": 1, "accuracy": a, "effective_macs": [macs / 2], "effective_acs": [0.0], "dense": [macs],
                "zero_weights": [0], "activations_nonzero": 1.0, "activations_total": 1.0}
            for p, a in label_acc.items()}
    return {"format": "spikeport-ann/1", "frames": macs, "measured": meas,
            "layers": [{"name": "fc", "kind": "dense", "in_features": 1, "out_features": 1}]}


def _snn(low, high):
    return {"chip": "c", "stand_in": False, "figures_from": "c",
            "per_inference_pJ": {"low": {"mean": low}, "high": {"mean": high}}}


def test_headline_picks_the_cheapest_within_one_point_or_the_nearest_each_side():
    cheap = ann_energy(_ann({"fp32": 0.95, "int8": 0.905}, 10), "cheap")
    dear = ann_energy(_ann({"fp32": 0.90, "int8": 0.899}, 10_000), "dear")
    h = headline(_snn(1e3, 2e3), [cheap, dear], 0.90)
    assert (h["match"]["ann"], h["match"]["precision"]) == ("cheap", "int8")      # 0.905 is within 1 point
    assert "within 1 point" in h["text"]
    h = headline(_snn(1e3, 2e3), [cheap, dear], 0.925)
    assert h["match"] is None and "no ANN is within 1 point" in h["text"]
    assert (h["nearest_above"]["ann"], h["nearest_above"]["accuracy"]) == ("cheap", 0.95)
    assert (h["nearest_below"]["ann"], h["nearest_below"]["accuracy"]) == ("cheap", 0.905)
    assert h["nearest_above"]["ratio"]["low"] == pytest.approx(
        next(v for v in cheap["views"] if v["label"] == h["nearest_above"]["view"])["pJ"]["low"] / 2e3)
    h = headline(_snn(1e3, 2e3), [cheap], None)
    assert h["ratio"] is None and "the SNN's accuracy is unknown" in h["text"]


class _Recorder(torch.nn.Module):
    """A linear classifier that keeps every training batch it is given."""

    def __init__(self, n_in, classes):
        super().__init__()
        self.lin = torch.nn.Linear(n_in, classes)
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen.append(x.detach().clone())
        return self.lin(x.flatten(1))


@pytest.mark.parametrize("aug", [None, "warp", "masks"])
def test_fit_ann_trains_on_the_snn_feature_augmentation(aug):
    from spikeport.train.ann_fit import fit_ann
    from spikeport.train.augment import Augment, augment

    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 3, 8, 6)).astype(np.float32)
    y = rng.integers(0, 4, 10)
    a = {None: None, "warp": Augment(0, 0.0, 0.0, warp=0.2),
         "masks": Augment(0, 0.0, 0.0, time_masks=1, time_mask=3, band_masks=1, band_mask=3)}[aug]
    net = _Recorder(3 * 8 * 6, 4)
    fit_ann(net, torch.from_numpy, x, y, epochs=2, seed=5, batch_size=4, progress=False, aug=a)
    i = 0
    for epoch in range(2):
        order = torch.randperm(10, generator=torch.Generator().manual_seed(5 * 1000 + epoch))
        for start in range(0, 10, 4):
            idx = order[start:start + 4].numpy()
            want = x[idx] if a is None else augment(x[idx], a, np.random.default_rng([5, epoch, start]))
            assert torch.equal(net.seen[i], torch.from_numpy(want))
            if a is not None:
                assert not np.array_equal(want, x[idx])  # the perturbation is real
            i += 1
    assert i == len(net.seen)
