"""Lesson 07, the real model: top-k of the official 8x8 R50 on a real video, scores clip by clip,
the forward time per stage and pathway, throughput against the hardware's peak, and how time and
memory grow with frames, crop and batch (measured by `timing` and `bench`)."""

from __future__ import annotations

import itertools

import pandas as pd
import torch
from matplotlib.figure import Figure

from .. import recognize, timing
from ..complexity import complexity
from .common import FAST_COLOR, PART_COLORS, SLOW_COLOR, Question, rows_to_frame

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


def clip_scores_view(results: dict[str, recognize.VideoScores], model: str, k: int) -> Figure:
    """The control's picture: `model`'s scores of the video's top-`k` classes, clip by clip."""
    top = [r["index"] for r in results[model].top(k)]
    return clip_scores_figure(
        recognize.clip_score_rows(results[model], top),
        title=f"{model}: scores of the video's top-{k} classes, clip by clip",
    )


def stage_profile_table(preset: str, crop: int, device: torch.device | str) -> pd.DataFrame:
    """The control's table: time and multiply-adds per part (slow, fast, lateral, head) of one
    forward of `preset` at `crop`^2 on `device` (`timing.profile_stages`, one timed repeat)."""
    profile = timing.profile_stages(preset, crop=crop, device=device, repeats=1, progress=False)
    return rows_to_frame(profile["parts"])


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


def growth_note(rows: list[dict]) -> tuple[str, bool]:
    """How far to trust a cost-growth sweep (rows from `timing.cost_growth`): a line that says
    how it was timed and the machine's load, and whether to warn. Warn when the machine was busy
    (1-minute load average above its core count, before or after) or when the measured time fell
    while the multiply-adds grew along an axis: on a shared machine that is noise, not the model.
    """
    load = (rows[0].get("load") or {}) if rows else {}
    averages = [m["loadavg_1m"] for m in load.values() if m.get("loadavg_1m") is not None]
    cores = next((m.get("cpu_count") for m in load.values() if m.get("cpu_count")), None)
    rounds = rows[0].get("rounds") if rows else None
    words = f"median of {rounds} timed rounds after a warm-up" if rounds else "median time"
    if averages and cores:
        words += f"; load average {min(averages):.1f}-{max(averages):.1f} on {cores} cores"
    busy = bool(averages and cores and max(averages) > cores)
    fell = []
    for axis in dict.fromkeys(r["axis"] for r in rows):
        sub = [r for r in rows if r["axis"] == axis]
        if any(b["ms"] < a["ms"] and b["macs"] > a["macs"] for a, b in itertools.pairwise(sub)):
            fell.append(axis)
    if busy or fell:
        why = "machine busy" if busy else "time fell as the work grew"
        if busy and fell:
            why += ", and time fell as the work grew"
        words += f"\nUNRELIABLE ({why}" + (f": {', '.join(fell)}" if fell else "") + ")"
        words += ": rerun on a quiet machine before reading the slopes"
    return words, busy or bool(fell)


def growth_table(growth: list[dict], axis: str) -> pd.DataFrame:
    """The numbers behind one panel of `cost_growth_figure`: one row per point of `axis`, times
    in ms and memory in MB to 0.1, multiply-adds in G (as text, so none reads as a fraction)."""
    rows = []
    for r in growth:
        if r["axis"] != axis:
            continue
        row = {k: r[k] for k in ("T", "crop", "batch")}
        row["GMACs"] = f"{r['macs'] / 1e9:.3g}"
        for k in ("ms", "ms min", "ms max", "predicted ms", "MB", "predicted MB"):
            if k in r:
                row[k] = f"{r[k]:.1f}"
        rows.append(row)
    return rows_to_frame(rows)


def cost_growth_figure(rows: list[dict], title: str = "") -> Figure:
    """Forward time (top) and peak memory (bottom) against T, crop size and batch: measured
    (dots: the median, bars: fastest to slowest round) beside complexity's prediction scaled from
    the smallest point (dashed); rows from `timing.cost_growth`. The title says how it was timed
    and, in red, when not to trust it (`growth_note`)."""
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
            ys = [r[key] for r in sub]
            ax.plot(xs, ys, "o-", color=SLOW_COLOR, label="measured")
            if key == "ms" and all("ms min" in r and "ms max" in r for r in sub):
                spread = [[y - r["ms min"] for y, r in zip(ys, sub, strict=True)],
                          [r["ms max"] - y for y, r in zip(ys, sub, strict=True)]]  # fmt: skip
                ax.errorbar(xs, ys, yerr=spread, fmt="none", ecolor=SLOW_COLOR, capsize=3, lw=1)
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
    note, warn = growth_note(rows)
    head = title or "how cost grows: measured vs complexity's prediction"
    fig.suptitle(f"{head}\n{note}", fontsize=10, color="red" if warn else "black")
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
# Questions (kept here, so that the notebook cell does not show the answer)

_VIEW_256 = complexity("slowfast_8x8_r50", crop_size=256).gflops  # one 256^2 view, GFLOPs
_CLIP_224 = complexity("slowfast_8x8_r50", crop_size=224).gflops
_CLIP_112 = complexity("slowfast_8x8_r50", crop_size=112).gflops
_SHARE_8X8 = 100 * complexity("slowfast_8x8_r50").fast_share
_TMACS = _CLIP_224 * 1e9 * 1000 / 1e12  # tera multiply-adds per second at 1,000 clips/s


def _last_number(response: str) -> float:
    """'30 views, 1,970' -> 1970.0 (the last word, commas removed)."""
    return float(response.split()[-1].replace(",", ""))


QUESTIONS: dict[str, Question] = {
    "views_per_video": Question(
        "How many views does the paper's test run per video for SlowFast 8x8 R50, and how many "
        "multiply-adds is that in total (GFLOPs, to the nearest 10)? One 256^2 view costs "
        f"{_VIEW_256:.1f} G.",
        f"30 views (10 clips x 3 crops), so 30 x {_VIEW_256:.1f} = {30 * _VIEW_256:.0f}, about "
        f"{round(30 * _VIEW_256, -1):.0f} GFLOPs per video: the paper reports cost 'x 30 views' "
        "for this reason.",
        check=lambda s: abs(_last_number(s) - 30 * _VIEW_256) <= 10,
        solution=f"{round(30 * _VIEW_256, -1):.0f}",
    ),
    "why_average_views": Question(
        "A clip's scores change from clip to clip even for the same scene. Why does averaging 10 "
        "clips x 3 crops help more for a model that sees 2 s than for one that sees the whole "
        "video?",
        "Each view sees 64 raw frames (about 2 s) and one part of the frame. An action can be "
        "visible in some clips or crops and not in others; averaging the softmax over views covers "
        "the whole video in time and the full width in space, so one unlucky view counts for 1/30.",
    ),
    "fast_share_8x8": Question(
        "complexity says the Fast pathway of SlowFast 8x8 R50 holds what share of its "
        "multiply-adds (percent, nearest whole number)?",
        f"About {_SHARE_8X8:.0f}% (the 'MAC share (complexity)' column). Its share of the time is "
        "usually larger: the Fast pathway's convolutions are thin (8 to 256 channels) over 4x as "
        "many frames, so they do little arithmetic per byte moved.",
        check=lambda s: abs(float(s.rstrip("%")) - _SHARE_8X8) <= 1.5,
        solution=f"{_SHARE_8X8:.0f}",
    ),
    "tera_macs": Question(
        f"SlowFast 8x8 R50 at 224^2 costs {_CLIP_224:.1f} G multiply-adds per clip. A GPU running "
        "it at 1,000 clips/s achieves how many tera multiply-adds per second (T MAC/s)?",
        f"{_CLIP_224:.1f} x 1e9 x 1000 = {_TMACS / 10:.2f}e13, about {_TMACS:.0f} T MAC/s. An "
        "H100's dense bf16 matmul measures a few hundred T MAC/s, so even 1,000 clips/s uses only "
        "a fraction of it: 3D convolutions with few channels move much data per multiply-add.",
        check=lambda s: abs(float(s.split()[0]) - _TMACS) <= 2,
        solution=f"{_TMACS:.0f}",
    ),
    "crop_doubling": Question(
        "Going from a 112^2 to a 224^2 crop multiplies SlowFast's multiply-adds by about how much?",
        f"About 4 (the square of 2): {_CLIP_224:.1f} G vs {_CLIP_112:.1f} G. Doubling T or the "
        "batch only doubles them.",
        check=lambda s: 3.5 <= float(s.strip("xX ")) <= 4.2,
        solution="4",
    ),
    "training_memory": Question(
        "In inference the peak memory grows with T, crop and batch like the multiply-adds do. Why "
        "would a training step need far more memory than the forward measured here?",
        "In inference each stage's activations are freed once the next stage has read them. "
        "Training keeps every layer's activations for the backward pass, so memory grows with the "
        "whole depth of the network, not just the largest layer.",
    ),
}
