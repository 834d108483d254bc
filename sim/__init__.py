"""spikeport.sim: run netx HDF5 networks bit-exactly.

``run_lava`` is the reference (Lava's ``Loihi2SimCfg(select_tag='fixed_pt')``);
``run_fast``/``run_fast_batch`` reproduce it with batched integer arithmetic.
"""
from spikeport.sim.fast import load_network, run_fast, run_fast_batch
from spikeport.sim.lava_backend import run_lava

__all__ = ["run_lava", "run_fast", "run_fast_batch", "load_network"]
