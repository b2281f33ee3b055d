"""Training and evaluation on MotionShapes: a plain PyTorch loop, one process or many (torchrun).

    result = train(TrainConfig(model="slowfast_tiny", steps=1200, seed=0, out="sf.pt"))
    evaluate(result.model, seed=1000, clips=500)   # {"accuracy": .., "groups": {...}, ...}

* CPU by default, CUDA when present; tqdm progress bars; seeded (same seed, same model).
* Checkpoints are `weights.save_checkpoint` files (`load_model` / `sfl.load_weights` read them);
  their meta holds the command, seed, task, training record and test accuracy.
* Every run writes a JSON record (config, loss curve, accuracies, time, machine load).

Distributed (DistributedDataParallel): the same `train` runs under
`torchrun --nproc_per_node 2 -m slowfast_lab train ...` (gloo on CPU, nccl on GPU). Every global
batch of `batch_size` clips is cut into `world_size` equal contiguous shards, one per process; DDP
averages the gradients, which equals the gradient of the mean loss over the global batch.
What is and is not identical to one process:
* identical (up to float summation order): parameters after every step, *if* the single process
  also computes BatchNorm statistics per shard (`TrainConfig(shards=world_size)`, "ghost batch
  norm"): on CPU each process normalises with its own shard's statistics (SyncBatchNorm needs a
  GPU). With `sync_bn=True` on GPUs, one process on the whole global batch is the reference.
* not identical: BN running statistics (DDP keeps rank 0's, from rank 0's shards), dropout masks
  (every process seeds torch with `seed` and draws the same random numbers, so all processes use
  rank 0's masks, where one process with shards draws a new mask for every shard; use dropout=0
  to compare), and the logged loss per process. Since the random streams are equal, a resumed
  run restores rank 0's saved random state in every process.

Ctrl-C under torchrun: the workers run in their own session, so the terminal's SIGINT reaches
only torchrun, which forwards one SIGINT to every worker and kills them (SIGKILL) 30 s later if
they are still running. The step in progress finishes and rank 0 saves the resumable state if
that takes less; a Ctrl-C while finetune's rank 0 validates a long val split loses that save
(the last periodic `--checkpoint-every` state stays). The process group's timeout is an hour
(`PROCESS_GROUP_TIMEOUT`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from tqdm.auto import tqdm

from .config import SlowFastConfig, get_config
from .model import VideoNet, build_model, loss_for, model_inputs
from .synthetic import (
    CLASSES,
    GROUPS,
    MotionShapesData,
    TaskConfig,
    factor_hits,
    group_labels,
    make_dataset,
)
from .weights import load_model, load_weights, save_checkpoint

DEFAULT_TEST_SEED = 1000  # the recorded "fresh test split": never used for training
CHANNELS_LAST = torch.channels_last_3d


@dataclass
class TrainConfig:
    """One training run. Clips come from split `seed` (validation: split `seed + 1`).

    Attributes:
        model: the network's SlowFastConfig, or a preset name (resolved to its config):
            `TrainConfig(model=get_config("slowfast_tiny", fusion="none"))`.
        task: TaskConfig fields to override (size, noise, ...); T, tau, alpha follow the model.
        steps: optimiser steps; batch_size: global batch (split across processes).
        shards: single-process only: cut each batch into this many shards, each with its own BN
            statistics, gradients accumulated (reproduces `shards` DDP processes on the CPU).
        sync_bn: with DDP on GPUs, synchronise BN statistics across processes.
        out: checkpoint path (written by rank 0); record: JSON record path (default: beside out).
        test_seed / test_clips: the fresh split evaluated at the end and stored in the meta.
        half_checkpoint: round the weights to float16 before the final evaluation and store them
            so (half the file size; loading gives float32 models with exactly those values).
        channels_last: weights and clips in torch.channels_last_3d memory format (channels
            innermost): the same network, 1.1x (idle) to 1.6x (loaded machine) more clips/s for
            the tiny models on a CPU (`python -m slowfast_lab bench --presets slowfast_tiny ... --channels-last both`).
        bf16: the forward pass under bfloat16 autocast (1.5-1.8x with channels_last on a CPU with
            bf16 instructions; weights, optimiser and loss stay float32).
        weights: start from these weights (any format `load_weights` reads), all but the head,
            which starts fresh (seeded), as `finetune` loads them; None: from scratch.
    """

    model: SlowFastConfig | str = "slowfast_tiny"
    task: dict = field(default_factory=dict)
    seed: int = 0
    train_clips: int = 4000
    val_clips: int = 500
    steps: int = 1200
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    shards: int = 1
    sync_bn: bool = False
    threads: int = 2
    out: str | None = None
    record: str | None = None
    test_seed: int = DEFAULT_TEST_SEED
    test_clips: int = 1000
    half_checkpoint: bool = False
    channels_last: bool = True
    bf16: bool = False
    weights: str | None = None
    progress: bool = True
    log_every: int = 25

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):  # a record's config read back from JSON
            self.model = SlowFastConfig(**self.model)
        self.model = get_config(self.model)

    def task_config(self) -> TaskConfig:
        return TaskConfig.for_model(self.model, **self.task)


@dataclass
class TrainResult:
    model: VideoNet
    record: dict


# ------------------------------------------------------------------------------------------------
# Distributed helpers
# ------------------------------------------------------------------------------------------------


def dist_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment (0, 1, 0 when not distributed)."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


# finetune's rank 0 validates alone after every epoch while the other processes wait in the
# next step's all-reduce; torch's default timeout (10 min for nccl) would kill a run whose
# validation takes longer. An hour covers long validations and still ends a
# run whose rank 0 died silently.
PROCESS_GROUP_TIMEOUT = timedelta(hours=1)


def _setup_distributed() -> tuple[int, int, torch.device, bool]:
    """Join the process group when launched by torchrun; returns (rank, world, device, created)."""
    rank, world, local_rank = dist_env()
    use_cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    created = False
    if world > 1 and not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(device)
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo", timeout=PROCESS_GROUP_TIMEOUT
        )
        created = True
    return rank, world, device, created


def _start_run(
    cfg, overwrite: bool, resume: bool, checkpoint_every: int
) -> tuple[int, int, torch.device, bool]:
    """The checks every run makes before training (`checkpoint_every`, `resume` needs `out`, no
    checkpoint or record replaced without `overwrite`), then `_setup_distributed`. `cfg` is a
    `TrainConfig` or a `finetune.FinetuneConfig`: both have `out`."""
    if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} must be an integer >= 0 (0: off)")
    if resume and not cfg.out:
        raise ValueError("resume needs the out path of the interrupted run (--out)")
    if dist_env()[0] == 0:  # before joining a process group: nothing to tear down on refusal
        check_outputs(cfg, overwrite, resume)
    return _setup_distributed()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn_worker(rank: int, world: int, port: int, cfg: TrainConfig, state_path: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
    )
    result = train(cfg)
    if rank == 0:
        torch.save({k: v.cpu() for k, v in result.model.state_dict().items()}, state_path)


def spawn_local(cfg: TrainConfig, nprocs: int = 2, state_path: str | None = None) -> dict:
    """Run `train(cfg)` in `nprocs` processes on this machine (gloo on 127.0.0.1, a free port),
    like `torchrun --nproc_per_node nprocs`; returns rank 0's final state_dict."""
    with tempfile.TemporaryDirectory() as tmp:
        path = state_path or os.path.join(tmp, "state.pt")
        mp.spawn(_spawn_worker, args=(nprocs, free_port(), cfg, path), nprocs=nprocs, join=True)
        return torch.load(path, weights_only=True)


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------


def _lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 0."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _global_batches(n: int, batch: int, seed: int):
    """Endless stream of global batches (index tensors), a fresh seeded permutation each epoch.

    Every process draws the same stream, so shards never overlap and never miss a clip.
    """
    if not 1 <= batch <= n:  # otherwise the loop below never yields: a silent hang
        raise ValueError(f"a batch of {batch} clips needs at least {batch} clips, got {n}")
    g = torch.Generator().manual_seed(seed)
    while True:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n - batch + 1, batch):
            yield perm[i : i + batch]


def machine_load() -> dict:
    """1-minute load average and core count, stored with every timing."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on Linux
        load = None
    return {"loadavg_1m": load, "cpu_count": os.cpu_count(), "threads": torch.get_num_threads()}


class TrainingError(RuntimeError):
    """A run that cannot go on (a NaN/Inf batch or loss); the message says where the last good
    state is and how to resume from it."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during `train`: `partial` holds the resumable state (None when there is no `out`)."""

    def __init__(self, message: str, step: int, partial: str | None):
        super().__init__(message)
        self.step, self.partial = step, partial


CHECKPOINT_SUFFIXES = (".pt", ".pth")
_RESUME_IGNORED = ("progress", "threads", "log_every")  # may change between a run and its resume
MAX_DATA_BYTES = 16 * 2**30  # rendered clips are kept in memory


class BrokenBatch(ValueError):
    """A training batch holds NaN/Inf values (found before the forward pass)."""


def batch_loss(
    net: torch.nn.Module,
    model: VideoNet,
    data: MotionShapesData,
    index: torch.Tensor,
    device: torch.device,
    channels_last: bool = False,
    bf16: bool = False,
) -> torch.Tensor:
    """The loss of the clips `index`, chosen by the head: cross-entropy over classes; binary
    cross-entropy with logits per action for "multilabel" (the clip's set of actions, Charades)
    and "detect" (every object's keyframe box and its actions, AVA: training uses the
    ground-truth boxes). `channels_last`: the clips in channels_last_3d memory format; `bf16`:
    the forward pass under bfloat16 autocast (weights, gradients and the loss stay float32).
    Raises BrokenBatch before the forward pass (which would update BN statistics) when the
    clips hold NaN/Inf."""
    boxes = None
    if model.config.head == "detect":
        slow, fast, boxes, targets = data.detection_batch(index)
        boxes = boxes.to(device)
    else:
        slow, fast, targets = data.batch(index)
    if not _finite(slow, fast):
        raise BrokenBatch(f"clips {index.tolist()[:8]}... hold NaN/Inf values")
    inputs = model_inputs(model, slow.to(device), fast.to(device))
    if channels_last:
        inputs = tuple(x.contiguous(memory_format=CHANNELS_LAST) for x in inputs)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = net(*inputs, boxes=boxes) if boxes is not None else net(*inputs)
    return loss_for(model.config)(logits.float(), targets.to(device))


def record_path_of(cfg: TrainConfig) -> str | None:
    """Where the JSON record goes: `cfg.record`, else the checkpoint's `<stem>.json`."""
    return cfg.record or (str(Path(cfg.out).with_suffix(".json")) if cfg.out else None)


def partial_path_of(cfg: TrainConfig) -> str | None:
    """The resumable state written during the run (`<out>.partial`), removed when it ends."""
    return f"{cfg.out}.partial" if cfg.out else None


def check_train_config(cfg: TrainConfig, data: MotionShapesData | None = None) -> None:
    """ValueError (ConfigError for model / task fields) for settings that cannot train, before any
    data is rendered: counts out of range, a batch larger than the data (which never yields a
    batch), unknown overrides, output names that would overwrite each other. `data`: the given
    training clips (`train(data=...)`), in place of `train_clips` clips of the task."""
    from .config import ConfigError
    from .synthetic import TaskConfig

    def count(name: str, least: int) -> None:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{name}={value!r} must be an integer >= {least} ({flag})")

    for name, least in (("steps", 1), ("batch_size", 1), ("train_clips", 1), ("val_clips", 0),
                        ("test_clips", 0), ("threads", 1), ("shards", 1), ("log_every", 1),
                        ("warmup_steps", 0)):  # fmt: skip
        count(name, least)
    if data is not None:
        _check_given_data(cfg, data)
    elif cfg.train_clips < cfg.batch_size:
        raise ValueError(
            f"train_clips={cfg.train_clips} is smaller than batch_size={cfg.batch_size}: every "
            f"step needs a full batch; use --train-clips >= {cfg.batch_size} or --batch-size <= "
            f"{cfg.train_clips}"
        )
    if not (isinstance(cfg.lr, (int, float)) and math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ValueError(f"lr={cfg.lr!r} must be a positive number (e.g. 3e-3)")
    if cfg.optimizer not in ("adamw", "sgd"):
        raise ValueError(f"optimizer={cfg.optimizer!r} must be 'adamw' or 'sgd'")
    fields = {f.name for f in dataclasses.fields(TaskConfig)} - {"T", "tau", "alpha"}
    unknown = sorted(set(cfg.task) - fields)
    if unknown:
        raise ConfigError(
            f"unknown task field(s) {unknown}; task fields are: {', '.join(sorted(fields))} "
            "(T, tau and alpha follow the model)"
        )
    for key, value in cfg.task.items():
        if key in ("kind", "fast_input"):
            continue  # words, checked by TaskConfig
        if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
            raise ConfigError(f"task field {key}={value!r} must be a number")
    try:
        task = cfg.task_config()  # also checks the model preset and its overrides
    except (TypeError, ValueError) as err:
        raise ConfigError(f"task {cfg.task}: {err}") from None
    head = cfg.model.head
    if task.multilabel != (head in ("multilabel", "detect")):
        fix = (
            "--set head=multilabel or --set head=detect"
            if task.multilabel
            else ("--task kind=scenes_multi (objects with sets of actions and boxes)")
        )
        raise ConfigError(
            f"a {head!r} head does not fit the {task.kind} task ("
            f"{'sets of actions' if task.multilabel else 'one class per clip'}): use {fix}"
        )
    if data is None and cfg.model.num_classes != len(task.classes):
        raise ConfigError(
            f"the {task.kind} task has {len(task.classes)} classes but the model's head has "
            f"num_classes={cfg.model.num_classes}: use --set num_classes={len(task.classes)}"
        )
    frame_bytes = task.T * task.alpha * task.size**2 * 3
    if frame_bytes * max(cfg.train_clips, cfg.val_clips, cfg.test_clips) > MAX_DATA_BYTES:
        raise ValueError(
            f"{max(cfg.train_clips, cfg.val_clips, cfg.test_clips)} clips of "
            f"{task.T * task.alpha} frames at {task.size}x{task.size} need more than "
            f"{MAX_DATA_BYTES / 2**30:.0f} GiB in memory: use fewer clips or a smaller task size"
        )
    if cfg.weights is not None and not Path(cfg.weights).is_file():
        raise FileNotFoundError(f"weights file {cfg.weights} not found")
    if cfg.out is not None:
        if Path(cfg.out).suffix.lower() not in CHECKPOINT_SUFFIXES:
            raise ValueError(
                f"out={cfg.out!r}: a checkpoint path must end in .pt or .pth (the JSON record is "
                f"written beside it as {Path(cfg.out).stem}.json)"
            )
        record = record_path_of(cfg)
        if record and Path(record).resolve() == Path(cfg.out).resolve():
            raise ValueError(f"the record {record} and the checkpoint {cfg.out} must differ")


def _check_given_data(cfg: TrainConfig, data: MotionShapesData) -> None:
    task = cfg.task_config()
    if not isinstance(data, MotionShapesData) or data.task.multilabel:
        raise ValueError("data must be a MotionShapesData of single-label clips (make_dataset)")
    if len(data) < cfg.batch_size:
        raise ValueError(
            f"the given data holds {len(data)} clips, fewer than batch_size={cfg.batch_size}"
        )
    if data.fast.shape[1:4] != (task.T * task.alpha, task.size, task.size):
        raise ValueError(
            f"the given clips are {tuple(data.fast.shape[1:4])} (frames, height, width); the "
            f"model and task need {(task.T * task.alpha, task.size, task.size)}"
        )
    if cfg.model.num_classes != len(task.classes) and (cfg.val_clips or cfg.test_clips):
        raise ValueError(
            f"a head of {cfg.model.num_classes} classes cannot be evaluated on the {task.kind} "
            f"splits ({len(task.classes)} classes): use val_clips=0, test_clips=0 and evaluate on "
            "clips of your own"
        )
    if int(data.labels.max()) >= cfg.model.num_classes or int(data.labels.min()) < 0:
        raise ValueError(
            f"the given clips' labels run to {int(data.labels.max())}, but the head has "
            f"num_classes={cfg.model.num_classes} outputs"
        )


def check_outputs(cfg: TrainConfig, overwrite: bool = False, resume: bool = False) -> None:
    """FileExistsError when the checkpoint or its record already exist (unless `overwrite`):
    a finished run is never replaced without being asked (the CLI's --force). Likewise a
    resumable state of an interrupted run, unless `resume` continues it."""
    if overwrite:
        return
    partial = partial_path_of(cfg)
    if partial and not resume and Path(partial).exists():
        raise FileExistsError(
            f"{partial} holds the state of an interrupted run: --resume to continue it, or --force "
            "to start afresh"
        )
    for what, path in (("checkpoint", cfg.out), ("record", record_path_of(cfg))):
        if path and Path(path).exists():
            raise FileExistsError(
                f"the {what} {path} already exists: choose another --out, or --force to replace it"
            )


def _atomic_json(obj: dict, path: str | os.PathLike) -> None:
    """Write JSON to a temporary file, then rename: a crash never leaves half a record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def _save_partial(
    path: str, cfg: TrainConfig, step: int, model, opt, extra: dict, world: int = 1
) -> None:
    """The state after `step` completed steps of a run of `world` processes, atomically
    (temporary file + os.replace)."""
    state = {
        "format": "slowfast_lab_partial",
        "config": json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
        "world_size": world,
        "step": step,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "rng": torch.get_rng_state(),
        **extra,
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def _launch(world: int) -> str:
    return "plain python" if world == 1 else f"torchrun --nproc_per_node {world}"


def _load_partial(
    path: str, cfg: TrainConfig, ignored: tuple[str, ...] = _RESUME_IGNORED, world: int = 1
) -> dict:
    """A partial state written by `_save_partial` for this same run (ValueError otherwise):
    every config field but `ignored` (which may change between a run and its resume) must match,
    and so must the number of processes `world` (each computes BatchNorm statistics over its own
    shard of the global batch: another count gives other weights)."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"nothing to resume: {path} does not exist (it is written every --checkpoint-every "
            "steps and on Ctrl-C, and removed when a run finishes)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged file: say which and what to do
        raise ValueError(f"{path} cannot be read ({err}); delete it to start afresh") from None
    if not isinstance(state, dict) or state.get("format") != "slowfast_lab_partial":
        raise ValueError(f"{path} is not a slowfast_lab partial training state")
    want = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    differ = sorted(k for k in want if k not in ignored and state["config"].get(k) != want[k])
    if differ:
        diffs = ", ".join(f"{k}: {state['config'].get(k)!r} -> {want[k]!r}" for k in differ)
        raise ValueError(
            f"{path} belongs to a run with other settings ({diffs}); resume with the same "
            "settings, or delete it to start afresh"
        )
    saved = state.get("world_size", world)  # partials written before it was stored: trusted
    if saved != world:
        raise ValueError(
            f"{path} was written by a run of {saved} process(es) ({_launch(saved)}), this one has "
            f"{world}: resume with {_launch(saved)} (-m slowfast_lab ... --resume), or delete it "
            "to start afresh"
        )
    return state


def data_fingerprint(data: MotionShapesData) -> dict:
    """A cheap summary of clips given to `train(data=...)`: their count, frame shape and sums of
    the labels and of every 997th value of the frames. A resume compares it, so that other clips
    of the same count are not trained on silently."""
    labels = data.labels.double().flatten()
    weights = torch.arange(1, len(labels) + 1, dtype=torch.float64)
    return {
        "clips": len(data),
        "shape": list(data.fast.shape),
        "labels": round(float((labels * weights).sum()), 3),
        "frames": round(float(data.fast.flatten()[::997].double().sum()), 3),
    }


def _finite(*tensors: torch.Tensor) -> bool:
    """NaN/Inf anywhere? One sum per tensor: cheap next to a training step."""
    return all(bool(torch.isfinite(t.float().sum())) for t in tensors)


class _StopOnCtrlC:
    """During the loop, the first Ctrl-C only sets a flag (the step finishes, its state is saved);
    a second one interrupts at once. Only in the main thread, where signals arrive."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> _StopOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _Steps:
    """The training step and its bookkeeping, shared by `train` and `finetune` (one copy, so the
    two cannot drift apart): learning rate, the shard loop, the all-reduce of the loss and of
    the Ctrl-C flag (every process stops after the same step), the NaN check before the
    optimiser, the finite-weights check before a resumable state is written (by rank 0), and
    the interruption messages.

        steps = _Steps(model, opt, world, rank, device, partial, write, base_lr, total)
        with steps.interruptible():
            for step in ...:
                steps.current = step
                value, stop = steps.step(losses_of_my_shards, lr, n_shards, f"step {step}")
                steps.after(step + 1, stop, checkpoint_every, f"step {step}")

    `write(done)` writes the resumable state after `done` steps (called on rank 0 only, when the
    run has an out path: `partial` is None otherwise); `saved` is the step of the state on disk
    (a resumed run starts with the one it was resumed from).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        opt: torch.optim.Optimizer,
        world: int,
        rank: int,
        device: torch.device,
        partial: str | None,
        write: Callable[[int], None],
        base_lr: float,
        total: int,
        saved: int | None = None,
    ) -> None:
        self.model, self.opt, self.world, self.rank, self.device = model, opt, world, rank, device
        self.partial, self.write, self.base_lr, self.total = partial, write, base_lr, total
        self.saved, self.current = saved, 0
        self.ctrl_c = _StopOnCtrlC()

    def where(self) -> str:
        """Where the last good state is (for error messages)."""
        if self.saved is None or not self.partial:
            return "no resumable state was saved" + ("" if self.partial else " (no --out)")
        return f"the last good state (step {self.saved}) is in {self.partial}: rerun with --resume"

    def step(
        self, shard_losses: Iterable[torch.Tensor], lr: float, shards: int, what: str
    ) -> tuple[float, bool]:
        """One optimiser step: backward of each loss of `shard_losses` (computed lazily, one
        shard at a time: a generator) divided by `shards`, then the global batch's mean loss and
        whether any process saw a Ctrl-C. Raises TrainingError before `opt.step` on a NaN/Inf
        loss. Returns (mean loss, stop)."""
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        step_loss = torch.zeros((), device=self.device)
        for loss in shard_losses:
            loss = loss / shards
            loss.backward()
            step_loss += loss.detach()
        flags = torch.stack(
            [step_loss, torch.tensor(float(self.ctrl_c.requested), device=self.device)]
        )
        if self.world > 1:  # the logged loss is the global batch's mean
            dist.all_reduce(flags)
            flags[0] /= self.world
        value, stop = float(flags[0]), bool(flags[1] > 0)
        if not math.isfinite(value):  # before the optimiser takes it
            raise TrainingError(
                f"{what}: the loss is {value}: training diverged (a new run with a lower --lr "
                f"than {self.base_lr:g} may help); {self.where()}"
            )
        self.opt.step()
        return value, stop

    def save(self, done: int) -> None:
        """The resumable state after `done` steps (rank 0 writes it), if the weights are finite."""
        if not _finite(*self.model.parameters()):
            raise TrainingError(
                f"step {done - 1}: the weights hold NaN/Inf after the update (a new run with a "
                f"lower --lr than {self.base_lr:g} may help); {self.where()}"
            )
        if self.rank == 0 and self.partial:
            self.write(done)
        self.saved = done

    def after(self, done: int, stop: bool, checkpoint_every: int) -> None:
        """After `done` steps: the periodic resumable state; on a Ctrl-C, the state and
        TrainingInterrupted."""
        if stop or (checkpoint_every and done % checkpoint_every == 0 and done < self.total):
            self.save(done)
        if stop:
            raise TrainingInterrupted(
                f"interrupted after step {done} of {self.total}; {self.where()}",
                done,
                self.partial,
            )

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """The loop's Ctrl-C handling: the first Ctrl-C stops after the step (`after` saves and
        raises), a second one (or one outside a step) raises TrainingInterrupted at once."""
        with self.ctrl_c:
            try:
                yield
            except KeyboardInterrupt as err:
                if isinstance(err, TrainingInterrupted):
                    raise
                raise TrainingInterrupted(
                    f"interrupted during step {self.current}; {self.where()}",
                    self.saved or 0,
                    self.partial,
                ) from None


def train(
    cfg: TrainConfig,
    command: str | None = None,
    *,
    overwrite: bool = True,
    resume: bool = False,
    checkpoint_every: int = 0,
    data: MotionShapesData | None = None,
) -> TrainResult:
    """Train a model on MotionShapes; under torchrun every process calls this (see module doc).

    Returns the trained (unwrapped) model in eval mode and the JSON record of the run.
    With `cfg.out`: `overwrite=False` refuses an existing checkpoint or record (the CLI's default);
    every `checkpoint_every` steps (and on Ctrl-C) the resumable state goes to `<out>.partial`
    (atomically), removed at the end; `resume=True` continues from it, giving the same weights as
    an uninterrupted run. A NaN/Inf batch or loss stops the run (`TrainingError`) before the
    optimiser or BN statistics take it; Ctrl-C raises `TrainingInterrupted` after the step.

    `data`: train on these clips instead of clips 0..train_clips-1 of split `seed` (e.g. a few
    classes of a split, labels renumbered, with a head of as many outputs: what `finetune` sees
    of the same clips written as videos). Validation and test splits stay the task's: give
    val_clips=0 and test_clips=0 and evaluate the returned model on clips of your own.
    """
    check_train_config(cfg, data)
    rank, world, device, created = _start_run(cfg, overwrite, resume, checkpoint_every)
    if cfg.shards > 1 and world > 1:
        raise ValueError("shards > 1 emulates DDP in one process; do not combine it with torchrun")
    parts = world * cfg.shards
    if cfg.batch_size % parts:
        raise ValueError(f"batch_size={cfg.batch_size} must divide into {parts} equal shards")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    torch.set_num_threads(max(1, cfg.threads // local_world))  # share the cores among processes
    torch.manual_seed(cfg.seed)  # the same initial weights and random stream in every process
    task = cfg.task_config()
    show = cfg.progress and rank == 0
    try:
        given = data is not None
        if not given:
            data = make_dataset(cfg.seed, cfg.train_clips, task, progress=show)
        model = build_model(cfg.model)
        if cfg.weights:
            load_weights(model, cfg.weights, load_head=False)
        model.to(device)
        if cfg.channels_last:
            model.to(memory_format=CHANNELS_LAST)
        net: torch.nn.Module = model
        if world > 1:
            if cfg.sync_bn and device.type == "cuda":
                net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
            net = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=[device.index] if device.type == "cuda" else None
            )
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(
                model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay
            )
        else:
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        batches = _global_batches(len(data), cfg.batch_size, cfg.seed)
        losses: list[tuple[int, float]] = []
        running, first, earlier = None, 0, 0.0
        partial = partial_path_of(cfg)
        saved_step = None  # the step of the last resumable state on disk
        if resume:
            state = _load_partial(partial, cfg, world=world)
            if given and state.get("data") != data_fingerprint(data):
                raise ValueError(
                    f"{partial} belongs to a run on other given clips ({state.get('data')} -> "
                    f"{data_fingerprint(data)}); resume with the same data, or delete it to "
                    "start afresh"
                )
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            if "cuda_rng" in state and torch.cuda.is_available():
                torch.cuda.set_rng_state(state["cuda_rng"])
            first, earlier, running = state["step"], state["elapsed"], state["running"]
            losses = [tuple(x) for x in state["losses"]]
            saved_step = first
            for _ in range(first):  # the same data order as an uninterrupted run
                next(batches)

        def write(done: int) -> None:
            extra = dict(losses=losses, running=running, elapsed=elapsed())
            if given:
                extra["data"] = fingerprint
            _save_partial(partial, cfg, done, model, opt, extra, world)

        def elapsed() -> float:
            return earlier + time.perf_counter() - t0

        fingerprint = data_fingerprint(data) if given else None
        steps = _Steps(
            model, opt, world, rank, device, partial, write, cfg.lr, cfg.steps, saved_step
        )

        def shard_losses(local: torch.Tensor, step: int):
            for shard in local.chunk(cfg.shards):
                try:
                    yield batch_loss(net, model, data, shard, device, cfg.channels_last, cfg.bf16)
                except BrokenBatch:
                    raise TrainingError(
                        f"step {step}: the training batch holds NaN/Inf values (clips "
                        f"{shard.tolist()[:8]}...): the data is broken; {steps.where()}"
                    ) from None

        t0 = time.perf_counter()
        net.train()
        bar = tqdm(
            range(first, cfg.steps), desc=f"train {cfg.model.pathways}", disable=not show,
            initial=first, total=cfg.steps,
        )  # fmt: skip
        with steps.interruptible():
            for step in bar:
                steps.current = step
                local = next(batches).chunk(world)[rank]
                value, stop = steps.step(
                    shard_losses(local, step), _lr_at(step, cfg), cfg.shards, f"step {step}"
                )
                running = value if running is None else 0.95 * running + 0.05 * value
                if step % cfg.log_every == 0 or step == cfg.steps - 1:
                    losses.append((step, round(value, 5)))
                    bar.set_postfix(loss=f"{running:.3f}")
                steps.after(step + 1, stop, checkpoint_every)
        bar.close()
        train_time = elapsed()
        model = model.eval()
        if cfg.half_checkpoint:  # evaluate exactly the weights the checkpoint will hold
            model.half().float()
        record = {
            "kind": "motionshapes_train",
            "command": command,
            "config": dataclasses.asdict(cfg),
            "model_config": dataclasses.asdict(model.config),
            "task": task.to_dict(),
            "world_size": world,
            "device": str(device),
            "train_time_s": round(train_time, 1),
            "train_clips_per_s": round(
                (cfg.steps - first) * cfg.batch_size / max(time.perf_counter() - t0, 1e-9), 1
            ),
            **({"resumed_from_step": first} if first else {}),
            **({"given_clips": len(data)} if given else {}),
            "loss_curve": losses,
            "machine": machine_load(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
        if rank == 0 and (cfg.val_clips or cfg.test_clips):
            if cfg.val_clips:
                val = evaluate(model, cfg.seed + 1, cfg.val_clips, task, progress=show)
                record["val"] = _summary(val)
            if cfg.test_clips:
                test = evaluate(model, cfg.test_seed, cfg.test_clips, task, progress=show)
                record["test"] = _summary(test)
                record["test_detail"] = test
        if rank == 0 and cfg.out:
            meta = {k: record[k] for k in ("command", "config", "task", "train_time_s", "machine")}
            meta.update(seed=cfg.seed, val=record.get("val"), test=record.get("test"))
            save_checkpoint(model.half() if cfg.half_checkpoint else model, cfg.out, meta)
            model.float()
            record["checkpoint"] = str(cfg.out)
        record_path = record_path_of(cfg)
        if rank == 0 and record_path:
            _atomic_json(record, record_path)
            record["record_path"] = record_path
        if rank == 0 and partial and Path(partial).exists():
            os.remove(partial)  # the run is complete: its checkpoint replaces the partial state
        return TrainResult(model.cpu(), record)
    finally:
        if created:
            dist.destroy_process_group()


def _summary(result: dict) -> dict:
    keys = ("seed", "clips", "accuracy", "groups", "metric", "map", "per_action", "protocol")
    return {k: result[k] for k in keys if k in result}


def write_json(obj: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, default=str) + "\n")
    return path


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------


def task_of(model: VideoNet) -> TaskConfig:
    """The MotionShapes settings a model was trained on (from its checkpoint meta), else defaults."""
    meta = getattr(model, "checkpoint_meta", None) or {}
    task = meta.get("task")
    if task:
        return TaskConfig(**task)
    return TaskConfig.for_model(model.config)


@torch.no_grad()
def predict_split(
    model: VideoNet,
    seed: int,
    clips: int,
    task: TaskConfig | None = None,
    batch_size: int = 50,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(predicted labels [M], true labels [M], seconds of model time) on split `seed`."""
    task = task or task_of(model)
    data = make_dataset(seed, clips, task, progress=progress)
    device = next(model.parameters()).device
    model.eval()
    preds, seconds = [], 0.0
    for i in tqdm(range(0, clips, batch_size), desc="evaluate", disable=not progress):
        slow, fast, _ = data.batch(slice(i, i + batch_size))
        inputs = model_inputs(model, slow.to(device), fast.to(device))
        t0 = time.perf_counter()
        preds.append(model(*inputs).argmax(1).cpu())
        seconds += time.perf_counter() - t0
    return torch.cat(preds), data.labels.clone(), seconds


def accuracy_report(
    preds: torch.Tensor, labels: torch.Tensor, task: TaskConfig | None = None
) -> dict:
    """Overall, per-group and per-class accuracy, and the confusion matrix (rows: true class).

    MotionShapes groups are subsets of classes (accuracy within each, and its chance level).
    Scenes "groups" are the two factors of every class: the share of clips whose prediction has
    the moving square's colour right (chance 1/3) and the direction right (chance 1/2)."""
    task = task or TaskConfig()
    names = task.class_names
    if len(preds) and int(preds.max()) >= len(names):
        raise ValueError(
            f"predicted class {int(preds.max())}, but the {task.kind} task has {len(names)} "
            f"classes: the model's head does not fit the task"
        )
    correct = preds == labels
    mean = lambda sel: round(float(sel.float().mean()), 4) if len(sel) else None  # noqa: E731
    if task.kind == "scenes":
        groups = {g: mean(hit) for g, hit in factor_hits(task, preds, labels).items()}
        chance = {"mover colour": round(1 / 3, 4), "direction": 0.5}
    else:
        groups, chance = {}, {}
        for g, members in group_labels().items():
            sel = torch.isin(labels, torch.tensor(members))
            groups[g] = mean(correct[sel]) if sel.any() else None
            chance[g] = round(1 / len(members), 4)
    per_class = {}
    for i, name in enumerate(names):
        sel = labels == i
        per_class[name] = mean(correct[sel]) if sel.any() else None
    confusion = torch.zeros(len(names), len(names), dtype=torch.long)
    confusion.index_put_((labels, preds), torch.ones_like(labels), accumulate=True)
    return {
        "accuracy": mean(correct),
        "groups": groups,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "chance_within_group": chance,
    }


def evaluate(
    model: VideoNet,
    seed: int = DEFAULT_TEST_SEED,
    clips: int = 500,
    task: TaskConfig | None = None,
    batch_size: int = 50,
    progress: bool = True,
) -> dict:
    """Accuracy of `model` on `clips` clips of split `seed` (a fresh split: any seed not trained on).

    {"accuracy", "groups": {"appearance", "motion", "appearance+motion"}, "per_class", "confusion",
     "seed", "clips", "ms_per_clip", "classes", "machine"}
    Multi-label and detection heads (scenes with actions) give mAPs instead, see
    `detect.evaluate_actions`: {"metric", "map", "per_action", "groups", ...}.
    """
    task = task or task_of(model)
    if model.config.head != "classify":
        from .detect import evaluate_actions  # mAPs: the metrics of Charades and AVA

        return evaluate_actions(model, seed, clips, task, batch_size, progress)
    preds, labels, seconds = predict_split(model, seed, clips, task, batch_size, progress)
    report = accuracy_report(preds, labels, task)
    report.update(
        seed=seed,
        clips=clips,
        ms_per_clip=round(1000 * seconds / clips, 3),
        classes=list(task.class_names),
        machine=machine_load(),
    )
    return report


def evaluate_checkpoint(
    path: str | os.PathLike, seed: int, clips: int, progress: bool = True
) -> dict:
    """Load one of our checkpoints and evaluate it on split `seed` with the task it was trained on."""
    model = load_model(path)
    result = evaluate(model, seed, clips, task_of(model), progress=progress)
    meta = model.checkpoint_meta
    result.update(
        checkpoint=str(path),
        model=model.config.pathways,
        recorded_test=meta.get("test"),
    )
    return result


def command_line() -> str:
    """The command that started this process, for records and checkpoint meta."""
    argv = sys.argv[:]
    if argv and argv[0].endswith("__main__.py"):
        argv = ["python", "-m", "slowfast_lab", *argv[1:]]
    return shlex.join(argv)


__all__ = [
    "CLASSES",
    "batch_loss",
    "GROUPS",
    "TrainConfig",
    "TrainResult",
    "accuracy_report",
    "dist_env",
    "evaluate",
    "evaluate_checkpoint",
    "spawn_local",
    "train",
]
