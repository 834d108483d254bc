"""Run a netx network on Loihi 2 hardware (``Loihi2HwCfg``), when Intel's lava-loihi
extension is installed.

lava-loihi (the Loihi 2 compiler, runtime and the ``embedded_io`` adapters between
host and chip) is distributed by Intel to members of its Neuromorphic Research
Community only; without it this backend says what is missing. The hardware path
has not been run here (no Loihi system); it follows lava-dl's netx tutorials.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from spikeport.errors import SpikeportError

# Modules lava-loihi adds to the ``lava`` namespace: the Loihi 2 process compiler
# and the host <-> chip spike adapters.
LOIHI_MODULES = ("lava.magma.compiler.subcompilers.nc.ncproc_compiler", "lava.proc.embedded_io")
HOW_TO_GET = ("Intel gives lava-loihi and Loihi 2 access to members of its Neuromorphic Research Community "
              "(INRC; to join, write to inrc_interest@intel.com); meanwhile --backend lava or fast simulate "
              "the same fixed-point arithmetic on the CPU")


def missing_loihi_modules() -> list[str]:
    """The lava-loihi modules that cannot be imported here (empty when it is installed)."""
    from spikeport.lava_compat import prepare_lava_import

    prepare_lava_import()
    missing = []
    for name in LOIHI_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require_loihi() -> None:
    """Raise :class:`SpikeportError` saying what is missing unless lava-loihi is importable."""
    missing = missing_loihi_modules()
    if missing:
        raise SpikeportError(f"--backend loihi needs Intel's Lava extension for Loihi 2 (lava-loihi), which is "
                             f"not installed (cannot import {', '.join(missing)}); {HOW_TO_GET}")


def run_loihi(net_path: str | os.PathLike, x: np.ndarray, steps: int, **netx_options) -> np.ndarray:
    """Run one input ``(inputs..., T)`` (int32, checked) on Loihi 2 for ``steps``
    steps; returns the output layer's events ``(outputs..., steps)``.

    Binary spikes travel through lava-loihi's ``PyToNxAdapter``/``NxToPyAdapter``
    (graded ones with their message bits). The chip must be reachable (lava-loihi's
    ``lava.utils.loihi.use_slurm_host`` or ``use_ethernet_host``).
    """
    require_loihi()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2HwCfg
    from lava.proc import embedded_io as eio
    from lava.proc import io

    from spikeport.sim.lava_backend import input_port, load_netx

    net = load_netx(net_path, **netx_options)
    port = input_port(net)
    in_bits = int(getattr(net, "input_message_bits", 0) or 0)
    out_bits = int(getattr(net.out_layer, "output_message_bits", 0) or 0)
    source = io.source.RingBuffer(data=np.asarray(x))
    to_chip = eio.spike.PyToNxAdapter(shape=port.shape, num_message_bits=in_bits)
    from_chip = eio.spike.NxToPyAdapter(shape=net.out.shape, num_message_bits=out_bits)
    sink = io.sink.RingBuffer(shape=net.out.shape, buffer=int(steps))
    source.s_out.connect(to_chip.inp)
    to_chip.out.connect(port)
    net.out.connect(from_chip.inp)
    from_chip.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=int(steps)), run_cfg=Loihi2HwCfg())
        return sink.data.get()
    except Exception as e:  # the hardware stack's failures (no board, compile errors) as one line
        raise SpikeportError(f"{net_path}: Loihi 2 run failed ({type(e).__name__}: {' '.join(str(e).split())})") \
            from None
    finally:
        try:
            net.stop()
        except Exception:
            pass
