"""The CUDA path: SLAYER's CUDA kernels against the CPU path that is tested spike for
spike against Lava, and a keyword-spotting run trained on the GPU.

Everything but the first test needs a CUDA device and is skipped without one (CI has
none; these ran on an H100, see bench/RESULTS.md).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from spikeport.train import slayer_cuda
from spikeport.train.models import SpikingNet, kws_spec

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("w_scale", [64, 1, 4096, 100])
def test_kernel_threshold_truncates_to_the_cpu_reset(w_scale):
    """The CUDA kernel computes ``int(float32(threshold) * w_scale)``: with the fixed
    threshold that is the smallest integer the CPU path resets at."""
    rng = np.random.default_rng(w_scale)
    ths = np.concatenate([[1.25, 5.0, 5.0 + 0.01 / 64, 0.5, 2.0], rng.uniform(0, 50, 200),
                          np.round(rng.uniform(0, 50, 50) * w_scale) / w_scale])
    for th in ths:
        fixed = np.float32(slayer_cuda.kernel_threshold(float(th), w_scale))
        on_gpu = int(np.float32(fixed * np.float32(w_scale)))
        assert on_gpu == math.ceil(float(np.float32(th * w_scale))), th
    assert slayer_cuda.kernel_threshold(-1, 64) == -1


def _net_and_input(seed: int, batch: int = 4, steps: int = 80):
    spec = kws_spec("conv", bands=16, classes=5)
    spec["layers"][4]["out"] = 24
    torch.manual_seed(seed)
    net = SpikingNet(spec)
    with torch.no_grad():
        net(torch.zeros((1,) + tuple(spec["input_shape"]) + (2,)))
    net.init_delays(seed)
    x = torch.randn((batch,) + tuple(spec["input_shape"]) + (steps,), generator=torch.Generator().manual_seed(seed))
    return net, x * 3


def _run(net, x, device):
    net = net.to(device)
    outs = net(x.to(device), return_all=True)
    return [o.detach().cpu() for o in outs]


@cuda
@pytest.mark.parametrize("seed", range(4))
def test_quantized_spikes_identical_on_cuda(seed):
    """Every spike of every layer at every timestep, CPU against CUDA (quantized
    weights and input: all sums are exact, so the two must agree bit for bit)."""
    net, x = _net_and_input(seed)
    net.eval()
    want = _run(net, x, "cpu")
    got = _run(net, x, "cuda")
    assert sum(int(o.sum()) for o in want[1:-1]) > 0, "the hidden layers should spike"
    for i, (a, b) in enumerate(zip(want, got)):
        assert a.shape == b.shape
        assert torch.equal(a, b), f"layer {i}: {int((a != b).sum())} of {a.numel()} spikes differ"


def _integrator_case(seed: int):
    """Input current on the weight grid, as quantized synapses deliver it: the voltage
    lands exactly on the threshold now and then."""
    g = torch.Generator().manual_seed(seed)
    x = torch.round(torch.randn((3, 40, 90), generator=g) * 12) / 4
    decay = torch.tensor([float(torch.randint(0, 1024, (1,), generator=g))])
    return x, decay, torch.zeros(3, 40), 5.0 + 0.01 / 64


def _integrate(x, decay, state, threshold, device):
    from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator as li

    return li.dynamics(x.to(device), decay.to(device), state.to(device), 64, threshold).cpu()


@cuda
@pytest.mark.parametrize("seed", range(6))
def test_leaky_integrator_cuda_equals_cpu(seed):
    """SLAYER's CUDA integrator (with the reset fix) against the CPU path, value for value."""
    slayer_cuda.install()
    case = _integrator_case(seed)
    want, got = _integrate(*case, "cpu"), _integrate(*case, "cuda")
    assert bool((want * 64 == 321).any() | (want * 64 > 321).any()), "the case should reach the threshold"
    assert torch.equal(got, want)


@cuda
def test_unfixed_kernel_resets_at_the_threshold_without_a_spike():
    """Without train/slayer_cuda.py the comparison above fails: SLAYER's kernel resets a
    neuron sitting exactly at the threshold (v = 320 on the 64 grid) without a spike."""
    slayer_cuda.install()
    cases = [_integrator_case(seed) for seed in range(6)]
    slayer_cuda.uninstall()
    try:
        diffs = sum(int((_integrate(*c, "cpu") != _integrate(*c, "cuda")).sum()) for c in cases)
        at_threshold = sum(int((_integrate(*c, "cpu") * 64 == 320).sum()) for c in cases)
    finally:
        slayer_cuda.install()
    assert at_threshold > 0 and diffs > 0


@pytest.fixture
def no_tf32():
    """Full float32 convolutions on the GPU while comparing gradients (TF32 would round
    the float gradients to 10 mantissa bits; the quantized forward pass is exact either way)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@cuda
def test_gradients_match_on_cuda(no_tf32):
    """One training step's loss and gradients (weights and delays), CPU against CUDA."""
    import torch.nn.functional as F

    from spikeport.train.kws import spike_penalty

    net, x = _net_and_input(7, batch=3, steps=60)
    y = torch.tensor([0, 3, 1])
    grads = {}
    for device in ("cpu", "cuda"):
        net = net.to(device)
        net.zero_grad()
        outs = net(x.to(device), return_all=True)
        loss = F.cross_entropy(outs[-1].mean(-1) * 20, y.to(device)) + 0.1 * spike_penalty(outs)
        loss.backward()
        grads[device] = (float(loss), {n: p.grad.detach().cpu().clone() for n, p in net.named_parameters()
                                       if p.grad is not None})
    (loss_cpu, g_cpu), (loss_gpu, g_gpu) = grads["cpu"], grads["cuda"]
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-5)
    assert g_cpu.keys() == g_gpu.keys() and any("delay" in n for n in g_cpu)
    for n in g_cpu:
        scale = float(g_cpu[n].abs().max()) or 1.0
        torch.testing.assert_close(g_gpu[n], g_cpu[n], rtol=1e-3, atol=1e-4 * scale, msg=n)


@cuda
@pytest.mark.parametrize("seed", range(6))
def test_delay_kernel_matches_the_cpu_gather(seed):
    """SLAYER's CUDA per-neuron shift against train/slayer_cpu.py's gather."""
    from spikeport.train import slayer_cpu

    slayer_cpu.install()
    slayer_cuda.install()  # builds SLAYER's kernels for this GPU
    g = torch.Generator().manual_seed(seed)
    steps = int(torch.randint(2, 60, (1,), generator=g))
    x = torch.randn((3, 11, steps), generator=g)
    lag = (torch.rand(11, generator=g) * 2 - 1) * (steps + 5)
    want = slayer_cpu.shift_individual(x, lag, 1)
    got = slayer_cpu._shift_module().shift(x.cuda(), lag.cuda(), 1).cpu()
    assert torch.equal(got, want)


@cuda
def test_train_kws_on_cuda_resumes_and_exports(tmp_path):
    """``spikeport train kws --device cuda`` end to end: two epochs, the second after a
    resume; the model loads on the CPU and exports to netx."""
    from spikeport.export import export_run
    from spikeport.train.kws import KwsConfig, load_snn, train_kws

    cfg = dict(corpus={"clips_per_word": 6, "clips_per_unknown": 2}, ann_epochs=1, device="cuda")
    out, cache = tmp_path / "run", tmp_path / "cache"
    train_kws(KwsConfig(epochs=1, **cfg), out, cache_dir=cache, progress=False)
    s = train_kws(KwsConfig(epochs=2, **cfg), out, resume=True, cache_dir=cache, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert json.loads((out / "config.json").read_text())["device"] == "cuda"
    net, meta = load_snn(out / "model.pt")
    assert next(net.parameters()).device.type == "cpu"
    assert meta["accuracy"]["quantized"] == s["quantized_accuracy"]
    path = export_run(out)
    assert path.is_file() and path.stat().st_size > 0
