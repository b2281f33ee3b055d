"""Tests of slowfast_lab.lessons.l02_two_pathways."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

import slowfast_lab as sfl
from slowfast_lab.lessons import l02_two_pathways as L02


@pytest.fixture(scope="module")
def r50() -> sfl.SlowFast:
    return sfl.build_model("slowfast_4x16_r50")


def _texts(fig: Figure) -> list[str]:
    out = [t.get_text() for ax in fig.axes for t in ax.texts]
    out += [ax.get_title() for ax in fig.axes] + [ax.get_title(loc="left") for ax in fig.axes]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    return out


def test_stage_shapes_of_the_real_r50(r50) -> None:
    shapes = L02.stage_shapes(r50, crop=64)
    assert shapes["pool1"] == {"slow": (1, 64, 4, 16, 16), "fast": (1, 8, 32, 16, 16)}
    assert shapes["res5"] == {"slow": (1, 2048, 4, 2, 2), "fast": (1, 256, 32, 2, 2)}
    rows = L02.shape_rows(shapes)
    assert [r["stage"] for r in rows] == ["pool1", "res2", "res3", "res4", "res5"]
    assert rows[1]["slow"] == "{4, 16^2, 256}" and rows[1]["fast"] == "{32, 16^2, 32}"
    # No temporal downsampling: every stage keeps alpha = 8x the frames and beta = 1/8 the channels.
    assert all(r["frames fast/slow"] == 8 and r["channels fast/slow"] == 0.125 for r in rows)
    assert r50.training  # put back as it was


def test_paper_shape_notation() -> None:
    assert L02.paper_shape((1, 64, 4, 56, 56)) == "{4, 56^2, 64}"
    assert L02.paper_shape((1, 8, 32, 28, 14)) == "{32, 28x14, 8}"


def test_temporal_kernels_read_from_the_layers(r50) -> None:
    k = L02.temporal_kernels(r50)
    assert k["slow"]["stem"] == [1] and k["fast"]["stem"] == [5]
    assert k["slow"]["res2"] == [1, 1, 1] and k["slow"]["res3"] == [1] * 4
    assert k["slow"]["res4"] == [3] * 6 and k["slow"]["res5"] == [3] * 3
    assert all(set(k["fast"][s]) == {3} for s in ("res2", "res3", "res4", "res5"))
    rows = L02.kernel_rows(k)
    assert rows[3] == {"stage": "res4", "slow": "3", "fast": "3"}
    r101 = sfl.build_model("slowfast_16x8_r101_50_50")
    assert L02.kernel_rows(L02.temporal_kernels(r101))[3]["slow"] == ("3 (6 of 23 blocks), then 1")
    assert L02.temporal_strides(r50) == {"slow": 1, "fast": 1}
    assert L02.temporal_strides(sfl.build_model("slow_tiny")) == {"slow": 1}


def test_counted_forward_agrees_with_complexity(r50) -> None:
    counted = L02.counted_macs_by_part(r50, crop=64)
    analytic = sfl.complexity("slowfast_4x16_r50", crop_size=64).by_part
    assert counted == analytic
    rows = L02.compute_rows(analytic, counted)
    assert all(r["agree"] for r in rows)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    fast = next(r for r in rows if r["part"] == "fast")
    assert 0.18 < fast["share"] < 0.20  # the paper's "about 20%"


def test_stage_macs_show_beta_squared(r50) -> None:
    by_stage = L02.counted_macs_by_stage(r50, crop=64)
    assert sum(by_stage.values()) == sfl.complexity("slowfast_4x16_r50", crop_size=64).macs
    rows = {r["stage"]: r for r in L02.stage_macs_rows(by_stage)}
    # Fast stem: 8x the frames, 1/8 the channels, temporal kernel 5 vs 1 -> 5x the Slow stem.
    assert rows["stem"]["fast/slow"] == pytest.approx(5.0)
    thin = L02.counted_macs_by_stage(sfl.build_model("slowfast_4x16_r50", beta_inv=16), 64)
    # Halving beta: the stem (3 colour channels in) halves, a residual stage quarters.
    assert thin["fast.stem"] * 2 == by_stage["fast.stem"]
    assert thin["fast.res2"] * 4 == by_stage["fast.res2"]


def test_fast_share_falls_with_beta() -> None:
    rows = L02.fast_share_rows(beta_invs=(4, 8, 16))
    assert [r["beta"] for r in rows] == ["1/4", "1/8", "1/16"]
    assert [round(r["total GFLOPs"], 1) for r in rows] == [53.6, 36.1, 30.6]
    shares = [r["Fast share"] for r in rows]
    assert shares == sorted(shares, reverse=True)
    assert 0.18 < shares[1] < 0.20


def test_shape_and_kernel_figures_show_measured_values() -> None:
    model = sfl.build_model("slowfast_tiny")
    shapes = L02.stage_shapes(model, crop=64)
    fig = L02.pathway_shapes_figure(shapes)
    frames_panel = fig.axes[0]
    slow_line, fast_line = frames_panel.lines[:2]
    assert list(slow_line.get_ydata()) == [4] * 5 and list(fast_line.get_ydata()) == [16] * 5
    kernels = L02.temporal_kernel_figure(L02.temporal_kernels(model))
    assert [t.get_text() for t in kernels.axes[0].texts] == ["1", "1", "1", "3", "3"] + [
        "5", "3", "3", "3", "3"
    ]  # fmt: skip


def test_compute_figures() -> None:
    c = sfl.complexity("slowfast_4x16_r50")
    fig = L02.compute_breakdown_figure(L02.compute_rows(c.by_part))
    assert "fast\n19.1%" in _texts(fig)
    # the laterals' slice is too thin for a label inside: a callout names it
    assert {"lateral 1.4%", "head <0.1%"} <= set(_texts(fig))
    assert L02.share_label(0.191) == "19.1%" and L02.share_label(3e-5) == "<0.1%"
    assert L02.share_label(0.0) == "0.0%"
    share = L02.fast_share_figure(L02.fast_share_rows(beta_invs=(4, 8)), highlight=8)
    assert [t.get_text() for t in share.axes[0].texts] == ["40%\n(21.4 G)", "19%\n(6.9 G)"]
    rows = [{"stage": "stem", "slow MMACs": 1.0, "fast MMACs": 5.0}]
    assert [t.get_text() for t in L02.stage_macs_figure(rows).axes[0].texts] == ["1", "5"]


def test_slider_functions_build_what_the_sliders_say() -> None:
    table = L02.shape_table(T=2, alpha=4, beta_inv=8, crop=32)
    assert list(table["stage"]) == ["pool1", "res2", "res3", "res4", "res5"]
    assert table["fast"].iloc[0].startswith("{8,")  # alpha T = 4 x 2 frames
    assert L02.kernel_figure("slow_4x16_r50").axes
    fig = L02.beta_stage_macs_figure(beta_inv=16, crop=32)
    assert "1/16" in fig.axes[0].get_title()
    c = sfl.complexity("slowfast_4x16_r50", alpha=4, beta_inv=16)
    title = L02.alpha_beta_breakdown_figure(alpha=4, beta_inv=16).axes[0].get_title()
    assert f"{c.fast_share:.1%}" in title
