"""spikeport: train SLAYER networks, export them to Loihi (netx HDF5), simulate them
bit-exactly and report their energy against an equivalent ANN.

Importing any part of spikeport makes lava-nc importable on Python 3.11
(see :mod:`spikeport.lava_compat`).
"""
from spikeport import lava_compat as _lava_compat

_lava_compat.install()

__version__ = "0.1.0"
