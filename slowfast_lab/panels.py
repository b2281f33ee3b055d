"""What the lesson widgets show when a slider moves: data from `explain` (and the decoders), drawn
by `viz`. Each function returns a list of things to `display` (text, figures, tables), so a lesson
cell stays one line: `w.interact(lambda ...: display(*panels.sampling_panel(...)), ...)`.

Impossible settings (a clip longer than the video, alpha not dividing tau) give a message, not a
traceback: a learner moving a slider should read why, not debug.
"""

from __future__ import annotations

from functools import partial

from . import explain, viz


class Note(str):
    """A line of text that `display` shows as itself (no quotes)."""

    def __repr__(self) -> str:
        return str(self)


def sampling_panel(path: str, T: int, tau: int, alpha: int, start: int, max_fast: int = 16) -> list:
    """Timeline of the raw frames each pathway takes from the video at `path`, and the decoded
    frames themselves (a summary line, the timeline, the frame strips)."""
    from .sampling import load_clip
    from .video import VideoError, probe

    info = probe(path)
    tl = explain.timeline_or_reason(T, tau, alpha, start, info.fps, info.num_frames)
    if isinstance(tl, str):
        return [Note(tl)]
    try:
        clip = load_clip(path, T, tau, alpha, start)
    except VideoError as err:  # pragma: no cover - the timeline check above catches these first
        return [Note(f"Not possible: {err}")]
    return [
        Note(tl.summary()),
        viz.sampling_timeline_figure(tl, info.num_frames),
        viz.frame_strips_figure(
            clip.slow, clip.fast, clip.slow_indices, clip.fast_indices, max_fast=max_fast
        ),
    ]


def packing_panel(T: int = 4, tau: int = 16, alpha: int = 8) -> list:
    """The paper's Slow frames against PySlowFast's (figure and table)."""
    if tau % alpha:
        return [Note(f"Not possible: alpha={alpha} must divide tau={tau}")]
    rows = explain.packing_comparison(T, tau, alpha)
    fast = explain.sampling_timeline(T, tau, alpha).fast
    return [viz.packing_figure(rows, fast), explain.rows_to_frame(rows)]


def spin_panel(period: int, tau: int = 8, alpha: int = 4, T: int = 4, size: int = 64) -> list:
    """A MotionShapes "L" spinning once every `period` raw frames, as each pathway sees it: the
    apparent rotation per sampled frame, the two dials, and the frames."""
    if tau % alpha:
        return [Note(f"Not possible: alpha={alpha} must divide tau={tau}")]
    s = explain.aliasing_summary(period, tau, alpha)
    clip = explain.spin_clip(period, T=T, tau=tau, alpha=alpha, size=size)
    text = (
        f"one turn every {period} raw frames: between two of its frames the Slow pathway (every "
        f"{tau}) sees a turn of {s['Slow step (deg)']:+.0f} deg ({s['Slow sees']}), the Fast pathway "
        f"(every {tau // alpha}) {s['Fast step (deg)']:+.0f} deg ({s['Fast sees']})"
    )
    return [
        Note(text),
        viz.aliasing_figure(
            period,
            clip["slow_indices"],
            clip["fast_indices"],
            partial(explain.angles_seen, period),
        ),
        viz.frame_strips_figure(
            clip["slow"], clip["fast"], clip["slow_indices"], clip["fast_indices"]
        ),
    ]
