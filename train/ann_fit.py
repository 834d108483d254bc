"""One training loop for the ANN baselines: cross-entropy, Adam, mini-batches in a
seeded order per epoch, optionally a cosine-annealed learning rate."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from spikeport.train.augment import Augment, augment
from spikeport.train.augmented_features import draw


def fit_ann(net: torch.nn.Module, to_input: Callable[[np.ndarray], torch.Tensor], x: np.ndarray, y: np.ndarray,
            epochs: int, seed: int = 0, lr: float = 1e-3, batch_size: int = 64, cosine: bool = False,
            desc: str = "ANN", progress: bool = True, copies: np.ndarray | None = None,
            aug: Augment | None = None) -> dict:
    """Train ``net`` on features ``x`` (``to_input`` makes a batch its input) and labels
    ``y`` ``(clips,)``; with ``copies`` ``(copies, clips, ...)`` each clip of a batch is
    its clean or one of its perturbed versions, drawn as the SNN draws them
    (:func:`spikeport.train.augmented_features.draw`); with ``aug`` each batch is then
    perturbed on the fly as the SNN's batches are (:func:`spikeport.train.augment.augment`),
    so a baseline learns from the same distribution of clips. Returns ``{"seconds",
    "epochs"}`` and leaves ``net`` in eval mode."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = max(epochs * ((len(x) + batch_size - 1) // batch_size), 1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if cosine else None
    yt = torch.as_tensor(y)
    t0 = time.time()
    bar = tqdm(range(epochs), desc=desc, disable=None if progress else True, unit="epoch")
    for epoch in bar:
        net.train()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size].numpy()
            rng = np.random.default_rng([seed, epoch, i])
            xb = draw(x, copies, idx, rng)
            if aug is not None and aug.active:
                xb = augment(xb, aug, rng)
            loss = F.cross_entropy(net(to_input(xb)), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    net.eval()
    return {"seconds": time.time() - t0, "epochs": int(epochs)}
