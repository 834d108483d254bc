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

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from spikeport.atomic import atomic_path
from spikeport.errors import SpikeportError
from spikeport.train import encoders
from spikeport.train.augment import NO_AUGMENT, Augment, augment
from spikeport.train.augmented_features import draw
from spikeport.train.config import KwsConfig
from spikeport.train.ema import ema_init, ema_load, ema_update, ema_weights
from spikeport.train.kws_data import encode_batch, encoder_params, prepare_data
from spikeport.train.models import SpikingNet, kws_spec
from spikeport.train.spec_check import check_spec

log = logging.getLogger("spikeport.train")


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
    if not isinstance(arch.get("neuron", {}), dict):
        raise SpikeportError(f"config arch.neuron is {arch['neuron']!r}; allowed: an object of neuron parameters")
    spec["neuron"] = {**spec["neuron"], **arch.get("neuron", {})}
    check_spec(spec, "config arch (the model spec)")
    last = [l for l in spec["layers"] if l["kind"] != "flatten"][-1]
    if last.get("out") != classes:
        raise SpikeportError(f"config arch: the last layer has {last.get('out')} outputs; allowed: {classes}, "
                             f"one per class")
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
    """Load ``model.pt`` (``{"spec", "state_dict", "meta"}``, read with
    ``weights_only=True``); returns (net, meta). A file that is not such a checkpoint,
    or whose spec or weights do not build, is one :class:`SpikeportError` line."""
    from spikeport.train.run_folder import LOAD_ERRORS, load_model_file

    path = Path(path)
    ck = load_model_file(path)
    try:
        net = build_snn(ck["spec"])
        net.load_state_dict(ck["state_dict"])
    except SpikeportError as e:
        raise SpikeportError(f"{path}: {e}") from None
    except LOAD_ERRORS as e:
        raise SpikeportError(f"{path}: its spec and weights do not build a network "
                             f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return net, ck.get("meta", {})


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


def evaluate_snn(cfg: KwsConfig, net: SpikingNet, feats: np.ndarray, labels: np.ndarray, seed: int,
             device: torch.device, batch_size: int = 64, progress: bool = False,
             desc: str = "eval") -> dict:
    """Accuracy, mean firing rate per spiking layer (spikes per neuron per step) and
    ``predictions`` int64 ``(clips,)``."""
    net.eval()
    correct, rates, n, preds = 0, None, 0, []
    with torch.no_grad():
        for i in tqdm(range(0, len(feats), batch_size), desc=desc, leave=False,
                      disable=None if progress else True):
            x = encode_batch(cfg, feats[i:i + batch_size], seed + i).to(device)
            outs = net(x, return_all=True)
            pred = predict_counts(outs[-1]).cpu().numpy()
            preds.append(pred)
            correct += int((pred == labels[i:i + batch_size]).sum())
            r = np.array([float(o.mean()) * len(x) for o in outs])
            rates = r if rates is None else rates + r
            n += len(x)
    rates = rates / max(n, 1)
    return {"accuracy": correct / max(n, 1), "firing_per_layer": rates.tolist(),
            "firing_mean": float(np.average(rates, weights=_layer_sizes(net))),
            "predictions": np.concatenate(preds) if preds else np.zeros(0, np.int64)}


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


@dataclass
class Run:
    """A training run's moving parts."""

    cfg: KwsConfig
    out: Path
    data: dict
    net: SpikingNet
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    ema: dict
    history: list
    device: torch.device
    rank: int = 0
    world: int = 1


def _setup(cfg: KwsConfig, out: Path, data: dict, device, resume: bool, rank: int, world: int) -> tuple[Run, int]:
    """The network, optimizer, schedule and EMA of a new run, or of a resumed one as
    its checkpoint left them; returns the run and the first epoch to train."""
    from spikeport.train import run_folder as rf

    xtr = data["train"][0]
    spec = model_spec(cfg, channels=xtr.shape[1], bands=xtr.shape[2], classes=len(data["classes"]))
    net = build_snn(spec, seed=cfg.seed).to(device)
    opt = _optimizer(cfg, net)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    ema = ema_init(net) if cfg.ema > 0 else {}
    history, start = [], 0
    if resume:
        ck = rf.load_checkpoint(out / rf.CHECKPOINT, cfg, device)
        rf.restore(out / rf.CHECKPOINT, ck, net, opt, sched)
        history, start, ema = ck["metrics"], ck["epoch"], (ck["ema"] or ema)
        rf.save_json(out / rf.METRICS, history)     # a lost or damaged metrics.json comes back from the checkpoint
        log.info("resuming %s after epoch %d", out, start)
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda"
                                                          else None)
    return Run(cfg, out, data, net, model, opt, sched, ema, history, device, rank, world), start


def _loss(cfg: KwsConfig, outs: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    if cfg.loss == "ce":
        return F.cross_entropy(outs[-1].flatten(1, -2).mean(-1) * cfg.ce_gain, y, label_smoothing=cfg.label_smoothing)
    return rate_loss(outs[-1], y, cfg.true_rate, cfg.false_rate)


def feature_augment(cfg: KwsConfig) -> Augment:
    """The on-the-fly feature augmentation of ``cfg`` (:data:`NO_AUGMENT` when ``cfg.augment`` is empty)."""
    return Augment(**cfg.augment) if cfg.augment else NO_AUGMENT


def _train_epoch(run: Run, epoch: int, progress: bool) -> dict:
    """One epoch over the training split; returns its training metrics."""
    cfg, net, (xtr, ytr) = run.cfg, run.net, run.data["train"]
    net.train()
    order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
    # every rank must take the same number of steps (DDP all-reduces each one), so
    # drop the last len % world clips of this epoch's shuffle
    order = order[:len(order) - len(order) % run.world][run.rank::run.world]
    aug = feature_augment(cfg)
    seen = correct = 0
    loss_sum = pen_sum = 0.0
    rate_sum = np.zeros(len(net.spiking_blocks))
    bar = tqdm(range(0, len(order), cfg.batch_size), desc=f"SNN epoch {epoch + 1}/{cfg.epochs}",
               disable=None if (progress and run.rank == 0) else True, leave=True, unit="batch")
    for i in bar:
        idx = order[i:i + cfg.batch_size].numpy()
        rng = np.random.default_rng([cfg.seed, epoch, i])
        feats = draw(xtr, run.data.get("train_copies"), idx, rng)
        if aug.active:
            feats = augment(feats, aug, rng)
        x = encode_batch(cfg, feats, cfg.seed * 100003 + epoch * 1009 + i).to(run.device)
        y = torch.as_tensor(ytr[idx]).to(run.device)
        outs = run.model(x, return_all=True)
        loss, pen = _loss(cfg, outs, y), spike_penalty(outs)
        run.opt.zero_grad()
        (loss + cfg.penalty * pen).backward()
        run.opt.step()
        net.clamp_delays()
        if run.ema:
            ema_update(run.ema, net, cfg.ema)
        seen += len(idx)
        correct += int((predict_counts(outs[-1]) == y).sum())
        loss_sum += float(loss.detach()) * len(idx)
        pen_sum += float(pen.detach()) * len(idx)
        rate_sum += np.array([float(o.detach().mean()) for o in outs]) * len(idx)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}",
                        rate=f"{np.average(rate_sum / seen, weights=_layer_sizes(net)):.3f}")
    run.sched.step()
    rates = (rate_sum / max(seen, 1)).tolist()
    return {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "penalty": pen_sum / max(seen, 1),
            "train_accuracy": correct / max(seen, 1), "firing_per_layer": rates,
            "firing_mean": float(np.average(rates, weights=_layer_sizes(net)))}


def _end_epoch(run: Run, metrics: dict, t0: float, progress: bool) -> None:
    """Validate, record and checkpoint an epoch (rank 0)."""
    from spikeport.train.run_folder import save_checkpoint

    with ema_weights(run.net, run.ema):
        val = evaluate_snn(run.cfg, run.net, *run.data["validation"], seed=run.cfg.seed + 7, device=run.device)
    run.history.append({**metrics, "val_accuracy": val["accuracy"], "val_firing_mean": val["firing_mean"],
                        "seconds": time.time() - t0, "lr": run.sched.get_last_lr()[0]})
    h = run.history[-1]
    if progress:
        tqdm.write(f"epoch {h['epoch']}: loss {h['loss']:.4f}  train {h['train_accuracy']:.3f}  val "
                   f"{h['val_accuracy']:.3f}  firing {h['firing_mean']:.4f}  ({h['seconds']:.0f} s)")
    save_checkpoint(run.out, run.cfg, {"model": run.net.state_dict(), "optimizer": run.opt.state_dict(),
                                       "scheduler": run.sched.state_dict(), "epoch": h["epoch"], "ema": run.ema},
                    run.history)


def _model_meta(run: Run, test_f: dict, test_q: dict) -> dict:
    """What the exported network carries for evaluation (``spikeport/metadata``)."""
    cfg, data, xtr = run.cfg, run.data, run.data["train"][0]
    return {
        "task": "kws", "kws_task": cfg.task, "seed": cfg.seed, "classes": data["classes"],
        "dataset": data["root"] if cfg.data else "embedded eSpeak corpus",
        "features": dataclasses.asdict(data["params"]), "norm": data["norm"],
        "encoder": {"name": cfg.encoder, **encoder_params(cfg)}, "augment": cfg.augment,
        "audio_augment": cfg.audio_augment,
        "frames": int(xtr.shape[-1]), "timesteps": int(encode_batch(cfg, xtr[:1], cfg.seed).shape[-1]),
        "model": cfg.model, "latency": run.net.latency,
        "readout": "class = output neuron with the most spikes over the timesteps",
        "accuracy": {"float": test_f["accuracy"], "quantized": test_q["accuracy"]},
        "firing": {"per_layer": test_q["firing_per_layer"], "mean": test_q["firing_mean"]},
    }


def _finish(run: Run, progress: bool) -> dict:
    """Test the averaged network on the CPU (the path tested spike for spike against
    Lava), save ``model.pt``, train the ANN baselines, write ``summary.json``."""
    from spikeport.train.run_folder import save_json

    if run.ema:  # what was validated is what is tested and saved
        ema_load(run.net, run.ema)
    net = run.net = run.net.to("cpu")
    cpu, xte_yte = torch.device("cpu"), run.data["test"]
    test_q = evaluate_snn(run.cfg, net, *xte_yte, seed=run.cfg.seed + 11, device=cpu, progress=progress,
                      desc="test (quantized)")
    net.set_quantized(False)
    test_f = evaluate_snn(run.cfg, net, *xte_yte, seed=run.cfg.seed + 11, device=cpu, progress=progress,
                      desc="test (float)")
    net.set_quantized(True)
    with atomic_path(run.out / "model.pt") as tmp:
        torch.save({"spec": net.spec, "state_dict": net.state_dict(), "meta": _model_meta(run, test_f, test_q)}, tmp)
    summary = {
        "classes": run.data["classes"], "test_clips": int(len(xte_yte[0])),
        "float_accuracy": test_f["accuracy"], "quantized_accuracy": test_q["accuracy"],
        "firing_mean": test_q["firing_mean"], "firing_per_layer": test_q["firing_per_layer"],
        "train_seconds": float(sum(h["seconds"] for h in run.history)), "epochs": run.cfg.epochs,
        "data_seconds": float(run.data.get("seconds", 0.0)),
    }
    summary.update(train_baselines(run.cfg, net.spec, run.data, run.out, progress))
    save_json(run.out / "summary.json", summary)
    return summary


def train_kws(cfg: KwsConfig, out_dir: str | os.PathLike, resume: bool = False,
              cache_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Train the keyword-spotting SNN of ``cfg`` and its ANN baselines into ``out_dir``.

    The run folder is locked while the run writes it. Each epoch ends with an atomic
    ``checkpoint.pt`` and ``metrics.json``; with ``resume`` a killed run continues after
    its last finished epoch exactly as an uninterrupted run would (same configuration,
    same schedule, same random state). Under torchrun (``WORLD_SIZE`` > 1) the model is
    wrapped in DistributedDataParallel, each rank trains on its share of every batch
    and rank 0 writes. Returns the summary dict ({} on other ranks).
    """
    from spikeport.train import run_folder as rf

    cfg.validate()
    out = Path(out_dir)
    rank, world = _dist_info()
    device = _pick_device(cfg)
    own_group = world > 1 and not torch.distributed.is_initialized()
    if own_group:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    with rf.run_folder(out, rank):
        rf.check_start(out, cfg, resume)
        torch.manual_seed(cfg.seed)
        t_data = time.time()
        if world > 1 and rank != 0:
            torch.distributed.barrier()  # rank 0 fills the shared caches first; the others then read them
        data = prepare_data(cfg, Path(cache_dir) if cache_dir else None, progress=progress and rank == 0)
        if world > 1 and rank == 0:
            torch.distributed.barrier()
        data["seconds"] = time.time() - t_data
        if len(data["train"][0]) == 0 or len(data["test"][0]) == 0:
            raise SpikeportError(f"{data['root']}: the {'training' if len(data['train'][0]) == 0 else 'test'} "
                                 f"split is empty")
        run, start = _setup(cfg, out, data, device, resume, rank, world)
        for epoch in range(start, cfg.epochs):
            t0 = time.time()
            metrics = _train_epoch(run, epoch, progress)
            if rank == 0:
                _end_epoch(run, metrics, t0, progress)
        if world > 1:
            torch.distributed.barrier()
            if own_group:
                torch.distributed.destroy_process_group()
            if rank != 0:
                return {}
        return _finish(run, progress)


def train_baselines(cfg: KwsConfig, spec: dict, data: dict, out: Path, progress: bool = True) -> dict:
    """Train, quantize, measure and save the ANN twin (``ann.pt``/``ann.json``) and,
    unless ``cfg.reference`` is ``"none"``, the reference ANN
    (``reference_ann.pt``/``reference_ann.json``); returns their summary entries."""
    from spikeport.train import baselines, reference_ann

    aug = feature_augment(cfg)  # the baselines see what the SNN saw
    ann, desc = baselines.twin_baseline(cfg.model, spec, data, cfg.ann_epochs, cfg.seed, progress, aug)
    baselines.save(out, "ann", {"spec": ann.spec, "state_dict": ann.state_dict()}, desc)
    got = {"ann_accuracy": desc["accuracy"]["test"], "ann_int8_accuracy": desc["accuracy"]["test_int8"],
           "ann_seconds": desc["training"]["seconds"]}
    if cfg.reference != "none":
        ref, rdesc = baselines.reference_baseline(data, cfg.reference_epochs, cfg.seed, progress, aug)
        baselines.save(out, "reference_ann", reference_ann.checkpoint(ref, data, cfg.reference), rdesc)
        got.update(reference_accuracy=rdesc["accuracy"]["test"], reference_int8_accuracy=rdesc["accuracy"]["test_int8"],
                   reference_seconds=rdesc["training"]["seconds"])
    return got
