"""Fine-tuning on your own videos: a pretrained network, a new head, a folder of labelled clips.

    result = finetune(FinetuneConfig("my_videos/", preset="slowfast_tiny",
                                     weights="data_samples/checkpoints/motionshapes_slowfast_tiny.pt",
                                     freeze="res2", epochs=5, out="mine.pt"))
    result.record["val_accuracy"]        # one per epoch
    model = load_model("mine.pt")        # its meta names the classes: `predict` labels with them
    evaluate_folder("mine.pt")           # accuracy on the val split it held out

* The preset is built with one output per class of the data (`datasets.VideoFolder`); the weights
  (our .pt checkpoints, PySlowFast / PyTorchVideo files) are loaded without their head.
* `freeze` keeps everything up to a stage fixed: "stem" (both pathways' stems and the lateral
  after pool1, fuse1), "res2" (also res2 and fuse2), "res3", "res4", "res5" (every block: only
  the head learns). Frozen weights get no gradient and their BatchNorms stay in eval mode (their
  running statistics are kept, as PySlowFast's fine-tuning does), whatever `model.train()` says.
* AdamW (or SGD), linear warm-up then cosine decay per step (as `train`), `epochs` passes over
  the training split, validation on the val split after every epoch.
* Clips are decoded by a `torch.utils.data.DataLoader` with `workers` processes (0: in this one).
  The record says how long the loop waited for data and how long it computed.
* Outputs: a `weights.save_checkpoint` file (meta: command, config, class names, input size, the
  val accuracy) and a JSON record beside it; existing ones are not replaced unless `overwrite`.
* Resumable as `train`: every `checkpoint_every` steps and on Ctrl-C the state (weights,
  optimiser, random state, the record so far) goes to `<out>.partial`; `resume=True`
  (`--resume`) continues from it and ends with the weights of an uninterrupted run. It needs the
  same settings and the same number of processes (a torchrun run is resumed under torchrun with
  as many processes: each computes BatchNorm statistics over its own shard).

Distributed: `torchrun --nproc_per_node 2 -m slowfast_lab finetune DATA ...` (gloo on CPU, nccl
on GPU), with `train`'s process group, as `train` shards its batches: each epoch's seeded
permutation of the training videos is cut into global batches of `batch_size`, each global
batch into one contiguous shard per process (`shard_batches`); a process decodes only its own
shards. DDP averages the gradients; the weights after every step equal those of one process
with `shards=world_size` (each shard its own BatchNorm statistics; with dropout 0). Rank 0
validates (the others wait at the next step's all-reduce, up to `train.PROCESS_GROUP_TIMEOUT`,
an hour), writes the checkpoint, the record and the resumable state.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .config import get_config
from .datasets import VideoFolder, seed_worker
from .model import VideoNet, build_model, model_inputs
from .train import (
    CHANNELS_LAST,
    _atomic_json,
    _load_partial,
    _lr_at,
    _save_partial,
    _start_run,
    _Steps,
    command_line,
    machine_load,
    partial_path_of,
    record_path_of,
)
from .weights import load_model, load_weights, save_checkpoint

FREEZE = ("none", "stem", "res2", "res3", "res4", "res5")
# Settings that may change between a run and its resume (they change neither the clips nor the
# arithmetic: items are seeded per item, whichever worker decodes them).
_RESUME_IGNORED = ("progress", "threads", "workers")
_LATERAL_AFTER = {"stem": "fuse1", "res2": "fuse2", "res3": "fuse3", "res4": "fuse4"}


@dataclass
class FinetuneConfig:
    """One fine-tuning run (see the module doc).

    Attributes:
        data: a folder of class folders (or with train/ and val/), or a CSV (`datasets`).
        preset: the network; its head gets one output per class of the data.
        weights: pretrained weights (any format `load_weights` reads), loaded without the head;
            None trains from scratch.
        freeze: "none", or the last stage kept fixed ("stem", "res2" .. "res5").
        size: crop size (default: the preset's `crop`); jitter: training short-side range
            (default size x 8/7 .. x 10/7); hflip: random horizontal flips in training.
        fast_input: "rgb", "gray" or "timediff" (what the pretrained Fast pathway saw).
        workers: DataLoader processes decoding clips (0: decode in this process).
        val_fraction: per-class share held out for validation (no train/ and val/ folders).
        warmup_steps: None: a tenth of the run, at most 50 steps.
        optimizer: "adamw" or "sgd" (momentum 0.9), as `train`; dropout: before the new head
            (None: the preset's).
        shards: single-process only: cut each batch into this many shards, each with its own BN
            statistics, gradients accumulated (reproduces `shards` torchrun processes, as train's).
        out: checkpoint path; record: JSON record path (default: beside out).
    """

    data: str
    preset: str = "slowfast_tiny"
    weights: str | None = None
    freeze: str = "none"
    epochs: int = 5
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.05
    optimizer: str = "adamw"
    dropout: float | None = None
    warmup_steps: int | None = None
    workers: int = 0
    val_fraction: float = 0.2
    seed: int = 0
    size: int | None = None
    jitter: tuple[int, int] | None = None
    hflip: bool = True
    fast_input: str = "rgb"
    pad: bool = False
    skip_unreadable: bool = False
    threads: int = 2
    channels_last: bool = True
    shards: int = 1
    out: str | None = None
    record: str | None = None
    progress: bool = True


@dataclass
class FinetuneResult:
    model: VideoNet
    record: dict


def check_finetune_config(cfg: FinetuneConfig) -> None:
    """ValueError for settings that cannot work, before any video is opened."""

    def count(name: str, least: int) -> None:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{name}={value!r} must be an integer >= {least} ({flag})")

    for name, least in (("epochs", 1), ("batch_size", 1), ("workers", 0), ("threads", 1),
                        ("shards", 1)):  # fmt: skip
        count(name, least)
    if cfg.warmup_steps is not None:
        count("warmup_steps", 0)
    if cfg.optimizer not in ("adamw", "sgd"):
        raise ValueError(f"optimizer={cfg.optimizer!r} must be 'adamw' or 'sgd' (--optimizer)")
    if cfg.dropout is not None and not (
        isinstance(cfg.dropout, (int, float)) and 0 <= cfg.dropout < 1
    ):
        raise ValueError(f"dropout={cfg.dropout!r} must be a number in [0, 1) (--dropout)")
    if cfg.freeze not in FREEZE:
        raise ValueError(f"freeze={cfg.freeze!r} must be one of {', '.join(FREEZE)} (--freeze)")
    if not (isinstance(cfg.lr, (int, float)) and math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ValueError(f"lr={cfg.lr!r} must be a positive number (e.g. 1e-3)")
    if not 0 <= cfg.val_fraction < 1:
        raise ValueError(f"val_fraction={cfg.val_fraction!r} must be in [0, 1) (--val-fraction)")
    if cfg.weights is not None and not Path(cfg.weights).is_file():
        raise FileNotFoundError(f"weights file {cfg.weights} not found")
    get_config(cfg.preset)  # ConfigError naming the presets


# ------------------------------------------------------------------------------------------------
# Freezing
# ------------------------------------------------------------------------------------------------


def frozen_modules(model: VideoNet, upto: str) -> list[torch.nn.Module]:
    """The modules `freeze=upto` keeps fixed: every pathway's stages up to `upto` and the
    laterals that follow them (fuse1 after the stem ... fuse4 after res4)."""
    if upto not in FREEZE:
        raise ValueError(f"freeze={upto!r} must be one of {', '.join(FREEZE)}")
    if upto == "none":
        return []
    stages = FREEZE[1 : FREEZE.index(upto) + 1]
    found = []
    for stage in stages:
        for name in ("slow", "fast"):
            pathway = getattr(model, name, None)
            if pathway is not None:
                found.append(getattr(pathway, stage))
        lateral = getattr(model, _LATERAL_AFTER.get(stage, ""), None)
        if lateral is not None:
            found.append(lateral)
    return found


def freeze(model: VideoNet, upto: str) -> list[torch.nn.Module]:
    """requires_grad=False for the frozen part (see `frozen_modules`); returns its modules. Call
    `train_mode(model, frozen)` instead of `model.train()` to keep their BatchNorms in eval."""
    frozen = frozen_modules(model, upto)
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def train_mode(model: VideoNet, frozen: list[torch.nn.Module]) -> None:
    """model.train(), except the frozen part's BatchNorms, which keep using (and not updating)
    their running statistics."""
    model.train()
    for module in frozen:
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------


def datasets_for(cfg: FinetuneConfig) -> tuple[VideoFolder, VideoFolder | None]:
    """(train, val) splits of `cfg.data` with the preset's sampling (val None when empty)."""
    mc = get_config(cfg.preset)
    common = dict(
        val_fraction=cfg.val_fraction, seed=cfg.seed, T=mc.T, tau=mc.tau, alpha=mc.alpha,
        size=cfg.size or mc.crop, jitter=cfg.jitter, fast_input=cfg.fast_input, pad=cfg.pad,
        skip_unreadable=cfg.skip_unreadable,
    )  # fmt: skip
    train = VideoFolder(cfg.data, "train", hflip=cfg.hflip, **common)
    has_val = cfg.val_fraction > 0 or (Path(cfg.data) / "val").is_dir()
    val = VideoFolder(cfg.data, "val", classes=train.classes, **common) if has_val else None
    return train, val


def shard_batches(
    n: int, batch_size: int, shuffle_seed: int, rank: int = 0, world: int = 1
) -> list[list[int]]:
    """Process `rank`'s part of every global training batch of one epoch: a permutation of the
    `n` items seeded by `shuffle_seed` (the same in every process), cut into full batches of
    `batch_size` (one smaller batch when n < batch_size), each cut into `world` contiguous
    shards, as `train` cuts its batches: shards never overlap and never miss an item. (This is
    what a seeded DistributedSampler with set_epoch gives, but per global batch, so that one
    process with `shards=world` sees exactly the same clips in each shard.)"""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(shuffle_seed))
    ends = range(batch_size, n + 1, batch_size) if n >= batch_size else [n]
    return [order[end - min(batch_size, n) : end].chunk(world)[rank].tolist() for end in ends]


def loader_for(
    data: VideoFolder,
    batch_size: int,
    workers: int,
    shuffle_seed: int | None = None,
    *,
    rank: int = 0,
    world: int = 1,
    skip: int = 0,
) -> DataLoader:
    """A DataLoader over `data`: `workers` decoding processes (seeded, one thread each).
    `shuffle_seed`: training, this process's shard of every global batch (`shard_batches`),
    the first `skip` batches left out (a resumed epoch; they are not decoded); None: in order."""
    if shuffle_seed is not None:
        batches = shard_batches(len(data), batch_size, shuffle_seed, rank, world)[skip:]
        batching = dict(batch_sampler=batches)
    else:
        batching = dict(batch_size=batch_size)
    return DataLoader(
        data, **batching, num_workers=workers, worker_init_fn=seed_worker if workers else None,
        generator=torch.Generator().manual_seed(shuffle_seed or 0),
        persistent_workers=False,  # workers see `set_epoch`: they are made again each epoch
    )  # fmt: skip


@torch.no_grad()
def evaluate_videos(
    model: VideoNet, data: VideoFolder, batch_size: int = 8, workers: int = 0
) -> dict:
    """Accuracy of `model` on `data` (its eval sampling: centre clip, centre crop): overall, per
    class and the confusion matrix (rows: true class)."""
    model.eval()
    device = next(model.parameters()).device
    preds, labels = [], []
    for slow, fast, y in loader_for(data, batch_size, workers):
        preds.append(model(*model_inputs(model, slow.to(device), fast.to(device))).argmax(1).cpu())
        labels.append(y)
    p, y = torch.cat(preds), torch.cat(labels)
    n = len(data.classes)
    confusion = torch.zeros(n, n, dtype=torch.long)
    confusion.index_put_((y, p), torch.ones_like(y), accumulate=True)
    per_class = {
        c: round(float((p[y == i] == i).float().mean()), 4) if (y == i).any() else None
        for i, c in enumerate(data.classes)
    }
    return {
        "accuracy": round(float((p == y).float().mean()), 4),
        "clips": len(y),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "classes": list(data.classes),
    }


def evaluate_folder(
    checkpoint: str | Path,
    data: str | Path | None = None,
    split: str = "val",
    batch_size: int = 8,
    workers: int = 0,
) -> dict:
    """Accuracy of a fine-tuned checkpoint on the `split` of `data` (default: the data it was
    fine-tuned on), with the sampling, crop, split fraction and seed of its run (from its meta)."""
    model = load_model(checkpoint)
    meta = model.checkpoint_meta
    if meta.get("kind") != "finetune":
        raise ValueError(
            f"{checkpoint} was not made by finetune (no class names of a video folder in its "
            "meta); evaluate MotionShapes checkpoints without --data"
        )
    run = meta["config"]
    mc = model.config
    videos = VideoFolder(
        data or run["data"], split, val_fraction=run["val_fraction"], seed=run["seed"],
        T=mc.T, tau=mc.tau, alpha=mc.alpha, size=meta["input_size"],
        fast_input=run["fast_input"], pad=run["pad"], skip_unreadable=run["skip_unreadable"],
        classes=meta["classes"], train=False,
    )  # fmt: skip
    report = evaluate_videos(model, videos, batch_size, workers)
    report.update(checkpoint=str(checkpoint), data=str(videos.data), split=split)
    return report


# ------------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------------


def _check_parts(cfg: FinetuneConfig, n: int, world: int) -> None:
    """Equal shards of every global batch: one per process (and per `shards`)."""
    if cfg.shards > 1 and world > 1:
        raise ValueError("shards > 1 emulates DDP in one process; do not combine it with torchrun")
    parts = world * cfg.shards
    if parts == 1:
        return
    if cfg.batch_size % parts:
        raise ValueError(
            f"batch_size={cfg.batch_size} must divide into {parts} equal shards (one per process"
            f"{' and shard' if cfg.shards > 1 else ''}): use a multiple of {parts} (--batch-size)"
        )
    if n < cfg.batch_size:
        raise ValueError(
            f"the training split has {n} videos, fewer than batch_size={cfg.batch_size}: with "
            f"{parts} shards every step needs a full batch; use --batch-size <= {n}"
        )


def finetune(
    cfg: FinetuneConfig,
    command: str | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    checkpoint_every: int = 0,
) -> FinetuneResult:
    """Fine-tune `cfg.preset` on `cfg.data` (see the module doc); returns the model (eval mode,
    CPU) and the JSON record. Under torchrun every process calls this (see the module doc).

    With `cfg.out`: an existing checkpoint or record is refused unless `overwrite` (the CLI's
    --force); every `checkpoint_every` steps (and on Ctrl-C, after the step) the resumable state
    goes to `<out>.partial`, removed at the end; `resume=True` continues from it and gives the
    same weights and record as an uninterrupted run. A NaN/Inf loss stops the run
    (`train.TrainingError`) before the optimiser takes it; Ctrl-C raises `TrainingInterrupted`.
    As `train.train`, whose mechanisms (process group, partial state, Ctrl-C) these are.
    """
    check_finetune_config(cfg)
    rank, world, device, created = _start_run(cfg, overwrite, resume, checkpoint_every)
    try:
        return _finetune(cfg, command, resume, checkpoint_every, rank, world, device)
    finally:
        if created:
            dist.destroy_process_group()


def steps_for(n_train: int, batch_size: int, epochs: int) -> int:
    """Optimiser steps of a run on `n_train` training videos: full global batches only (the
    `n_train % batch_size` videos left over are left out of that epoch; every epoch draws a new
    order), one batch of all videos when there are fewer than `batch_size` (see `shard_batches`)."""
    return (n_train // batch_size or 1) * epochs


def _finetune(
    cfg: FinetuneConfig,
    command: str | None,
    resume: bool,
    checkpoint_every: int,
    rank: int,
    world: int,
    device: torch.device,
) -> FinetuneResult:
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    torch.set_num_threads(max(1, cfg.threads // local_world))  # share the cores among processes
    train_data, val_data = datasets_for(cfg)
    _check_parts(cfg, len(train_data), world)
    classes = train_data.classes
    # The same initial head in every process, and the same random stream: dropout masks are equal
    # across processes (so a resume restores rank 0's random state in all of them).
    torch.manual_seed(cfg.seed)
    extra = {} if cfg.dropout is None else {"dropout": cfg.dropout}
    model = build_model(cfg.preset, num_classes=len(classes), **extra)
    if cfg.weights:
        load_weights(model, cfg.weights, load_head=False)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=CHANNELS_LAST)
    frozen = freeze(model, cfg.freeze)
    trainable = [p for p in model.parameters() if p.requires_grad]
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(trainable, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = steps_for(len(train_data), cfg.batch_size, 1)
    steps = steps_for(len(train_data), cfg.batch_size, cfg.epochs)
    warmup = min(50, steps // 10) if cfg.warmup_steps is None else cfg.warmup_steps
    schedule = SimpleNamespace(lr=cfg.lr, warmup_steps=warmup, steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    show = cfg.progress and rank == 0

    # Everything the record sums over the run: saved with the partial state, so that a resumed
    # run writes the record of an uninterrupted one.
    run = dict(losses=[], epochs=[], wait=0.0, compute=0.0, clips=0, epoch_loss=0.0, batches=0)
    first, earlier = 0, 0.0
    partial = partial_path_of(cfg)
    saved_step = None  # the step of the last resumable state on disk
    if resume:
        state = _load_partial(partial, cfg, ignored=_RESUME_IGNORED, world=world)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda_rng"])
        first, earlier, run = state["step"], state["elapsed"], state["run"]
        run["losses"] = [tuple(x) for x in run["losses"]]
        saved_step = first

    t0 = time.perf_counter()

    def elapsed() -> float:
        return earlier + time.perf_counter() - t0

    def write(done: int) -> None:
        _save_partial(partial, cfg, done, model, opt, dict(run=run, elapsed=elapsed()), world)

    stepper = _Steps(model, opt, world, rank, device, partial, write, cfg.lr, steps, saved_step)
    last_val: list[dict] = []  # the last epoch's validation: the final one, when the run ends

    def end_epoch(epoch: int) -> None:
        row = {"epoch": epoch, "train_loss": round(run["epoch_loss"] / max(run["batches"], 1), 5)}
        if val_data is not None and rank == 0:
            last_val[:] = [evaluate_videos(model, val_data, cfg.batch_size, cfg.workers)]
            row["val_accuracy"] = last_val[0]["accuracy"]
        row["elapsed_s"] = round(elapsed(), 2)
        run["epochs"].append(row)
        run["epoch_loss"], run["batches"] = 0.0, 0
        if show:
            bar.write(", ".join(f"{k} {v}" for k, v in row.items()))

    def shard_losses(slow: torch.Tensor, fast: torch.Tensor, y: torch.Tensor):
        for s, f, t in zip(*(x.chunk(cfg.shards) for x in (slow, fast, y)), strict=True):
            inputs = model_inputs(model, s.to(device), f.to(device))
            if cfg.channels_last:
                inputs = tuple(x.contiguous(memory_format=CHANNELS_LAST) for x in inputs)
            yield loss_fn(net(*inputs), t.to(device))

    step = first
    bar = tqdm(total=steps, initial=first, desc=f"finetune {cfg.preset}", disable=not show)
    with stepper.interruptible():
        first_epoch = first // per_epoch
        if len(run["epochs"]) < min(first_epoch, cfg.epochs):
            end_epoch(first_epoch - 1)  # stopped between an epoch's last step and its val
        for epoch in range(first_epoch, cfg.epochs):
            train_data.set_epoch(epoch)
            loader = loader_for(
                train_data, cfg.batch_size, cfg.workers, cfg.seed * 1000 + epoch,
                rank=rank, world=world, skip=step - epoch * per_epoch,
            )  # fmt: skip
            net.train()
            train_mode(model, frozen)
            it = iter(loader)
            while True:
                stepper.current = step
                tw = time.perf_counter()
                try:
                    slow, fast, y = next(it)
                except StopIteration:
                    break
                tc = time.perf_counter()
                run["wait"] += tc - tw
                value, stop = stepper.step(
                    shard_losses(slow, fast, y), _lr_at(step, schedule), cfg.shards,
                    f"epoch {epoch} step {step}",
                )  # fmt: skip
                run["compute"] += time.perf_counter() - tc
                run["losses"].append((step, round(value, 5)))
                run["epoch_loss"] += value
                run["batches"] += 1
                run["clips"] += len(y) * world
                step += 1
                bar.update()
                bar.set_postfix(loss=f"{value:.3f}")
                stepper.after(step, stop, checkpoint_every)
            end_epoch(epoch)
    bar.close()
    train_time = elapsed()
    model.eval()
    final = None
    if val_data is not None and rank == 0:  # the weights the last epoch's validation saw
        final = (
            last_val[0]
            if last_val
            else evaluate_videos(model, val_data, cfg.batch_size, cfg.workers)
        )
    epochs, wait, compute = run["epochs"], run["wait"], run["compute"]
    record = {
        "kind": "finetune",
        "command": command or command_line(),
        "config": dataclasses.asdict(cfg),
        "model_config": dataclasses.asdict(model.config),
        "classes": list(classes),
        "data": {
            "root": str(cfg.data),
            "train": train_data.counts(),
            "val": val_data.counts() if val_data else {},
            "skipped": [p for p, _ in train_data.skipped + (val_data.skipped if val_data else [])],
            "input_size": train_data.size,
            "jitter": list(train_data.jitter),
        },
        "world_size": world,
        "device": str(device),
        "steps": step,
        **({"resumed_from_step": first} if first else {}),
        "warmup_steps": warmup,
        "frozen_parameters": sum(p.numel() for m in frozen for p in m.parameters()),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "loss_curve": run["losses"],
        "epochs": epochs,
        "val_accuracy": [r.get("val_accuracy") for r in epochs],
        "val": final,
        "train_time_s": round(train_time, 2),
        "clips_per_s": round(run["clips"] / max(wait + compute, 1e-9), 2),
        "data_wait_s": round(wait, 3),
        "compute_s": round(compute, 3),
        "data_wait_share": round(wait / max(wait + compute, 1e-9), 4),
        "machine": machine_load(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    model.cpu()
    if cfg.out and rank == 0:
        meta = {k: record[k] for k in ("command", "config", "classes", "train_time_s", "machine")}
        meta.update(
            kind="finetune", input_size=train_data.size, fast_input=cfg.fast_input,
            val=final and {k: final[k] for k in ("accuracy", "clips", "per_class")},
        )  # fmt: skip
        save_checkpoint(model, cfg.out, meta)
        record["checkpoint"] = str(cfg.out)
    path = record_path_of(cfg)
    if path and rank == 0:
        _atomic_json(record, path)
        record["record_path"] = path
    if rank == 0 and partial and Path(partial).exists():
        os.remove(partial)  # the run is complete: its checkpoint replaces the partial state
    return FinetuneResult(model, record)


__all__ = [
    "FREEZE",
    "FinetuneConfig",
    "FinetuneResult",
    "check_finetune_config",
    "datasets_for",
    "evaluate_folder",
    "evaluate_videos",
    "finetune",
    "freeze",
    "frozen_modules",
    "loader_for",
    "shard_batches",
    "steps_for",
    "train_mode",
]
