"""The compiled leaky-integrator kernels against SLAYER's own CPU loops."""
import numpy as np
import pytest
import torch

from spikeport.train import slayer_cpu


@pytest.fixture(scope="module")
def original():
    assert slayer_cpu.install()
    return slayer_cpu.ORIGINAL["fwd"], slayer_cpu.ORIGINAL["bwd"]


def _case(seed: int):
    g = torch.Generator().manual_seed(seed)
    shape = tuple(int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((1, 4), (1, 40), (2, 70)))
    x = torch.randn(shape, generator=g) * float(1 + 30 * torch.rand(1, generator=g))
    if seed % 2:  # on the weight grid, as quantized synapses deliver it: exact ties with the threshold
        x = torch.round(x * 4) / 4
    decay = torch.tensor([float(torch.randint(0, 4097, (1,), generator=g))])
    state = torch.randn(shape[:-1], generator=g) * 3
    threshold = (-1, 1.25, 5.0 + 0.01 / 64, 0.5, 2.0)[seed % 5]
    return x, decay, state, threshold


@pytest.mark.parametrize("seed", range(40))
def test_forward_bit_identical(original, seed):
    fwd0, _ = original
    x, decay, state, threshold = _case(seed)
    want = fwd0(x, decay, state, threshold, 64, dtype=torch.int64)
    got = slayer_cpu.li_forward(x, decay, state, threshold, 64, dtype=torch.int64)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert torch.equal(got, want)


@pytest.mark.parametrize("seed", range(10))
def test_backward_matches(original, seed):
    fwd0, bwd0 = original
    x, decay, state, threshold = _case(seed)
    out = fwd0(x, decay, state, threshold, 64, dtype=torch.int64)
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 100))
    gi0, gd0 = bwd0(grad, out, decay)
    gi1, gd1 = slayer_cpu.li_backward(grad, out, decay)
    torch.testing.assert_close(gi1, gi0, rtol=1e-5, atol=1e-5)
    assert gd1.shape == gd0.shape
    torch.testing.assert_close(gd1, gd0, rtol=1e-4, atol=1e-3)


def test_blocks_route_through_kernels(original):
    """A CUBA block's forward and backward reach the compiled path, and uninstalling
    restores SLAYER's functions (so the speed-up is real, not a dead branch)."""
    from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator as li

    from spikeport.train.models import SpikingNet, dense_spec

    shift = slayer_cpu._shift_module()
    assert li._li_dynamics_fwd is slayer_cpu.li_forward
    assert shift._shift_individual is slayer_cpu.shift_individual
    torch.manual_seed(0)
    net = SpikingNet(dense_spec([6, 5, 3], delay=True))  # the hidden layer has axonal delays
    x = torch.rand(2, 6, 30) * (torch.rand(2, 6, 30) < 0.5)
    net(x)
    with torch.no_grad():
        net.blocks[0].delay.delay.copy_(torch.tensor([0.0, 1.5, 3.2, 7.9, 12.0]))
    x.requires_grad_(True)
    out = net(x)
    out.sum().backward()
    want = x.grad.clone(), net.blocks[0].delay.delay.grad.clone()
    slayer_cpu.uninstall()
    try:
        assert li._li_dynamics_fwd is original[0]
        assert shift._shift_individual is not slayer_cpu.shift_individual
        x.grad = None
        net.zero_grad()
        again = net(x)
        assert torch.equal(again, out)
        again.sum().backward()
        torch.testing.assert_close(x.grad, want[0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(net.blocks[0].delay.delay.grad, want[1], rtol=1e-4, atol=1e-5)
    finally:
        slayer_cpu.install()
    assert li._li_dynamics_fwd is slayer_cpu.li_forward
    assert shift._shift_individual is slayer_cpu.shift_individual


@pytest.mark.parametrize("seed", range(12))
def test_shift_individual_equals_slayers(original, seed):
    g = torch.Generator().manual_seed(seed)
    steps = int(torch.randint(1, 40, (1,), generator=g))
    shape = (int(torch.randint(1, 4, (1,), generator=g)),) + ((7,) if seed % 2 else (2, 3, 2)) + (steps,)
    x = torch.randn(shape, generator=g)
    n = int(np.prod(shape[1:-1]))
    lag = (torch.rand(n, generator=g) * 2 - 1) * (steps + 5)  # fractions, negatives, beyond T
    lag[0] = 0.0
    want = slayer_cpu.ORIGINAL["shift"](x, lag, 1)
    assert torch.equal(slayer_cpu.shift_individual(x, lag, 1), want)


def test_unsupported_cases_fall_back(original):
    """Per-neuron decays take SLAYER's own loop (and still agree)."""
    x = torch.randn(2, 4, 10)
    decay = torch.tensor([100.0, 200.0, 300.0, 400.0])
    state = torch.zeros(2, 4)
    np.testing.assert_array_equal(
        slayer_cpu.li_forward(x, decay, state, 1.0, 64, dtype=torch.int64).numpy(),
        original[0](x, decay, state, 1.0, 64, dtype=torch.int64).numpy())
