"""Keyword-spotting training: data -> features -> encoder -> SNN (quantization-aware)
and its ANN twin, with per-epoch metrics, atomic checkpoints and resume.

A run directory holds:

* ``config.json``       the run's configuration (what ``--resume`` must match);
* ``checkpoint.pt``     model, optimizer and metrics after the last finished epoch;
* ``metrics.json``      one entry per epoch (loss, accuracies, firing rate per layer, seconds);
* ``model.pt``          the final SNN: ``{"spec", "state_dict", "meta"}``;
* ``ann.pt``, ``ann.json`` the ANN twin and its ``spikeport-ann/1`` description with its
  measured float and int8 figures (:mod:`spikeport.train.baselines`);
* ``reference_ann.pt``, ``reference_ann.json`` the reference ANN (DS-CNN), likewise;
* ``summary.json``      final accuracies (float, quantized, ANN) and firing.

Exporting the run to netx is :func:`spikeport.export.export_run`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from spikeport.atomic import atomic_path
from spikeport.errors import SpikeportError
from spikeport.train import encoders
from spikeport.train.encoders import DIRECT_SCALE, encode_features  # noqa: F401  (part of this module's API)
from spikeport.train.augment import NO_AUGMENT, Augment, augment
from spikeport.train.config import KwsConfig, default_cache_dir  # noqa: F401  (part of this module's API)
from spikeport.train.models import SpikingNet, kws_spec

log = logging.getLogger("spikeport.train")


# ---------------------------------------------------------------------------------------- data


def prepare_data(cfg: KwsConfig, cache_dir: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Features and labels of the train/validation/test splits.

    Features are z-scored per (channel, band) with the training split's statistics
    (``"norm"``, which the exported model carries). Returns ``{"root", "classes",
    "params", "norm", "<split>": (features (clips, 3, bands, frames) float32,
    labels (clips,) int64)}``.
    """
    from spikeport.train.corpus import build_corpus
    from spikeport.train.features import FeatureParams, band_stats, compute_features, normalize
    from spikeport.train.speech_commands import load_split

    cache_dir = Path(cache_dir or default_cache_dir())
    if cfg.data is None:
        root = build_corpus(cache_dir / "corpus", seed=cfg.seed, progress=progress, **cfg.corpus)
    else:
        root = Path(cfg.data)
    try:
        params = FeatureParams(**cfg.features)
    except TypeError as e:
        raise SpikeportError(f"features: {e}") from None
    out: dict[str, Any] = {"root": str(root), "params": params}
    for split in ("train", "validation", "test"):
        s = load_split(root, split, task=cfg.task, seed=cfg.seed)
        if cfg.limit is not None and len(s.clips) > cfg.limit:
            pick = np.sort(np.random.default_rng(cfg.seed).choice(len(s.clips), cfg.limit, replace=False))
            s = dataclasses.replace(s, clips=[s.clips[i] for i in pick])
        feats, labels, _ = compute_features(s, params, cache_dir=cache_dir / "features", progress=progress)
        if split == "train":
            out["norm"] = band_stats(feats)
        out[split] = (normalize(feats, out["norm"]), np.asarray(labels, dtype=np.int64))
        out["classes"] = list(s.classes)
    return out


def encoder_params(cfg: KwsConfig) -> dict:
    """The encoder's parameters as training uses them and the export records them
    (``cfg.encoder_params`` plus the ``tail``)."""
    return {**cfg.encoder_params, "tail": cfg.tail}


def encode_batch(cfg: KwsConfig, feats: np.ndarray, seed: int) -> torch.Tensor:
    """:func:`encode_features` for ``cfg``, as a tensor."""
    return torch.from_numpy(encode_features(cfg.encoder, encoder_params(cfg), feats, seed, cfg.model == "conv"))


def model_spec(cfg: KwsConfig, channels: int, bands: int, classes: int) -> dict:
    """The network spec for ``cfg`` (input channels follow the encoder)."""
    spec = kws_spec(cfg.model, input_channels=encoders.input_channels(cfg.encoder, channels),
                    bands=bands, classes=classes, direct=cfg.encoder == "direct", delays=cfg.delays)
    if cfg.dropout:
        spec["dropout"] = float(cfg.dropout)
    unknown = set(cfg.arch) - {"layers", "neuron", "weight_scale"}
    if unknown:
        raise SpikeportError(f"arch: unknown keys {', '.join(sorted(unknown))} (known: layers, neuron, weight_scale)")
    arch = json.loads(json.dumps(cfg.arch))  # a copy: the spec must not alias the config
    spec.update({k: v for k, v in arch.items() if k != "neuron"})
    spec["neuron"] = {**spec["neuron"], **arch.get("neuron", {})}
    return spec


# ---------------------------------------------------------------------------------- the model


def build_snn(spec: dict, seed: int | None = None) -> SpikingNet:
    """A SpikingNet for ``spec`` with its lazily-shaped state (neuron shapes, delays)
    initialised by one forward pass of zeros, so that a state dict can be loaded;
    with ``seed``, a fresh network: delays spread as the spec says."""
    net = SpikingNet(spec)
    with torch.no_grad():
        net(torch.zeros((1,) + tuple(spec["input_shape"]) + (2,)))
    if seed is not None:
        net.init_delays(seed)
    return net


def load_snn(path: str | os.PathLike) -> tuple[SpikingNet, dict]:
    """Load ``model.pt`` (``{"spec", "state_dict", "meta"}``); returns (net, meta)."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        net = build_snn(ckpt["spec"])
        net.load_state_dict(ckpt["state_dict"])
    except FileNotFoundError:
        raise SpikeportError(f"{path}: no such model file") from None
    except (KeyError, RuntimeError, OSError, ValueError) as e:
        raise SpikeportError(f"{path}: not a spikeport model checkpoint ({str(e).splitlines()[0]})") from None
    return net, ckpt.get("meta", {})


def spike_penalty(layer_spikes: list[torch.Tensor]) -> torch.Tensor:
    """Zimmer et al.'s spike-count penalty without its weight: for hidden layer l of
    L, ``l/L * sum(S**2) / (2 K N)`` (K neurons, N timesteps, averaged over the batch)."""
    hidden = layer_spikes[:-1]
    total = layer_spikes[0].new_zeros(())
    for i, s in enumerate(hidden, start=1):
        total = total + (i / len(hidden)) * s.pow(2).mean() / 2
    return total


def rate_loss(out: torch.Tensor, labels: torch.Tensor, true_rate: float, false_rate: float) -> torch.Tensor:
    """Mean squared error between each output neuron's firing rate (spikes per step)
    and its target rate (``true_rate`` for the labelled class)."""
    rate = out.flatten(1, -2).mean(-1)
    target = torch.full_like(rate, false_rate)
    target[torch.arange(len(labels)), labels] = true_rate
    return F.mse_loss(rate, target, reduction="sum") / len(labels)


def predict_counts(out: torch.Tensor) -> torch.Tensor:
    """Class = output neuron with the most spikes (ties: lowest index). ``out``
    ``(batch, classes, T)`` -> ``(batch,)``."""
    return out.flatten(1, -2).sum(-1).argmax(1)


def evaluate(cfg: KwsConfig, net: SpikingNet, feats: np.ndarray, labels: np.ndarray, seed: int,
             device: torch.device, batch_size: int = 64, progress: bool = False,
             desc: str = "eval") -> dict:
    """Accuracy and mean firing rate per spiking layer (spikes per neuron per step)."""
    net.eval()
    correct, rates, n = 0, None, 0
    with torch.no_grad():
        for i in tqdm(range(0, len(feats), batch_size), desc=desc, leave=False,
                      disable=None if progress else True):
            x = encode_batch(cfg, feats[i:i + batch_size], seed + i).to(device)
            outs = net(x, return_all=True)
            pred = predict_counts(outs[-1]).cpu().numpy()
            correct += int((pred == labels[i:i + batch_size]).sum())
            r = np.array([float(o.mean()) * len(x) for o in outs])
            rates = r if rates is None else rates + r
            n += len(x)
    rates = rates / max(n, 1)
    return {"accuracy": correct / max(n, 1), "firing_per_layer": rates.tolist(),
            "firing_mean": float(np.average(rates, weights=_layer_sizes(net)))}


def _layer_sizes(net: SpikingNet) -> list[int]:
    return [int(np.prod(b.neuron.shape)) for b in net.spiking_blocks]


def _optimizer(cfg: KwsConfig, net: torch.nn.Module) -> torch.optim.Optimizer:
    """AdamW at ``cfg.lr``; weight decay on weights only (axonal delays are timesteps,
    not magnitudes: decaying them would pull every delay towards zero)."""
    params = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    delays = [p for n, p in params if "delay" in n]
    weights = [p for n, p in params if "delay" not in n]
    groups = [{"params": weights, "weight_decay": cfg.weight_decay}]
    if delays:
        groups.append({"params": delays, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=cfg.lr)


def ema_init(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``net``'s parameters to average into (see :func:`ema_update`)."""
    return {n: p.detach().clone() for n, p in net.named_parameters()}


def ema_update(ema: dict[str, torch.Tensor], net: torch.nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * parameters``, in place."""
    with torch.no_grad():
        for n, p in net.named_parameters():
            ema[n].lerp_(p.detach(), 1.0 - decay)


def ema_load(net: torch.nn.Module, ema: dict[str, torch.Tensor]) -> None:
    """Overwrite ``net``'s parameters with the averaged ones."""
    params = dict(net.named_parameters())
    with torch.no_grad():
        for n, v in ema.items():
            params[n].copy_(v)


@contextlib.contextmanager
def ema_weights(net: torch.nn.Module, ema: dict[str, torch.Tensor]):
    """Run the ``with`` body on the averaged weights (none: unchanged), then put the
    trained weights back."""
    if not ema:
        yield net
        return
    trained = ema_init(net)
    ema_load(net, ema)
    try:
        yield net
    finally:
        ema_load(net, trained)


# -------------------------------------------------------------------------------- distributed


def _dist_info() -> tuple[int, int]:
    """(rank, world size) under torchrun, (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _pick_device(cfg: KwsConfig) -> torch.device:
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SpikeportError("--device cuda: no CUDA device is available")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


# ---------------------------------------------------------------------------------- training


def _save_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2) + "\n")


def _check_resume(out: Path, cfg: KwsConfig) -> None:
    saved = json.loads((out / "config.json").read_text())
    mine = cfg.to_json()
    diff = [k for k in mine if k not in ("epochs",) and saved.get(k) != mine[k]]
    if diff:
        raise SpikeportError(f"{out / 'config.json'}: --resume with a different configuration "
                             f"({', '.join(diff)}); use another --out or the same options")


def train_kws(cfg: KwsConfig, out_dir: str | os.PathLike, resume: bool = False,
              cache_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Train the keyword-spotting SNN of ``cfg`` and its ANN twin into ``out_dir``.

    Each epoch ends with an atomic ``checkpoint.pt`` and ``metrics.json``; with
    ``resume`` a killed run continues from its last finished epoch. Under torchrun
    (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel, each rank
    trains on its share of every batch and rank 0 writes. Returns the summary dict.
    """
    out = Path(out_dir)
    rank, world = _dist_info()
    device = _pick_device(cfg)
    own_group = world > 1 and not torch.distributed.is_initialized()
    if own_group:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    if resume:
        if not ckpt_path.is_file():
            raise SpikeportError(f"{ckpt_path}: nothing to resume (no checkpoint in {out})")
        _check_resume(out, cfg)
    elif (out / "config.json").exists() and ckpt_path.exists():
        raise SpikeportError(f"{out}: holds a training run already; pass --resume to continue it "
                             f"or choose another --out")
    if rank == 0:
        _save_json(out / "config.json", cfg.to_json())

    torch.manual_seed(cfg.seed)
    data = prepare_data(cfg, Path(cache_dir) if cache_dir else None, progress=progress and rank == 0)
    xtr, ytr = data["train"]
    if len(xtr) == 0:
        raise SpikeportError(f"{data['root']}: the training split is empty")
    classes = data["classes"]
    spec = model_spec(cfg, channels=xtr.shape[1], bands=xtr.shape[2], classes=len(classes))
    example = encode_batch(cfg, xtr[:1], cfg.seed)
    net = build_snn(spec, seed=cfg.seed).to(device)
    opt = _optimizer(cfg, net)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    history: list[dict] = []
    start = 0
    ema = ema_init(net) if cfg.ema > 0 else {}
    if resume:
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        history = json.loads(ck["metrics"])
        start = int(ck["epoch"])
        ema = ck.get("ema") or ema
        log.info("resuming %s after epoch %d", out, start)
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    yt = torch.as_tensor(ytr)
    aug = Augment(**cfg.augment) if cfg.augment else NO_AUGMENT
    for epoch in range(start, cfg.epochs):
        t0 = time.time()
        net.train()
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
        # every rank must take the same number of steps (DDP all-reduces each one), so
        # drop the last len % world clips of this epoch's shuffle
        order = order[:len(order) - len(order) % world][rank::world]
        seen = correct = 0
        loss_sum = pen_sum = 0.0
        rate_sum = np.zeros(len(net.spiking_blocks))
        bar = tqdm(range(0, len(order), cfg.batch_size), desc=f"SNN epoch {epoch + 1}/{cfg.epochs}",
                   disable=None if (progress and rank == 0) else True, leave=True, unit="batch")
        for i in bar:
            idx = order[i:i + cfg.batch_size].numpy()
            feats = xtr[idx]
            if aug.active:
                feats = augment(feats, aug, np.random.default_rng([cfg.seed, epoch, i]))
            x = encode_batch(cfg, feats, cfg.seed * 100003 + epoch * 1009 + i).to(device)
            y = yt[idx].to(device)
            outs = model(x, return_all=True)
            if cfg.loss == "ce":
                loss = F.cross_entropy(outs[-1].flatten(1, -2).mean(-1) * cfg.ce_gain, y,
                                       label_smoothing=cfg.label_smoothing)
            else:
                loss = rate_loss(outs[-1], y, cfg.true_rate, cfg.false_rate)
            pen = spike_penalty(outs)
            total = loss + cfg.penalty * pen
            opt.zero_grad()
            total.backward()
            opt.step()
            net.clamp_delays()
            if ema:
                ema_update(ema, net, cfg.ema)
            seen += len(idx)
            correct += int((predict_counts(outs[-1]) == y).sum())
            loss_sum += float(loss.detach()) * len(idx)
            pen_sum += float(pen.detach()) * len(idx)
            rate_sum += np.array([float(o.detach().mean()) for o in outs]) * len(idx)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}",
                            rate=f"{np.average(rate_sum / seen, weights=_layer_sizes(net)):.3f}")
        sched.step()
        if rank != 0:
            continue
        with ema_weights(net, ema):
            val = evaluate(cfg, net, *data["validation"], seed=cfg.seed + 7, device=device)
        rates = (rate_sum / max(seen, 1)).tolist()
        history.append({
            "epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "penalty": pen_sum / max(seen, 1),
            "train_accuracy": correct / max(seen, 1), "val_accuracy": val["accuracy"],
            "firing_per_layer": rates, "firing_mean": float(np.average(rates, weights=_layer_sizes(net))),
            "val_firing_mean": val["firing_mean"], "seconds": time.time() - t0,
            "lr": sched.get_last_lr()[0],
        })
        if progress:
            tqdm.write(f"epoch {epoch + 1}: loss {history[-1]['loss']:.4f}  train {history[-1]['train_accuracy']:.3f}"
                       f"  val {val['accuracy']:.3f}  firing {history[-1]['firing_mean']:.4f}"
                       f"  ({history[-1]['seconds']:.0f} s)")
        with atomic_path(ckpt_path) as tmp:
            torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "epoch": epoch + 1,
                        "metrics": json.dumps(history), "ema": ema}, tmp)
        _save_json(out / "metrics.json", history)
    if world > 1:
        torch.distributed.barrier()
        if own_group:
            torch.distributed.destroy_process_group()
        if rank != 0:
            return {}

    # Final accuracies on the CPU, the path tested spike for spike against Lava (the
    # CUDA path matches it too once train/slayer_cuda.py fixes SLAYER's reset threshold).
    if ema:  # what was validated is what is tested and saved
        ema_load(net, ema)
    net = net.to("cpu")
    cpu = torch.device("cpu")
    test_q = evaluate(cfg, net, *data["test"], seed=cfg.seed + 11, device=cpu, progress=progress,
                      desc="test (quantized)")
    net.set_quantized(False)
    test_f = evaluate(cfg, net, *data["test"], seed=cfg.seed + 11, device=cpu, progress=progress,
                      desc="test (float)")
    net.set_quantized(True)
    frames = int(xtr.shape[-1])
    steps = int(example.shape[-1])
    meta = {
        "task": "kws", "kws_task": cfg.task, "seed": cfg.seed, "classes": classes, "dataset": data["root"] if cfg.data else "embedded eSpeak corpus",
        "features": dataclasses.asdict(data["params"]), "norm": data["norm"],
        "encoder": {"name": cfg.encoder, **encoder_params(cfg)}, "augment": cfg.augment,
        "frames": frames, "timesteps": steps, "model": cfg.model, "latency": net.latency,
        "readout": "class = output neuron with the most spikes over the timesteps",
        "accuracy": {"float": test_f["accuracy"], "quantized": test_q["accuracy"]},
        "firing": {"per_layer": test_q["firing_per_layer"], "mean": test_q["firing_mean"]},
    }
    with atomic_path(out / "model.pt") as tmp:
        torch.save({"spec": net.spec, "state_dict": net.state_dict(), "meta": meta}, tmp)

    summary = {
        "classes": classes, "test_clips": int(len(data["test"][0])),
        "float_accuracy": test_f["accuracy"], "quantized_accuracy": test_q["accuracy"],
        "firing_mean": test_q["firing_mean"], "firing_per_layer": test_q["firing_per_layer"],
        "train_seconds": float(sum(h["seconds"] for h in history)), "epochs": cfg.epochs,
    }
    summary.update(train_baselines(cfg, spec, data, out, progress))
    _save_json(out / "summary.json", summary)
    return summary


def train_baselines(cfg: KwsConfig, spec: dict, data: dict, out: Path, progress: bool = True) -> dict:
    """Train, quantize, measure and save the ANN twin (``ann.pt``/``ann.json``) and,
    unless ``cfg.reference`` is ``"none"``, the reference ANN
    (``reference_ann.pt``/``reference_ann.json``); returns their summary entries."""
    from spikeport.train import baselines, reference_ann

    ann, desc = baselines.twin_baseline(cfg.model, spec, data, cfg.ann_epochs, cfg.seed, progress)
    baselines.save(out, "ann", {"spec": ann.spec, "state_dict": ann.state_dict()}, desc)
    got = {"ann_accuracy": desc["accuracy"]["test"], "ann_int8_accuracy": desc["accuracy"]["test_int8"],
           "ann_seconds": desc["training"]["seconds"]}
    if cfg.reference != "none":
        ref, rdesc = baselines.reference_baseline(data, cfg.reference_epochs, cfg.seed, progress)
        baselines.save(out, "reference_ann", reference_ann.checkpoint(ref, data, cfg.reference), rdesc)
        got.update(reference_accuracy=rdesc["accuracy"]["test"], reference_int8_accuracy=rdesc["accuracy"]["test_int8"],
                   reference_seconds=rdesc["training"]["seconds"])
    return got
