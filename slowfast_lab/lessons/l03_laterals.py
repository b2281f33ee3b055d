"""Lesson 03, lateral connections: where Fast feeds Slow, the paper's lateral types on real tensors
(time-to-channel, time-strided sampling, time-strided conv), their cost beside paper Table 5a,
what the MotionShapes comparison recorded for each, and the contract that lets any spatiotemporal
convnet be the Slow pathway (a toy (2+1)D stage fused through the library's lateral)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle
from torch import nn

from .. import paper
from ..complexity import complexity
from ..config import FUSIONS, SlowFastConfig, fusion_points, get_config, lateral_channels
from ..fusion import TimeStridedConv, build_lateral, time_to_channel
from ..interventions import intervention_table
from ..model import Stem, build_model, dummy_inputs
from ..results import (
    COMPARISON,
    SCENES_COMPARISON,
    SEED_COMPARISONS,
    lateral_runs,
    scenes_figure,
    seed_summary,
)
from ..synthetic import TaskConfig, pathway_indices, render_clip
from ..train import DEFAULT_TEST_SEED, task_of
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


# ------------------------------------------------------------------------------------------------
# The Slow pathway can be any spatiotemporal convnet: what the laterals need from a pathway
# ------------------------------------------------------------------------------------------------


class TwoPlusOneD(nn.Module):
    """A toy stage from another convnet family, (2+1)D as in R(2+1)D (Tran et al., CVPR 2018): a
    1x3^2 spatial conv, then a 3x1^2 temporal conv, each followed by BN and ReLU.

    [B, c_in, t, H, W] -> [B, c_out, t / temporal_stride, H / spatial_stride, W / spatial_stride].
    Nothing like the ResNet bottleneck of `model.py`; `temporal_stride` > 1 shrinks time, which
    breaks the contract of `pathway_contract`.
    """

    def __init__(
        self, c_in: int, c_out: int, spatial_stride: int = 1, temporal_stride: int = 1
    ) -> None:
        super().__init__()
        s, t = spatial_stride, temporal_stride
        self.spatial = nn.Conv3d(c_in, c_out, (1, 3, 3), (1, s, s), (0, 1, 1), bias=False)
        self.bn1 = nn.BatchNorm3d(c_out)
        self.temporal = nn.Conv3d(c_out, c_out, (3, 1, 1), (t, 1, 1), (1, 0, 0), bias=False)
        self.bn2 = nn.BatchNorm3d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.spatial(x)))
        return torch.relu(self.bn2(self.temporal(x)))


def pathway_contract(slow: torch.Tensor, fast: torch.Tensor, alpha: int) -> list[str]:
    """What a lateral needs at a fusion point, checked: an empty list when the two stage outputs fit.

    slow [B, C, T, H, W] from any Slow network, fast [B, beta C, alpha T, H, W]: both 5-D, the same
    batch and spatial size, and alpha times the frames in the Fast one. The channel counts are free
    (the next Slow stage must read C plus what the lateral adds).
    """
    problems = []
    if slow.dim() != 5 or fast.dim() != 5:
        return [f"need 5-D [B, C, T, H, W] tensors, got {list(slow.shape)} and {list(fast.shape)}"]
    if slow.shape[0] != fast.shape[0]:
        problems.append(f"batch sizes differ: Slow {slow.shape[0]}, Fast {fast.shape[0]}")
    if fast.shape[2] != alpha * slow.shape[2]:
        problems.append(
            f"Fast has {fast.shape[2]} frames, Slow {slow.shape[2]}: a lateral with stride "
            f"alpha={alpha} makes {fast.shape[2] // alpha} from the Fast ones, so Slow needs "
            f"{fast.shape[2] // alpha}"
        )
    if slow.shape[3:] != fast.shape[3:]:
        problems.append(
            f"spatial sizes differ: Slow {tuple(slow.shape[3:])}, Fast {tuple(fast.shape[3:])}"
        )
    return problems


def _shape_row(step: str, module: str, x: torch.Tensor) -> dict:
    return {"step": step, "module": module, "shape": list(x.shape), "paper": paper_shape(x.shape)}


@torch.no_grad()
def contract_demo(
    T: int = 4, alpha: int = 8, size: int = 64, slow_channels: int = 32, seed: int = 0
) -> list[dict]:
    """A Slow pathway that is not a ResNet, fused with the library's Fast stem through the library's
    T-conv lateral (fuse1), and the fused tensor going on into the next (toy) Slow stage.

    One row per step: what ran and the tensor it gave, [B, C, t, H, W] and {t, S^2, C}. With the
    defaults: Slow {4, 16^2, 32} + lateral {4, 16^2, 16} -> fused {4, 16^2, 48} -> {4, 16^2, 64}.
    """
    torch.manual_seed(seed)
    fast_channels = 8  # beta C of the library's R50 Fast stem
    slow_stage1 = TwoPlusOneD(3, slow_channels, spatial_stride=4).eval()  # stands in for stem+pool1
    fast_stem = Stem(fast_channels, temporal_kernel=5).eval()  # the library's Fast stem
    fuse1 = TimeStridedConv(fast_channels, alpha, kernel=5).eval()  # the library's T-conv lateral
    lateral_out = fast_channels * 2
    slow_stage2 = TwoPlusOneD(slow_channels + lateral_out, 2 * slow_channels).eval()

    slow_clip = torch.randn(1, 3, T, size, size)
    fast_clip = torch.randn(1, 3, alpha * T, size, size)
    s, f = slow_stage1(slow_clip), fast_stem(fast_clip)
    problems = pathway_contract(s, f, alpha)
    lateral = fuse1.transform(f)
    fused = fuse1(s, f)  # concatenate [slow, lateral] on channels, Slow first
    out = slow_stage2(fused)
    return [
        _shape_row("Slow clip", "-", slow_clip),
        _shape_row("Fast clip", "-", fast_clip),
        _shape_row("Slow stage 1", "TwoPlusOneD (toy, not a ResNet)", s),
        _shape_row("Fast stem", "model.Stem (library)", f),
        {
            "step": "contract",
            "module": "pathway_contract",
            "shape": "; ".join(problems) or "fits",
            "paper": "",
        },
        _shape_row("lateral fuse1", "fusion.TimeStridedConv (library)", lateral),
        _shape_row("fused Slow", "concat [Slow, lateral]", fused),
        _shape_row("Slow stage 2", "TwoPlusOneD reads C + 2 beta C", out),
    ]


@torch.no_grad()
def broken_contract(T: int = 4, alpha: int = 8, size: int = 64, seed: int = 0) -> list[str]:
    """The same toy Slow stage, but halving time (temporal stride 2): what `pathway_contract` says,
    and what torch says when the library's lateral tries to concatenate."""
    torch.manual_seed(seed)
    slow_stage = TwoPlusOneD(3, 32, spatial_stride=4, temporal_stride=2).eval()
    s = slow_stage(torch.randn(1, 3, T, size, size))
    f = Stem(8, temporal_kernel=5).eval()(torch.randn(1, 3, alpha * T, size, size))
    lines = [f"Slow stage output {list(s.shape)}, Fast stem output {list(f.shape)}"]
    lines += [f"contract: {p}" for p in pathway_contract(s, f, alpha)]
    try:
        TimeStridedConv(8, alpha, kernel=5).eval()(s, f)
        lines.append("torch: the concatenation worked")
    except RuntimeError as err:
        lines.append(f"torch: {str(err).splitlines()[0]}")
    return lines


CONTRACT_QUESTION = Question(
    "Your Slow pathway halves time inside res3 (a temporal stride of 2), so from res3 on it has T/2 "
    "frames. Which laterals break, and what could you change in them (not in the Fast pathway)?",
    "fuse3 and fuse4 (after res3 and res4): the T-conv lateral strides the Fast alpha T frames by "
    "alpha and gives T frames, but the Slow tensor now has T/2, so the concatenation fails. Give "
    "those two laterals a temporal stride of 2 alpha (the ratio of the two frame counts at that "
    "point), or let the Slow pathway keep its frames. fuse1 and fuse2 are unaffected.",
)


# ------------------------------------------------------------------------------------------------
# Where laterals are needed: MotionShapes scenes
# ------------------------------------------------------------------------------------------------


def scenes_clip(seed: int = DEFAULT_TEST_SEED, index: int = 0) -> dict:
    """One scenes clip as each pathway receives it: "slow" uint8 [T, H, W, 3] (RGB), "fast" uint8
    [alpha T, H, W] (gray, as the model's Fast input), their raw frame numbers, the class name and
    the mover's mask on every Fast frame, bool [alpha T, H, W]."""
    task = TaskConfig(kind="scenes")
    slow_idx, fast_idx = pathway_indices(task)
    clip = render_clip(seed, index, task, fast_idx)
    mover = clip.actions.index(clip.spec.motion)
    gray = np.round(clip.frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    step = task.alpha
    return {
        "slow": clip.frames[::step],
        "fast": gray.astype(np.uint8),
        "slow_indices": slow_idx,
        "fast_indices": fast_idx,
        "name": clip.spec.name,
        "mover_mask": clip.object_masks[mover],
    }


def scenes_clip_figure(clip: dict, fast_frames: int = 8) -> Figure:
    """The Slow pathway's RGB frames (every square in the same place: the circling one is aliased)
    above the first Fast frames in gray (three identical squares, one of them circling), the
    mover outlined in the Fast frames."""
    n = max(len(clip["slow"]), fast_frames)
    fig = Figure(figsize=(min(1.2 * n, 14), 3.1), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for c in range(n):
        for r in range(2):
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
        if c < len(clip["slow"]):
            axes[0][c].imshow(clip["slow"][c])
            axes[0][c].set_title(f"#{clip['slow_indices'][c]}", fontsize=8, color=SLOW_COLOR)
        else:
            axes[0][c].axis("off")
        if c < fast_frames:
            axes[1][c].imshow(clip["fast"][c], cmap="gray", vmin=0, vmax=255)
            axes[1][c].contour(clip["mover_mask"][c], levels=[0.5], colors=[FAST_COLOR])
            axes[1][c].set_title(f"#{clip['fast_indices'][c]}", fontsize=8, color=FAST_COLOR)
    axes[0][0].set_ylabel("Slow (RGB)", color=SLOW_COLOR)
    axes[1][0].set_ylabel("Fast (gray)", color=FAST_COLOR)
    fig.suptitle(
        f"class {clip['name']}: Slow sees the colours, nothing moves; Fast sees one square circle "
        "(outlined), not its colour",
        fontsize=9,
    )
    return fig


def scenes_rows(path=SCENES_COMPARISON) -> list[dict] | None:
    """The recorded scenes comparison, one row per model: mean accuracy (%) over the training
    seeds with its range, the per-seed values, the mover-colour and direction accuracy, the cost,
    and paper Table 5a's top-1 for the same lateral type; None when nothing is recorded."""
    path = Path(path)
    if not path.is_file():
        return None
    rows = []
    for r in seed_summary(json.loads(path.read_text())["rows"]):
        acc, g = r["accuracy"], r["groups"]
        paper_row = paper.TABLE_5A.get(r["fusion"]) if r["pathways"] == "slowfast" else None
        rows.append(
            {
                "model": r["name"],
                "overall %": round(100 * acc["mean"], 1),
                "range": f"{100 * acc['min']:.1f}-{100 * acc['max']:.1f}",
                "per seed": " / ".join(f"{100 * v:.1f}" for v in acc["values"]),
                "mover colour %": round(100 * g["mover colour"]["mean"], 1),
                "direction %": round(100 * g["direction"]["mean"], 1),
                "MMACs": round(r["macs"] / 1e6, 1),
                "paper 5a top-1": paper_row.top1 if paper_row else None,
            }
        )
    return rows


def scenes_comparison_figure(path=SCENES_COMPARISON) -> Figure | str:
    """The recorded scenes comparison as `results.scenes_figure` draws it (accuracy against
    multiply-adds, mean and range over seeds, beside paper Table 5a), or a note when absent."""
    path = Path(path)
    if not path.is_file():
        return f"no recorded scenes comparison ({path.name})"
    return scenes_figure(json.loads(path.read_text())["rows"])


def cut_lateral_rows(
    model: nn.Module, clips: int = 300, seed: int = DEFAULT_TEST_SEED
) -> list[dict]:
    """A trained scenes SlowFast with each lateral cut in turn (and all of them): accuracy (%)
    overall, on the mover's colour and on the direction, from `interventions.intervention_table`.
    A cut that drops the colour towards chance (1/3) marks a lateral the binding needed."""
    names = ["none", "cut_fuse1", "cut_fuse2", "cut_fuse3", "cut_fuse4", "cut_all"]
    task = task_of(model)  # the checkpoint's task; a model without one reads scenes clips
    if task.kind != "scenes":
        task = TaskConfig.for_model(model.config, kind="scenes")
    out = []
    for r in intervention_table(model, seed=seed, clips=clips, names=names, task=task):
        g = r["groups"]
        out.append(
            {
                "intervention": r["description"],
                "overall %": round(100 * r["accuracy"], 1),
                "mover colour %": round(100 * g["mover colour"], 1),
                "direction %": round(100 * g["direction"], 1),
            }
        )
    return out


SCENES_QUESTION = Question(
    "The SlowFast without laterals gets the direction right on every clip. Why is its colour "
    "accuracy near 33%, and what would it be with only two squares per clip?",
    "Its Fast pathway sees gray frames, in which the three squares look alike, so it knows the "
    "direction but not the colour; its Slow pathway sees the colours but no motion (aliased), and "
    "global pooling removes where each colour is. Meeting only in the head, the two halves cannot "
    "say which colour circled: a guess among the three colours, 1/3. With two squares: 1/2.",
    check=lambda s: "1/2" in s or "50" in s,
    solution="1/2",
)


# Questions (kept here, so that the notebook cell does not show the answer)

QUESTIONS: dict[str, Question] = {
    "slower_slow_stage": CONTRACT_QUESTION,
    "scenes_colour_guess": SCENES_QUESTION,
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
