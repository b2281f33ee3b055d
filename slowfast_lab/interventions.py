"""Pathway interventions: change what one pathway sees, or cut one lateral, and watch the predictions.

Each intervention answers a question about a trained model on a MotionShapes split:

| intervention | what changes | what it tests |
|---|---|---|
| `reverse_fast` | the Fast frames play backwards (Slow untouched) | does the direction come from Fast? (cw <-> ccw) |
| `freeze_fast` | every Fast frame is the first one | does "moving" come from Fast? (spinners look still) |
| `shuffle_fast` | the Fast frames in a fixed random order | does Fast use the order of frames, not just their content? |
| `zero_slow` / `zero_fast` | that pathway's input is all zeros (the mean colour) | what does the other pathway know alone? |
| `cut_fuse1` .. `cut_fuse4` | one lateral adds nothing (zeros, same shapes) | at which stage does the Slow pathway need the Fast maps? |
| `cut_all` | every lateral adds nothing | the SlowFast network without laterals, same weights |

Input interventions are pure functions `(slow, fast) -> (slow, fast)` on model-ready tensors
[N, 3, T, H, W] and [N, 3, alpha T, H, W]; lateral cuts are context managers (forward hooks on
`fuseK`, removed on exit). `run_intervention` evaluates one on a split and returns predictions and
accuracies (overall, per group, how often the direction flipped, how often a
spinner was called still); `intervention_table` gives one row per intervention for a lesson.

    model = sfl.weights.load_model("data_samples/checkpoints/motionshapes_slowfast_tiny.pt")
    rows = intervention_table(model, seed=1000, clips=300)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from .model import SlowFast, VideoNet, model_inputs
from .synthetic import MotionShapesData, TaskConfig, make_dataset
from .train import accuracy_report, task_of

InputFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
LATERALS = ("fuse1", "fuse2", "fuse3", "fuse4")


# ------------------------------------------------------------------------------------------------
# Input interventions: pure functions on (slow, fast)
# ------------------------------------------------------------------------------------------------


def _check_pair(slow: torch.Tensor, fast: torch.Tensor) -> None:
    if slow.dim() != 5 or fast.dim() != 5:
        raise ValueError(
            f"slow and fast must be [N, 3, t, H, W] tensors, got shapes {list(slow.shape)} and "
            f"{list(fast.shape)}"
        )


def reverse_fast(slow: torch.Tensor, fast: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Fast frames in reverse order (a clockwise spin becomes counter-clockwise); Slow as is."""
    _check_pair(slow, fast)
    return slow, fast.flip(2)


def freeze_fast(
    slow: torch.Tensor, fast: torch.Tensor, frame: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every Fast frame replaced by Fast frame `frame`: the Fast pathway sees a still picture."""
    _check_pair(slow, fast)
    if not -fast.shape[2] <= frame < fast.shape[2]:
        raise ValueError(f"frame={frame} is not a Fast frame index (0..{fast.shape[2] - 1})")
    return slow, fast[:, :, frame : frame + 1].expand_as(fast).contiguous()


def shuffle_fast(
    slow: torch.Tensor, fast: torch.Tensor, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Fast frames in one fixed random order (`seed`), the same for every clip of the batch."""
    _check_pair(slow, fast)
    order = torch.randperm(fast.shape[2], generator=torch.Generator().manual_seed(seed))
    return slow, fast[:, :, order]


def zero_slow(slow: torch.Tensor, fast: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Slow input all zeros (after normalisation: the mean colour, no content)."""
    _check_pair(slow, fast)
    return torch.zeros_like(slow), fast


def zero_fast(slow: torch.Tensor, fast: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Fast input all zeros (after normalisation: the mean colour, no content)."""
    _check_pair(slow, fast)
    return slow, torch.zeros_like(fast)


# ------------------------------------------------------------------------------------------------
# Lateral cuts: forward hooks
# ------------------------------------------------------------------------------------------------


def _cut_hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    """Replace a lateral's output by the Slow feature plus zeros where the lateral added channels
    (concatenating types) or the Slow feature alone (summing types): shapes are kept."""
    slow = inputs[0]
    if output.shape[1] == slow.shape[1]:  # TtoC sum (or no lateral): slow + transform(fast)
        return slow
    cut = output.clone()
    cut[:, slow.shape[1] :] = 0
    return cut


@contextlib.contextmanager
def cut_laterals(model: VideoNet, *names: str) -> Iterator[VideoNet]:
    """Within the block, the laterals `names` (fuse1..fuse4; none given: all four) add nothing.

    with cut_laterals(model, "fuse2"):
        logits = model(slow, fast)
    """
    if not isinstance(model, SlowFast):
        raise ValueError(
            f"cut_laterals needs a SlowFast model (it has laterals); got {type(model).__name__} "
            f"with pathways={model.config.pathways!r}"
        )
    names = names or LATERALS
    unknown = [n for n in names if n not in LATERALS]
    if unknown:
        raise ValueError(f"unknown lateral(s) {unknown}; laterals are {LATERALS}")
    handles = [getattr(model, n).register_forward_hook(_cut_hook) for n in names]
    try:
        yield model
    finally:
        for h in handles:
            h.remove()


# ------------------------------------------------------------------------------------------------
# The catalogue and its evaluation
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intervention:
    """One intervention: an input function, or laterals to cut, and what it does in words."""

    name: str
    description: str
    inputs: InputFn | None = None
    cut: tuple[str, ...] = ()

    def applies_to(self, model: VideoNet) -> bool:
        """Whether it changes anything for this model (e.g. no laterals to cut in Slow-only)."""
        pathways = model.config.pathways
        if self.cut:
            return pathways == "slowfast" and model.config.fusion != "none"
        if self.name == "zero_slow":
            return pathways != "fast"
        if self.inputs is not None:  # every other input intervention acts on the Fast input
            return pathways != "slow"
        return True


INTERVENTIONS: dict[str, Intervention] = {
    i.name: i
    for i in (
        Intervention("none", "the clips as they are"),
        Intervention("reverse_fast", "Fast frames reversed", reverse_fast),
        Intervention("freeze_fast", "Fast frames all = the first", freeze_fast),
        Intervention("shuffle_fast", "Fast frames shuffled", shuffle_fast),
        Intervention("zero_slow", "Slow input zeroed", zero_slow),
        Intervention("zero_fast", "Fast input zeroed", zero_fast),
        *(Intervention(f"cut_{n}", f"lateral {n} cut", cut=(n,)) for n in LATERALS),
        Intervention("cut_all", "all laterals cut", cut=LATERALS),
    )
}


def _intervention(which: str | Intervention) -> Intervention:
    if isinstance(which, Intervention):
        return which
    if which not in INTERVENTIONS:
        raise ValueError(f"unknown intervention {which!r}; interventions are {list(INTERVENTIONS)}")
    return INTERVENTIONS[which]


@torch.no_grad()
def predict(
    model: VideoNet,
    data: MotionShapesData,
    intervention: str | Intervention = "none",
    batch_size: int = 50,
) -> torch.Tensor:
    """Predicted labels int64 [N] for every clip of `data` under `intervention` (model in eval)."""
    iv = _intervention(intervention)
    model.eval()
    device = next(model.parameters()).device
    cuts = cut_laterals(model, *iv.cut) if iv.cut else contextlib.nullcontext()
    preds = []
    with cuts:
        for i in range(0, len(data), batch_size):
            slow, fast, _ = data.batch(slice(i, i + batch_size))
            if iv.inputs is not None:
                slow, fast = iv.inputs(slow, fast)
            inputs = model_inputs(model, slow.to(device), fast.to(device))
            preds.append(model(*inputs).argmax(1).cpu())
    return torch.cat(preds)


def mirror_labels(task: TaskConfig | None = None) -> torch.Tensor:
    """int64 [classes]: for each class of the task (default MotionShapes), the class that differs
    only in direction (cw <-> ccw); -1 where there is none (still classes)."""
    classes = (task or TaskConfig()).classes
    swap = {"cw": "ccw", "ccw": "cw"}

    def key(c, motion):
        return (c.group, c.shape, c.texture, c.colour, motion)

    out = []
    for c in classes:
        match = [j for j, d in enumerate(classes) if key(d, d.motion) == key(c, swap.get(c.motion))]
        out.append(match[0] if match else -1)
    return torch.tensor(out, dtype=torch.long)


def intervention_report(
    preds: torch.Tensor, labels: torch.Tensor, task: TaskConfig | None = None
) -> dict:
    """`train.accuracy_report` plus what interventions change:

    "direction_flipped": among spinning clips, the share predicted as the same class with the
    other direction; "called_still": among spinning clips, the share predicted as a still class
    (None for scenes, which have no still class).
    """
    task = task or TaskConfig()
    report = accuracy_report(preds, labels, task)
    motions = [c.motion for c in task.classes]
    spinning = torch.tensor([motions[int(t)] != "still" for t in labels], dtype=torch.bool)
    mirror = mirror_labels(task)
    flipped = preds == mirror[labels]
    still = torch.tensor([motions[int(p)] == "still" for p in preds], dtype=torch.bool)
    has_still = "still" in motions
    report["direction_flipped"] = (
        round(float(flipped[spinning].float().mean()), 4) if spinning.any() else None
    )
    report["called_still"] = (
        round(float(still[spinning].float().mean()), 4) if spinning.any() and has_still else None
    )
    return report


def run_intervention(
    model: VideoNet,
    intervention: str | Intervention = "none",
    seed: int = 1000,
    clips: int = 300,
    task: TaskConfig | None = None,
    data: MotionShapesData | None = None,
) -> dict:
    """Evaluate `model` under one intervention on `clips` clips of split `seed` (or on `data`).

    Returns `intervention_report` (accuracy, groups, per_class, confusion,
    direction_flipped, called_still) plus "intervention", "preds" (list of ints), "labels",
    "classes".
    """
    iv = _intervention(intervention)
    task = task or task_of(model)
    data = data if data is not None else make_dataset(seed, clips, task, progress=False)
    preds = predict(model, data, iv)
    report = intervention_report(preds, data.labels, data.task)
    report.update(
        intervention=iv.name,
        description=iv.description,
        preds=preds.tolist(),
        labels=data.labels.tolist(),
        classes=list(data.task.class_names),
        seed=data.seed,
        clips=len(data),
    )
    return report


def intervention_table(
    model: VideoNet,
    seed: int = 1000,
    clips: int = 300,
    names: list[str] | tuple[str, ...] | None = None,
    task: TaskConfig | None = None,
) -> list[dict]:
    """One row per intervention that applies to `model` (default: all of `INTERVENTIONS`), for a
    lesson table: intervention, description, accuracy, groups, direction_flipped,
    called_still, confusion (rows: true class), classes."""
    task = task or task_of(model)
    data = make_dataset(seed, clips, task, progress=False)
    rows = []
    for name in names or INTERVENTIONS:
        iv = _intervention(name)
        if not iv.applies_to(model):
            continue
        r = run_intervention(model, iv, task=task, data=data)
        keys = ("intervention", "description", "accuracy", "groups",
                "direction_flipped", "called_still", "confusion", "classes")  # fmt: skip
        rows.append({k: r[k] for k in keys})
    return rows


def table_markdown(rows: list[dict]) -> str:
    """`intervention_table` rows as a Markdown table (accuracies in %)."""
    groups = list(rows[0]["groups"]) if rows else []
    head = ["intervention", "accuracy", *groups]
    head += ["direction flipped", "called still"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def pct(v: float | None) -> str:
        return "" if v is None else f"{100 * v:.1f}"

    for r in rows:
        cells = [r["intervention"], pct(r["accuracy"])]
        cells += [pct(r["groups"][g]) for g in groups]
        cells += [pct(r["direction_flipped"]), pct(r["called_still"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "INTERVENTIONS",
    "LATERALS",
    "Intervention",
    "cut_laterals",
    "freeze_fast",
    "intervention_report",
    "intervention_table",
    "mirror_labels",
    "predict",
    "reverse_fast",
    "run_intervention",
    "shuffle_fast",
    "table_markdown",
    "zero_fast",
    "zero_slow",
]
