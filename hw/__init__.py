"""spikeport.hw: chip profiles, resource mapping onto Loihi, and SNN-vs-ANN energy reports.

``load_profile`` (built-in ``loihi1``/``loihi2`` or a TOML/JSON file), ``map_network``
(cores per layer and exceeded limits), ``snn_energy`` / ``ann_energy`` (pJ per
inference), ``write_report`` (energy.json, report.md, report.html, PNG plots).
"""
from spikeport.hw.counts import count_activity, load_activity, validate_activity
from spikeport.hw.ann_description import ann_layers
from spikeport.hw.ann_energy import ann_energy
from spikeport.hw.comparison import topology_description
from spikeport.hw.energy import latency, ops_proxy, snn_energy
from spikeport.hw.neurobench import ann_metrics, snn_metrics
from spikeport.hw.mapping import Mapping, format_mapping, map_network
from spikeport.hw.profiles import ChipProfile, load_profile, profile_from_dict
from spikeport.hw.report import write_report
from spikeport.hw.topology import read_topology

__all__ = [
    "ChipProfile", "load_profile", "profile_from_dict", "read_topology", "Mapping", "map_network",
    "format_mapping", "count_activity", "load_activity", "validate_activity",
    "snn_energy", "ops_proxy", "latency", "ann_energy", "ann_layers", "topology_description", "write_report",
    "snn_metrics", "ann_metrics",
]
