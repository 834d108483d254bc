"""Make SLAYER's CUDA kernels build for the GPU at hand and its leaky integrator
reset where its CPU path (and Loihi) do.

lava-dl 0.6's CUBA neuron asks its voltage integrator to reset at
``threshold + threshold_eps`` (``eps = 0.01 / s_scale``: a spike needs ``v`` strictly
above the threshold, as on the chip). The CPU path compares the integer voltage
``y`` with that threshold on the ``w_scale`` grid as a float, ``y >= 320.64`` for a
threshold of 5 and ``w_scale`` 64, so it resets only where the spike function also
fires (``y >= 321``). The CUDA kernel takes the scaled threshold as a C ``int``,
truncating it to 320: a neuron at exactly ``v = threshold`` is reset without a spike
and the GPU's spike trains part from the CPU's, Lava's and the chip's.

lava-dl 0.6 also builds its kernels for ``sm_80`` only on any GPU of compute
capability 8 or more, which an H100 (``sm_90``) cannot run; :func:`install` points
SLAYER's JIT configuration at the GPU that is present.

:func:`install` wraps the compiled module so that the kernel is given the threshold
that truncates to the CPU's first resetting integer, ``ceil(threshold * w_scale)``;
everything else goes through unchanged. Nothing runs until a CUDA tensor reaches the
integrator, and SLAYER's JIT build of the kernel is not triggered by installing.
"""
from __future__ import annotations

import math

from spikeport.train.slayer_cpu import reset_threshold

ORIGINAL: dict = {}


def kernel_threshold(threshold: float, w_scale: int) -> float:
    """The threshold to hand SLAYER's CUDA kernel so that its ``int(threshold *
    w_scale)`` is the smallest integer voltage the CPU path resets at,
    ``ceil(reset_threshold(threshold, w_scale))``; negative thresholds (no reset) pass."""
    if threshold < 0:
        return threshold
    first = math.ceil(float(reset_threshold(threshold, w_scale)))
    return (first + 0.25) / w_scale  # +0.25: truncation, not float rounding, decides


class _ThresholdFixed:
    """Stands in for SLAYER's compiled leaky-integrator module."""

    def __init__(self, module):
        self._module = module

    def dynamics(self, input, decay, state, threshold, w_scale):
        return self._module.dynamics(input, decay, state, kernel_threshold(threshold, w_scale), w_scale)

    def __getattr__(self, name):
        return getattr(self._module, name)


class _Accelerated:
    """Stands in for SLAYER's ``Accelerated`` holder: hands out the wrapped module.
    SLAYER's own getter refers to the holder by its module-level name (which is now
    this object) to cache the built module, so attribute reads and writes pass
    through to the original class."""

    @property
    def leaky_integrator(self):
        return _ThresholdFixed(ORIGINAL["accelerated"].leaky_integrator)

    def __getattr__(self, name):
        return getattr(ORIGINAL["accelerated"], name)

    def __setattr__(self, name, value):
        setattr(ORIGINAL["accelerated"], name, value)


def cuda_arch() -> str | None:
    """The ``TORCH_CUDA_ARCH_LIST`` entry for the first GPU (``"9.0+PTX"`` on an
    H100), None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return f"{major}.{minor}+PTX"


def install() -> None:
    """Route SLAYER's CUDA leaky integrator through :func:`kernel_threshold` (idempotent)."""
    from spikeport.lava_compat import import_slayer

    import_slayer()
    from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator as li

    if ORIGINAL:
        return
    # lava-dl 0.6 builds its CUDA kernels for sm_80 alone on any GPU of compute
    # capability 8 or more (slayer/jitconfig.py), which a Hopper GPU cannot run
    # ("no kernel image is available"): build them for the GPU at hand
    from lava.lib.dl.slayer import jitconfig

    arch = cuda_arch()
    if arch and jitconfig.TORCH_CUDA_ARCH_LIST == "8.0":
        ORIGINAL["arch"] = jitconfig.TORCH_CUDA_ARCH_LIST
        jitconfig.TORCH_CUDA_ARCH_LIST = arch
    ORIGINAL["accelerated"] = li.Accelerated
    li.Accelerated = _Accelerated()


def uninstall() -> None:
    """Give SLAYER its own kernel call back."""
    if ORIGINAL:
        from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator as li

        li.Accelerated = ORIGINAL.pop("accelerated")
        if "arch" in ORIGINAL:
            from lava.lib.dl.slayer import jitconfig

            jitconfig.TORCH_CUDA_ARCH_LIST = ORIGINAL.pop("arch")
