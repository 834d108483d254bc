"""spikeport.export: quantize trained networks to Loihi fixed point and write netx HDF5."""
from spikeport.fixed_point import input_current, threshold_mantissa
from spikeport.export.layout import from_netx_layer, to_netx_input
from spikeport.export.metadata import check_metadata, read_metadata
from spikeport.export.netx_writer import write_netx
from spikeport.export.run import export_run

__all__ = ["input_current", "threshold_mantissa", "write_netx",
           "read_metadata", "check_metadata", "export_run", "to_netx_input", "from_netx_layer"]
