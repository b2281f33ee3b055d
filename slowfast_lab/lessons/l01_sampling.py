"""Lesson 01, temporal sampling: which raw frames each pathway takes, in frames and seconds;
PySlowFast's packing against the paper's definition; temporal aliasing of a spinning object.

Data (`sampling_timeline`, `frame_rate_rows`, `packing_comparison`, `apparent_rotation`, ...),
figures (`sampling_timeline_figure`, `frame_strips_figure`, `packing_figure`, `aliasing_figure`)
and the panels the sliders redraw (`sampling_panel`, `packing_panel`, `spin_panel`: each returns a
list of things to `display`; an impossible setting gives a message, not a traceback).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
from matplotlib.figure import Figure

from ..sampling import load_clip, sample_indices
from ..synthetic import CLASS_NAMES, TaskConfig, clip_params, pathway_indices, render_clip
from ..video import VideoError, probe
from .common import FAST_COLOR, SLOW_COLOR, Question, rows_to_frame


@dataclass(frozen=True)
class Timeline:
    """Which raw frames each pathway takes from one clip, and what that means in seconds.

    slow: start + i*tau (i < T); fast: start + j*tau/alpha (j < alpha*T); the clip covers T*tau raw
    frames starting at `start`.
    """

    T: int
    tau: int
    alpha: int
    start: int
    fps: float
    slow: list[int]
    fast: list[int]

    @property
    def raw_frames(self) -> int:
        """T*tau: raw frames the clip spans (both pathways cover the same span)."""
        return self.T * self.tau

    @property
    def slow_fps(self) -> float:
        """Frames per second the Slow pathway sees: fps / tau (30 / 16 = 1.9)."""
        return self.fps / self.tau

    @property
    def fast_fps(self) -> float:
        """Frames per second the Fast pathway sees: fps * alpha / tau (30 * 8 / 16 = 15)."""
        return self.fps * self.alpha / self.tau

    @property
    def seconds(self) -> float:
        """Length of the raw clip in seconds: T*tau / fps (64 / 30 = 2.13 s)."""
        return self.raw_frames / self.fps

    def summary(self) -> str:
        return (
            f"T={self.T}, tau={self.tau}, alpha={self.alpha}: the clip spans {self.raw_frames} raw "
            f"frames ({self.seconds:.2f} s at {self.fps:g} fps). Slow takes {len(self.slow)} frames "
            f"(every {self.tau}: {self.slow_fps:.2f} frames/s); Fast takes {len(self.fast)} "
            f"(every {self.tau // self.alpha}: {self.fast_fps:.2f} frames/s)."
        )


def sampling_timeline(
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    start: int = 0,
    fps: float = 30.0,
    num_video_frames: int | None = None,
) -> Timeline:
    """The paper's sampling of one clip (via `sample_indices`), with its frame rates in seconds.

    >>> sampling_timeline(4, 16, 8).slow
    [0, 16, 32, 48]
    """
    n = num_video_frames if num_video_frames is not None else start + T * tau
    slow, fast = sample_indices(n, T=T, tau=tau, alpha=alpha, start=start)
    return Timeline(T, tau, alpha, start, float(fps), slow, fast)


def linspace_slow_positions(fast_frames: int, alpha: int) -> list[int]:
    """PySlowFast's packing: the Slow frames are Fast frames linspace(0, n-1, n // alpha), truncated.

    >>> linspace_slow_positions(32, 8)   # positions within the Fast frames
    [0, 10, 20, 31]
    """
    count = fast_frames // alpha
    return torch.linspace(0, fast_frames - 1, count).long().tolist()


def packing_comparison(T: int = 4, tau: int = 16, alpha: int = 8, start: int = 0) -> list[dict]:
    """Slow frame i under the paper's strided definition and under PySlowFast's linspace packing.

    The paper: Slow = every tau-th raw frame. PySlowFast (how its checkpoints were trained): Fast =
    floor(linspace(start, start + T tau - 1, alpha T)), Slow = Fast positions
    floor(linspace(0, alpha T - 1, T)), so the last Slow frame is the clip's last frame and the
    spacing is uneven (0, 20, 40, 63 for 4x16 instead of 0, 16, 32, 48).
    """
    n = start + T * tau
    paper, _ = sample_indices(n, T=T, tau=tau, alpha=alpha, start=start)
    pyslowfast, _ = sample_indices(n, T=T, tau=tau, alpha=alpha, start=start, packing="pyslowfast")
    return [
        {
            "slow frame": i,
            "strided (paper)": a,
            "linspace (PySlowFast)": b,
            "difference": b - a,
        }
        for i, (a, b) in enumerate(zip(paper, pyslowfast, strict=True))
    ]


def timeline_or_reason(
    T: int, tau: int, alpha: int, start: int, fps: float, num_video_frames: int
) -> Timeline | str:
    """`sampling_timeline`, or the reason it is impossible (for widgets: a message, not a crash)."""
    try:
        return sampling_timeline(T, tau, alpha, start, fps, num_video_frames)
    except ValueError as err:
        return f"Not possible: {err}"


def frame_rate_rows(
    taus=(2, 4, 8, 16, 32), fps: float = 30.0, T: int = 4, alpha: int = 8
) -> list[dict]:
    """For each Slow stride tau: frames per second each pathway sees and the clip's length.

    At 30 fps, tau = 16 gives the Slow pathway 30/16 = 1.9 frames per second ("about 2").
    """
    rows = []
    for tau in taus:
        row = {
            "tau": tau,
            "Slow frames/s": fps / tau,
            "clip (raw frames)": T * tau,
            "clip (seconds)": T * tau / fps,
        }
        if tau % alpha == 0:
            row["Fast frames/s"] = fps * alpha / tau
        rows.append(row)
    return rows


def find_clip(class_name: str, seed: int = 0, task=None, limit: int = 1000) -> int:
    """Index of the first MotionShapes clip of `class_name` in split `seed`."""
    task = task or TaskConfig()
    if class_name not in CLASS_NAMES:
        raise ValueError(f"unknown MotionShapes class {class_name!r}; classes: {CLASS_NAMES}")
    label = CLASS_NAMES.index(class_name)
    for index in range(limit):
        if clip_params(seed, index, task)["label"] == label:
            return index
    raise ValueError(f"no {class_name!r} clip among the first {limit} of split {seed}")


def spin_clip(
    period: int,
    class_name: str = "L-cw",
    seed: int = 0,
    T: int = 4,
    tau: int = 8,
    alpha: int = 4,
    size: int = 64,
) -> dict:
    """A MotionShapes clip whose object turns once every `period` raw frames, as both pathways
    see it: {"slow": uint8 [T,H,W,3], "fast": [alpha T,H,W,3], "slow_indices", "fast_indices"}."""
    task = TaskConfig(size=size, T=T, tau=tau, alpha=alpha, spin_period=period)
    slow_idx, fast_idx = pathway_indices(task)
    clip = render_clip(seed, find_clip(class_name, seed, task), task, fast_idx)
    return {
        "slow": clip.frames[::alpha],
        "fast": clip.frames,
        "slow_indices": slow_idx,
        "fast_indices": fast_idx,
    }


def aliasing_summary(period: float, tau: int, alpha: int) -> dict:
    """How a spin with `period` raw frames per turn looks to each pathway: degrees per sampled frame
    (0 = looks still, negative = looks like it turns backwards)."""
    slow = apparent_rotation(period, tau)
    fast = apparent_rotation(period, tau // alpha)
    return {
        "period": period,
        "Slow step (deg)": slow,
        "Fast step (deg)": fast,
        "Slow sees": "no motion" if slow == 0 else ("backwards" if slow < 0 else "forwards"),
        "Fast sees": "no motion" if fast == 0 else ("backwards" if fast < 0 else "forwards"),
    }


def apparent_rotation(period: float, stride: int) -> float:
    """Rotation (degrees, in (-180, 180]) between two sampled frames of a spin with `period` raw
    frames per turn, seen every `stride` raw frames. 0 means the spin looks still (aliasing);
    negative means it looks like it turns backwards (the wagon-wheel effect).

    >>> apparent_rotation(16, 16), apparent_rotation(8, 16), apparent_rotation(16, 2)
    (0.0, 0.0, 45.0)
    """
    step = (360.0 * stride / period) % 360.0
    return step - 360.0 if step > 180.0 else step


def angles_seen(period: float, indices: list[int], phase: float = 0.0) -> list[float]:
    """The spin's angle (degrees in [0, 360)) at each sampled raw frame."""
    return [round((phase + 360.0 * i / period) % 360.0, 6) for i in indices]


def sampling_timeline_figure(timeline, num_video_frames: int | None = None) -> Figure:
    """Raw frames along time, with the frames the Slow (blue) and Fast (orange) pathways take.

    `timeline` is an `Timeline`; a second axis gives the time in seconds.
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
    frames), over the Fast frames they are both picked from. `rows` from `packing_comparison`."""
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
    """A spinning "L" as each pathway sees it: one dial per pathway, a hand per sampled frame
    giving the L's angle (darker = later). `angles(indices)` gives degrees; with `angles_seen`
    bound to `period`."""
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
    fig.suptitle(f"the L's angle, spinning once every {period:g} raw frames", fontsize=11)
    return fig


class Note(str):
    """A line of text that `display` shows as itself (no quotes)."""

    def __repr__(self) -> str:
        return str(self)


def sampling_panel(path: str, T: int, tau: int, alpha: int, start: int, max_fast: int = 16) -> list:
    """Timeline of the raw frames each pathway takes from the video at `path`, and the decoded
    frames themselves (a summary line, the timeline, the frame strips)."""
    info = probe(path)
    tl = timeline_or_reason(T, tau, alpha, start, info.fps, info.num_frames)
    if isinstance(tl, str):
        return [Note(tl)]
    try:
        clip = load_clip(path, T, tau, alpha, start)
    except VideoError as err:  # pragma: no cover - the timeline check above catches these first
        return [Note(f"Not possible: {err}")]
    return [
        Note(tl.summary()),
        sampling_timeline_figure(tl, info.num_frames),
        frame_strips_figure(
            clip.slow, clip.fast, clip.slow_indices, clip.fast_indices, max_fast=max_fast
        ),
    ]


def packing_panel(T: int = 4, tau: int = 16, alpha: int = 8) -> list:
    """The paper's Slow frames against PySlowFast's (figure and table)."""
    if tau % alpha:
        return [Note(f"Not possible: alpha={alpha} must divide tau={tau}")]
    rows = packing_comparison(T, tau, alpha)
    fast = sampling_timeline(T, tau, alpha).fast
    return [packing_figure(rows, fast), rows_to_frame(rows)]


def spin_panel(period: int, tau: int = 8, alpha: int = 4, T: int = 4, size: int = 64) -> list:
    """A MotionShapes "L" spinning once every `period` raw frames, as each pathway sees it: the
    apparent rotation per sampled frame, the two dials, and the frames."""
    if tau % alpha:
        return [Note(f"Not possible: alpha={alpha} must divide tau={tau}")]
    s = aliasing_summary(period, tau, alpha)
    clip = spin_clip(period, T=T, tau=tau, alpha=alpha, size=size)
    text = (
        f"one turn every {period} raw frames: between two of its frames the Slow pathway (every "
        f"{tau}) sees a turn of {s['Slow step (deg)']:+.0f} deg ({s['Slow sees']}), the Fast pathway "
        f"(every {tau // alpha}) {s['Fast step (deg)']:+.0f} deg ({s['Fast sees']})"
    )
    return [
        Note(text),
        aliasing_figure(
            period,
            clip["slow_indices"],
            clip["fast_indices"],
            partial(angles_seen, period),
        ),
        frame_strips_figure(clip["slow"], clip["fast"], clip["slow_indices"], clip["fast_indices"]),
    ]


TAUS = (2, 4, 8, 16, 32)  # the strides the frame-rate table lists


def frame_rate_display_rows(rows: list[dict], alpha: int) -> list[dict]:
    """`frame_rate_rows` as a learner reads them: every rate and length a decimal with its unit
    (1.88 frames/s, 2.13 s), and a dash where alpha does not divide tau (no whole Fast stride).

    >>> frame_rate_display_rows(frame_rate_rows((16,), fps=30, T=4, alpha=8), alpha=8)[0]["Fast"]
    '15.00 frames/s'
    """
    return [
        {
            "tau": r["tau"],
            "Slow": f"{r['Slow frames/s']:.2f} frames/s",
            f"Fast (alpha={alpha})": (
                f"{r['Fast frames/s']:.2f} frames/s" if "Fast frames/s" in r else "-"
            ),
            "clip": f"{r['clip (raw frames)']} frames = {r['clip (seconds)']:.2f} s",
        }
        for r in rows
    ]


def frame_rate_table(fps: float, T: int, alpha: int):
    """`frame_rate_rows` over `TAUS` for these values, as a table for the learner (rates and
    lengths in frames/s and seconds; '-' where alpha does not divide tau)."""
    return rows_to_frame(frame_rate_display_rows(frame_rate_rows(TAUS, fps, T, alpha), alpha))


# ------------------------------------------------------------------------------------------------
# Questions (kept here, so that the notebook cell does not show the answer)

QUESTIONS: dict[str, Question] = {
    "last_slow_frame": Question(
        "A 4x16 model (T=4, tau=16) with alpha=8 reads a clip starting at raw frame 40. Which raw "
        "frame is the Slow pathway's last frame?",
        "88 = 40 + (T - 1) x tau = 40 + 3 x 16. (The Fast pathway's last frame is 40 + 31 x 2 = 102.)",
        check=lambda s: int(s) == 88,
        solution="88",
    ),
    "slow_frames_per_second": Question(
        "A video runs at 30 fps and the Slow pathway uses tau=16. About how many frames per second "
        "does the Slow pathway see?",
        "30 / 16 = 1.875, about 2 frames per second.",
        check=lambda s: 1.8 <= float(s) <= 2.0,
        solution="1.875",
    ),
    "pyslowfast_last_slow_frame": Question(
        "For 8x8 (T=8, tau=8) with alpha=4, the paper's Slow frames are 0, 8, ..., 56. What is the "
        "last Slow frame with PySlowFast's packing? (use the sliders)",
        "63: PySlowFast's Slow frames always end at the window's last frame, T x tau - 1 = 63.",
        check=lambda s: int(s) == 63,
        solution="63",
    ),
    "wheel_degrees": Question(
        "A wheel turns once every 16 raw frames and the Slow pathway uses tau=16. By how many "
        "degrees does the wheel seem to turn between two Slow frames?",
        "0 degrees: 16 raw frames is exactly one turn, so every Slow frame shows the same pose. "
        "L.apparent_rotation(16, 16) == 0. The Fast pathway (tau/alpha = 2) sees 45 degrees per "
        "frame.",
        check=lambda s: float(s.replace("deg", "").strip()) % 360 == 0,
        solution="0",
    ),
    "backwards_spin": Question(
        "With tau=8, which spin direction does the Slow pathway perceive for an object that turns "
        "clockwise once every 9 raw frames, and why?",
        "Counter-clockwise (backwards), slowly: in 8 raw frames the object turns 8/9 of a turn = "
        "320 degrees clockwise, which looks the same as 40 degrees counter-clockwise "
        "(L.apparent_rotation(9, 8) == -40). Sampling too slowly does not just lose motion, it can "
        "invent the wrong one.",
    ),
}
