"""Lesson 02, the two pathways: feature shapes {T, S^2, C} and {alpha T, S^2, beta C} per stage,
temporal kernels and strides, and where the multiply-adds go (counted and analytic)."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..complexity import complexity
from ..model import STAGES, build_model, dummy_inputs
from .common import FAST_COLOR, PART_COLORS, SLOW_COLOR, Question, rows_to_frame


@torch.no_grad()
def stage_shapes(model: nn.Module, crop: int = 64) -> dict[str, dict[str, tuple[int, ...]]]:
    """Shapes [N, C, t, H, W] of every stage's real output per pathway, from one hooked forward.

    {"pool1": {"slow": (1, 64, 4, 16, 16), "fast": (1, 8, 32, 16, 16)}, "res2": ...}
    """
    was_training = model.training
    model.eval()
    try:
        outputs = model.stage_outputs(*dummy_inputs(model, crop))
    finally:
        model.train(was_training)
    return {
        stage: {p: tuple(t.shape) for p, t in per.items()} for stage, per in outputs.items() if per
    }


def paper_shape(shape: tuple[int, ...]) -> str:
    """[N, C, t, H, W] in the paper's notation: (1, 64, 4, 56, 56) -> '{4, 56^2, 64}'."""
    _, c, t, h, w = shape
    space = f"{h}^2" if h == w else f"{h}x{w}"
    return f"{{{t}, {space}, {c}}}"


def shape_rows(shapes: dict[str, dict[str, tuple[int, ...]]]) -> list[dict]:
    """One row per stage: both pathways' shapes in paper notation and the Fast/Slow ratios.

    For the paper's models every row has frames ratio alpha and channels ratio beta.
    """
    rows = []
    for stage, per in shapes.items():
        row: dict = {"stage": stage}
        for p in ("slow", "fast"):
            if p in per:
                row[p] = paper_shape(per[p])
        if "slow" in per and "fast" in per:
            s, f = per["slow"], per["fast"]
            row["frames fast/slow"] = f[2] / s[2]
            row["channels fast/slow"] = f[1] / s[1]
        rows.append(row)
    return rows


def temporal_kernels(model: nn.Module) -> dict[str, dict[str, list[int]]]:
    """Temporal kernel size read from the built layers: the stem conv, and each block's first conv.

    {"slow": {"stem": [1], "res2": [1, 1, 1], ..., "res4": [3]*6, ...}, "fast": {"stem": [5], ...}}
    """
    out: dict[str, dict[str, list[int]]] = {}
    for p in ("slow", "fast"):
        pathway = getattr(model, p, None)
        if pathway is None:
            continue
        out[p] = {"stem": [pathway.stem.conv.conv.kernel_size[0]]}
        for stage in STAGES[1:]:
            out[p][stage] = [block.a.conv.kernel_size[0] for block in getattr(pathway, stage)]
    return out


def kernel_rows(kernels: dict[str, dict[str, list[int]]]) -> list[dict]:
    """One row per stage with each pathway's temporal kernel(s), e.g. '3' or '3 (6 of 23), then 1'."""

    def describe(ks: list[int]) -> str:
        first = ks[0]
        n = sum(1 for k in ks if k == first)
        if n == len(ks):
            return str(first)
        return f"{first} ({n} of {len(ks)} blocks), then {ks[n]}"

    return [
        {"stage": stage, **{p: describe(kernels[p][stage]) for p in kernels}} for stage in STAGES
    ]


def temporal_strides(model: nn.Module) -> dict[str, int]:
    """The largest temporal stride of any conv or pool layer in each pathway (1: time never shrinks)."""
    out = {}
    for p in ("slow", "fast"):
        pathway = getattr(model, p, None)
        if pathway is None:
            continue
        strides = [1]
        for m in pathway.modules():
            if isinstance(m, (nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d)):
                stride = m.stride if isinstance(m.stride, tuple) else (m.stride,) * 3
                strides.append(stride[0])
        out[p] = max(strides)
    return out


def part_of(module_name: str) -> str | None:
    """Which part a module belongs to: 'SlowFast.fast.res2.0.a.conv' -> 'fast', fuseK -> 'lateral'."""
    parts = module_name.split(".")
    if len(parts) < 2:
        return None
    top = parts[1]
    if top in ("slow", "fast", "head"):
        return top
    if top.startswith("fuse"):
        return "lateral"
    return None


def counted_macs_by_part(model: nn.Module, crop: int = 64) -> dict[str, int]:
    """Multiply-adds per part counted on a real forward with torch.utils.flop_counter (which counts
    2 flops per multiply-add, so its numbers are halved). Checks `complexity` independently."""
    return _counted(model, crop, by_stage=False)


def _counted(model: nn.Module, crop: int, by_stage: bool) -> dict[str, int]:
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(*dummy_inputs(model, crop))
    finally:
        model.train(was_training)
    totals: dict[str, int] = (
        {} if by_stage else dict.fromkeys(("slow", "fast", "lateral", "head"), 0)
    )
    # Leaf modules only (a Conv3d / Linear), so nothing is counted twice.
    leaves = {name for name, m in model.named_modules() if isinstance(m, (nn.Conv3d, nn.Linear))}
    prefix = type(model).__name__ + "."
    for name, counts in counter.get_flop_counts().items():
        if not (name.startswith(prefix) and name[len(prefix) :] in leaves):
            continue
        part = part_of(name)
        if part is None:
            continue
        key = part
        if by_stage and part in ("slow", "fast"):
            key = ".".join(name.split(".")[1:3])
        totals[key] = totals.get(key, 0) + int(sum(counts.values())) // 2
    return totals


def counted_macs_by_stage(model: nn.Module, crop: int = 64) -> dict[str, int]:
    """Like `counted_macs_by_part`, finer: {"slow.stem": .., "slow.res2": .., "fast.stem": ..,
    "lateral": .., "head": ..} (multiply-adds of one counted forward, flop counts halved)."""
    return _counted(model, crop, by_stage=True)


def stage_macs_rows(by_stage: dict[str, int]) -> list[dict]:
    """One row per stage: Slow and Fast multiply-adds (millions) and the Fast/Slow ratio."""
    rows = []
    for stage in STAGES:
        s, f = by_stage.get(f"slow.{stage}", 0), by_stage.get(f"fast.{stage}", 0)
        rows.append(
            {
                "stage": stage,
                "slow MMACs": s / 1e6,
                "fast MMACs": f / 1e6,
                "fast/slow": f / s if s else None,
            }
        )
    return rows


def compute_rows(analytic: dict[str, int], counted: dict[str, int] | None = None) -> list[dict]:
    """Per part: multiply-adds, share of the total, and (when given) the counted forward's number."""
    total = sum(analytic.values())
    rows = []
    for part, macs in analytic.items():
        row = {"part": part, "GFLOPs": macs / 1e9, "share": macs / total if total else 0.0}
        if counted is not None:
            row["counted GFLOPs"] = counted[part] / 1e9
            row["agree"] = counted[part] == macs
        rows.append(row)
    return rows


def fast_share_rows(
    preset: str = "slowfast_4x16_r50", beta_invs=(4, 6, 8, 12, 16, 32), crop: int = 256, **overrides
) -> list[dict]:
    """How the Fast pathway's cost falls with its channel ratio beta = 1/beta_inv.

    Most Fast layers have beta C inputs and beta C outputs, so their cost scales with beta^2:
    halving beta divides the Fast pathway's cost by nearly 4.
    """
    rows = []
    for b in beta_invs:
        c = complexity(preset, crop_size=crop, beta_inv=b, **overrides)
        rows.append(
            {
                "beta": f"1/{b}",
                "beta_inv": b,
                "total GFLOPs": c.macs / 1e9,
                "Fast GFLOPs": c.by_part["fast"] / 1e9,
                "Fast share": c.fast_share,
            }
        )
    return rows


def pathway_shapes_figure(shapes: dict[str, dict[str, tuple[int, ...]]]) -> Figure:
    """Frames, spatial size and channels of every stage's output, Slow against Fast.

    `shapes` from `stage_shapes` (measured on a real forward): [N, C, t, H, W] per pathway.
    """
    stages = list(shapes)
    fig = Figure(figsize=(11, 3.2), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = [("frames t", 2, False), ("spatial size S", 3, True), ("channels C", 1, True)]
    for ax, (title, dim, log) in zip(axes, panels, strict=True):
        for p, color, marker in (("slow", SLOW_COLOR, "s"), ("fast", FAST_COLOR, "o")):
            ys = [shapes[s][p][dim] for s in stages if p in shapes[s]]
            if not ys:
                continue
            ax.plot(stages[: len(ys)], ys, marker=marker, color=color, label=p)
            for x, y in zip(stages, ys, strict=False):
                ax.annotate(
                    str(y),
                    (x, y),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                    color=color,
                )
        if log:
            ax.set_yscale("log", base=2)
        ax.set_title(title)
        ax.margins(y=0.25)
    axes[0].legend()
    axes[0].set_ylim(bottom=0)
    fig.suptitle("measured stage outputs: {T, S^2, C} (Slow) and {alpha T, S^2, beta C} (Fast)")
    return fig


def temporal_kernel_figure(kernels: dict[str, dict[str, list[int]]]) -> Figure:
    """A grid of temporal kernel sizes per stage and pathway (from `temporal_kernels`)."""
    pathways = list(kernels)
    stages = list(next(iter(kernels.values())))
    grid = [[max(kernels[p][s]) for s in stages] for p in pathways]
    fig = Figure(figsize=(7, 1.1 + 0.6 * len(pathways)), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="Oranges", vmin=0, vmax=6, aspect="auto")
    for i, p in enumerate(pathways):
        for j, s in enumerate(stages):
            ks = kernels[p][s]
            label = f"{ks[0]}" if len(set(ks)) == 1 else f"{ks[0]} (x{ks.count(ks[0])}) / {ks[-1]}"
            ax.text(j, i, label, ha="center", va="center", fontsize=12)
    ax.set_xticks(range(len(stages)), stages)
    ax.set_yticks(range(len(pathways)), pathways)
    ax.set_title("temporal kernel size (stem conv; first conv of each block)", fontsize=10)
    return fig


def compute_breakdown_figure(rows: list[dict], title: str = "") -> Figure:
    """One stacked bar: where the multiply-adds go (rows from `compute_rows`)."""
    fig = Figure(figsize=(9, 1.8), layout="constrained")
    ax = fig.add_subplot()
    left = 0.0
    for row in rows:
        width = row["share"]
        ax.barh([0], [width], left=left, color=PART_COLORS.get(row["part"], "0.5"))
        if width > 0.04:
            ax.text(
                left + width / 2,
                0,
                f"{row['part']}\n{width:.1%}",
                ha="center",
                va="center",
                color="white",
                fontsize=10,
            )
        left += width
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel("share of the multiply-adds of one view")
    total = sum(r["GFLOPs"] for r in rows)
    ax.set_title(title or f"total {total:.1f} GFLOPs", fontsize=10)
    return fig


def fast_share_figure(rows: list[dict], highlight: int | None = None) -> Figure:
    """The Fast pathway's share of the compute against its channel ratio beta (rows from
    `fast_share_rows`); `highlight` marks one beta_inv."""
    fig = Figure(figsize=(7, 3.0), layout="constrained")
    ax = fig.add_subplot()
    xs = [r["beta_inv"] for r in rows]
    ys = [100 * r["Fast share"] for r in rows]
    ax.plot(xs, ys, marker="o", color=FAST_COLOR)
    for r, x, y in zip(rows, xs, ys, strict=True):
        ax.annotate(
            f"{y:.0f}%\n({r['Fast GFLOPs']:.1f} G)",
            (x, y),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
        if highlight == r["beta_inv"]:
            ax.scatter([x], [y], s=200, facecolors="none", edgecolors="k")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [r["beta"] for r in rows])
    ax.set_xlabel("beta (Fast channels / Slow channels)")
    ax.set_ylabel("Fast share of compute (%)")
    ax.margins(y=0.3)
    return fig


def stage_macs_figure(rows: list[dict], title: str = "") -> Figure:
    """Multiply-adds of each stage, Slow against Fast (rows from `stage_macs_rows`)."""
    fig = Figure(figsize=(9, 3.0), layout="constrained")
    ax = fig.add_subplot()
    xs = range(len(rows))
    for off, key, color in ((-0.2, "slow", SLOW_COLOR), (0.2, "fast", FAST_COLOR)):
        vals = [r[f"{key} MMACs"] for r in rows]
        ax.bar([x + off for x in xs], vals, width=0.4, color=color, label=key)
        for x, v in zip(xs, vals, strict=True):
            ax.annotate(
                f"{v:.0f}",
                (x + off, v),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    ax.set_xticks(list(xs), [r["stage"] for r in rows])
    ax.set_ylabel("millions of multiply-adds")
    ax.legend()
    ax.set_title(title or "compute per stage (counted on a real forward)", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# What the sliders redraw: one call per widget (the model is built for the slider values). Only
# slider parameters: `ipywidgets.interact` makes a control of every parameter.
# ------------------------------------------------------------------------------------------------

LESSON_MODEL = "slowfast_4x16_r50"


def shape_table(T: int, alpha: int, beta_inv: int, crop: int):
    """Per-stage feature shapes of `LESSON_MODEL` with the slider's T, alpha and beta, measured on a real
    forward at `crop`^2, as a table."""
    model = build_model(LESSON_MODEL, T=T, alpha=alpha, beta_inv=beta_inv)
    return rows_to_frame(shape_rows(stage_shapes(model, crop=crop)))


def kernel_figure(preset: str) -> Figure:
    """The temporal kernel grid of a preset, read from its layers."""
    return temporal_kernel_figure(temporal_kernels(build_model(preset)))


def beta_stage_macs_figure(beta_inv: int, crop: int) -> Figure:
    """Counted multiply-adds per stage, Slow against Fast, for one beta."""
    by_stage = counted_macs_by_stage(build_model(LESSON_MODEL, beta_inv=beta_inv), crop=crop)
    return stage_macs_figure(
        stage_macs_rows(by_stage), title=f"beta = 1/{beta_inv}, counted at {crop}^2"
    )


def alpha_beta_breakdown_figure(alpha: int, beta_inv: int) -> Figure:
    """Where the multiply-adds go (analytic, 256^2) for one alpha and beta, with the Fast share."""
    cost = complexity(LESSON_MODEL, alpha=alpha, beta_inv=beta_inv)
    return compute_breakdown_figure(
        compute_rows(cost.by_part),
        title=f"alpha={alpha}, beta=1/{beta_inv}: Fast share {cost.fast_share:.1%}",
    )


# ------------------------------------------------------------------------------------------------
# Questions (kept here, so that the notebook cell does not show the answer)

_SHARE_8X8 = 100 * complexity("slowfast_8x8_r50").fast_share  # percent of the multiply-adds

QUESTIONS: dict[str, Question] = {
    "fast_res5_frames": Question(
        "The 8x8 R50 model uses T=8 and alpha=4. How many frames does its Fast pathway's res5 "
        "output have?",
        "32 = alpha x T = 4 x 8. No layer downsamples time, so res5 has as many frames as the "
        "input (check it with the sliders: T=8, alpha=4).",
        check=lambda s: int(s) == 32,
        solution="32",
    ),
    "first_temporal_kernel": Question(
        "In which stage does the Slow pathway first use a temporal kernel larger than 1? (stem, "
        "res2, res3, res4 or res5)",
        "res4. The stem, res2 and res3 of the Slow pathway use temporal kernel 1; res4 and res5 "
        "use 3.",
        check=lambda s: s.lower().replace(" ", "") == "res4",
        solution="res4",
    ),
    "fast_share_8x8": Question(
        "The 8x8 R50 model (T=8, tau=8, alpha=4, beta=1/8) gives the Slow pathway twice the frames. "
        "What share of its compute (in %) does the Fast pathway take? Use sfl.complexity in a new "
        "cell.",
        f"About {_SHARE_8X8:.1f}%: sfl.complexity('slowfast_8x8_r50').fast_share. The Slow pathway "
        "doubled (8 frames) while the Fast pathway kept 32 frames (alpha 4 x T 8), so its share "
        "halved (the paper: about 10%).",
        check=lambda s: abs(float(s.rstrip("%")) - _SHARE_8X8) < 1.5,
        solution=f"{_SHARE_8X8:.1f}",
    ),
    "fast_stem_cost": Question(
        "Why does the Fast stem cost 5 times the Slow stem, when the Fast residual stages cost much "
        "less than the Slow ones?",
        "The stem reads 3 colour channels in both pathways, so beta shrinks only its output side "
        "(8 vs 64 channels: x1/8). The Fast stem runs on 8x the frames (x8) with a temporal kernel "
        "of 5 instead of 1 (x5): 1/8 x 8 x 5 = 5. A residual conv shrinks on both sides (x1/64), "
        "so 8x the frames still leaves it at 1/8 (more where the temporal kernel is 3 vs 1).",
    ),
    "m_cells": Question(
        "Which pathway plays the part of the M-cells, and which of its properties match them?",
        "The Fast pathway: a high frame rate (fast temporal changes) and few channels (little "
        "capacity for spatial detail), and it is the small part (about 20% of the compute at 4x16, "
        "like the 15-20% share of M-cells among ganglion cells, a loose analogy).",
    ),
}
