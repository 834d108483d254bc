"""The train -> export -> Lava vertical slice on scikit-learn's 8x8 digits.

Trains a small CUBA network of ``slayer.block.cuba.Dense`` blocks (quantization-aware),
exports it to netx HDF5, runs held-out samples through Lava's fixed_pt simulator and
compares every spike of every layer with the PyTorch model's quantized forward pass.

Timing convention: each SLAYER block shifts its output by one timestep (Loihi's
synaptic delay), so the PyTorch output at step ``t`` is compared with the Lava sink's
record at step ``t``: the offset between the two is 0, and the network's
input-to-output latency is one step per layer on both sides.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from spikeport.atomic import atomic_path
from spikeport.export import write_netx
from spikeport.sim.lava_backend import run_lava
from spikeport.train.digits import load_digits_split
from spikeport.train.encoders import rate_encode
from spikeport.train.fit import fit_rate_classifier, predict
from spikeport.train.models import DenseSNN

LATENCY_OFFSET = 0  # Lava sink step minus PyTorch output step for the same spike


def compare_spikes(expected: list[np.ndarray], actual: list[np.ndarray]) -> dict:
    """Compare per-layer spike arrays (same shapes); every neuron, every step.

    Returns ``{"compared": n, "mismatched": m, "first": (layer, index) | None}``.
    """
    compared = mismatched = 0
    first = None
    for layer, (e, a) in enumerate(zip(expected, actual)):
        e = np.asarray(e).reshape(np.shape(a))
        diff = np.argwhere(e != a)
        compared += e.size
        mismatched += len(diff)
        if first is None and len(diff):
            first = (layer, tuple(int(i) for i in diff[0]))
    return {"compared": compared, "mismatched": mismatched, "first": first}


def run_digits_slice(
    out_dir: str | os.PathLike,
    epochs: int = 5,
    steps: int = 32,
    hidden: int = 128,
    lava_samples: int = 20,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Run the whole slice; writes ``model.pt``, ``model.net`` and ``slice.json`` in
    ``out_dir`` and returns the summary dict (accuracies in [0, 1], spike counts)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    x_tr, y_tr, x_te, y_te = load_digits_split(seed=seed)
    max_rate = 0.5
    s_tr = torch.from_numpy(rate_encode(x_tr, steps, max_rate, seed=seed + 1))
    s_te = torch.from_numpy(rate_encode(x_te, steps, max_rate, seed=seed + 2))

    model = DenseSNN([x_tr.shape[1], hidden, 10])
    history = fit_rate_classifier(model, s_tr, y_tr, epochs=epochs, seed=seed, progress=progress)
    config = {"sizes": model.sizes, "neuron": model.spec["neuron"]}
    with atomic_path(out_dir / "model.pt") as tmp:
        torch.save({"config": config, "state_dict": model.state_dict()}, tmp)

    float_acc = float((predict(model.set_quantized(False), s_te) == y_te).mean())
    quant_acc = float((predict(model.set_quantized(True), s_te) == y_te).mean())

    net_path = out_dir / "model.net"
    write_netx(model.blocks, net_path, metadata={
        "task": "digits8x8", "encoder": {"type": "rate", "max_rate": max_rate},
        "steps": steps, "classes": list(range(10)), "latency": model.latency,
    })

    n = min(lava_samples, len(s_te))
    with torch.no_grad():
        torch_layers = [o.numpy() for o in model(s_te[:n], return_all=True)]
    stats = {"compared": 0, "mismatched": 0, "first": None}
    lava_pred = []
    for k in tqdm(range(n), desc="Lava fixed_pt", disable=None if progress else True, leave=False):
        lava_layers = run_lava(net_path, s_te[k].numpy(), all_layers=True)
        c = compare_spikes([t[k] for t in torch_layers], lava_layers)
        stats["compared"] += c["compared"]
        stats["mismatched"] += c["mismatched"]
        if stats["first"] is None and c["first"] is not None:
            stats["first"] = {"sample": k, "layer": c["first"][0], "index": c["first"][1]}
        lava_pred.append(int(lava_layers[-1].sum(-1).argmax()))
    lava_pred = np.array(lava_pred)
    summary = {
        "float_accuracy": float_acc,
        "quantized_accuracy": quant_acc,
        "test_samples": int(len(y_te)),
        "lava_accuracy": float((lava_pred == y_te[:n]).mean()),
        "quantized_accuracy_on_lava_samples": float((predict(model, s_te[:n]) == y_te[:n]).mean()),
        "lava_samples": n,
        "spikes_compared": stats["compared"],
        "spikes_mismatched": stats["mismatched"],
        "first_mismatch": stats["first"],
        "output_spikes": int(torch_layers[-1].sum()),
        "latency_offset": LATENCY_OFFSET,
        "history": history,
        "net": str(net_path),
    }
    with atomic_path(out_dir / "slice.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary
