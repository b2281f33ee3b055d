"""Lesson 04, Slow-only versus SlowFast on MotionShapes: per-group accuracy and confusion matrices
(the shipped checkpoints and the recorded comparison are read by `slowfast_lab.results`)."""

from __future__ import annotations

from matplotlib.figure import Figure

from .. import paper
from ..complexity import complexity
from ..synthetic import CLASSES
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
    ax.legend(fontsize=8, loc="upper right")
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
