"""Tests of slowfast_lab.lessons.l03_laterals."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

import slowfast_lab as sfl
from slowfast_lab import paper
from slowfast_lab.lessons import l03_laterals as L03


def _texts(fig: Figure) -> list[str]:
    out = [t.get_text() for ax in fig.axes for t in ax.texts]
    out += [ax.get_title() for ax in fig.axes] + [ax.get_title(loc="left") for ax in fig.axes]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    return out


def test_fusion_points_of_r50() -> None:
    rows = L03.fusion_point_rows("slowfast_4x16_r50")
    assert [r["after"] for r in rows] == ["pool1", "res2", "res3", "res4"]
    assert [r["next Slow stage reads"] for r in rows] == [80, 320, 640, 1280]
    rows = L03.fusion_point_rows("slowfast_4x16_r50", fusion="ttoc_concat")
    assert [r["channels added"] for r in rows] == [64, 256, 512, 1024]


def test_lateral_shapes_on_real_tensors() -> None:
    rows = {r["fusion"]: r for r in L03.lateral_rows("slowfast_4x16_r50", point=0, spatial=4)}
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
    later = L03.lateral_rows("slowfast_4x16_r50", point=3, spatial=2)
    assert later[0]["point"] == "fuse4" and later[0]["lateral"] == "{4, 2^2, 256}"


def test_time_to_channel_layout() -> None:
    layout = L03.time_to_channel_layout(alpha=4, T=2, channels=2)
    assert layout.shape == (8, 2)
    # channel c*alpha + k at Slow frame t holds Fast frame t*alpha + k
    for c in range(2):
        for k in range(4):
            for t in range(2):
                assert int(layout[c * 4 + k, t]) == t * 4 + k


def test_fusion_costs_reproduce_table_5a() -> None:
    rows = {r["fusion"]: r for r in L03.fusion_cost_rows(accuracy={"t_conv": 0.9})}
    for fusion, row in paper.TABLE_5A.items():
        gflops = row.gflops
        assert rows[fusion]["GFLOPs (ours)"] == pytest.approx(gflops, abs=0.07)
    assert rows["t_conv"]["lateral GFLOPs"] > 0 and rows["t_sample"]["lateral GFLOPs"] == 0
    assert rows["t_conv"]["MotionShapes accuracy (ours)"] == 0.9
    assert "MotionShapes accuracy (ours)" not in rows["none"]


def test_influence_flows_fast_to_slow_only() -> None:
    torch.manual_seed(0)
    rows = {r["stage"]: r for r in L03.pathway_influence(sfl.build_model("slowfast_tiny"))}
    assert all(r["slow change -> fast"] == 0 for r in rows.values())  # unidirectional
    assert rows["pool1"]["fast change -> slow"] == 0  # fuse1 comes after pool1
    assert all(rows[s]["fast change -> slow"] > 0 for s in ("res2", "res3", "res4", "res5"))
    assert all(r["slow change -> slow"] > 0 and r["fast change -> fast"] > 0 for r in rows.values())
    none = L03.pathway_influence(sfl.build_model("slowfast_tiny", fusion="none"))
    assert all(r["fast change -> slow"] == 0 for r in none)


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
    (row,) = L03.fusion_group_rows(rows)
    assert row["lateral"] == L03.FUSION_NAMES["t_sample"] and row["overall"] == 70.0
    assert (row["motion"], row["appearance+motion"]) == (66.7, 50.0)
    assert (row["L-still"], row["L-cw"], row["L-ccw"]) == (100.0, 42.0, 59.0)
    assert "square-dots" not in row
    del rows[1]["per_class"]  # older tables without per-class accuracy: groups only
    assert "L-cw" not in L03.fusion_group_rows(rows)[0]
    assert L03.fusion_group_rows(None) is None


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
    rows = L03.lateral_seed_rows([*paths, tmp_path / "absent.json"])
    assert rows == [{"lateral": L03.FUSION_NAMES["t_sample"], "seed 0": 69.9, "seed 2": 100.0}]
    assert L03.lateral_seed_rows([tmp_path / "absent.json"]) is None


def test_lateral_figures() -> None:
    rows = L03.lateral_rows("slowfast_4x16_r50", spatial=4)
    texts = _texts(L03.lateral_shapes_figure(rows))
    assert "lateral\n{4, 4^2, 16}" in texts and "fused Slow (concat)\n{4, 4^2, 80}" in texts
    assert "fused Slow (sum)\n{4, 4^2, 64}" in texts
    layout = L03.ttoc_layout_figure(L03.time_to_channel_layout(alpha=2, T=2, channels=1))
    assert [t.get_text() for t in layout.axes[0].texts] == ["f0", "f2", "f1", "f3"]
    cost = L03.fusion_cost_figure(L03.fusion_cost_rows(accuracy={"t_conv": 0.5}))
    assert len(cost.axes) == 3 and "36.1" in _texts(cost)
    assert len(L03.fusion_cost_figure(L03.fusion_cost_rows()).axes) == 2
    infl = L03.influence_figure(
        [{"stage": "pool1", "a": 0.0, "b": 1.234}, {"stage": "res2", "a": 0.5, "b": 0.0}]
    )
    assert [t.get_text() for t in infl.axes[0].texts] == ["0", "1.23", "0.50", "0"]


def test_slider_functions_take_only_slider_values() -> None:
    assert len(L03.influence_for("none").axes) >= 1
    assert L03.lateral_figure(point=1, alpha=4, beta_inv=8).axes
    assert L03.ttoc_figure(alpha=2, T=2).axes
    table = L03.fusion_cost_table(beta_inv=16)
    assert len(table) == len(L03.FUSION_NAMES)


def test_pathway_contract_checks_what_the_laterals_need() -> None:
    slow, fast = torch.zeros(2, 32, 4, 16, 16), torch.zeros(2, 8, 32, 16, 16)
    assert L03.pathway_contract(slow, fast, alpha=8) == []
    assert L03.pathway_contract(torch.zeros(2, 999, 4, 16, 16), fast, alpha=8) == []  # any C
    (frames,) = L03.pathway_contract(slow[:, :, :2], fast, alpha=8)
    assert "Slow needs 4" in frames
    (space,) = L03.pathway_contract(slow[..., :8], fast, alpha=8)
    assert "spatial sizes differ" in space
    assert "batch" in L03.pathway_contract(slow[:1], fast, alpha=8)[0]
    assert "5-D" in L03.pathway_contract(slow[0], fast, alpha=8)[0]
    # The library's lateral accepts exactly what the contract accepts.
    fuse = sfl.fusion.TimeStridedConv(8, alpha=8).eval()
    assert fuse(slow, fast).shape == (2, 48, 4, 16, 16)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        fuse(slow[:, :, :2], fast)


def test_toy_two_plus_one_d_stage() -> None:
    stage = L03.TwoPlusOneD(3, 16, spatial_stride=4).eval()
    assert [m.kernel_size for m in (stage.spatial, stage.temporal)] == [(1, 3, 3), (3, 1, 1)]
    assert not isinstance(stage, sfl.model.Stage)
    assert stage(torch.randn(1, 3, 4, 64, 64)).shape == (1, 16, 4, 16, 16)
    halving = L03.TwoPlusOneD(3, 16, temporal_stride=2)
    assert halving(torch.randn(1, 3, 4, 8, 8)).shape == (1, 16, 2, 8, 8)


def test_contract_demo_fuses_a_non_resnet_slow_stage() -> None:
    rows = {r["step"]: r for r in L03.contract_demo(T=4, alpha=8, size=64, slow_channels=32)}
    assert rows["Slow stage 1"]["shape"] == [1, 32, 4, 16, 16]
    assert rows["Fast stem"]["shape"] == [1, 8, 32, 16, 16]  # alpha T frames, the same 16^2
    assert rows["contract"]["shape"] == "fits"
    assert rows["lateral fuse1"]["paper"] == "{4, 16^2, 16}"  # 2 beta C channels, T frames
    assert rows["fused Slow"]["paper"] == "{4, 16^2, 48}"  # 32 + 16, onto the Slow tensor
    assert rows["Slow stage 2"]["shape"] == [1, 64, 4, 16, 16]  # the next stage took it
    other = {r["step"]: r for r in L03.contract_demo(T=2, alpha=4, size=32, slow_channels=8)}
    assert other["fused Slow"]["shape"] == [1, 24, 2, 8, 8]


def test_broken_contract_says_why() -> None:
    lines = L03.broken_contract()
    assert lines[0] == "Slow stage output [1, 32, 2, 16, 16], Fast stem output [1, 8, 32, 16, 16]"
    assert lines[1].startswith("contract: Fast has 32 frames, Slow 2")
    assert lines[-1].startswith("torch: Sizes of tensors must match")
    assert "fuse3 and fuse4" in L03.CONTRACT_QUESTION.answer


# ---- Where laterals are needed: MotionShapes scenes ------------------------------------------


def test_scenes_clip_gives_each_pathway_its_view() -> None:
    clip = L03.scenes_clip(seed=3, index=1)
    assert clip["slow"].shape == (4, 48, 48, 3) and clip["fast"].shape == (16, 48, 48)
    assert clip["name"] == "red-ccw" and clip["mover_mask"].shape == (16, 48, 48)
    # The mover sits still in the Slow frames (aliased) and moves in the Fast ones.
    mask = clip["mover_mask"]
    assert (mask[0] == mask[4]).all() and not (mask[0] == mask[1]).all()
    assert isinstance(L03.scenes_clip_figure(clip), Figure)


def test_scenes_rows_summarise_seeds_beside_table_5a(tmp_path) -> None:
    def row(name, pathways, fusion, seed, acc, colour):
        return {"name": name, "pathways": pathways, "fusion": fusion, "seed": seed,
                "accuracy": acc, "groups": {"mover colour": colour, "direction": 1.0},
                "macs": 61.4e6, "params": 1e5, "train_time_s": 100.0}  # fmt: skip

    rows = [
        row("SlowFast, T-conv", "slowfast", "t_conv", s, a, a)
        for s, a in enumerate((1, 0.98, 0.99))
    ]
    rows += [row("SlowFast, no lateral", "slowfast", "none", s, 0.34, 0.34) for s in range(3)]
    path = tmp_path / "scenes.json"
    path.write_text(__import__("json").dumps({"rows": rows}))
    t_conv, none = L03.scenes_rows(path)
    assert t_conv["overall %"] == 99.0 and t_conv["range"] == "98.0-100.0"
    assert t_conv["per seed"] == "100.0 / 98.0 / 99.0"
    assert t_conv["paper 5a top-1"] == paper.TABLE_5A["t_conv"].top1
    assert none["mover colour %"] == 34.0 and none["direction %"] == 100.0
    assert L03.scenes_rows(tmp_path / "absent.json") is None


def test_cutting_laterals_reports_colour_and_direction() -> None:
    model = sfl.build_model(sfl.get_config("slowfast_tiny", num_classes=6)).eval()
    rows = L03.cut_lateral_rows(model, clips=12)
    assert [r["intervention"] for r in rows][0] == "the clips as they are"
    assert len(rows) == 6 and rows[-1]["intervention"] == "all laterals cut"
    assert all(0 <= r["mover colour %"] <= 100 for r in rows)
    q = L03.QUESTIONS["scenes_colour_guess"]
    assert q.grade("1/2") == "Correct!" and q.grade("1/3").startswith("Not quite")


def test_the_shipped_scenes_slowfast_needs_its_laterals_for_the_colour() -> None:
    """The lesson's claim, on the shipped checkpoint: with every lateral cut, the mover's colour
    falls towards chance (1/3); no single cut does that (the laterals back each other up)."""
    from slowfast_lab.results import find_checkpoint
    from slowfast_lab.weights import load_model

    path = find_checkpoint("slowfast", task="scenes")
    assert path, "data_samples/checkpoints/scenes_slowfast_tiny.pt is missing"
    rows = {r["intervention"]: r for r in L03.cut_lateral_rows(load_model(path), clips=60)}
    assert rows["the clips as they are"]["overall %"] >= 95
    assert rows["all laterals cut"]["mover colour %"] <= 60
    assert min(rows[f"lateral fuse{k} cut"]["mover colour %"] for k in range(1, 5)) >= 75


def test_gradients_flow_from_a_slow_loss_into_fast_through_the_laterals() -> None:
    t_conv = L03.slow_loss_gradients("t_conv")
    assert t_conv["Fast weights"] > 0.01 and t_conv["lateral weights"] > 0.01
    assert t_conv["Slow weights"] > 0.01
    none = L03.slow_loss_gradients("none")
    assert none["Fast weights"] == 0.0  # exactly: no path from the Slow output back to Fast
    assert none["Slow weights"] > 0.01 and none["lateral weights"] is None
    t_sample = L03.slow_loss_gradients("t_sample")  # no weights of its own, still a path
    assert t_sample["lateral weights"] is None and t_sample["Fast weights"] > 0.01
    rows = L03.gradient_rows(fusions=("ttoc_sum", "none"))
    assert rows[0]["lateral type"] == "time-to-channel, sum (ttoc_sum)"
    assert rows[0]["Fast weights"] > 0.01 and rows[1]["Fast weights"] == 0.0
    assert rows[1]["lateral weights"] == "no weights"


def test_fusion_cost_figure_axes_start_at_zero() -> None:
    fig = L03.fusion_cost_figure(L03.fusion_cost_rows(accuracy={"t_conv": 1.0}))
    gflops, top1, ours = fig.axes
    assert top1.get_ylim()[0] == 0  # 73.5 vs 75.6 drawn to scale, not from 72
    assert top1.get_ylim()[1] >= 100 and ours.get_ylim() == (0, 105)
    assert gflops.get_ylim()[0] == 0 and gflops.get_ylim()[1] > 39.9
