"""The pure functions behind the lesson figures and widgets, checked on their values."""

from __future__ import annotations

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab import explain

# ---- lesson 01: sampling ------------------------------------------------------------------------


def test_timeline_follows_the_paper_and_its_arithmetic() -> None:
    tl = explain.sampling_timeline(T=4, tau=16, alpha=8, start=5, fps=30)
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
        explain.sampling_timeline(T=4, tau=16, alpha=8, num_video_frames=50)


def test_linspace_packing_matches_pyslowfast() -> None:
    assert explain.linspace_slow_positions(32, 8) == [0, 10, 20, 31]
    assert explain.linspace_slow_positions(32, 4) == [0, 4, 8, 13, 17, 22, 26, 31]
    rows = explain.packing_comparison(T=4, tau=16, alpha=8)
    assert [r["strided (paper)"] for r in rows] == [0, 16, 32, 48]
    assert [r["linspace (PySlowFast)"] for r in rows] == [0, 20, 40, 63]
    assert [r["difference"] for r in rows] == [0, 4, 8, 15]
    rows = explain.packing_comparison(T=8, tau=8, alpha=4, start=10)
    assert rows[0]["strided (paper)"] == rows[0]["linspace (PySlowFast)"] == 10
    assert rows[-1]["linspace (PySlowFast)"] == 10 + 63


def test_timeline_or_reason_and_frame_rates() -> None:
    tl = explain.timeline_or_reason(4, 16, 8, 40, 25.0, 132)
    assert tl.slow == [40, 56, 72, 88]
    assert explain.timeline_or_reason(4, 16, 8, 100, 25.0, 132) == (
        "Not possible: the clip needs raw frames 100..162 but the video has 132"
    )
    assert "alpha=3 must divide tau=16" in explain.timeline_or_reason(4, 16, 3, 0, 25.0, 132)
    rows = {r["tau"]: r for r in explain.frame_rate_rows((4, 16), fps=30, T=4, alpha=8)}
    assert rows[16]["Slow frames/s"] == 1.875 and rows[16]["Fast frames/s"] == 15.0
    assert rows[16]["clip (raw frames)"] == 64
    assert "Fast frames/s" not in rows[4]  # alpha=8 does not divide tau=4


def test_aliasing_arithmetic() -> None:
    # A spin whose period divides the stride looks still; tau/alpha = 2 resolves it.
    assert explain.apparent_rotation(16, 16) == 0.0
    assert explain.apparent_rotation(8, 16) == 0.0
    assert explain.apparent_rotation(16, 2) == 45.0
    assert explain.apparent_rotation(17, 16) == pytest.approx(
        -360 / 17
    )  # appears to turn backwards
    assert explain.angles_seen(16, [0, 16, 32, 48]) == [0.0, 0.0, 0.0, 0.0]
    assert explain.angles_seen(16, [0, 2, 4]) == [0.0, 45.0, 90.0]


def test_aliasing_summary_and_spin_clip() -> None:
    s = explain.aliasing_summary(8, tau=8, alpha=4)
    assert s["Slow step (deg)"] == 0 and s["Slow sees"] == "no motion"
    assert s["Fast step (deg)"] == 90 and s["Fast sees"] == "forwards"
    assert explain.aliasing_summary(9, tau=8, alpha=4)["Slow sees"] == "backwards"
    from slowfast_lab.synthetic import CLASS_NAMES, TaskConfig, clip_params

    index = explain.find_clip("L-cw", seed=0)
    assert CLASS_NAMES[clip_params(0, index, TaskConfig())["label"]] == "L-cw"
    with pytest.raises(ValueError, match="unknown MotionShapes class"):
        explain.find_clip("triangle")
    clip = explain.spin_clip(8, T=4, tau=8, alpha=4, size=48)
    assert clip["slow"].shape == (4, 48, 48, 3) and clip["fast"].shape == (16, 48, 48, 3)
    assert clip["slow_indices"] == [0, 8, 16, 24] and clip["fast_indices"] == list(range(0, 32, 2))
    assert (clip["slow"] == clip["fast"][::4]).all()


def test_sample_path() -> None:
    assert explain.sample_path("numbered_300f_30fps.mp4").endswith(
        "data_samples/numbered_300f_30fps.mp4"
    )
    with pytest.raises(FileNotFoundError, match="data_samples"):
        explain.sample_path("nope.mp4")


# ---- lesson 02: the two pathways ----------------------------------------------------------------


@pytest.fixture(scope="module")
def r50() -> sfl.SlowFast:
    return sfl.build_model("slowfast_4x16_r50")


def test_stage_shapes_of_the_real_r50(r50) -> None:
    shapes = explain.stage_shapes(r50, crop=64)
    assert shapes["pool1"] == {"slow": (1, 64, 4, 16, 16), "fast": (1, 8, 32, 16, 16)}
    assert shapes["res5"] == {"slow": (1, 2048, 4, 2, 2), "fast": (1, 256, 32, 2, 2)}
    rows = explain.shape_rows(shapes)
    assert [r["stage"] for r in rows] == ["pool1", "res2", "res3", "res4", "res5"]
    assert rows[1]["slow"] == "{4, 16^2, 256}" and rows[1]["fast"] == "{32, 16^2, 32}"
    # No temporal downsampling: every stage keeps alpha = 8x the frames and beta = 1/8 the channels.
    assert all(r["frames fast/slow"] == 8 and r["channels fast/slow"] == 0.125 for r in rows)
    assert r50.training  # put back as it was


def test_paper_shape_notation() -> None:
    assert explain.paper_shape((1, 64, 4, 56, 56)) == "{4, 56^2, 64}"
    assert explain.paper_shape((1, 8, 32, 28, 14)) == "{32, 28x14, 8}"


def test_temporal_kernels_read_from_the_layers(r50) -> None:
    k = explain.temporal_kernels(r50)
    assert k["slow"]["stem"] == [1] and k["fast"]["stem"] == [5]
    assert k["slow"]["res2"] == [1, 1, 1] and k["slow"]["res3"] == [1] * 4
    assert k["slow"]["res4"] == [3] * 6 and k["slow"]["res5"] == [3] * 3
    assert all(set(k["fast"][s]) == {3} for s in ("res2", "res3", "res4", "res5"))
    rows = explain.kernel_rows(k)
    assert rows[3] == {"stage": "res4", "slow": "3", "fast": "3"}
    r101 = sfl.build_model("slowfast_16x8_r101_50_50")
    assert explain.kernel_rows(explain.temporal_kernels(r101))[3]["slow"] == (
        "3 (6 of 23 blocks), then 1"
    )
    assert explain.temporal_strides(r50) == {"slow": 1, "fast": 1}
    assert explain.temporal_strides(sfl.build_model("slow_tiny")) == {"slow": 1}


def test_counted_forward_agrees_with_complexity(r50) -> None:
    counted = explain.counted_macs_by_part(r50, crop=64)
    analytic = sfl.complexity("slowfast_4x16_r50", crop_size=64).by_part
    assert counted == analytic
    rows = explain.compute_rows(analytic, counted)
    assert all(r["agree"] for r in rows)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    fast = next(r for r in rows if r["part"] == "fast")
    assert 0.18 < fast["share"] < 0.20  # the paper's "about 20%"


def test_stage_macs_show_beta_squared(r50) -> None:
    by_stage = explain.counted_macs_by_stage(r50, crop=64)
    assert sum(by_stage.values()) == sfl.complexity("slowfast_4x16_r50", crop_size=64).macs
    rows = {r["stage"]: r for r in explain.stage_macs_rows(by_stage)}
    # Fast stem: 8x the frames, 1/8 the channels, temporal kernel 5 vs 1 -> 5x the Slow stem.
    assert rows["stem"]["fast/slow"] == pytest.approx(5.0)
    thin = explain.counted_macs_by_stage(sfl.build_model("slowfast_4x16_r50", beta_inv=16), 64)
    # Halving beta: the stem (3 colour channels in) halves, a residual stage quarters.
    assert thin["fast.stem"] * 2 == by_stage["fast.stem"]
    assert thin["fast.res2"] * 4 == by_stage["fast.res2"]


def test_fast_share_falls_with_beta() -> None:
    rows = explain.fast_share_rows(beta_invs=(4, 8, 16))
    assert [r["beta"] for r in rows] == ["1/4", "1/8", "1/16"]
    assert [round(r["total GFLOPs"], 1) for r in rows] == [53.6, 36.1, 30.6]
    shares = [r["Fast share"] for r in rows]
    assert shares == sorted(shares, reverse=True)
    assert 0.18 < shares[1] < 0.20


# ---- lesson 03: lateral connections -------------------------------------------------------------


def test_fusion_points_of_r50() -> None:
    rows = explain.fusion_point_rows("slowfast_4x16_r50")
    assert [r["after"] for r in rows] == ["pool1", "res2", "res3", "res4"]
    assert [r["next Slow stage reads"] for r in rows] == [80, 320, 640, 1280]
    rows = explain.fusion_point_rows("slowfast_4x16_r50", fusion="ttoc_concat")
    assert [r["channels added"] for r in rows] == [64, 256, 512, 1024]


def test_lateral_shapes_on_real_tensors() -> None:
    rows = {r["fusion"]: r for r in explain.lateral_rows("slowfast_4x16_r50", point=0, spatial=4)}
    assert rows["t_conv"]["fast in"] == "{32, 4^2, 8}"
    assert rows["t_conv"]["lateral"] == "{4, 4^2, 16}"  # 2 beta C channels, stride alpha
    assert rows["t_conv"]["fused slow"] == "{4, 4^2, 80}"
    assert rows["t_conv"]["lateral params"] == 8 * 16 * 5 + 2 * 16  # conv 5x1^2 + BN
    assert rows["t_sample"]["lateral"] == "{4, 4^2, 8}"
    assert rows["ttoc_concat"]["lateral"] == "{4, 4^2, 64}"  # alpha beta C
    assert rows["ttoc_concat"]["fused slow"] == "{4, 4^2, 128}"
    assert (
        rows["ttoc_sum"]["fused slow"] == "{4, 4^2, 64}" and rows["ttoc_sum"]["channels added"] == 0
    )
    assert rows["none"]["lateral"] == "-"
    later = explain.lateral_rows("slowfast_4x16_r50", point=3, spatial=2)
    assert later[0]["point"] == "fuse4" and later[0]["lateral"] == "{4, 2^2, 256}"


def test_time_to_channel_layout() -> None:
    layout = explain.time_to_channel_layout(alpha=4, T=2, channels=2)
    assert layout.shape == (8, 2)
    # channel c*alpha + k at Slow frame t holds Fast frame t*alpha + k
    for c in range(2):
        for k in range(4):
            for t in range(2):
                assert int(layout[c * 4 + k, t]) == t * 4 + k


def test_fusion_costs_reproduce_table_5a() -> None:
    rows = {r["fusion"]: r for r in explain.fusion_cost_rows(accuracy={"t_conv": 0.9})}
    for fusion, (_, gflops) in explain.PAPER_TABLE_5A.items():
        assert rows[fusion]["GFLOPs (ours)"] == pytest.approx(gflops, abs=0.07)
    assert rows["t_conv"]["lateral GFLOPs"] > 0 and rows["t_sample"]["lateral GFLOPs"] == 0
    assert rows["t_conv"]["MotionShapes accuracy (ours)"] == 0.9
    assert "MotionShapes accuracy (ours)" not in rows["none"]


def test_influence_flows_fast_to_slow_only() -> None:
    torch.manual_seed(0)
    rows = {r["stage"]: r for r in explain.pathway_influence(sfl.build_model("slowfast_tiny"))}
    assert all(r["slow change -> fast"] == 0 for r in rows.values())  # unidirectional
    assert rows["pool1"]["fast change -> slow"] == 0  # fuse1 comes after pool1
    assert all(rows[s]["fast change -> slow"] > 0 for s in ("res2", "res3", "res4", "res5"))
    assert all(r["slow change -> slow"] > 0 and r["fast change -> fast"] > 0 for r in rows.values())
    none = explain.pathway_influence(sfl.build_model("slowfast_tiny", fusion="none"))
    assert all(r["fast change -> slow"] == 0 for r in none)


# ---- lesson 04: Slow-only versus SlowFast -------------------------------------------------------


def test_checkpoints_and_comparison_rows(tmp_path) -> None:
    (tmp_path / "motionshapes_slow_only_tiny.pt").write_bytes(b"")
    (tmp_path / "motionshapes_slowfast_tiny.pt").write_bytes(b"")
    (tmp_path / "motionshapes_slowfast_tiny.json").write_text("{}")
    assert explain.find_checkpoint("slowfast", tmp_path).endswith("motionshapes_slowfast_tiny.pt")
    assert explain.find_checkpoint("slow_only", tmp_path).endswith("slow_only_tiny.pt")
    assert explain.find_checkpoint("fast_only", tmp_path) is None
    assert explain.find_checkpoint("slowfast", tmp_path / "absent") is None
    assert explain.comparison_rows(tmp_path / "absent.json") is None
    rows = [
        {"pathways": "slow", "fusion": "t_conv", "overrides": {}, "accuracy": 0.5},
        {
            "pathways": "slowfast",
            "fusion": "none",
            "overrides": {"fusion": "none"},
            "accuracy": 0.7,
        },
        {"pathways": "slowfast", "fusion": "t_conv", "overrides": {}, "accuracy": 0.9},
        {"pathways": "slowfast", "fusion": "t_conv", "overrides": {"beta_inv": 8}, "accuracy": 0.8},
    ]
    (tmp_path / "cmp.json").write_text(__import__("json").dumps({"rows": rows}))
    assert explain.comparison_rows(tmp_path / "cmp.json") == rows
    assert explain.fusion_accuracy(rows) == {"none": 0.7, "t_conv": 0.9}
    assert explain.fusion_accuracy(None) is None


def test_fusion_group_rows_pick_default_beta_and_show_motion_classes() -> None:
    groups = {"appearance": 1.0, "motion": 2 / 3, "appearance+motion": 0.5}
    per_class = {"L-still": 1.0, "L-cw": 0.42, "L-ccw": 0.59, "square-dots": 1.0}
    rows = [
        {"pathways": "slow", "fusion": "t_conv", "overrides": {}, "accuracy": 0.5},
        {"pathways": "slowfast", "fusion": "t_sample", "overrides": {"fusion": "t_sample"},
         "accuracy": 0.7, "groups": groups, "per_class": per_class},
        {"pathways": "slowfast", "fusion": "t_conv", "overrides": {"beta_inv": 8},
         "accuracy": 0.8, "groups": groups, "per_class": per_class},
    ]  # fmt: skip
    (row,) = explain.fusion_group_rows(rows)
    assert row["lateral"] == explain.FUSION_NAMES["t_sample"] and row["overall"] == 70.0
    assert (row["motion"], row["appearance+motion"]) == (66.7, 50.0)
    assert (row["L-still"], row["L-cw"], row["L-ccw"]) == (100.0, 42.0, 59.0)
    assert "square-dots" not in row
    del rows[1]["per_class"]  # older tables without per-class accuracy: groups only
    assert "L-cw" not in explain.fusion_group_rows(rows)[0]
    assert explain.fusion_group_rows(None) is None


def test_lateral_seed_rows_gather_one_column_per_seed(tmp_path) -> None:
    import json

    def table(seed: int, accuracy: float) -> dict:
        groups = {"appearance": 1.0, "motion": accuracy, "appearance+motion": accuracy}
        rows = [
            {"pathways": "slow", "fusion": "t_conv", "overrides": {}, "accuracy": 0.5,
             "groups": groups},
            {"pathways": "slowfast", "fusion": "t_sample", "overrides": {"fusion": "t_sample"},
             "accuracy": accuracy, "groups": groups},
        ]  # fmt: skip
        return {"base_config": {"seed": seed}, "rows": rows}

    paths = []
    for seed, acc in ((0, 0.699), (2, 1.0)):
        paths.append(tmp_path / f"s{seed}.json")
        paths[-1].write_text(json.dumps(table(seed, acc)))
    rows = explain.lateral_seed_rows([*paths, tmp_path / "absent.json"])
    assert rows == [{"lateral": explain.FUSION_NAMES["t_sample"], "seed 0": 69.9, "seed 2": 100.0}]
    assert explain.lateral_seed_rows([tmp_path / "absent.json"]) is None


def test_group_rows_confusion_block_and_point() -> None:
    from slowfast_lab.synthetic import CLASS_NAMES

    report = {
        "accuracy": 0.6,
        "groups": {"appearance": 1.0, "motion": 0.33, "appearance+motion": 0.5},
        "chance_within_group": {"appearance": 1 / 3, "motion": 1 / 3, "appearance+motion": 0.25},
    }
    rows = explain.group_accuracy_rows({"Slow-only": report})
    assert rows[1] == {"model": "Slow-only", "group": "motion", "accuracy": 0.33, "chance": 1 / 3}
    confusion = [[10 * i + j for j in range(10)] for i in range(10)]
    block, names = explain.confusion_block(confusion, list(CLASS_NAMES), "motion")
    assert names == ["L-still", "L-cw", "L-ccw"]
    assert block == [[33, 34, 35], [43, 44, 45], [53, 54, 55]]
    point = explain.model_point("Slow-only", sfl.build_model("slow_tiny"), report, crop=48)
    assert point["macs"] == sfl.complexity("slow_tiny", crop_size=48).macs
    assert point["pathways"] == "slow" and point["groups"]["motion"] == 0.33


def test_recorded_rows_say_where_they_come_from() -> None:
    rows, source = explain.recorded_rows()
    if rows is None:
        assert "no recorded results" in source
    else:
        assert "data_samples/results/" in source
        assert {"name", "pathways", "macs", "accuracy", "groups"} <= set(rows[0])


def test_display_number_reads_like_the_paper() -> None:
    from slowfast_lab.explain import display_number, rows_to_frame

    assert display_number(8.0) == "8"
    assert display_number(0.125) == "1/8"
    assert display_number(36.10456) == "36.1"
    assert display_number(123456.7) == "123,457"
    assert display_number("res2") == "res2" and display_number(3) == 3
    html = rows_to_frame([{"stage": "res2", "channels fast/slow": 0.125}]).to_html()
    assert "1/8" in html and "0.125" not in html
