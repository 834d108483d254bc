"""The compiled leaky-integrator kernels against SLAYER's own CPU loops."""
import importlib

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


def _signal(seed: int, shape=(3, 5, 33)) -> torch.Tensor:
    """Random values over six decades, a third of them exactly zero (spikes and
    silent neurons), so signed zeros and exact ties are covered."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 10.0 ** float(torch.randint(-3, 4, (1,), generator=g))
    x[torch.rand(shape, generator=g) < 0.33] = 0.0
    return x


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("lag", [0, 1, 3, -2, 32, 33, 70, -40, 2.9, torch.tensor(4.0)])
def test_shift_group_equals_slayers(original, seed, lag):
    x = _signal(seed)
    assert torch.equal(slayer_cpu.shift_group(x, lag, 1), slayer_cpu.ORIGINAL["shift_group"](x, lag, 1))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("taps", [[-1.0, 1.0], [1.0, -1.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.25], [1.0, -2.0, 1.0]])
def test_causal_fir_equals_slayers(original, seed, taps):
    """Bit for bit on the fast path (two taps of -1, 0, 1) and on the fallback."""
    x, f = _signal(seed), torch.tensor(taps)
    assert torch.equal(slayer_cpu.causal_fir(x, f, 1), slayer_cpu.ORIGINAL["fir"](x, f, 1))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("graded", [False, True])
def test_spike_surrogate_equals_slayers(original, seed, graded):
    v = _signal(seed)
    args = (torch.tensor(1.25), torch.tensor(0.05 * (seed + 1)), torch.tensor(3.0), graded)
    assert torch.equal(slayer_cpu.spike_surrogate(v, *args), slayer_cpu.ORIGINAL["surrogate"](v, *args))


def test_in_place_drop_ins_change_no_gradient_bit(original):
    """A conv + delayed dense net trained one step with the three drop-ins and with
    SLAYER's functions in their place: identical spikes and gradients, bit for bit,
    and the drop-ins are the functions SLAYER actually calls."""
    from spikeport.train.kws import build_snn

    keys = ("shift_group", "fir", "surrogate")
    funcs = {k: slayer_cpu.SLAYER_CPU_FUNCTIONS[k] for k in keys}
    assert [getattr(importlib.import_module(m), name) for m, name, _ in funcs.values()] == \
        [slayer_cpu.shift_group, slayer_cpu.causal_fir, slayer_cpu.spike_surrogate]
    spec = {"input_shape": [2, 8, 1], "input_neuron": True, "weight_scale": 4.0,
            "neuron": {"threshold": 1.0, "voltage_decay": 0.1}, "layers": [
                {"kind": "conv", "out": 4, "kernel": [3, 1], "stride": [2, 1], "padding": [1, 0]},
                {"kind": "flatten"}, {"kind": "dense", "out": 6, "delay": True, "delay_init": 5},
                {"kind": "dense", "out": 3}]}
    x = torch.rand(3, 2, 8, 1, 40) * 2

    def one_pass():
        torch.manual_seed(0)  # the weights
        net = build_snn(spec, seed=0)
        outs = net(x, return_all=True)
        (sum(o.sum() for o in outs[1:]) + outs[-1].pow(2).sum()).backward()
        grads = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}
        return [o.detach() for o in outs], grads

    fast = one_pass()
    try:
        for k in keys:
            slayer_cpu.route(k, False)
        slow = one_pass()
    finally:
        for k in keys:
            slayer_cpu.route(k, True)
    assert all(torch.equal(a, b) for a, b in zip(fast[0], slow[0]))
    assert fast[1].keys() == slow[1].keys() and all(torch.equal(fast[1][n], slow[1][n]) for n in fast[1])
    delay = [n for n in fast[1] if "delay" in n]
    assert delay and float(fast[1][delay[0]].abs().sum()) > 0  # the delay gradient took the fast path
    assert sum(float(g.abs().sum()) > 0 for g in fast[1].values()) >= 4
