"""The lesson figures and widget panels draw what the pure functions computed (checked on values)."""

from __future__ import annotations

from functools import partial

import pytest
from matplotlib.figure import Figure

import slowfast_lab as sfl
from slowfast_lab import explain, panels, viz


def _texts(fig: Figure) -> list[str]:
    out = [t.get_text() for ax in fig.axes for t in ax.texts]
    out += [ax.get_title() for ax in fig.axes] + [ax.get_title(loc="left") for ax in fig.axes]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    return out


def test_timeline_figure_marks_the_sampled_frames() -> None:
    tl = explain.sampling_timeline(4, 16, 8, start=5)
    fig = viz.sampling_timeline_figure(tl, num_video_frames=80)
    ax = fig.axes[0]
    fast, slow = ax.collections[-2], ax.collections[-1]
    assert [int(x) for x, _ in fast.get_offsets()] == tl.fast
    assert [int(x) for x, _ in slow.get_offsets()] == [5, 21, 37, 53]
    assert "clip = 64 frames = 2.13 s at 30 fps" in ax.get_title()


def test_frame_strips_label_raw_frames() -> None:
    clip = explain.spin_clip(8, size=32)
    fig = viz.frame_strips_figure(
        clip["slow"], clip["fast"], clip["slow_indices"], clip["fast_indices"], max_fast=8
    )
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[:4] == ["#0", "#8", "#16", "#24"]
    assert titles[4:] == [f"#{i}" for i in range(0, 16, 2)]
    assert "first 8 of 16" in fig._suptitle.get_text()


def test_aliasing_figure_counts_distinct_angles() -> None:
    tl = explain.sampling_timeline(4, 16, 8)
    fig = viz.aliasing_figure(16, tl.slow, tl.fast, partial(explain.angles_seen, 16))
    assert fig.axes[0].get_title() == "Slow: 4 frames, 1 distinct angle(s)"
    assert fig.axes[1].get_title() == "Fast: 32 frames, 8 distinct angle(s)"


def test_shape_and_kernel_figures_show_measured_values() -> None:
    model = sfl.build_model("slowfast_tiny")
    shapes = explain.stage_shapes(model, crop=64)
    fig = viz.pathway_shapes_figure(shapes)
    frames_panel = fig.axes[0]
    slow_line, fast_line = frames_panel.lines[:2]
    assert list(slow_line.get_ydata()) == [4] * 5 and list(fast_line.get_ydata()) == [16] * 5
    kernels = viz.temporal_kernel_figure(explain.temporal_kernels(model))
    assert [t.get_text() for t in kernels.axes[0].texts] == ["1", "1", "1", "3", "3"] + [
        "5", "3", "3", "3", "3"
    ]  # fmt: skip


def test_compute_figures() -> None:
    c = sfl.complexity("slowfast_4x16_r50")
    fig = viz.compute_breakdown_figure(explain.compute_rows(c.by_part))
    assert "fast\n19.1%" in _texts(fig)
    share = viz.fast_share_figure(explain.fast_share_rows(beta_invs=(4, 8)), highlight=8)
    assert [t.get_text() for t in share.axes[0].texts] == ["40%\n(21.4 G)", "19%\n(6.9 G)"]
    rows = [{"stage": "stem", "slow MMACs": 1.0, "fast MMACs": 5.0}]
    assert [t.get_text() for t in viz.stage_macs_figure(rows).axes[0].texts] == ["1", "5"]


def test_lateral_figures() -> None:
    rows = explain.lateral_rows("slowfast_4x16_r50", spatial=4)
    texts = _texts(viz.lateral_shapes_figure(rows))
    assert "lateral\n{4, 4^2, 16}" in texts and "fused Slow (concat)\n{4, 4^2, 80}" in texts
    assert "fused Slow (sum)\n{4, 4^2, 64}" in texts
    layout = viz.ttoc_layout_figure(explain.time_to_channel_layout(alpha=2, T=2, channels=1))
    assert [t.get_text() for t in layout.axes[0].texts] == ["f0", "f2", "f1", "f3"]
    cost = viz.fusion_cost_figure(explain.fusion_cost_rows(accuracy={"t_conv": 0.5}))
    assert len(cost.axes) == 3 and "36.1" in _texts(cost)
    assert len(viz.fusion_cost_figure(explain.fusion_cost_rows()).axes) == 2
    infl = viz.influence_figure(
        [{"stage": "pool1", "a": 0.0, "b": 1.234}, {"stage": "res2", "a": 0.5, "b": 0.0}]
    )
    assert [t.get_text() for t in infl.axes[0].texts] == ["0", "1.23", "0.50", "0"]


def test_panels() -> None:
    bunny = explain.sample_path("bigbuckbunny_256p.mp4")
    note, timeline, strips = panels.sampling_panel(bunny, 2, 8, 4, 10)
    assert str(note).startswith("T=2, tau=8, alpha=4") and repr(note) == str(note)
    assert isinstance(timeline, Figure) and isinstance(strips, Figure)
    assert "#10" in [ax.get_title() for ax in strips.axes]
    (msg,) = panels.sampling_panel(bunny, 4, 16, 8, 100)
    assert msg.startswith("Not possible") and "132" in msg
    fig, table = panels.packing_panel(4, 16, 8)
    assert list(table["linspace (PySlowFast)"]) == [0, 20, 40, 63]
    assert panels.packing_panel(4, 16, 3)[0].startswith("Not possible")
    text, dials, frames = panels.spin_panel(8, tau=8, alpha=4, size=32)
    assert "+0 deg (no motion)" in text and "+90 deg (forwards)" in text


@pytest.mark.parametrize("period", [2, 4, 8])
def test_spin_panel_aliasing_when_the_period_divides_tau(period: int) -> None:
    text = panels.spin_panel(period, tau=8, alpha=4, size=32)[0]
    assert "Slow pathway (every 8) sees a turn of +0 deg (no motion)" in text


def test_lesson04_figures() -> None:
    rows = [
        {"model": "Slow-only", "group": "motion", "accuracy": 0.33, "chance": 1 / 3},
        {"model": "SlowFast", "group": "motion", "accuracy": 1.0, "chance": 1 / 3},
    ]
    fig = viz.group_accuracy_figure(rows)
    assert [t.get_text() for t in fig.axes[0].texts] == ["33", "100"]
    conf = viz.confusion_figure([[5, 0], [2, 3]], ["a", "b"], title="t")
    assert [t.get_text() for t in conf.axes[0].texts] == ["5", "2", "3"]
