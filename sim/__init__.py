"""spikeport.sim: run netx HDF5 networks (Lava's fixed_pt CPU simulator as reference)."""
from spikeport.sim.lava_backend import run_lava

__all__ = ["run_lava"]
