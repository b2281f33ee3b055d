"""Figures for the lessons: matplotlib for static pictures, plotly where hovering helps.

Every function takes plain data made by a pure function elsewhere in the library (mostly
`slowfast_lab.explain`) and returns a figure; nothing here computes what it shows. matplotlib
figures are built with `matplotlib.figure.Figure` (not pyplot), so they are shown exactly once:
a lesson cell ends with the figure, or a widget callback calls `display(fig)`.
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

SLOW_COLOR = "#1f77b4"  # blue, as the paper's Figure 1 Slow pathway
FAST_COLOR = "#ff7f0e"  # orange
LATERAL_COLOR = "#2ca02c"
PART_COLORS = {"slow": SLOW_COLOR, "fast": FAST_COLOR, "lateral": LATERAL_COLOR, "head": "#7f7f7f"}


# ------------------------------------------------------------------------------------------------
# MotionShapes comparison: accuracy against complexity, in the style of the paper's Figure 2
# ------------------------------------------------------------------------------------------------

# Paper (Kinetics-400, from scratch, 30 views): (name, GFLOPs per view, top-1 %).
PAPER_FIGURE2_POINTS = (
    ("Fast-only 4x16 R50", 6.4, 51.7),
    ("Slow-only 4x16 R50", 27.3, 72.6),
    ("SlowFast 4x16 R50", 36.1, 75.6),
    ("Slow-only 8x8 R50", 54.5, 74.7),
    ("SlowFast 8x8 R50", 65.7, 77.0),
    ("SlowFast 8x8 R101", 127.2, 77.9),
    ("SlowFast 16x8 R101", 213.0, 78.9),
)


def accuracy_complexity_figure(rows: list[dict], group: str | None = None) -> Figure:
    """Accuracy against multiply-adds: our MotionShapes runs (left) and the paper's Kinetics-400
    points (right), Slow-only -> SlowFast arrows as in the paper's Figure 2.

    `rows` are `train.compare` rows (name, pathways, macs, accuracy, groups); `group` plots one
    group's accuracy instead of the overall one.
    """
    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ours, paper = fig.subplots(1, 2)
    colors = {"slow": SLOW_COLOR, "fast": FAST_COLOR, "slowfast": LATERAL_COLOR}
    by_name = {}
    for i, r in enumerate(rows, 1):
        acc = 100 * (r["groups"][group] if group else r["accuracy"])
        x = r["macs"] / 1e6
        # Points often coincide (several variants at 100%): number them, name them in the legend,
        # and move each number clear of the numbers already drawn at the same spot.
        near = sum(abs(x - x0) < 2 and abs(acc - a0) < 1.5 for x0, a0 in by_name.values())
        by_name[r["name"]] = (x, acc)
        color = colors.get(r.get("pathways"), "0.4")
        ours.scatter(x, acc, s=60, color=color, zorder=3, label=f"{i}  {r['name']}")
        ours.annotate(str(i), (x, acc), xytext=(5, 2 - 9 * near), textcoords="offset points",
                      fontsize=8)  # fmt: skip
    if rows:
        ours.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    slow = [r for r in rows if r.get("pathways") == "slow"]
    best = [r for r in rows if r.get("pathways") == "slowfast"]
    if slow and best:
        default = next((r for r in best if "T-conv (beta 1/4)" in r["name"]), best[0])
        ours.annotate(
            "", by_name[default["name"]], by_name[slow[0]["name"]],
            arrowprops={"arrowstyle": "->", "color": "0.3"},
        )  # fmt: skip
    ours.set_xlabel("multiply-adds per clip (millions)")
    ours.set_ylabel(f"{group or 'overall'} accuracy (%)")
    ours.set_title("MotionShapes (ours, tiny models)")
    ours.grid(alpha=0.3)
    pts = {name: (g, a) for name, g, a in PAPER_FIGURE2_POINTS}
    for name, (g, a) in pts.items():
        kind = (
            "slow" if name.startswith("Slow-only") else "fast" if "Fast" in name[:4] else "slowfast"
        )
        paper.scatter(g, a, s=60, color=colors[kind], zorder=3)
        paper.annotate(name, (g, a), xytext=(4, -10), textcoords="offset points", fontsize=7)
    for s, f in (
        ("Slow-only 4x16 R50", "SlowFast 4x16 R50"),
        ("Slow-only 8x8 R50", "SlowFast 8x8 R50"),
    ):
        paper.annotate("", pts[f], pts[s], arrowprops={"arrowstyle": "->", "color": "0.3"})
    paper.set_xlabel("GFLOPs per view (multiply-adds x 1e9)")
    paper.set_ylabel("Kinetics-400 top-1 (%)")
    paper.set_title("Paper (Kinetics-400, for contrast)")
    paper.grid(alpha=0.3)
    return fig


# ------------------------------------------------------------------------------------------------
# Lesson 01: temporal sampling
# ------------------------------------------------------------------------------------------------


def sampling_timeline_figure(timeline, num_video_frames: int | None = None) -> Figure:
    """Raw frames along time, with the frames the Slow (blue) and Fast (orange) pathways take.

    `timeline` is an `explain.Timeline`; a second axis gives the time in seconds.
    """
    tl = timeline
    end = num_video_frames or (tl.start + tl.raw_frames)
    fig = Figure(figsize=(10, 2.6), layout="constrained")
    ax = fig.add_subplot()
    ax.vlines(range(end), 0, 0.2, color="0.8", linewidth=0.8, label="raw frames (not used)")
    ax.axvspan(tl.start - 0.5, tl.start + tl.raw_frames - 0.5, color="0.93", zorder=0)
    ax.scatter(tl.fast, [0.5] * len(tl.fast), color=FAST_COLOR, marker="|", s=300, linewidths=2)
    ax.scatter(tl.slow, [1.0] * len(tl.slow), color=SLOW_COLOR, marker="s", s=80)
    for i in tl.slow:
        ax.annotate(str(i), (i, 1.0), xytext=(0, 8), textcoords="offset points", ha="center")
    ax.set_yticks(
        [0.1, 0.5, 1.0], ["raw video", f"Fast ({len(tl.fast)})", f"Slow ({len(tl.slow)})"]
    )
    ax.set_ylim(-0.1, 1.35)
    ax.set_xlim(-1, end)
    ax.set_xlabel("raw frame number")
    ax.set_title(
        f"T={tl.T}, tau={tl.tau}, alpha={tl.alpha}, start={tl.start}: Slow every {tl.tau} frames, "
        f"Fast every {tl.tau // tl.alpha}; clip = {tl.raw_frames} frames = {tl.seconds:.2f} s "
        f"at {tl.fps:g} fps",
        fontsize=10,
    )
    secs = ax.secondary_xaxis("top", functions=(lambda f: f / tl.fps, lambda s: s * tl.fps))
    secs.set_xlabel("seconds", fontsize=9)
    for side in ("right", "left"):
        ax.spines[side].set_visible(False)
    return fig


def frame_strips_figure(
    slow_frames, fast_frames, slow_indices, fast_indices, max_fast: int = 16
) -> Figure:
    """Thumbnails of the frames each pathway sees ([t, H, W, 3] uint8 arrays), labelled with their
    raw frame numbers. At most `max_fast` Fast frames are drawn (the first ones)."""
    n_fast = min(len(fast_frames), max_fast)
    cols = max(len(slow_frames), n_fast)
    fig = Figure(figsize=(min(0.9 * cols, 14), 2.6), layout="constrained")
    axes = fig.subplots(2, cols, squeeze=False)
    rows = [
        ("Slow", slow_frames, slow_indices, SLOW_COLOR),
        ("Fast", fast_frames, fast_indices, FAST_COLOR),
    ]
    for r, (name, frames, indices, color) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < min(len(frames), n_fast if name == "Fast" else len(frames)):
                ax.imshow(frames[c])
                ax.set_title(f"#{indices[c]}", fontsize=8, color=color)
                for spine in ax.spines.values():
                    spine.set_color(color)
                    spine.set_linewidth(2)
            else:
                ax.axis("off")
        axes[r][0].set_ylabel(name, color=color, fontsize=11)
    shown = f" (first {n_fast} of {len(fast_frames)})" if n_fast < len(fast_frames) else ""
    fig.suptitle(f"what each pathway sees{shown}", fontsize=10)
    return fig


def packing_figure(rows: list[dict], fast_indices: list[int]) -> Figure:
    """Slow frames chosen the paper's way (every tau) and PySlowFast's way (linspace over the Fast
    frames), over the Fast frames they are both picked from. `rows` from `explain.packing_comparison`."""
    fig = Figure(figsize=(10, 1.9), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(fast_indices, [0] * len(fast_indices), marker="|", s=200, color=FAST_COLOR)
    strided = [r["strided (paper)"] for r in rows]
    spaced = [r["linspace (PySlowFast)"] for r in rows]
    ax.scatter(strided, [1] * len(strided), marker="s", s=70, color=SLOW_COLOR)
    ax.scatter(spaced, [2] * len(spaced), marker="D", s=60, color="#9467bd")
    for x in strided:
        ax.annotate(
            str(x), (x, 1), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8
        )
    for x in spaced:
        ax.annotate(
            str(x), (x, 2), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8
        )
    ax.set_yticks(
        [0, 1, 2], ["Fast frames", "Slow: every tau (paper)", "Slow: linspace (PySlowFast)"]
    )
    ax.set_ylim(-0.5, 2.7)
    ax.set_xlabel("raw frame number")
    for side in ("right", "left", "top"):
        ax.spines[side].set_visible(False)
    return fig


def aliasing_figure(
    period: float, slow_indices: list[int], fast_indices: list[int], angles
) -> Figure:
    """A spinning bar as each pathway sees it: one dial per pathway, a hand per sampled frame
    (darker = later). `angles(indices)` gives degrees; with `explain.angles_seen` bound to `period`."""
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    dials = [("Slow", slow_indices, SLOW_COLOR), ("Fast", fast_indices, FAST_COLOR)]
    for k, (name, indices, color) in enumerate(dials):
        ax = fig.add_subplot(1, 2, k + 1, projection="polar")
        degs = angles(indices)
        n = len(degs)
        for j, deg in enumerate(degs):
            rad = math.radians(deg)
            ax.plot([rad, rad], [0, 1], color=color, alpha=0.25 + 0.75 * (j + 1) / n, linewidth=2)
        distinct = len({round(d, 3) for d in degs})
        ax.set_yticks([])
        ax.set_title(f"{name}: {n} frames, {distinct} distinct angle(s)", fontsize=10, color=color)
    fig.suptitle(f"a bar spinning once every {period:g} raw frames", fontsize=11)
    return fig


# ------------------------------------------------------------------------------------------------
# Lesson 02: the two pathways
# ------------------------------------------------------------------------------------------------


def pathway_shapes_figure(shapes: dict[str, dict[str, tuple[int, ...]]]) -> Figure:
    """Frames, spatial size and channels of every stage's output, Slow against Fast.

    `shapes` from `explain.stage_shapes` (measured on a real forward): [N, C, t, H, W] per pathway.
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
    """A grid of temporal kernel sizes per stage and pathway (from `explain.temporal_kernels`)."""
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
    """One stacked bar: where the multiply-adds go (rows from `explain.compute_rows`)."""
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
    `explain.fast_share_rows`); `highlight` marks one beta_inv."""
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


# ------------------------------------------------------------------------------------------------
# Lesson 03: lateral connections
# ------------------------------------------------------------------------------------------------


def _parse_shape(text: str) -> tuple[int, int]:
    """'{4, 8^2, 80}' -> (frames 4, channels 80)."""
    t, _, c = text.strip("{}").split(", ")
    return int(t), int(c)


def lateral_shapes_figure(rows: list[dict]) -> Figure:
    """Each fusion as boxes: Fast feature -> lateral tensor -> fused Slow feature.

    Box width is frames, height is channels (same scale everywhere); in the fused Slow box the
    original Slow channels are blue and the ones the lateral added are green. Rows from
    `explain.lateral_rows`.
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
    holds (layout from `explain.time_to_channel_layout`)."""
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
    MotionShapes accuracy too when the rows carry it (from `explain.fusion_cost_rows`)."""
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
    `explain.pathway_influence`): a zero column means no information flows that way."""
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


def stage_macs_figure(rows: list[dict], title: str = "") -> Figure:
    """Multiply-adds of each stage, Slow against Fast (rows from `explain.stage_macs_rows`)."""
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
# Lesson 05: the alpha / beta explorer (plotly: hover shows each point's numbers)
# ------------------------------------------------------------------------------------------------


def explorer_chart(points: dict, runs: list[dict] | None = None):
    """The explorer's chart (plotly), three panels side by side:

    1. Kinetics-400 top-1 against GFLOPs: paper Table 5b as printed (grey), our computed GFLOPs for
       the same betas at the paper's accuracy (orange), and this configuration (a star where the paper
       ran it, else a dashed line at its GFLOPs: its accuracy is unknown);
    2. measured forward time per clip against GFLOPs ("measure" runs);
    3. MotionShapes accuracy of the small model ("train" runs) against its GFLOPs.

    `points` comes from `widgets.chart_points`, `runs` are the explorer's run dicts. The traces are
    always the same six (paper, ours, current star, current line, measured, trained), so a widget
    moves them with `update_explorer_chart` instead of building a new figure.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.5, 0.25, 0.25],
        subplot_titles=(
            "Kinetics-400 top-1 vs cost (SlowFast 4x16 R50)",
            "measured forward time",
            "MotionShapes accuracy (small model)",
        ),
    )
    paper, ours = points.get("paper", []), points.get("ours", [])
    traces = [
        (
            go.Scatter(
                x=[p.gflops for p in paper],
                y=[p.top1 for p in paper],
                mode="markers+text",
                text=[p.label.split(" ")[0].replace("beta=", "") for p in paper],
                textposition="top center",
                marker={"color": "#7f7f7f", "size": 9, "symbol": "circle-open"},
                name="paper Table 5b (as printed)",
                hovertext=[p.label for p in paper],
                hovertemplate="%{hovertext}<br>%{x:.1f} GFLOPs, top-1 %{y}%<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                x=[p.gflops for p in ours],
                y=[p.top1 for p in ours],
                mode="lines+markers",
                marker={"color": FAST_COLOR, "size": 7},
                line={"color": FAST_COLOR, "width": 1},
                name="our GFLOPs count (paper's accuracy)",
                hovertext=[p.label for p in ours],
                hovertemplate="%{hovertext}<br>%{x:.2f} GFLOPs, paper top-1 %{y}%<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                mode="markers",
                marker={"color": SLOW_COLOR, "size": 16, "symbol": "star"},
                name="this configuration (paper ran it)",
                hovertemplate="this configuration<br>%{x:.2f} GFLOPs, paper top-1 %{y}%"
                "<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                mode="lines",
                line={"color": SLOW_COLOR, "dash": "dash"},
                name="this configuration (accuracy unknown)",
                hovertemplate="this configuration: %{x:.2f} GFLOPs<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                mode="markers",
                marker={"color": SLOW_COLOR, "size": 9},
                name="measured (ms per clip)",
                hovertemplate="%{hovertext}<br>%{x:.2f} GFLOPs, %{y:.1f} ms<extra></extra>",
            ),
            2,
        ),
        (
            go.Scatter(
                mode="markers",
                marker={"color": LATERAL_COLOR, "size": 9},
                name="trained (MotionShapes %)",
                hovertemplate="%{hovertext}<br>%{x:.3f} GFLOPs, accuracy %{y:.1f}%<extra></extra>",
            ),
            3,
        ),
    ]
    for trace, col in traces:
        fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(title_text="GFLOPs (multiply-adds, one view)", row=1, col=1)
    fig.update_yaxes(title_text="top-1 % (paper)", row=1, col=1)
    fig.update_xaxes(title_text="GFLOPs", row=1, col=2)
    fig.update_yaxes(title_text="ms per clip", rangemode="tozero", row=1, col=2)
    fig.update_xaxes(title_text="GFLOPs (small model)", row=1, col=3)
    fig.update_yaxes(title_text="accuracy %", range=[0, 105], row=1, col=3)
    fig.update_layout(
        height=400,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_annotations(font_size=11)
    return update_explorer_chart(fig, points, runs)


def update_explorer_chart(fig, points: dict, runs: list[dict] | None = None):
    """Move the current configuration and the runs on a figure made by `explorer_chart`, in place
    (much faster than building a new figure); returns the figure."""
    runs = runs or []
    star, line, measured_trace, trained_trace = fig.data[2:6]
    current = points.get("current", [])
    known = [p for p in current if p.top1 is not None]
    unknown = [p for p in current if p.top1 is None]
    star.x, star.y = [p.gflops for p in known], [p.top1 for p in known]
    line.x = [unknown[0].gflops] * 2 if unknown else []
    line.y = [73.5, 76.5] if unknown else []
    measured = [r for r in runs if r["kind"] == "measure"]
    trained = [r for r in runs if r["kind"] == "train"]
    measured_trace.x = [r["gflops"] for r in measured]
    measured_trace.y = [r["ms"] for r in measured]
    measured_trace.hovertext = [f"{r['label']} on {r['device']}" for r in measured]
    trained_trace.x = [r["gflops"] for r in trained]
    trained_trace.y = [100 * r["accuracy"] for r in trained]
    trained_trace.hovertext = [f"{r['label']}, {r['budget']}" for r in trained]
    return fig


# ------------------------------------------------------------------------------------------------
# Lesson 07: the real model (predictions, where the time goes, how cost grows, speed)
# ------------------------------------------------------------------------------------------------

RANDOM_TITLE = "RANDOM WEIGHTS - NOT A PREDICTION"


def topk_figure(tops: dict[str, list[dict]], random: bool = False, title: str = "") -> Figure:
    """Top-k classes per model side by side (rows from `recognize.topk_rows`), scores as bars.
    With `random`, the title says first that the weights are random."""
    fig = Figure(figsize=(5 * len(tops), 0.45 * max(len(t) for t in tops.values()) + 1.2))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(tops), squeeze=False)[0]
    colors = [
        SLOW_COLOR if "slow" in n.lower() and "fast" not in n.lower() else FAST_COLOR for n in tops
    ]
    for ax, (name, rows), color in zip(axes, tops.items(), colors, strict=True):
        labels = [r["class"] for r in rows][::-1]
        scores = [r["score"] for r in rows][::-1]
        ax.barh(range(len(rows)), scores, color=color)
        ax.set_yticks(range(len(rows)), labels, fontsize=9)
        ax.set_xlim(0, max(1e-3, max(scores) * 1.25))
        for y, s in enumerate(scores):
            ax.text(s, y, f" {s:.3f}", va="center", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("score (softmax averaged over views)")
    head = f"{RANDOM_TITLE}: untrained network, the scores mean nothing\n" if random else ""
    fig.suptitle(head + title, fontsize=11, color="red" if random else "black")
    return fig


def clip_scores_figure(data: dict, title: str = "") -> Figure:
    """Per-clip scores over time (data from `recognize.clip_score_rows`): one line per class."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for name, ys in data["series"].items():
        ax.plot(data["times"], ys, marker="o", label=name)
    ax.set_xlabel("clip centre (s)")
    ax.set_ylabel("score (crops averaged)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    head = f"{RANDOM_TITLE}\n" if data.get("random") else ""
    ax.set_title(
        head + (title or "scores of the video's top classes, clip by clip"),
        fontsize=10,
        color="red" if data.get("random") else "black",
    )
    return fig


def stage_time_figure(stages: list[dict], parts: list[dict], title: str = "") -> Figure:
    """Where the time goes: per module, share of the forward time beside share of the
    multiply-adds (rows from `timing.stage_rows`); per part, measured time share beside
    `complexity`'s share (rows from `timing.part_rows`)."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2.2, 1])
    names = [r["module"] for r in stages]
    y = list(range(len(stages)))[::-1]
    left.barh(
        [v + 0.2 for v in y],
        [100 * r["time share"] for r in stages],
        height=0.4,
        color=[PART_COLORS.get(r["part"], "0.5") for r in stages],
        label="time",
    )
    left.barh(
        [v - 0.2 for v in y],
        [100 * r["MAC share"] for r in stages],
        height=0.4,
        color="none",
        edgecolor="k",
        hatch="//",
        label="multiply-adds",
    )
    left.set_yticks(y, names, fontsize=8)
    left.set_xlabel("% of the forward (filled: time; hatched: multiply-adds)")
    left.legend(fontsize=8, loc="lower right")
    left.set_title(title or "per stage and pathway", fontsize=10)
    x = range(len(parts))
    right.bar(
        [i - 0.2 for i in x],
        [100 * r["time share"] for r in parts],
        width=0.4,
        color=[PART_COLORS.get(r["part"], "0.5") for r in parts],
        label="time (measured)",
    )
    right.bar(
        [i + 0.2 for i in x],
        [100 * r["MAC share (complexity)"] for r in parts],
        width=0.4,
        color="none",
        edgecolor="k",
        hatch="//",
        label="multiply-adds (complexity)",
    )
    right.set_xticks(list(x), [r["part"] for r in parts])
    right.set_ylabel("% of the forward")
    right.legend(fontsize=8)
    right.set_title("per part", fontsize=10)
    return fig


def cost_growth_figure(rows: list[dict], title: str = "") -> Figure:
    """Forward time (top) and peak memory (bottom) against T, crop size and batch: measured
    (dots) beside complexity's prediction scaled from the smallest point (dashed); rows from
    `timing.cost_growth`."""
    axes_names = [a for a in ("T", "crop", "batch") if any(r["axis"] == a for r in rows)]
    fig = Figure(figsize=(3.6 * len(axes_names), 5.4), layout="constrained")
    grid = fig.subplots(2, len(axes_names), squeeze=False)
    labels = {
        "T": "T (Slow frames; Fast sees alpha T)",
        "crop": "crop size (pixels)",
        "batch": "batch (clips)",
    }
    for col, axis in enumerate(axes_names):
        sub = [r for r in rows if r["axis"] == axis]
        xs = [r[axis] for r in sub]
        for row, (key, unit) in enumerate(
            (("ms", "forward time (ms)"), ("MB", "peak memory beyond weights (MB)"))
        ):
            ax = grid[row][col]
            ax.plot(xs, [r[key] for r in sub], "o-", color=SLOW_COLOR, label="measured")
            ax.plot(
                xs, [r[f"predicted {key}"] for r in sub], "--", color="0.4", label="∝ multiply-adds"
            )
            ax.set_xticks(xs)
            ax.set_ylim(bottom=0)
            if col == 0:
                ax.set_ylabel(unit)
            if row == 1:
                ax.set_xlabel(labels[axis])
            if row == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.suptitle(title or "how cost grows: measured vs complexity's prediction", fontsize=11)
    return fig


def throughput_figure(rows: list[dict], peaks: dict[str, float], title: str = "") -> Figure:
    """Achieved multiply-adds per second of each benchmark row (from `bench.run`'s results)
    against the device's measured matmul peak of the same precision (dashed lines)."""
    ok = [r for r in rows if "error" not in r]
    fig = Figure(figsize=(9, 0.45 * len(ok) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    labels = [
        f"{r['preset']} {r['impl'] if r['impl'] != 'ours' else ''} {r['mode']} b{r['batch']} "
        f"{r['precision']}{' CL' if r['channels_last'] else ''}{' compile' if r['compiled'] else ''}"
        for r in ok
    ]
    y = list(range(len(ok)))[::-1]
    colors = [FAST_COLOR if r["precision"] == "bf16" else SLOW_COLOR for r in ok]
    ax.barh(y, [r["achieved_macs_per_s"] / 1e9 for r in ok], color=colors)
    for v, r in zip(y, ok, strict=True):
        ax.text(
            r["achieved_macs_per_s"] / 1e9,
            v,
            f" {r['clips_per_s']:.3g} clips/s, {r['peak_fraction']:.1%} of peak",
            va="center",
            fontsize=8,
        )
    for precision, peak in peaks.items():
        color = FAST_COLOR if precision == "bf16" else SLOW_COLOR
        ax.axvline(peak / 1e9, ls="--", color=color, label=f"{precision} matmul peak (measured)")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xscale("log")
    values = [r["achieved_macs_per_s"] / 1e9 for r in ok] + [p / 1e9 for p in peaks.values()]
    if values:
        ax.set_xlim(min(values) / 3, max(values) * 3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("multiply-adds per second (G, log scale)")
    ax.set_title(title or "achieved vs measured matmul peak", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# Lesson 04: Slow-only versus SlowFast
# ------------------------------------------------------------------------------------------------


def group_accuracy_figure(rows: list[dict], title: str = "") -> Figure:
    """Accuracy per MotionShapes group, one bar per model, chance as a dashed line (rows from
    `explain.group_accuracy_rows`)."""
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
# Lesson 06: what each pathway attends to (per-frame mass curves, overlays, a plotly animation)
# ------------------------------------------------------------------------------------------------


def mass_curve_rows(masses: dict, indices: dict) -> list[dict]:
    """Per-frame attribution mass of each pathway, placed at the raw frames it saw.

    masses: {"slow": [T] shares, "fast": [alpha T] shares} (each sums to 1, e.g.
    `Attribution.frame_mass`); indices: {"slow": raw frame indices, "fast": ...}.
    Rows {pathway, frame (raw index), mass, per_raw (mass / frames the sample stands for)}:
    a Slow frame stands for alpha raw-frame steps, a Fast frame for one, so `per_raw` puts both
    on one scale (mass per Fast-frame step).
    """
    n_fast = len(indices["fast"]) if "fast" in indices else None
    rows = []
    for p, m in masses.items():
        values = [float(v) for v in m]
        span = (n_fast / len(values)) if n_fast else 1.0
        for i, v in zip(indices[p], values, strict=True):
            rows.append({"pathway": p, "frame": int(i), "mass": v, "per_raw": v / span})
    return rows


def mass_curves_figure(curves: dict[str, list[dict]], title: str = "") -> Figure:
    """Per-frame mass curves, one panel per clip: {clip name: `mass_curve_rows`}. Uniform mass
    (the dotted line) means the pathway spreads its attribution evenly over time."""
    n = len(curves)
    fig = Figure(figsize=(4.2 * n, 2.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (name, rows) in zip(axes, curves.items(), strict=True):
        for p, color, marker in (("slow", SLOW_COLOR, "s"), ("fast", FAST_COLOR, "o")):
            pts = [r for r in rows if r["pathway"] == p]
            if pts:
                ax.plot(
                    [r["frame"] for r in pts],
                    [r["per_raw"] for r in pts],
                    marker=marker,
                    color=color,
                    label=p.capitalize(),
                )
        fast = [r for r in rows if r["pathway"] == "fast"]
        if fast:
            ax.axhline(1 / len(fast), color="grey", ls=":", lw=1, label="uniform")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("raw frame")
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("share of attribution\nper Fast-frame step")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def input_frames(x, mean: float = 0.45, std: float = 0.225):
    """A normalised model input [1, 3, t, H, W] (or [3, t, H, W]) back to uint8 frames
    [t, H, W, 3], to draw attribution over exactly the pixels the model saw."""
    import numpy as np

    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float32)
    a = a[0] if a.ndim == 5 else a
    return np.clip(np.round((a * std + mean) * 255), 0, 255).astype(np.uint8).transpose(1, 2, 3, 0)


def normalised_maps(maps: dict) -> dict:
    """|map| / its maximum over the whole clip, per pathway, as numpy [t, H, W] in [0, 1]: one
    scale per pathway and clip, so frames with little attribution look faint."""
    import numpy as np

    out = {}
    for p, m in maps.items():
        a = np.abs(np.asarray(m, dtype=np.float32))
        top = float(a.max())
        out[p] = a / top if top > 0 else a
    return out


def animation_steps(n_fast: int, alpha: int) -> list[tuple[int, int]]:
    """(fast frame j, slow frame i) shown together at each step: the Slow frame is the latest one
    at or before Fast frame j (i = j // alpha), as the paper samples them."""
    return [(j, j // alpha) for j in range(n_fast)]


def attention_overlay_figure(frames, maps: dict, alpha: int, steps=None, title: str = "") -> Figure:
    """Static overlays: rows = the clip's Fast frames at `steps` (default: every alpha-th), columns
    = frame, Slow attribution over its frame, Fast attribution over its frame (both normalised per
    pathway over the clip). frames: uint8 [alpha T, H, W, 3] (the Fast frames)."""
    norm = normalised_maps(maps)
    steps = steps if steps is not None else list(range(0, len(frames), alpha))
    cols = ["frame", *[p for p in ("slow", "fast") if p in norm]]
    fig = Figure(figsize=(1.7 * len(steps), 1.8 * len(cols)), layout="constrained")
    axes = fig.subplots(len(cols), len(steps), squeeze=False)
    for k, j in enumerate(steps):
        for r, what in enumerate(cols):
            ax = axes[r][k]
            ax.imshow(frames[j])
            if what != "frame":
                i = j // alpha if what == "slow" else j
                ax.imshow(norm[what][i], cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(what.capitalize() if what != "frame" else "frame", fontsize=9)
            if r == 0:
                ax.set_title(f"fast frame {j}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def attention_animation(frames, maps: dict, alpha: int, title: str = ""):
    """A plotly animation (frames + Play button + slider, kept by HTML export): the clip's Fast
    frames on the left, the Slow and the Fast pathway's normalised |attribution| beside it.
    frames: uint8 [alpha T, H, W, 3]; maps: {"slow": [T, H, W], "fast": [alpha T, H, W]}."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    norm = normalised_maps(maps)
    names = [p for p in ("slow", "fast") if p in norm]
    steps = animation_steps(len(frames), alpha)
    fig = make_subplots(
        1, 1 + len(names), subplot_titles=["frame", *[f"{p.capitalize()} pathway" for p in names]]
    )

    def traces(j, i):
        out = [go.Image(z=frames[j])]
        for p in names:
            z = norm[p][i if p == "slow" else j]
            out.append(go.Heatmap(z=z, zmin=0, zmax=1, colorscale="Inferno", showscale=False))
        return out

    for c, tr in enumerate(traces(*steps[0]), start=1):
        fig.add_trace(tr, 1, c)
    fig.frames = [go.Frame(data=traces(j, i), name=str(j)) for j, i in steps]
    play = {"frame": {"duration": 400, "redraw": True}, "fromcurrent": True}
    fig.update_layout(
        title=title,
        height=330,
        width=260 * (1 + len(names)),
        updatemenus=[
            {
                "type": "buttons",
                "x": 0,
                "y": -0.08,
                "buttons": [
                    {"label": "Play", "method": "animate", "args": [None, play]},
                    {
                        "label": "Pause",
                        "method": "animate",
                        "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}],
                    },
                ],
            }
        ],
        sliders=[
            {
                "x": 0.15,
                "len": 0.85,
                "currentvalue": {"prefix": "fast frame "},
                "steps": [
                    {
                        "label": str(j),
                        "method": "animate",
                        "args": [[str(j)], {"frame": {"duration": 0, "redraw": True}}],
                    }
                    for j, _ in steps
                ],
            }
        ],
    )
    for c in range(2, 2 + len(names)):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{c}", row=1, col=c)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig


def localisation_figure(rows: list[dict], title: str = "") -> Figure:
    """Localisation ratio (attribution share inside the object / the object's share of the frame)
    per class group, one bar per pathway; rows {group, pathway, ratio, ...}. 1 = no localisation."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    paths = list(dict.fromkeys(r["pathway"] for r in rows))
    fig = Figure(figsize=(5.5, 3), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(paths), 1)
    for k, p in enumerate(paths):
        vals = [
            next((r["ratio"] for r in rows if r["group"] == g and r["pathway"] == p), 0.0)
            for g in groups
        ]
        ax.bar(
            [g + (k - (len(paths) - 1) / 2) * width for g in range(len(groups))],
            vals,
            width,
            color=PART_COLORS.get(p, None),
            label=p.capitalize(),
        )
    ax.axhline(1, color="grey", ls=":", lw=1)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("localisation ratio")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig
