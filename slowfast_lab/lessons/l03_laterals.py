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
from .common import FAST_COLOR, LATERAL_COLOR, SLOW_COLOR, Question, rows_to_frame
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
    axes[0].set_ylim(30, max(ours + paper) + 2)
    axes[0].set_ylabel("GFLOPs (one 256^2 view)")
    axes[0].legend(fontsize=8, loc="upper left")
    top1 = [r["Kinetics top-1 (paper)"] for r in rows]
    axes[1].bar(list(xs), top1, color=LATERAL_COLOR)
    axes[1].set_ylim(72, 76.5)
    axes[1].set_ylabel("Kinetics-400 top-1 (paper)")
    for x, v in zip(xs, top1, strict=True):
        axes[1].annotate(
            f"{v}", (x, v), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8
        )
    if has_ours:
        acc = [100 * r.get("MotionShapes accuracy (ours)", float("nan")) for r in rows]
        axes[2].bar(list(xs), acc, color=FAST_COLOR)
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


# ------------------------------------------------------------------------------------------------
# Questions (kept here, so that the notebook cell does not show the answer)

QUESTIONS: dict[str, Question] = {
    "slow_input_changes_fast": Question(
        "You change only the Slow pathway's input clip. Which stage outputs of the Fast pathway "
        "change? (name them, or answer 'none')",
        "None: the lateral connections go from Fast to Slow only, so the Fast pathway never sees "
        "the Slow input (the second column above is all zeros).",
        check=lambda s: s.lower() in ("none", "no", "0", "nothing", "no stage", "no stages"),
        solution="none",
    ),
    "fuse3_channels": Question(
        "In SlowFast 4x16 R50 (alpha=8, beta=1/8), the Slow res3 output has C=512 channels. How "
        "many channels does the T-conv lateral fuse3 add to it?",
        "128: the Fast res3 output has beta C = 64 channels and the time-strided convolution "
        "outputs 2 beta C = 128; the Slow res4 then reads 512 + 128 = 640 channels.",
        check=lambda s: int(s) == 128,
        solution="128",
    ),
    "time_to_channel_frame": Question(
        "With alpha=4, T=2 and 2 Fast channels: which Fast frame does output channel 6 hold at "
        "Slow frame t=1?",
        "Frame 6. Channel 6 = Fast channel 1 (6 // 4), offset k = 6 % 4 = 2; at Slow frame t it "
        "holds Fast frame t x alpha + k = 1 x 4 + 2 = 6.",
        check=lambda s: int(s.lstrip("fF")) == 6,
        solution="6",
    ),
    "t_sample_frames": Question(
        "T-sample hands the Slow pathway Fast frames 0, alpha, 2 alpha, ... With MotionShapes' "
        "tau = 8 and alpha = 4, which raw frames are those, and what pose does a spinning L have "
        "in them?",
        "Fast frame k is raw frame k * tau / alpha = 2k, so Fast frames 0, 4, 8, 12 are raw "
        "frames 0, 8, 16, 24: exactly the Slow pathway's own frames, where the L (one turn every "
        "8 raw frames) always shows the same pose. What T-sample passes on knows the direction "
        "only through the Fast pathway's temporal convolutions before the fusion point (kernel 5 "
        "in its stem, 3 in its blocks), which mix in the neighbouring frames. T-conv instead "
        "learns its own 5-frame filter at every fusion point.",
    ),
    "t_conv_extra_cost": Question(
        "T-conv adds 36.1 - 34.2 = 1.9 GFLOPs over 'no lateral', but the four lateral "
        "convolutions themselves cost only 0.5 GFLOPs. Where does the rest go?",
        "Into the Slow pathway: each concatenation widens the input of the next Slow stage "
        "(64+16=80, 256+64=320, 512+128=640, 1024+256=1280 channels), so the first block's 1x1 "
        "(or 3x1^2) conv and its projection shortcut read more channels. Compare the 'slow' part "
        "of sfl.complexity with fusion='t_conv' and fusion='none'.",
    ),
}
