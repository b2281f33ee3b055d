"""Lesson 02, the two pathways: feature shapes {T, S^2, C} and {alpha T, S^2, beta C} per stage,
temporal kernels and strides, and where the multiply-adds go (counted and analytic); what the Fast
pathway is fed (RGB, gray, time difference: paper Table 5c; no optical flow) and why time is not
treated like space (SlowFast against a Slow-only network at the Fast frame rate)."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .. import paper
from ..complexity import complexity
from ..config import get_config, pathway_spec
from ..model import STAGES, build_model, dummy_inputs
from ..paths import sample_path
from ..sampling import MEAN, STD, Clip, load_clip, to_model_input
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

    Most Fast layers have beta C inputs and beta C outputs, so their cost scales with beta^2,
    but the stem reads 3 RGB channels whatever beta is and shrinks only linearly: halving beta
    divides the pathway's cost by 2.5-3.1 (4x16 R50 at 256^2: 6.90 -> 2.50 G from 1/8 to 1/16;
    see `l05_explorer.fast_cost_by_beta`).
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


def share_label(share: float) -> str:
    """A share as the cost bar prints it: 0.191 -> '19.1%', 0.014 -> '1.4%', 3e-05 -> '<0.1%'."""
    return f"{share:.1%}" if share >= 0.0005 or share == 0 else "<0.1%"


def compute_breakdown_figure(rows: list[dict], title: str = "") -> Figure:
    """One stacked bar: where the multiply-adds go (rows from `compute_rows`). Wide slices are
    labelled inside; narrow ones (the laterals, the head) by a callout above or below the bar."""
    fig = Figure(figsize=(9, 2.3), layout="constrained")
    ax = fig.add_subplot()
    left = 0.0
    callouts = 0
    for row in rows:
        width = row["share"]
        ax.barh([0], [width], left=left, height=0.8, color=PART_COLORS.get(row["part"], "0.5"))
        label = f"{row['part']}\n{share_label(width)}"
        if width > 0.04:
            ax.text(
                left + width / 2, 0, label, ha="center", va="center", color="white", fontsize=10
            )
        else:  # too narrow to hold its label: point at it from outside, alternately above / below
            side = 1 if callouts % 2 == 0 else -1
            ax.annotate(
                label.replace("\n", " "),
                (left + width / 2, 0.4 * side),
                xytext=(left + width / 2 - 0.02 - 0.15 * (callouts // 2), 0.95 * side),
                ha="right",
                va="center",
                fontsize=9,
                arrowprops={"arrowstyle": "-", "color": "0.3", "linewidth": 0.8},
            )
            callouts += 1
        left += width
    ax.set_xlim(0, 1)
    ax.set_ylim(-1.25, 1.25)
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
# What the Fast pathway is fed (paper Table 5c): RGB, gray or time difference, never optical flow
# ------------------------------------------------------------------------------------------------

FAST_INPUTS = ("rgb", "gray", "timediff")
FAST_INPUT_LABELS = {
    "rgb": "RGB",
    "gray": "gray (luma on 3 channels)",
    "timediff": "time difference",
}


def sample_clip(T: int = 4, tau: int = 16, alpha: int = 8, start: int = 40) -> Clip:
    """The lesson's real footage (data_samples/bigbuckbunny_256p.mp4, 25 fps) sampled as 4x16:
    Slow [T, 256, 454, 3], Fast [alpha T, 256, 454, 3], uint8."""
    return load_clip(sample_path("bigbuckbunny_256p.mp4"), T, tau, alpha, start)


def fast_inputs(clip: Clip, size: int = 256) -> dict[str, torch.Tensor]:
    """What the Fast pathway receives for each input variant, exactly as `to_model_input` makes it:
    {"rgb": [3, alpha T, size, size], "gray": .., "timediff": ..}, normalised (mean 0.45, std 0.225).

    gray: luma repeated on 3 equal channels; timediff: x_t - x_{t-1} of the normalised frames,
    zero at t = 0. The shapes are the same for all three, so the network does not change.
    """
    return {kind: to_model_input(clip, size=size, fast_input=kind)[1][0] for kind in FAST_INPUTS}


def _shown(x: torch.Tensor, kind: str) -> tuple[torch.Tensor, dict]:
    """One normalised frame [3, H, W] as an image and its imshow options: RGB/gray back in [0, 1];
    a time difference as its mean over the channels on a diverging map (0 = white: nothing moved)."""
    if kind == "timediff":
        return x.mean(0), {"cmap": "RdBu_r"}
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1).permute(1, 2, 0), {}


def fast_input_figure(
    inputs: dict[str, torch.Tensor], frames: int = 6, fast_indices: list[int] | None = None
) -> Figure:
    """A grid: one row per Fast input variant (from `fast_inputs`), `frames` consecutive Fast frames
    from the middle of the clip (consecutive, so the time difference shows the motion between
    neighbours). `fast_indices` (the clip's raw frame numbers) label the columns."""
    kinds = list(inputs)
    t_fast = next(iter(inputs.values())).shape[1]
    first = max(0, t_fast // 2 - frames // 2)
    cols = list(range(first, min(t_fast, first + frames)))
    fig = Figure(figsize=(1.7 * len(cols) + 1.2, 1.8 * len(kinds)), layout="constrained")
    axes = fig.subplots(len(kinds), len(cols), squeeze=False)
    for i, kind in enumerate(kinds):
        if kind == "timediff":
            # One symmetric range per row (99th percentile of |change|), so 0 is white everywhere.
            vmax = float(inputs[kind][:, cols].mean(0).abs().quantile(0.99)) or 1.0
        for j, t in enumerate(cols):
            ax = axes[i][j]
            image, opts = _shown(inputs[kind][:, t], kind)
            if kind == "timediff":
                opts.update(vmin=-vmax, vmax=vmax)
            ax.imshow(image.numpy(), **opts)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                raw = f"raw {fast_indices[t]}" if fast_indices else ""
                ax.set_title(f"Fast frame {t}\n{raw}".strip(), fontsize=8)
            if j == 0:
                ax.set_ylabel(FAST_INPUT_LABELS.get(kind, kind), fontsize=9)
    fig.suptitle(
        "what the Fast pathway receives (paper Table 5c): colour, brightness only, or only what moved",
        fontsize=10,
    )
    return fig


def stem_macs(preset: str = "slowfast_4x16_r50", crop: int = 256, in_channels: int = 3) -> int:
    """Multiply-adds of the Fast pathway's stem conv (conv1: Tk x 7^2, stride 1,2^2) when its input
    has `in_channels` channels (3 RGB; 1 gray; 2 for an optical flow field x, y).

    Only the stem reads the input, so this is all that the input's channel count changes.
    """
    cfg = get_config(preset)
    spec = pathway_spec(cfg, "fast")
    side = (crop + 2 * 3 - 7) // 2 + 1  # conv1: kernel 7, padding 3, stride 2
    kernel = spec.stem_temporal_kernel * 7 * 7
    return cfg.fast_frames * side * side * spec.stem_channels * in_channels * kernel


def fast_input_cost_rows(preset: str = "slowfast_4x16_r50", crop: int = 256) -> list[dict]:
    """The paper's Table 5c (top-1, from `paper.TABLE_5C`) beside our count of each Fast input.

    gray as `to_model_input` feeds it (3 equal channels) costs exactly what RGB costs; a 1-channel
    stem computes the same function (weights summed over RGB) for a third of the stem's multiply-adds.
    Optical flow costs the network about what a 2-channel input costs, plus the flow itself, which
    nothing here counts. The paper's half-spatial Fast pathway has no config here (None).
    """
    total = complexity(preset, crop_size=crop).macs
    rgb_stem = stem_macs(preset, crop, 3)
    variants = [
        ("RGB", "rgb", 3, "colour and motion", ""),
        ("gray, as the library feeds it", "gray", 3, "brightness and motion", "luma x3"),
        ("gray, 1-channel stem", "gray", 1, "brightness and motion", "same function as luma x3"),
        ("time difference", "time difference", 3, "only what changed", "+1 subtraction/pixel"),
        ("optical flow (x, y)", "optical flow", 2, "motion only", "+ computing the flow"),
        ("RGB, half spatial", "half spatial", None, "colour and motion, coarser", "no config here"),
    ]
    rows = []
    for name, key, channels, keeps, note in variants:
        if channels is None:
            macs = stem = saving = None
        else:
            stem = stem_macs(preset, crop, channels) / 1e9
            saving = (rgb_stem - stem_macs(preset, crop, channels)) / 1e9
            macs = total / 1e9 - saving
        rows.append(
            {
                "Fast input": name,
                "channels in": channels,
                "keeps": keeps,
                "Fast stem GFLOPs": stem,
                "total GFLOPs": macs,
                "saved vs RGB": saving,
                "note": note,
                "paper top-1": paper.TABLE_5C[key].top1,
            }
        )
    return rows


def one_channel_conv(conv: nn.Conv3d) -> nn.Conv3d:
    """A conv reading 1 channel whose weights are `conv`'s summed over its input channels: on an
    input of equal channels (gray repeated) it gives exactly `conv`'s output."""
    out = nn.Conv3d(
        1,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        out.weight.copy_(conv.weight.sum(1, keepdim=True))
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


@torch.no_grad()
def gray_stem_check(conv: nn.Conv3d, gray: torch.Tensor) -> dict:
    """Run `conv` (a Fast stem conv) on gray input [3, t, H, W] (equal channels) and its 1-channel
    twin on one channel; the multiply-adds of both counted with torch.utils.flop_counter (halved).

    {"max |difference|": ~1e-6, "MACs 3 channels": m3, "MACs 1 channel": m3 / 3}
    """
    x = gray.unsqueeze(0).to(conv.weight.device, conv.weight.dtype)
    twin = one_channel_conv(conv).to(x.device)
    results = []
    for layer, inp in ((conv, x), (twin, x[:, :1])):
        counter = FlopCounterMode(display=False)
        with counter:
            y = layer(inp)
        results.append((y, counter.get_total_flops() // 2))
    (y3, m3), (y1, m1) = results
    return {
        "max |difference|": float((y3 - y1).abs().max()),
        "MACs 3 channels": m3,
        "MACs 1 channel": m1,
    }


GRAY_QUESTION = Question(
    "The gray Fast pathway scored 75.5 top-1 against 75.6 for RGB (paper Table 5c); the time "
    "difference 74.5 and optical flow 73.8. What does that say about what the Fast pathway uses, "
    "and why might precomputed flow not help?",
    "Colour hardly matters to the Fast pathway: brightness over time is enough, as for the M-cells. "
    "Flow is a fixed, hand-designed summary of motion computed before the network; the Fast pathway "
    "learns its own motion features from raw frames end to end, and with raw frames it still sees "
    "the appearance it needs to relate motion to objects. Removing information (flow, differences) "
    "cost accuracy; removing only colour cost 0.1.",
)


# ------------------------------------------------------------------------------------------------
# The time axis is special: a Slow-only network at the Fast frame rate against SlowFast
# ------------------------------------------------------------------------------------------------

# (name, preset, overrides): the paper's models, and a Slow-only network that sees every frame the
# Fast pathway sees (alpha T frames, stride tau / alpha) at full width everywhere.
TIME_AXIS_MODELS: tuple[tuple[str, str, dict], ...] = (
    ("Slow-only 4x16", "slow_4x16_r50", {}),
    ("Slow-only 8x8", "slow_8x8_r50", {}),
    ("SlowFast 4x16", "slowfast_4x16_r50", {}),
    ("SlowFast 8x8", "slowfast_8x8_r50", {}),
    ("Slow-only 16x4", "slow_8x8_r50", {"T": 16, "tau": 4, "alpha": 1}),
    ("Slow-only 32x2", "slow_8x8_r50", {"T": 32, "tau": 2, "alpha": 1}),
)


def time_axis_rows(crop: int = 256, reference: str = "SlowFast 8x8") -> list[dict]:
    """Cost of each network of `TIME_AXIS_MODELS` (our count, `complexity` at `crop`^2) beside the
    paper's top-1 and GFLOPs where `paper.MODELS` has the model (R50, Kinetics-400, 30 views).

    "frames x stride" is the highest frame rate in the network and "width there" the channels of the
    stem at that rate: SlowFast runs it in the thin Fast pathway (beta C = 8), Slow-only 32x2 at the
    full width (C = 64). "x reference" is the cost relative to `reference`.
    """
    costs = {
        name: complexity(preset, crop_size=crop, **kw) for name, preset, kw in TIME_AXIS_MODELS
    }
    ref = costs[reference].macs
    rows = []
    for name, c in costs.items():
        cfg = c.config
        fast = cfg.pathways == "slowfast"
        frames, stride = (cfg.fast_frames, cfg.tau // cfg.alpha) if fast else (cfg.T, cfg.tau)
        width = pathway_spec(cfg, "fast" if fast else "slow").stem_channels
        quoted = paper.MODELS.get(f"{name} R50")
        rows.append(
            {
                "model": name,
                "frames x stride": f"{frames} x {stride}",
                "width there": width,
                "GFLOPs": c.macs / 1e9,
                "params (M)": c.params / 1e6,
                f"x {reference}": c.macs / ref,
                "paper GFLOPs": quoted.gflops if quoted else None,
                "paper top-1": quoted.top1 if quoted else None,
                "source": quoted.source if quoted else "",
                "by_part": c.by_part,
            }
        )
    return rows


def time_axis_table(rows: list[dict]):
    """`time_axis_rows` as a table for the learner (without the per-part split)."""
    return rows_to_frame([{k: v for k, v in r.items() if k != "by_part"} for r in rows])


def time_axis_figure(rows: list[dict]) -> Figure:
    """One bar per network (rows from `time_axis_rows`): GFLOPs split into Slow, Fast, lateral and
    head, labelled with the paper's top-1 where it has the model."""
    fig = Figure(figsize=(9, 0.5 + 0.5 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    names = [r["model"] for r in rows]
    for y, r in enumerate(rows):
        left = 0.0
        for part, macs in r["by_part"].items():
            g = macs / 1e9
            ax.barh([y], [g], left=left, color=PART_COLORS[part], label=part if y == 0 else None)
            left += g
        top1 = f", top-1 {r['paper top-1']:.1f}" if r["paper top-1"] else ", not in the paper"
        ax.annotate(
            f"{r['GFLOPs']:.1f} G{top1}",
            (left, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.set_xlabel(
        "GFLOPs of one 256^2 view (our count); top-1: Kinetics-400 as quoted in slowfast_lab.paper"
    )
    ax.set_xlim(0, 1.45 * max(r["GFLOPs"] for r in rows))
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(
        "the same frame rate at full width (Slow-only 32x2) vs only a thin pathway at it (SlowFast)",
        fontsize=10,
    )
    return fig


TIME_AXIS_QUESTION = Question(
    "Slow-only 32x2 costs 4x Slow-only 8x8 (218 vs 54.5 GFLOPs), while SlowFast 8x8 costs only 21% "
    "more than Slow-only 8x8 (65.7 GFLOPs). Both Slow-only 32x2 and SlowFast 8x8 see 32 frames, 2 raw "
    "frames apart. Where does the difference come from?",
    "A layer's cost grows linearly with the frames it processes and with the square of its width. "
    "Slow-only 32x2 runs every layer at full width on all 32 frames: 4x the 8 frames of 8x8. "
    "SlowFast runs the 32 frames only in the Fast pathway, with 1/8 of the channels on both sides of "
    "each conv (1/64 of the cost per frame): its 32 frames cost what half a frame costs at full "
    "width (the stem, which reads 3 colour channels, costs more). The high frame rate gets its own "
    "thin pathway instead of the same treatment as space.",
)


# Questions (kept here, so that the notebook cell does not show the answer)

_SHARE_8X8 = 100 * complexity("slowfast_8x8_r50").fast_share  # percent of the multiply-adds

QUESTIONS: dict[str, Question] = {
    "gray_fast_input": GRAY_QUESTION,
    "time_like_space": TIME_AXIS_QUESTION,
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
        "halved. That is our count; the paper's statement is the general 'about 20% of the total "
        "computation'.",
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
