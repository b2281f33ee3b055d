"""Tests of slowfast_lab.lessons.l02_two_pathways."""

from __future__ import annotations

import pytest
import torch
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


# ------------------------------------------------------------------------------------------------
# What the Fast pathway is fed (Table 5c) and the time axis
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bunny_inputs() -> tuple[sfl.Clip, dict]:
    clip = L02.sample_clip()
    return clip, L02.fast_inputs(clip, size=64)


def test_fast_inputs_of_the_sample_video(bunny_inputs) -> None:
    clip, inputs = bunny_inputs
    assert clip.fast_indices[:3] == [40, 42, 44] and len(clip.fast_indices) == 32
    assert list(inputs) == ["rgb", "gray", "timediff"]
    assert all(x.shape == (3, 32, 64, 64) for x in inputs.values())  # same network for all three
    rgb, gray, diff = inputs["rgb"], inputs["gray"], inputs["timediff"]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])  # colour is gone
    assert not torch.equal(rgb[0], rgb[1])  # real footage has colour
    # Brightness is kept: the luma of the RGB input, up to resampling order.
    luma = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1, 1)).sum(0)
    assert torch.allclose(gray[0], luma, atol=1e-4)
    assert not diff[:, 0].any()  # nothing before the first frame
    assert torch.allclose(diff[:, 1:], rgb[:, 1:] - rgb[:, :-1], atol=1e-5)
    assert diff[:, 1:].abs().mean() < 0.5 * rgb.abs().mean()  # mostly still: small differences


def test_fast_input_figure_shows_each_variant(bunny_inputs) -> None:
    clip, inputs = bunny_inputs
    fig = L02.fast_input_figure(inputs, frames=4, fast_indices=clip.fast_indices)
    assert len(fig.axes) == 3 * 4
    assert fig.axes[0].get_title() == "Fast frame 14\nraw 68"  # the middle of the 32 frames
    assert [fig.axes[4 * i].get_ylabel() for i in range(3)] == [
        "RGB", "gray (luma on 3 channels)", "time difference"
    ]  # fmt: skip
    diff_image = fig.axes[8].images[0]
    lo, hi = diff_image.get_clim()
    assert diff_image.get_cmap().name == "RdBu_r" and hi > 0 and lo == -hi  # 0 (still) is white
    rgb_image = fig.axes[0].images[0].get_array()
    assert rgb_image.shape == (64, 64, 3) and 0 <= rgb_image.min() and rgb_image.max() <= 1


def test_fast_input_costs_beside_table_5c(r50) -> None:
    counted = L02.counted_macs_by_stage(r50, crop=64)
    assert L02.stem_macs("slowfast_4x16_r50", crop=64, in_channels=3) == counted["fast.stem"]
    rows = {r["Fast input"]: r for r in L02.fast_input_cost_rows()}
    rgb = rows["RGB"]
    assert rgb["total GFLOPs"] == sfl.complexity("slowfast_4x16_r50").gflops
    assert round(rgb["total GFLOPs"], 1) == 36.1 and round(rgb["Fast stem GFLOPs"], 2) == 3.08
    # Gray as the library feeds it (3 equal channels) saves nothing; a 1-channel stem 2/3 of it.
    assert rows["gray, as the library feeds it"]["saved vs RGB"] == 0
    one = rows["gray, 1-channel stem"]
    assert one["saved vs RGB"] == pytest.approx(2 / 3 * rgb["Fast stem GFLOPs"])
    assert round(one["total GFLOPs"], 1) == 34.0
    assert rows["time difference"]["total GFLOPs"] == rgb["total GFLOPs"]
    assert rows["optical flow (x, y)"]["channels in"] == 2
    assert rows["RGB, half spatial"]["total GFLOPs"] is None
    assert [r["paper top-1"] for r in rows.values()] == [75.6, 75.5, 75.5, 74.5, 73.8, 74.7]


def test_gray_needs_only_a_one_channel_stem(r50, bunny_inputs) -> None:
    _, inputs = bunny_inputs
    conv = r50.fast.stem.conv.conv
    check = L02.gray_stem_check(conv, inputs["gray"][:, :8, :32, :32])
    assert check["max |difference|"] < 1e-4
    assert check["MACs 3 channels"] == 3 * check["MACs 1 channel"] > 0
    # On colour input the 1-channel twin is not the same function.
    assert L02.gray_stem_check(conv, inputs["rgb"][:, :8, :32, :32])["max |difference|"] > 1e-2


def test_time_axis_costs() -> None:
    rows = {r["model"]: r for r in L02.time_axis_rows()}
    for r in rows.values():
        if r["paper GFLOPs"] is not None:
            assert r["GFLOPs"] == pytest.approx(r["paper GFLOPs"], abs=0.05)
    slow8, slow32, sf8 = rows["Slow-only 8x8"], rows["Slow-only 32x2"], rows["SlowFast 8x8"]
    assert slow32["frames x stride"] == sf8["frames x stride"] == "32 x 2"
    assert (slow32["width there"], sf8["width there"]) == (64, 8)
    # Same network, 4x the frames: every conv costs 4x (no temporal stride), the head the same.
    head = slow8["by_part"]["head"]
    assert slow32["GFLOPs"] * 1e9 - head == 4 * (slow8["GFLOPs"] * 1e9 - head)
    assert slow32["params (M)"] == slow8["params (M)"]  # frames cost compute, not parameters
    assert slow32["x SlowFast 8x8"] > 3.3 and sf8["x SlowFast 8x8"] == 1
    assert sf8["paper top-1"] > slow8["paper top-1"] and slow32["paper top-1"] is None
    # The question quotes these numbers.
    text = L02.TIME_AXIS_QUESTION.text
    assert f"{slow32['GFLOPs']:.0f} vs {slow8['GFLOPs']:.1f}" in text
    assert (
        f"{sf8['GFLOPs'] / slow8['GFLOPs'] - 1:.0%} more" in text
        and f"({sf8['GFLOPs']:.1f}" in text
    )


def test_time_axis_figure_and_table() -> None:
    rows = L02.time_axis_rows()
    fig = L02.time_axis_figure(rows)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "218.1 G, not in the paper" in texts and "65.7 G, top-1 77.0" in texts
    assert len(fig.axes[0].patches) == len(rows) * 4  # slow, fast, lateral, head per bar
    table = L02.time_axis_table(rows)
    assert "by_part" not in table.columns and list(table["model"])[-1] == "Slow-only 32x2"
