"""A small, generic training loop for spike-rate classifiers."""
from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from spikeport.lava_compat import import_slayer


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
