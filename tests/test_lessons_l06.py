"""Tests of slowfast_lab.lessons.l06_attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slowfast_lab.attribution import Attribution
from slowfast_lab.lessons import l06_attention as L06


def test_mass_curve_rows_place_frames_and_rescale():
    masses = {"slow": [0.5, 0.5], "fast": [0.1, 0.2, 0.3, 0.4]}
    indices = {"slow": [0, 8], "fast": [0, 4, 8, 12]}
    rows = L06.mass_curve_rows(masses, indices)
    slow = [r for r in rows if r["pathway"] == "slow"]
    fast = [r for r in rows if r["pathway"] == "fast"]
    assert [r["frame"] for r in slow] == [0, 8]
    assert [r["frame"] for r in fast] == [0, 4, 8, 12]
    # a Slow frame stands for alpha = 2 Fast-frame steps: per_raw = mass / 2
    assert [r["per_raw"] for r in slow] == pytest.approx([0.25, 0.25])
    assert [r["per_raw"] for r in fast] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    fig = L06.mass_curves_figure({"clip": rows})
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == pytest.approx([0.25, 0.25])


def test_mass_curves_from_an_attribution():
    a = Attribution("saliency", 0, None, "logit")
    a.maps["fast"] = torch.zeros(4, 2, 2)
    a.maps["fast"][3] = 1.0  # all mass in the last frame
    a.maps["slow"] = torch.ones(1, 2, 2)
    rows = L06.mass_curve_rows(
        {p: a.frame_mass(p) for p in a.maps}, {"slow": [0], "fast": [0, 1, 2, 3]}
    )
    assert [r["mass"] for r in rows if r["pathway"] == "fast"] == pytest.approx([0, 0, 0, 1])
    assert [r["per_raw"] for r in rows if r["pathway"] == "slow"] == pytest.approx([0.25])


def test_normalised_maps_scale_per_pathway():
    maps = {"slow": torch.tensor([[[-4.0, 2.0]]]), "fast": torch.zeros(2, 1, 2)}
    norm = L06.normalised_maps(maps)
    np.testing.assert_allclose(norm["slow"], [[[1.0, 0.5]]])
    assert norm["fast"].max() == 0  # an all-zero map stays zero (no division by zero)


def test_animation_steps_pair_each_fast_frame_with_its_slow_frame():
    assert L06.animation_steps(8, 4) == [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 0),
        (4, 1),
        (5, 1),
        (6, 1),
        (7, 1),
    ]


def test_attention_animation_has_one_frame_per_fast_frame_and_play():
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    maps = {"slow": torch.rand(2, 8, 8), "fast": torch.rand(4, 8, 8)}
    fig = L06.attention_animation(frames, maps, alpha=2)
    assert len(fig.frames) == 4
    # step 3 shows Slow frame 1 and Fast frame 3, normalised per pathway over the clip
    norm = L06.normalised_maps(maps)
    np.testing.assert_allclose(np.asarray(fig.frames[3].data[1].z), norm["slow"][1], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fig.frames[3].data[2].z), norm["fast"][3], rtol=1e-6)
    assert fig.layout.updatemenus[0].buttons[0].label == "Play"
    fig2 = L06.attention_overlay_figure(frames, maps, alpha=2)
    assert len(fig2.axes) == 3 * 2 + 1  # 3 rows x 2 frames, and the colour bar


def test_localisation_figure_bars_are_the_ratios():
    rows = [
        {"group": "appearance", "pathway": "slow", "ratio": 3.0},
        {"group": "appearance", "pathway": "fast", "ratio": 2.0},
        {"group": "motion", "pathway": "slow", "ratio": 1.5},
        {"group": "motion", "pathway": "fast", "ratio": 2.5},
    ]
    fig = L06.localisation_figure(rows)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([3.0, 1.5, 2.0, 2.5])


def test_input_frames_undo_the_normalisation():
    from slowfast_lab.synthetic import frames_to_input

    frames = torch.randint(0, 256, (1, 3, 5, 5, 3), dtype=torch.uint8)
    back = L06.input_frames(frames_to_input(frames))
    assert back.shape == (3, 5, 5, 3)
    np.testing.assert_array_equal(back, frames[0].numpy())


def test_class_clip_is_what_both_pathways_see() -> None:
    from slowfast_lab.synthetic import CLASS_NAMES, TaskConfig

    task = TaskConfig(size=32)
    c = L06.class_clip("L-cw", seed=0, task=task)
    assert c["clip"].label == CLASS_NAMES.index("L-cw")
    slow, fast = c["inputs"]["slow"], c["inputs"]["fast"]
    assert slow.shape == (1, 3, task.T, 32, 32) and fast.shape == (
        1,
        3,
        task.alpha * task.T,
        32,
        32,
    )
    torch.testing.assert_close(slow, fast[:, :, :: task.alpha])
    assert c["masks"]["fast"].shape[0] == task.alpha * task.T


def test_overlay_steps_show_the_turn_and_every_slow_frame():
    assert L06.overlay_steps(16, 4) == [0, 5, 10, 15]  # one more Fast step past each Slow frame
    assert [j // 4 for j in L06.overlay_steps(16, 4)] == [0, 1, 2, 3]
    assert [j % 4 for j in L06.overlay_steps(16, 4)] == [0, 1, 2, 3]  # four poses of a spin
    assert L06.overlay_steps(32, 4) == [0, 5, 10, 15, 16, 21, 26, 31]
    assert L06.overlay_steps(8, 8) == [0]


def test_overlay_draws_the_slow_map_over_its_own_frame_with_a_colour_bar():
    frames = np.stack([np.full((6, 6, 3), 10 * j, np.uint8) for j in range(8)])  # frame j = 10 j
    maps = {"slow": torch.rand(2, 6, 6), "fast": torch.rand(8, 6, 6)}
    fig = L06.attention_overlay_figure(frames, maps, alpha=4)  # steps 0, 5
    grid = [ax for ax in fig.axes if ax.images][:9]  # frame, slow, fast rows x 2 columns
    frame5, slow5, fast5 = grid[1], grid[3], grid[5]
    assert frame5.images[0].get_array()[0, 0, 0] == 50
    assert slow5.images[0].get_array()[0, 0, 0] == 40  # Slow frame 1 is Fast frame 4
    assert fast5.images[0].get_array()[0, 0, 0] == 50
    norm = L06.normalised_maps(maps)
    np.testing.assert_allclose(slow5.images[1].get_array(), norm["slow"][1])
    bar = next(ax for ax in fig.axes if "max" in ax.get_ylabel())
    assert "per pathway" in bar.get_ylabel()


def _toy_clip():
    from slowfast_lab.synthetic import TaskConfig, render_clip

    task = TaskConfig(size=32)
    return render_clip(3, 1, task, list(range(0, task.raw_frames, task.tau // task.alpha))), task


def test_clip_regions_cover_every_pixel_once():
    clip, task = _toy_clip()
    regions = L06.clip_regions(clip, task.alpha)
    for p, n in (("slow", task.T), ("fast", task.alpha * task.T)):
        masks = np.stack([regions[p][r] for r in L06.REGIONS])
        assert masks.shape == (3, n, 32, 32)
        assert (masks.sum(axis=0) == 1).all()
    np.testing.assert_array_equal(regions["slow"]["object"], clip.mask[:: task.alpha])
    assert regions["fast"]["distractors"].any()


def test_region_mass_rows_table_and_summary():
    regions = {
        "slow": {
            "object": np.array([[[True, False, False, False]]]),
            "distractors": np.array([[[False, True, False, False]]]),
            "background": np.array([[[False, False, True, True]]]),
        }
    }
    maps = {"slow": torch.tensor([[[1.0, -6.0, 2.0, 1.0]]])}  # |.| sums to 10
    rows = L06.region_mass_rows(maps, regions)
    by = {r["region"]: r for r in rows}
    assert by["object"]["attribution"] == pytest.approx(0.1)
    assert by["distractors"]["attribution"] == pytest.approx(0.6)
    assert by["background"]["attribution"] == pytest.approx(0.3)
    assert by["background"]["pixels"] == 0.5 and by["distractors"]["ratio"] == pytest.approx(2.4)
    table = L06.region_table({"clip": rows})
    assert table.iloc[0]["distractors"] == "60% (25% of pixels)"
    summary = L06.region_summary({"clip": rows})
    assert summary.startswith("clip, Slow: 10% on the object (25% of the pixels)")
    assert summary.endswith("per pixel, most on the distractor discs.")


def test_tables_print_measurements_as_decimals_not_fractions():
    table = L06.randomisation_table({"gradcam": {"slow": 0.84, "fast": 0.7}})
    assert list(table.columns) == ["method", "rank corr. slow", "rank corr. fast"]
    assert table.iloc[0].tolist() == ["gradcam", "0.84", "0.70"]  # not '21/25' and '7/10'
    frame = L06.decimal_frame([{"group": "motion", "n": 2, "ratio": 0.25}])
    assert frame.iloc[0].tolist() == ["motion", 2, "0.25"]
