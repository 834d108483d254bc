"""spikeport.sim: run netx HDF5 networks bit-exactly.

``simulate`` runs a batch on any backend and can count activity (Contract 1,
``activity_json``); ``run_lava`` is the reference (Lava's
``Loihi2SimCfg(select_tag='fixed_pt')``); ``run_fast``/``run_fast_batch`` reproduce
it with batched integer arithmetic.
"""
from spikeport.sim.activity import Activity, activity_json, count_chunk, layer_facts
from spikeport.sim.fast import load_network
from spikeport.sim.inputs import check_input
from spikeport.sim.network import Network
from spikeport.sim.lava_backend import run_lava
from spikeport.sim.simulate import SimResult, run_fast, run_fast_batch, simulate

__all__ = ["simulate", "SimResult", "check_input", "Activity", "activity_json", "count_chunk", "layer_facts",
           "Network", "load_network", "run_lava", "run_fast", "run_fast_batch"]
