"""The train -> export -> Lava vertical slice on scikit-learn's 8x8 digits: a test fixture.

Trains a small CUBA network of ``slayer.block.cuba.Dense`` blocks (quantization-aware,
spikeport's :class:`~spikeport.train.models.DenseSNN`), exports it with
:func:`spikeport.export.write_netx`, runs held-out samples through Lava's fixed_pt
simulator and compares every spike of every layer with the PyTorch model's quantized
forward pass. It needs no download (the digits ship with scikit-learn), so the
suite uses it for the fastest trained network there is.

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
from spikeport.lava_compat import import_slayer
from spikeport.sim.lava_backend import run_lava
from spikeport.train.models import DenseSNN

LATENCY_OFFSET = 0  # Lava sink step minus PyTorch output step for the same spike


def load_digits_split(test_fraction: float = 0.25, seed: int = 0):
    """Pixel intensities scaled to [0, 1] and labels, split into train and test.

    Returns ``(x_train, y_train, x_test, y_test)``; ``x_*`` is float32
    ``(samples, 64)``, ``y_*`` int64 ``(samples,)``. The split is stratified and
    fixed by ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return x_tr, y_tr, x_te, y_te


def rate_encode(x: np.ndarray, steps: int, max_rate: float = 0.5, seed: int = 0) -> np.ndarray:
    """Bernoulli rate code: at each timestep a feature spikes with probability
    ``x * max_rate`` (``max_rate`` in spikes per timestep). Deterministic for ``seed``.

    Returns float32 0/1 spikes ``(samples, features, steps)``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if np.isnan(x).any():
        raise ValueError("rate_encode: input contains NaN")
    p = np.clip(x, 0.0, 1.0)[..., None] * max_rate
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape + (steps,)) < p).astype(np.float32)


def predict(model: torch.nn.Module, spikes: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Class with the most output spikes for each sample of ``spikes``
    ``(samples, inputs, T)``; returns int64 ``(samples,)``."""
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(spikes), batch_size):
            out = model(spikes[i:i + batch_size])
            preds.append(out.flatten(1, -2).sum(-1).argmax(1).cpu().numpy())
    return np.concatenate(preds)


def fit_rate_classifier(
    model: torch.nn.Module,
    spikes: torch.Tensor,
    labels: np.ndarray,
    epochs: int,
    lr: float = 3e-3,
    batch_size: int = 32,
    true_rate: float = 0.3,
    false_rate: float = 0.03,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """Train with lava-dl's spike-rate loss (target firing rates in spikes per step
    for the true and the other classes). Returns one dict of metrics per epoch."""
    slayer = import_slayer()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = slayer.loss.SpikeRate(true_rate=true_rate, false_rate=false_rate, reduction="sum")
    y = torch.as_tensor(labels)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(spikes), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(range(0, len(order), batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                   disable=None if progress else True, leave=False)
        for i in bar:
            idx = order[i:i + batch_size]
            out = model(spikes[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += len(idx)
            correct += int((out.sum(-1).argmax(1) == y[idx]).sum())
            loss_sum += float(loss.detach())
            bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
        history.append({"epoch": epoch + 1, "loss": loss_sum / total, "train_accuracy": correct / total})
    return history


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
    torch_layers, stats, lava_pred = _against_lava(model, net_path, s_te[:n], progress)
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


def _against_lava(model, net_path: Path, spikes: torch.Tensor, progress: bool):
    """Every layer's spikes of ``model`` and of Lava on ``spikes`` ``(n, 64, T)``:
    returns the PyTorch layers, the comparison totals and Lava's predictions ``(n,)``."""
    with torch.no_grad():
        torch_layers = [o.numpy() for o in model(spikes, return_all=True)]
    stats = {"compared": 0, "mismatched": 0, "first": None}
    lava_pred = []
    for k in tqdm(range(len(spikes)), desc="Lava fixed_pt", disable=None if progress else True, leave=False):
        lava_layers = run_lava(net_path, spikes[k].numpy(), all_layers=True)
        c = compare_spikes([t[k] for t in torch_layers], lava_layers)
        stats["compared"] += c["compared"]
        stats["mismatched"] += c["mismatched"]
        if stats["first"] is None and c["first"] is not None:
            stats["first"] = {"sample": k, "layer": c["first"][0], "index": c["first"][1]}
        lava_pred.append(int(lava_layers[-1].sum(-1).argmax()))
    return torch_layers, stats, np.array(lava_pred)
