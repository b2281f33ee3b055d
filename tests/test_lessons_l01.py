"""Tests of slowfast_lab.lessons.l01_sampling."""

from __future__ import annotations

from functools import partial

import pytest
from matplotlib.figure import Figure

from slowfast_lab import paths
from slowfast_lab.lessons import l01_sampling as L01


def test_timeline_follows_the_paper_and_its_arithmetic() -> None:
    tl = L01.sampling_timeline(T=4, tau=16, alpha=8, start=5, fps=30)
    assert tl.slow == [5, 21, 37, 53]
    assert tl.fast == list(range(5, 69, 2))
    assert set(tl.slow) <= set(tl.fast)  # every Slow frame is also a Fast frame
    assert tl.raw_frames == 64
    # tau=16 at 30 fps: about 2 frames per second for Slow; Fast 8x that.
    assert tl.slow_fps == pytest.approx(1.875)
    assert tl.fast_fps == pytest.approx(15.0)
    assert tl.seconds == pytest.approx(64 / 30)
    assert "1.88 frames/s" in tl.summary()


def test_timeline_rejects_clips_longer_than_the_video() -> None:
    with pytest.raises(ValueError, match="video has 50"):
        L01.sampling_timeline(T=4, tau=16, alpha=8, num_video_frames=50)


def test_linspace_packing_matches_pyslowfast() -> None:
    assert L01.linspace_slow_positions(32, 8) == [0, 10, 20, 31]
    assert L01.linspace_slow_positions(32, 4) == [0, 4, 8, 13, 17, 22, 26, 31]
    rows = L01.packing_comparison(T=4, tau=16, alpha=8)
    assert [r["strided (paper)"] for r in rows] == [0, 16, 32, 48]
    assert [r["linspace (PySlowFast)"] for r in rows] == [0, 20, 40, 63]
    assert [r["difference"] for r in rows] == [0, 4, 8, 15]
    rows = L01.packing_comparison(T=8, tau=8, alpha=4, start=10)
    assert rows[0]["strided (paper)"] == rows[0]["linspace (PySlowFast)"] == 10
    assert rows[-1]["linspace (PySlowFast)"] == 10 + 63


def test_timeline_or_reason_and_frame_rates() -> None:
    tl = L01.timeline_or_reason(4, 16, 8, 40, 25.0, 132)
    assert tl.slow == [40, 56, 72, 88]
    assert L01.timeline_or_reason(4, 16, 8, 100, 25.0, 132) == (
        "Not possible: the clip needs raw frames 100..162 but the video has 132: use start in 0..69"
    )
    assert "alpha=3 must divide tau=16" in L01.timeline_or_reason(4, 16, 3, 0, 25.0, 132)
    rows = {r["tau"]: r for r in L01.frame_rate_rows((4, 16), fps=30, T=4, alpha=8)}
    assert rows[16]["Slow frames/s"] == 1.875 and rows[16]["Fast frames/s"] == 15.0
    assert rows[16]["clip (raw frames)"] == 64
    assert "Fast frames/s" not in rows[4]  # alpha=8 does not divide tau=4


def test_aliasing_arithmetic() -> None:
    # A spin whose period divides the stride looks still; tau/alpha = 2 resolves it.
    assert L01.apparent_rotation(16, 16) == 0.0
    assert L01.apparent_rotation(8, 16) == 0.0
    assert L01.apparent_rotation(16, 2) == 45.0
    assert L01.apparent_rotation(17, 16) == pytest.approx(-360 / 17)  # appears to turn backwards
    assert L01.angles_seen(16, [0, 16, 32, 48]) == [0.0, 0.0, 0.0, 0.0]
    assert L01.angles_seen(16, [0, 2, 4]) == [0.0, 45.0, 90.0]


def test_aliasing_summary_and_spin_clip() -> None:
    s = L01.aliasing_summary(8, tau=8, alpha=4)
    assert s["Slow step (deg)"] == 0 and s["Slow sees"] == "no motion"
    assert s["Fast step (deg)"] == 90 and s["Fast sees"] == "forwards"
    assert L01.aliasing_summary(9, tau=8, alpha=4)["Slow sees"] == "backwards"
    from slowfast_lab.synthetic import CLASS_NAMES, TaskConfig, clip_params

    index = L01.find_clip("L-cw", seed=0)
    assert CLASS_NAMES[clip_params(0, index, TaskConfig())["label"]] == "L-cw"
    with pytest.raises(ValueError, match="unknown MotionShapes class"):
        L01.find_clip("triangle")
    clip = L01.spin_clip(8, T=4, tau=8, alpha=4, size=48)
    assert clip["slow"].shape == (4, 48, 48, 3) and clip["fast"].shape == (16, 48, 48, 3)
    assert clip["slow_indices"] == [0, 8, 16, 24] and clip["fast_indices"] == list(range(0, 32, 2))
    assert (clip["slow"] == clip["fast"][::4]).all()


def test_timeline_figure_marks_the_sampled_frames() -> None:
    tl = L01.sampling_timeline(4, 16, 8, start=5)
    fig = L01.sampling_timeline_figure(tl, num_video_frames=80)
    ax = fig.axes[0]
    fast, slow = ax.collections[-2], ax.collections[-1]
    assert [int(x) for x, _ in fast.get_offsets()] == tl.fast
    assert [int(x) for x, _ in slow.get_offsets()] == [5, 21, 37, 53]
    assert "clip = 64 frames = 2.13 s at 30 fps" in ax.get_title()


def test_frame_strips_label_raw_frames() -> None:
    clip = L01.spin_clip(8, size=32)
    fig = L01.frame_strips_figure(
        clip["slow"], clip["fast"], clip["slow_indices"], clip["fast_indices"], max_fast=8
    )
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[:4] == ["#0", "#8", "#16", "#24"]
    assert titles[4:] == [f"#{i}" for i in range(0, 16, 2)]
    assert "first 8 of 16" in fig._suptitle.get_text()


def test_aliasing_figure_counts_distinct_angles() -> None:
    tl = L01.sampling_timeline(4, 16, 8)
    fig = L01.aliasing_figure(16, tl.slow, tl.fast, partial(L01.angles_seen, 16))
    assert fig.axes[0].get_title() == "Slow: 4 frames, 1 distinct angle(s)"
    assert fig.axes[1].get_title() == "Fast: 32 frames, 8 distinct angle(s)"


def test_panels() -> None:
    bunny = paths.sample_path("bigbuckbunny_256p.mp4")
    note, timeline, strips = L01.sampling_panel(bunny, 2, 8, 4, 10)
    assert str(note).startswith("T=2, tau=8, alpha=4") and repr(note) == str(note)
    assert isinstance(timeline, Figure) and isinstance(strips, Figure)
    assert "#10" in [ax.get_title() for ax in strips.axes]
    (msg,) = L01.sampling_panel(bunny, 4, 16, 8, 100)
    assert msg.startswith("Not possible") and "132" in msg
    fig, table = L01.packing_panel(4, 16, 8)
    assert list(table["linspace (PySlowFast)"]) == [0, 20, 40, 63]
    assert L01.packing_panel(4, 16, 3)[0].startswith("Not possible")
    text, dials, frames = L01.spin_panel(8, tau=8, alpha=4, size=32)
    assert "+0 deg (no motion)" in text and "+90 deg (forwards)" in text


@pytest.mark.parametrize("period", [2, 4, 8])
def test_spin_panel_aliasing_when_the_period_divides_tau(period: int) -> None:
    text = L01.spin_panel(period, tau=8, alpha=4, size=32)[0]
    assert "Slow pathway (every 8) sees a turn of +0 deg (no motion)" in text


def test_frame_rate_table_lists_every_tau() -> None:
    table = L01.frame_rate_table(fps=30, T=4, alpha=2)
    assert len(table) == len(L01.TAUS)


def test_frame_rate_table_reads_in_decimals_with_units() -> None:
    rows = {r["tau"]: r for r in L01.frame_rate_table(fps=30, T=4, alpha=8).to_dict("records")}
    # the lesson's text: tau=16 at 30 fps, alpha=8 -> Slow 1.9, Fast 15 frames/s, 2.1 s
    assert rows[16] == {
        "tau": 16,
        "Slow": "1.88 frames/s",
        "Fast (alpha=8)": "15.00 frames/s",
        "clip": "64 frames = 2.13 s",
    }
    assert rows[32]["Fast (alpha=8)"] == "7.50 frames/s" and rows[4]["Fast (alpha=8)"] == "-"
    assert rows[2]["clip"] == "8 frames = 0.27 s"  # not the fraction 4/15
    assert L01.frame_rate_table(fps=30, T=4, alpha=2).iloc[-1]["Slow"] == "0.94 frames/s"


def test_aliasing_figure_names_the_spinning_l() -> None:
    tl = L01.sampling_timeline(4, 8, 4)
    fig = L01.aliasing_figure(8, tl.slow, tl.fast, partial(L01.angles_seen, 8))
    assert fig._suptitle.get_text() == "the L's angle, spinning once every 8 raw frames"
