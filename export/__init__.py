"""spikeport.export: quantize trained networks to Loihi fixed point and write netx HDF5."""
from spikeport.export.fixed_point import quantize_weight, threshold_mantissa
from spikeport.export.netx_writer import read_metadata, write_netx

__all__ = ["quantize_weight", "threshold_mantissa", "write_netx", "read_metadata"]
