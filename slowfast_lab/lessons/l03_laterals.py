"""Lesson 03, lateral connections: where Fast feeds Slow, the paper's lateral types on real tensors
(time-to-channel, time-strided sampling, time-strided conv), their cost beside paper Table 5a,
and what the MotionShapes comparison recorded for each."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle
from torch import nn

from .. import paper
from ..complexity import complexity
from ..config import FUSIONS, SlowFastConfig, fusion_points, get_config, lateral_channels
from ..fusion import build_lateral, time_to_channel
from ..model import build_model, dummy_inputs
from ..results import COMPARISON, SEED_COMPARISONS, lateral_runs
from .common import FAST_COLOR, LATERAL_COLOR, SLOW_COLOR, rows_to_frame
from .l02_two_pathways import paper_shape

FUSION_NAMES = {
    "none": "no lateral",
    "ttoc_sum": "time-to-channel, sum",
    "ttoc_concat": "time-to-channel, concat",
    "t_sample": "time-strided sampling",
    "t_conv": "time-strided conv",
}


def fusion_point_rows(
    preset: str | SlowFastConfig = "slowfast_4x16_r50", **overrides
) -> list[dict]:
    """Where the laterals attach and what they carry: one row per fusion point fuse1..fuse4.

    For 4x16 R50 with T-conv the next Slow stage receives 64+16=80, 256+64=320, 512+128=640 and
    1024+256=1280 channels.
    """
    cfg = get_config(preset, **overrides)
    after = ("pool1", "res2", "res3", "res4")
    rows = []
    for (name, c_slow, c_fast), where in zip(fusion_points(cfg), after, strict=True):
        added = lateral_channels(cfg, c_fast)
        rows.append(
            {
                "lateral": name,
                "after": where,
                "Slow channels C": c_slow,
                "Fast channels beta C": c_fast,
                "channels added": added,
                "next Slow stage reads": c_slow + added,
            }
        )
    return rows


@torch.no_grad()
def lateral_rows(
    preset: str | SlowFastConfig = "slowfast_4x16_r50",
    point: int = 0,
    spatial: int = 8,
    seed: int = 0,
    **overrides,
) -> list[dict]:
    """Each fusion type applied to real tensors at one fusion point (0: fuse1 after pool1 .. 3).

    A random Fast feature [1, beta C, alpha T, s, s] goes through the lateral's `transform`; the
    result is fused onto a Slow feature [1, C, T, s, s]. Rows give the shapes in paper notation
    and the channels the Slow pathway's next stage receives.
    """
    cfg = get_config(preset, **overrides)
    name, c_slow, c_fast = fusion_points(cfg)[point]
    g = torch.Generator().manual_seed(seed)
    slow = torch.randn(1, c_slow, cfg.T, spatial, spatial, generator=g)
    fast = torch.randn(1, c_fast, cfg.fast_frames, spatial, spatial, generator=g)
    rows = []
    for fusion in FUSIONS:
        lateral = build_lateral(cfg.replace(fusion=fusion), c_slow, c_fast).eval()
        lat = lateral.transform(fast)
        fused = lateral(slow, fast)
        rows.append(
            {
                "fusion": fusion,
                "name": FUSION_NAMES[fusion],
                "point": name,
                "fast in": paper_shape(tuple(fast.shape)),
                "lateral": paper_shape(tuple(lat.shape)) if lat.shape[1] else "-",
                "slow in": paper_shape(tuple(slow.shape)),
                "fused slow": paper_shape(tuple(fused.shape)),
                "channels added": fused.shape[1] - c_slow,
                "lateral params": sum(p.numel() for p in lateral.parameters()),
            }
        )
    return rows


def time_to_channel_layout(alpha: int = 4, T: int = 2, channels: int = 2) -> torch.Tensor:
    """Which Fast frame each value comes from after time-to-channel: an int array [alpha*C, T].

    Built by sending a Fast tensor whose every value is its own frame number through the real
    `time_to_channel`: entry [c*alpha + k, t] is frame t*alpha + k (of Fast channel c).
    """
    frames = torch.arange(alpha * T).view(1, 1, alpha * T, 1, 1).expand(1, channels, -1, 1, 1)
    return time_to_channel(frames.contiguous(), alpha)[0, :, :, 0, 0].numpy()


def fusion_cost_rows(
    preset: str = "slowfast_4x16_r50", crop: int = 256, accuracy: dict[str, float] | None = None
) -> list[dict]:
    """Each fusion type's cost from `complexity`, beside the paper's Table 5a (and, when given, our
    accuracy per fusion on MotionShapes)."""
    rows = []
    for fusion in FUSIONS:
        c = complexity(preset, crop_size=crop, fusion=fusion)
        top1, gflops = paper.TABLE_5A[fusion].top1, paper.TABLE_5A[fusion].gflops
        row = {
            "fusion": fusion,
            "name": FUSION_NAMES[fusion],
            "GFLOPs (ours)": round(c.macs / 1e9, 2),
            "GFLOPs (paper)": gflops,
            "lateral GFLOPs": round(c.by_part["lateral"] / 1e9, 2),
            "params (M)": round(c.params / 1e6, 2),
            "Kinetics top-1 (paper)": top1,
        }
        if accuracy is not None and fusion in accuracy:
            row["MotionShapes accuracy (ours)"] = accuracy[fusion]
        rows.append(row)
    return rows


@torch.no_grad()
def pathway_influence(model: nn.Module, crop: int = 64, seed: int = 0) -> list[dict]:
    """Does changing one pathway's input change the other pathway's features? Per stage.

    Runs the model on a random clip, then again with only the Slow input changed, then with only
    the Fast input changed, and reports the largest change of each pathway's stage outputs.
    With Fast->Slow laterals, a Fast change reaches the Slow features from the first fusion on,
    while a Slow change never reaches the Fast features (the connections are unidirectional).
    """
    model.eval()
    g = torch.Generator().manual_seed(seed)
    slow, fast = (torch.randn(x.shape, generator=g) for x in dummy_inputs(model, crop))
    base = model.stage_outputs(slow, fast)
    slow_changed = model.stage_outputs(torch.randn(slow.shape, generator=g), fast)
    fast_changed = model.stage_outputs(slow, torch.randn(fast.shape, generator=g))

    def delta(other, stage, p):
        return float((other[stage][p] - base[stage][p]).abs().max())

    return [
        {
            "stage": stage,
            "slow change -> slow": delta(slow_changed, stage, "slow"),
            "slow change -> fast": delta(slow_changed, stage, "fast"),
            "fast change -> slow": delta(fast_changed, stage, "slow"),
            "fast change -> fast": delta(fast_changed, stage, "fast"),
        }
        for stage in base
    ]


def slow_loss_gradients(
    fusion: str = "t_conv", preset: str = "slowfast_tiny", crop: int = 32, seed: int = 0
) -> dict:
    """Gradients flow back through the laterals: Slow -> Fast in the backward pass.

    Builds `preset` with the lateral type `fusion`, runs a training step's forward on a random
    batch of 2 clips, and takes a loss on the Slow pathway's output only: cross-entropy of the
    head's Slow half (the classifier's weights for the Slow features, applied to the pooled Slow
    res5 output {T, (S/32)^2, C} -> [N, C]). Nothing of the Fast pathway's own output enters the
    loss. Returns the gradient norm on each part's weights (None for laterals without weights):
    {"lateral type": fusion, "Slow weights": .., "lateral weights": .., "Fast weights": ..}.

    The Fast weights get a gradient whenever a lateral joins the pathways (with T-conv, T-sample,
    TtoC: they learn what helps the Slow pathway); with fusion="none" it is exactly 0.0.
    """
    torch.manual_seed(seed)  # the weights
    model = build_model(preset, fusion=fusion).train()
    slow, fast = dummy_inputs(model, crop, batch=2, seed=seed)
    slow_out, _fast_out = model.backbone(slow, fast)
    pooled = slow_out.mean(dim=(2, 3, 4))  # [N, C]: what the head reads from the Slow pathway
    fc = model.head.fc
    logits = nn.functional.linear(pooled, fc.weight[:, : pooled.shape[1]], fc.bias)
    labels = torch.arange(len(logits)) % logits.shape[1]
    loss = nn.functional.cross_entropy(logits, labels)
    parts = {
        "Slow weights": list(model.slow.parameters()),
        "lateral weights": [
            p for k in range(1, 5) for p in getattr(model, f"fuse{k}").parameters()
        ],
        "Fast weights": list(model.fast.parameters()),
    }
    every = [p for params in parts.values() for p in params]
    found = torch.autograd.grad(loss, every, allow_unused=True)
    grads = dict(zip(map(id, every), found, strict=True))

    def norm(params: list) -> float | None:
        if not params:
            return None  # a lateral without weights (T-sample, TtoC)
        # a None gradient: no path from the loss to this weight at all, i.e. exactly 0
        found = [grads[id(p)] for p in params if grads[id(p)] is not None]
        return float(torch.sqrt(sum(g.pow(2).sum() for g in found))) if found else 0.0

    return {"lateral type": fusion, **{name: norm(params) for name, params in parts.items()}}


def gradient_rows(fusions=FUSIONS, **kwargs) -> list[dict]:
    """`slow_loss_gradients` for each lateral type, one row each, as a table shows them: the
    lateral's name, and "no weights" where the lateral has none."""
    rows = []
    for fusion in fusions:
        row = slow_loss_gradients(fusion, **kwargs)
        row["lateral type"] = f"{FUSION_NAMES[fusion]} ({fusion})"
        rows.append({k: "no weights" if v is None else v for k, v in row.items()})
    return rows


def fusion_group_rows(rows: list[dict] | None) -> list[dict] | None:
    """Per lateral type (default beta): MotionShapes test accuracy (%) per group and on each class
    of the motion group, from the comparison rows. The motion classes show *what* a model missed:
    L-still right but L-cw / L-ccw near 50% means it sees that the L spins, not which way."""
    out = []
    for r in lateral_runs(rows):
        row = {"lateral": FUSION_NAMES[r["fusion"]], "overall": round(100 * r["accuracy"], 1)}
        row.update({g: round(100 * a, 1) for g, a in r["groups"].items()})
        if r.get("per_class"):  # older tables have groups only
            row.update({c: round(100 * r["per_class"][c], 1) for c in ("L-still", "L-cw", "L-ccw")})
        out.append(row)
    return out or None


def lateral_seed_rows(paths=(COMPARISON, *SEED_COMPARISONS)) -> list[dict] | None:
    """Overall MotionShapes accuracy (%) per lateral type (default beta) and training seed, from
    `compare` tables trained with different `--seed`; None when none is recorded.

    One row per lateral type: {"lateral": name, "seed 0": %, "seed 1": %, ...}.
    """
    table: dict[str, dict] = {}
    for path in map(Path, paths):
        if not path.is_file():
            continue
        payload = json.loads(path.read_text())
        seed = payload["base_config"]["seed"]
        for row in fusion_group_rows(payload["rows"]) or []:
            table.setdefault(row["lateral"], {})[f"seed {seed}"] = row["overall"]
    return [{"lateral": name, **by_seed} for name, by_seed in table.items()] or None


def _parse_shape(text: str) -> tuple[int, int]:
    """'{4, 8^2, 80}' -> (frames 4, channels 80)."""
    t, _, c = text.strip("{}").split(", ")
    return int(t), int(c)


def lateral_shapes_figure(rows: list[dict]) -> Figure:
    """Each fusion as boxes: Fast feature -> lateral tensor -> fused Slow feature.

    Box width is frames, height is channels (same scale everywhere); in the fused Slow box the
    original Slow channels are blue and the ones the lateral added are green. Rows from
    `lateral_rows`.
    """
    fig = Figure(figsize=(11, 1.7 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    biggest = max(_parse_shape(r["fused slow"])[1] for r in rows)
    biggest = max([biggest] + [_parse_shape(r["fast in"])[1] for r in rows])
    h_scale = 1.0 / biggest
    for ax, row in zip(axes, rows, strict=True):
        ft, fc = _parse_shape(row["fast in"])
        st, sc = _parse_shape(row["slow in"])
        x = 0.0
        w_scale = 1.0 / ft * 4.0  # the Fast box is 4 units wide
        boxes = [(ft, fc, FAST_COLOR, f"Fast in\n{row['fast in']}")]
        if row["lateral"] != "-":
            lt, lc = _parse_shape(row["lateral"])
            boxes.append((lt, lc, LATERAL_COLOR, f"lateral\n{row['lateral']}"))
        for t, c, color, label in boxes:
            ax.add_patch(Rectangle((x, 0), t * w_scale, c * h_scale, color=color, alpha=0.8))
            ax.text(x + t * w_scale / 2, -0.08, label, ha="center", va="top", fontsize=8)
            x_end = x + t * w_scale
            ax.add_patch(
                FancyArrowPatch(
                    (x_end + 0.1, 0.3), (x_end + 0.9, 0.3), arrowstyle="->", mutation_scale=12
                )
            )
            x = x_end + 1.0
        # fused Slow: original channels, then the added ones on top
        added = row["channels added"]
        ax.add_patch(Rectangle((x, 0), st * w_scale, sc * h_scale, color=SLOW_COLOR, alpha=0.8))
        if added:
            ax.add_patch(
                Rectangle(
                    (x, sc * h_scale), st * w_scale, added * h_scale, color=LATERAL_COLOR, alpha=0.8
                )
            )
        op = (
            "sum"
            if row["fusion"] == "ttoc_sum"
            else ("no fusion" if row["fusion"] == "none" else "concat")
        )
        ax.text(
            x + st * w_scale / 2,
            -0.08,
            f"fused Slow ({op})\n{row['fused slow']}",
            ha="center",
            va="top",
            fontsize=8,
        )
        ax.set_xlim(-0.2, 9)
        ax.set_ylim(-0.45, 1.05)
        ax.axis("off")
        ax.set_title(f"{row['name']} ({row['fusion']})", loc="left", fontsize=10)
    fig.suptitle(f"at {rows[0]['point']}: box width = frames, height = channels", fontsize=11)
    return fig


def ttoc_layout_figure(layout) -> Figure:
    """Time-to-channel as a table: each output (channel, Slow frame) cell names the Fast frame it
    holds (layout from `time_to_channel_layout`)."""
    rows, cols = layout.shape
    fig = Figure(figsize=(1.2 + 0.9 * cols, 0.8 + 0.35 * rows), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(layout, cmap="Oranges", aspect="auto")
    for i in range(rows):
        for j in range(cols):
            ax.text(j, i, f"f{int(layout[i, j])}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(cols), [f"t={j}" for j in range(cols)])
    ax.set_yticks(range(rows), [f"ch {i}" for i in range(rows)])
    ax.set_xlabel("Slow frame")
    ax.set_title("time-to-channel: which Fast frame fills each channel", fontsize=10)
    return fig


def fusion_cost_figure(rows: list[dict]) -> Figure:
    """GFLOPs of each fusion type (ours and the paper's Table 5a) and the paper's top-1; our
    MotionShapes accuracy too when the rows carry it (from `fusion_cost_rows`)."""
    has_ours = any("MotionShapes accuracy (ours)" in r for r in rows)
    fig = Figure(figsize=(11, 3.3), layout="constrained")
    axes = fig.subplots(1, 3 if has_ours else 2)
    names = [r["fusion"] for r in rows]
    xs = range(len(rows))
    ours = [r["GFLOPs (ours)"] for r in rows]
    paper = [r["GFLOPs (paper)"] for r in rows]
    axes[0].bar([x - 0.2 for x in xs], ours, width=0.4, label="complexity()", color=SLOW_COLOR)
    axes[0].bar([x + 0.2 for x in xs], paper, width=0.4, label="paper Table 5a", color="0.6")
    for x, v in zip(xs, ours, strict=True):
        axes[0].annotate(
            f"{v:.1f}",
            (x - 0.2, v),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    # Every axis starts at 0: a bar's length is its value (a cut axis would turn the paper's
    # 73.5 vs 75.6 into a bar twice as long as the other).
    axes[0].set_ylim(0, max(ours + paper) * 1.35)  # room for the legend above the bars
    axes[0].set_ylabel("GFLOPs (one 256^2 view)")
    axes[0].legend(fontsize=8, loc="upper center", ncol=2)
    top1 = [r["Kinetics top-1 (paper)"] for r in rows]
    axes[1].bar(list(xs), top1, color=LATERAL_COLOR)
    axes[1].set_ylim(0, 100)
    axes[1].set_ylabel("Kinetics-400 top-1 % (paper)")
    for x, v in zip(xs, top1, strict=True):
        axes[1].annotate(
            f"{v}", (x, v), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8
        )
    if has_ours:
        acc = [100 * r.get("MotionShapes accuracy (ours)", float("nan")) for r in rows]
        axes[2].bar(list(xs), acc, color=FAST_COLOR)
        axes[2].set_ylim(0, 105)
        axes[2].set_ylabel("MotionShapes accuracy % (ours)")
        for x, v in zip(xs, acc, strict=True):
            if not math.isnan(v):
                axes[2].annotate(
                    f"{v:.0f}",
                    (x, v),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                )
    for ax in axes:
        ax.set_xticks(list(xs), names, rotation=20, fontsize=8)
    fig.suptitle("lateral connection types, SlowFast 4x16 R50", fontsize=11)
    return fig


def influence_figure(rows: list[dict]) -> Figure:
    """Heatmap of how far each pathway's stage outputs move when one input changes (rows from
    `pathway_influence`): a zero column means no information flows that way."""
    cols = [k for k in rows[0] if k != "stage"]
    grid = [[r[c] for c in cols] for r in rows]
    fig = Figure(figsize=(8, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="Greens", aspect="auto")
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax.text(
                j, i, "0" if r[c] == 0 else f"{r[c]:.2f}", ha="center", va="center", fontsize=10
            )
    ax.set_xticks(range(len(cols)), cols, fontsize=9)
    ax.set_yticks(range(len(rows)), [r["stage"] for r in rows])
    ax.set_title("largest change of each stage output when one input changes", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# What the sliders redraw: one call per widget. Only slider parameters: `ipywidgets.interact`
# makes a control of every parameter.
# ------------------------------------------------------------------------------------------------

LESSON_MODEL = "slowfast_4x16_r50"  # the paper's model of Table 5a
SMALL_MODEL = "slowfast_tiny"  # built on every slider move


def influence_for(fusion: str) -> Figure:
    """`influence_figure` of a fresh `SMALL_MODEL` with the lateral type `fusion`."""
    return influence_figure(pathway_influence(build_model(SMALL_MODEL, fusion=fusion)))


def lateral_figure(point: int, alpha: int, beta_inv: int) -> Figure:
    """Every lateral type's shapes at fusion point `point` for the slider's alpha and beta
    (on a 4x4 patch: the shapes, not the pixels, are the point)."""
    rows = lateral_rows(LESSON_MODEL, point=point, spatial=4, alpha=alpha, beta_inv=beta_inv)
    return lateral_shapes_figure(rows)


def ttoc_figure(alpha: int, T: int) -> Figure:
    """The time-to-channel layout for the slider's alpha and T, with 2 Fast channels."""
    return ttoc_layout_figure(time_to_channel_layout(alpha=alpha, T=T, channels=2))


def fusion_cost_table(beta_inv: int):
    """Each lateral type's cost (beside paper Table 5a) at another beta, as a table."""
    return rows_to_frame(fusion_cost_rows(get_config(LESSON_MODEL, beta_inv=beta_inv)))
