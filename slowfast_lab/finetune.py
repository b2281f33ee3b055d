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
* AdamW, linear warm-up then cosine decay per step (as `train`), `epochs` passes over the training
  split, validation on the val split after every epoch.
* Clips are decoded by a `torch.utils.data.DataLoader` with `workers` processes (0: in this one).
  The record says how long the loop waited for data and how long it computed.
* Outputs: a `weights.save_checkpoint` file (meta: command, config, class names, input size, the
  val accuracy) and a JSON record beside it; existing ones are not replaced unless `overwrite`.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .config import get_config
from .datasets import VideoFolder, seed_worker
from .model import VideoNet, build_model, model_inputs
from .train import (
    CHANNELS_LAST,
    _atomic_json,
    _lr_at,
    check_outputs,
    command_line,
    machine_load,
    record_path_of,
)
from .weights import load_model, load_weights, save_checkpoint

FREEZE = ("none", "stem", "res2", "res3", "res4", "res5")
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

    for name, least in (("epochs", 1), ("batch_size", 1), ("workers", 0), ("threads", 1)):
        count(name, least)
    if cfg.warmup_steps is not None:
        count("warmup_steps", 0)
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


def loader_for(
    data: VideoFolder, batch_size: int, workers: int, shuffle_seed: int | None = None
) -> DataLoader:
    """A DataLoader over `data`: `workers` decoding processes (seeded, one thread each);
    `shuffle_seed`: a seeded permutation and full batches only (training), else in order."""
    if shuffle_seed is not None:
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(shuffle_seed))
        sampler, drop_last = order.tolist(), len(data) >= batch_size
    else:
        sampler, drop_last = None, False
    return DataLoader(
        data, batch_size=batch_size, sampler=sampler, drop_last=drop_last, num_workers=workers,
        worker_init_fn=seed_worker if workers else None,
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


def finetune(
    cfg: FinetuneConfig, command: str | None = None, *, overwrite: bool = False
) -> FinetuneResult:
    """Fine-tune `cfg.preset` on `cfg.data` (see the module doc); returns the model (eval mode,
    CPU) and the JSON record. With `cfg.out`, an existing checkpoint or record is refused unless
    `overwrite` (the CLI's --force)."""
    check_finetune_config(cfg)
    check_outputs(cfg, overwrite)
    torch.set_num_threads(cfg.threads)
    train_data, val_data = datasets_for(cfg)
    classes = train_data.classes
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.preset, num_classes=len(classes))
    if cfg.weights:
        load_weights(model, cfg.weights, load_head=False)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=CHANNELS_LAST)
    frozen = freeze(model, cfg.freeze)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = len(train_data) // cfg.batch_size or 1
    steps = per_epoch * cfg.epochs
    warmup = min(50, steps // 10) if cfg.warmup_steps is None else cfg.warmup_steps
    schedule = SimpleNamespace(lr=cfg.lr, warmup_steps=warmup, steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss()

    losses: list[tuple[int, float]] = []
    epochs: list[dict] = []
    wait = compute = 0.0
    clips = step = 0
    show = cfg.progress
    t0 = time.perf_counter()
    bar = tqdm(total=steps, desc=f"finetune {cfg.preset}", disable=not show)
    for epoch in range(cfg.epochs):
        train_data.set_epoch(epoch)
        loader = loader_for(train_data, cfg.batch_size, cfg.workers, cfg.seed * 1000 + epoch)
        train_mode(model, frozen)
        epoch_loss, batches = 0.0, 0
        it = iter(loader)
        while True:
            tw = time.perf_counter()
            try:
                slow, fast, y = next(it)
            except StopIteration:
                break
            tc = time.perf_counter()
            wait += tc - tw
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, schedule)
            inputs = model_inputs(model, slow.to(device), fast.to(device))
            if cfg.channels_last:
                inputs = tuple(x.contiguous(memory_format=CHANNELS_LAST) for x in inputs)
            loss = loss_fn(model(*inputs), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise ValueError(
                    f"epoch {epoch} step {step}: the loss is {value}: training diverged (try a "
                    f"lower --lr than {cfg.lr:g})"
                )
            opt.step()
            compute += time.perf_counter() - tc
            losses.append((step, round(value, 5)))
            epoch_loss, batches, clips, step = (
                epoch_loss + value,
                batches + 1,
                clips + len(y),
                step + 1,
            )
            bar.update()
            bar.set_postfix(loss=f"{value:.3f}")
        row = {"epoch": epoch, "train_loss": round(epoch_loss / max(batches, 1), 5)}
        if val_data is not None:
            row["val_accuracy"] = evaluate_videos(model, val_data, cfg.batch_size, cfg.workers)[
                "accuracy"
            ]
        row["elapsed_s"] = round(time.perf_counter() - t0, 2)
        epochs.append(row)
        if show:
            bar.write(", ".join(f"{k} {v}" for k, v in row.items()))
    bar.close()
    train_time = time.perf_counter() - t0
    model.eval()
    final = evaluate_videos(model, val_data, cfg.batch_size, cfg.workers) if val_data else None
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
        "device": str(device),
        "steps": step,
        "warmup_steps": warmup,
        "frozen_parameters": sum(p.numel() for m in frozen for p in m.parameters()),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "loss_curve": losses,
        "epochs": epochs,
        "val_accuracy": [r.get("val_accuracy") for r in epochs],
        "val": final,
        "train_time_s": round(train_time, 2),
        "clips_per_s": round(clips / max(wait + compute, 1e-9), 2),
        "data_wait_s": round(wait, 3),
        "compute_s": round(compute, 3),
        "data_wait_share": round(wait / max(wait + compute, 1e-9), 4),
        "machine": machine_load(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    model.cpu()
    if cfg.out:
        meta = {k: record[k] for k in ("command", "config", "classes", "train_time_s", "machine")}
        meta.update(
            kind="finetune", input_size=train_data.size, fast_input=cfg.fast_input,
            val=final and {k: final[k] for k in ("accuracy", "clips", "per_class")},
        )  # fmt: skip
        save_checkpoint(model, cfg.out, meta)
        record["checkpoint"] = str(cfg.out)
    path = record_path_of(cfg)
    if path:
        _atomic_json(record, path)
        record["record_path"] = path
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
    "train_mode",
]
