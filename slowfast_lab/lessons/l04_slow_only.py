"""Lesson 04, Slow-only versus SlowFast on MotionShapes: per-group accuracy and confusion matrices
(the shipped checkpoints and the recorded comparison are read by `slowfast_lab.results`)."""

from __future__ import annotations

import functools

from matplotlib.figure import Figure
from torch import nn

from .. import paper, results
from ..complexity import complexity
from ..interventions import INTERVENTIONS, run_intervention
from ..results import find_checkpoint
from ..synthetic import CLASSES
from ..train import DEFAULT_TEST_SEED
from ..weights import load_model
from .common import FAST_COLOR, LATERAL_COLOR, SLOW_COLOR, Question


def group_accuracy_rows(reports: dict[str, dict]) -> list[dict]:
    """Per model and MotionShapes group: accuracy and chance, from `train.evaluate` reports."""
    rows = []
    for name, rep in reports.items():
        chance = rep.get("chance_within_group", {})
        for group, acc in rep["groups"].items():
            rows.append(
                {"model": name, "group": group, "accuracy": acc, "chance": chance.get(group)}
            )
    return rows


def confusion_block(confusion, class_names, group: str) -> tuple[list[list[int]], list[str]]:
    """The confusion matrix restricted to one group's classes (rows: true, columns: predicted)."""
    idx = [i for i, c in enumerate(CLASSES) if c.group == group]
    return [[confusion[i][j] for j in idx] for i in idx], [class_names[i] for i in idx]


def group_accuracy_figure(rows: list[dict], title: str = "") -> Figure:
    """Accuracy per MotionShapes group, one bar per model, chance as a dashed line (rows from
    `group_accuracy_rows`)."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(models)
    palette = [SLOW_COLOR, LATERAL_COLOR, FAST_COLOR, "#9467bd", "#8c564b"]
    for m, model in enumerate(models):
        for g, group in enumerate(groups):
            r = next(r for r in rows if r["model"] == model and r["group"] == group)
            x = g - 0.4 + width * (m + 0.5)
            ax.bar(
                [x],
                [100 * r["accuracy"]],
                width=width * 0.95,
                color=palette[m % len(palette)],
                label=model if g == 0 else None,
            )
            ax.annotate(
                f"{100 * r['accuracy']:.0f}",
                (x, 100 * r["accuracy"]),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
            if r.get("chance") and m == 0:
                ax.hlines(
                    100 * r["chance"], g - 0.45, g + 0.45, colors="k", linestyles="--", linewidth=1
                )
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 110)
    # outside the axes: inside, it covers the 100% bars of the last group
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(
        title or "MotionShapes accuracy per group (dashed: chance within the group)", fontsize=10
    )
    return fig


def confusion_figure(confusion, class_names, title: str = "") -> Figure:
    """A confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    n = len(class_names)
    fig = Figure(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(confusion, cmap="Blues")
    top = max(max(row) for row in confusion) or 1
    for i in range(n):
        for j in range(n):
            v = confusion[i][j]
            if v:
                ax.text(
                    j,
                    i,
                    str(v),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > top / 2 else "black",
                )
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# Interventions: change what one pathway sees, or cut a lateral, and watch the predictions
# ------------------------------------------------------------------------------------------------

# Shipped models a learner can intervene on: (task, kind) of `results.find_checkpoint`.
INTERVENTION_MODELS: dict[str, tuple[str, str]] = {
    "MotionShapes SlowFast": ("motionshapes", "slowfast"),
    "MotionShapes Fast-only": ("motionshapes", "fast_only"),
    "scenes SlowFast (T-conv)": ("scenes", "slowfast"),
    "scenes SlowFast, no lateral": ("scenes", "slowfast_nolateral"),
}


# (label, name) pairs for a dropdown of every intervention.
INTERVENTION_CHOICES = [(iv.description, name) for name, iv in INTERVENTIONS.items()]


@functools.lru_cache(maxsize=8)
def shipped_model(name: str) -> nn.Module | None:
    """The shipped checkpoint behind `INTERVENTION_MODELS[name]` (loaded once), or None."""
    task, kind = INTERVENTION_MODELS[name]
    path = find_checkpoint(kind, task=task)
    return load_model(path).eval() if path else None


@functools.lru_cache(maxsize=64)
def intervention_result(name: str, intervention: str, clips: int) -> dict | None:
    """`interventions.run_intervention` on a shipped model and the test split (seed 1000),
    remembered so that moving a control back and forth does not recompute; None when the
    checkpoint is missing or the intervention does not apply to the model (say, a lateral cut on
    a model without laterals)."""
    model = shipped_model(name)
    if model is None or not INTERVENTIONS[intervention].applies_to(model):
        return None
    return run_intervention(model, intervention, seed=DEFAULT_TEST_SEED, clips=clips)


def intervention_rows(name: str, intervention: str, clips: int) -> list[dict]:
    """Accuracy (%) per group without and with the intervention, and how often a direction flipped
    or a mover was called still (rows for a table)."""
    rows = []
    for which in dict.fromkeys(("none", intervention)):
        r = intervention_result(name, which, clips)
        if r is None:
            continue
        row = {"intervention": INTERVENTIONS[which].description, "overall": r["accuracy"]}
        row.update(r["groups"])
        row["direction flipped"] = r["direction_flipped"]
        row["called still"] = r["called_still"]
        rows.append({k: (None if v is None else round(100 * v, 1)) if k != "intervention" else v
                     for k, v in row.items()})  # fmt: skip
    return rows


def intervention_view(name: str, intervention: str, clips: int) -> Figure:
    """One picture per choice: accuracy per group without (light) and with (dark) the
    intervention, and the confusion matrix under the intervention."""
    rows = intervention_rows(name, intervention, clips)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    bars, conf = fig.subplots(1, 2, width_ratios=[1, 1.1])
    result = intervention_result(name, intervention, clips)
    if result is None:
        bars.axis("off")
        conf.axis("off")
        why = "no shipped checkpoint" if shipped_model(name) is None else "does not apply"
        bars.text(0, 0.5, f"{name}: {INTERVENTIONS[intervention].description}: {why}")
        return fig
    keys = [k for k in rows[0] if k not in ("intervention", "direction flipped", "called still")]
    for i, (r, alpha) in enumerate(zip(rows, (0.45, 1.0), strict=False)):
        xs = [k + (0.2 if i else -0.2) * (len(rows) > 1) for k in range(len(keys))]
        bars.bar(xs, [r[k] for k in keys], width=0.38, color=LATERAL_COLOR, alpha=alpha,
                 label=r["intervention"])  # fmt: skip
    bars.set_xticks(range(len(keys)), keys, fontsize=8)
    bars.set_ylim(0, 105)
    bars.set_ylabel("accuracy (%)")
    bars.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    last = rows[-1]
    extra = [
        f"{k} {last[k]:.0f}%" for k in ("direction flipped", "called still") if last[k] is not None
    ]
    bars.set_title(f"{name}, {clips} test clips" + (f"\n({', '.join(extra)})" if extra else ""),
                   fontsize=9)  # fmt: skip
    names = result["classes"]
    n = len(names)
    conf.imshow(result["confusion"], cmap="Blues")
    for i in range(n):
        for j in range(n):
            if result["confusion"][i][j]:
                conf.text(j, i, result["confusion"][i][j], ha="center", va="center", fontsize=7)
    conf.set_xticks(range(n), names, rotation=60, ha="right", fontsize=7)
    conf.set_yticks(range(n), names, fontsize=7)
    conf.set_xlabel("predicted")
    conf.set_ylabel("true")
    conf.set_title(f"confusion with: {INTERVENTIONS[intervention].description}", fontsize=9)
    return fig


# What the lesson's controls show, and the short training run's result
# ------------------------------------------------------------------------------------------------


def confusion_view(reports: dict[str, dict], names: list[str], model: str, group: str) -> Figure:
    """The control's picture: `model`'s confusion matrix restricted to `group`'s classes
    (reports: {model name: `train.evaluate` report}; names: the class names)."""
    block, labels = confusion_block(reports[model]["confusion"], names, group)
    return confusion_figure(block, labels, title=f"{model}: {group}")


def comparison_view(rows: list[dict], group: str) -> Figure:
    """The control's picture: `results.accuracy_complexity_figure` of one group's accuracy, or of
    the overall accuracy for group "overall"."""
    return results.accuracy_complexity_figure(rows, group=None if group == "overall" else group)


def training_summary(record: dict) -> str:
    """A `train.train` record in words: what was trained, how long, the loss at the first and the
    last logged step, and, when the run was tested, the accuracy on its fresh test split overall
    and per group, beside chance (10 classes overall; within a group, 1 / its classes)."""
    cfg = record["config"]
    curve = record["loss_curve"]
    lines = [
        f"Trained {record['model_config']['pathways']} for {cfg['steps']} steps (batch "
        f"{cfg['batch_size']}, {cfg['train_clips']} clips of split {cfg['seed']}) in "
        f"{record['train_time_s']:.0f} s.",
    ]
    if curve:
        (s0, l0), (s1, l1) = curve[0], curve[-1]
        lines.append(f"Loss {l0:.3f} at step {s0} -> {l1:.3f} at step {s1}.")
    test = record.get("test_detail") or record.get("test")
    if not test:
        lines.append("Not tested (test_clips=0).")
        return "\n".join(lines)
    chance = test.get("chance_within_group", {})
    lines.append(
        f"Fresh test split (seed {test['seed']}, {test['clips']} clips, never trained on): "
        f"accuracy {test['accuracy']:.0%} (chance 10%)"
    )
    for group, acc in test["groups"].items():
        within = f" (chance within the group {chance[group]:.0%})" if group in chance else ""
        shown = "no clips" if acc is None else f"{acc:.0%}"
        lines.append(f"  {group:18s} {shown}{within}")
    return "\n".join(lines)


# Questions (kept here, so that the notebook cell does not show the answer)

# how much SlowFast 4x16 R50 adds over Slow-only 4x16 R50, in percent of the multiply-adds
_EXTRA = 100 * (complexity("slowfast_4x16_r50").macs / complexity("slow_4x16_r50").macs - 1)

QUESTIONS: dict[str, Question] = {
    "motion_chance": Question(
        "The motion group has 3 classes (L-still, L-cw, L-ccw). Which accuracy (in %) do you "
        "expect from a model that cannot see the motion at all?",
        "About 33%: chance among 3 classes. Slow-only lands there because, to it, the three "
        "classes look identical (the spin period equals tau).",
        check=lambda s: 30 <= float(s.rstrip("%")) <= 36,
        solution="33",
    ),
    "slowfast_extra_compute": Question(
        "By how many percent does SlowFast 4x16 R50 raise the compute over Slow-only 4x16 R50 "
        "(paper: 27.3 -> 36.1 GFLOPs)? Check it with sfl.complexity.",
        f"About {_EXTRA:.0f}%: 36.1 / 27.3 = 1.32, for +3.0 top-1 on Kinetics "
        f"({paper.MODELS['Slow-only 4x16 R50'].top1} -> {paper.MODELS['SlowFast 4x16 R50'].top1}).",
        check=lambda s: abs(float(s.rstrip("%")) - _EXTRA) < 3,
        solution=f"{_EXTRA:.0f}",
    ),
    "slow_only_fix": Question(
        "Could a Slow-only network fix the motion group by itself? Name one way, and its cost.",
        "Yes: sample more densely (smaller tau, more frames T), so the spin is no longer aliased. "
        "But every Slow layer then runs on more frames with all its channels: the cost grows "
        "linearly with T (the paper's Slow-only 8x8 costs 54.5 GFLOPs, more than SlowFast 4x16 at "
        f"36.1, and is less accurate: {paper.MODELS['Slow-only 8x8 R50'].top1} vs "
        f"{paper.MODELS['SlowFast 4x16 R50'].top1}). SlowFast gets the temporal resolution from a "
        "thin pathway instead.",
    ),
}
