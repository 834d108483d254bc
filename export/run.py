"""Export a training run folder (``model.pt``) to netx HDF5 with its metadata."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from spikeport.errors import SpikeportError
from spikeport.export.metadata import check_metadata
from spikeport.export.netx_writer import write_netx

NETX_FORMAT = "spikeport-netx/1"


def export_run(run_dir: str | os.PathLike, output: str | os.PathLike | None = None,
               check: Callable[[str], list[str]] | None = None) -> Path:
    """Write ``run_dir/model.pt`` as netx HDF5 (default ``run_dir/model.net``), atomically;
    ``check`` validates the written file first (see :func:`write_netx`).

    The file's ``spikeport`` metadata carries what evaluation needs to feed it the
    way training did: classes, feature parameters, encoder, timesteps, input layout
    and latency, plus the training accuracies.
    """
    from spikeport.train.kws import load_snn

    run = Path(run_dir)
    if not run.is_dir():
        raise SpikeportError(f"{run}: no such run folder")
    model = run / "model.pt"
    if not model.is_file():
        raise SpikeportError(f"{model}: missing (train first: spikeport train kws --out {run})")
    net, meta = load_snn(model)
    analog = bool(net.spec.get("input_neuron", False))
    meta = dict(meta, format=NETX_FORMAT, spec=net.spec, input={
        "port": "input neurons' a_in" if analog else "first synapse (net.inp)",
        "kind": "analog current, integers of 1/64" if analog else "spikes",
        "layout": "(W, H, C, T) from the model's (C, H, W, T)" if len(net.spec["input_shape"]) == 3
        else "(n, T)",
    })
    check_metadata(meta, str(model))    # what eval will require of the file
    path = Path(output) if output else run / "model.net"
    write_netx(net.blocks, path, meta, input_shape=tuple(net.spec["input_shape"]), check=check)
    return path
