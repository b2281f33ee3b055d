"""Tests of slowfast_lab.lessons.l09_who_does_what: the detector's views, the pathway splits, the
cost table and the AVA table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from slowfast_lab import build_model, detect, paper
from slowfast_lab.lessons import l09_who_does_what as L
from slowfast_lab.synthetic import ACTIONS, TaskConfig
from slowfast_lab.weights import save_checkpoint

TASK = TaskConfig(kind="scenes_multi")


@pytest.fixture(scope="module")
def detector():
    """A tiny SlowFast detector with random weights (non-zero last BNs) and one scene."""
    torch.manual_seed(0)
    model = build_model("slowfast_tiny", head="detect", num_classes=len(ACTIONS)).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    return model, detect.scene_clip(7, 2, TASK)  # scene 2: one square also changes colour


def test_load_detector_prefers_the_shipped_file_else_trains_and_says_so(
    tmp_path, monkeypatch, detector
) -> None:
    model, _ = detector
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "1")
    save_checkpoint(
        model, tmp_path / "scenes_multi_detect_slowfast_tiny.pt", {"task": TASK.to_dict()}
    )
    got = L.load_detector("slowfast", folder=tmp_path)
    assert got.shipped and got.note == "loaded scenes_multi_detect_slowfast_tiny.pt"
    assert got.task == TASK and got.model.config.head == "detect"
    torch.testing.assert_close(got.model.head.fc.weight, model.head.fc.weight)
    stand_in = L.load_detector("slow_only", folder=tmp_path)  # no such file: trained here
    assert not stand_in.shipped and "NO shipped checkpoint" in stand_in.note
    assert "scenes_multi_detect_slow_only_tiny.pt" in stand_in.note and "3 steps" in stand_in.note
    assert stand_in.model.config.pathways == "slow" and stand_in.task.multilabel
    assert L.load_detector("slow_only", folder=tmp_path, train_if_missing=False) is None
    text = L.shipped_separation("slowfast", 7, 2, folder=tmp_path)
    assert text.startswith("loaded scenes_multi_detect_slowfast_tiny.pt:\nstill: Slow channels")
    assert "nothing to compare" in L.shipped_separation("slowfast_nolateral", 7, 2, folder=tmp_path)
    with pytest.raises(ValueError, match="kind='fast'"):
        L.load_detector("fast", folder=tmp_path)


def test_fallback_config_is_the_tiny_model_of_each_kind(monkeypatch) -> None:
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "0")
    cfg = L.fallback_config("slowfast_nolateral", head="multilabel")
    assert cfg.model.fusion == "none" and cfg.model.head == "multilabel"
    assert cfg.model.num_classes == len(ACTIONS) and cfg.task_config().kind == "scenes_multi"
    assert cfg.steps == 300
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "1")
    assert L.fallback_config().steps == 3


def test_label_table_marks_true_actions(detector) -> None:
    model, scene = detector
    scores = L.box_scores(model, scene)
    assert scores.shape == (3, len(ACTIONS)) and bool(((scores > 0) & (scores < 1)).all())
    table = L.label_table(scene, scores)
    assert list(table["true actions"]) == [
        "circling cw",
        "circling ccw",
        "circling ccw + changing colour",
    ]
    assert table["p(colour)"].iloc[2].endswith(" *") and not table["p(colour)"].iloc[0].endswith(
        "*"
    )
    assert table["p(cw)"].iloc[0] == f"{float(scores[0, 1]):.2f} *"


def test_boxes_figure_draws_every_box_in_every_frame_and_frames_the_keyframe(detector) -> None:
    model, scene = detector
    fig = L.boxes_figure(scene, TASK.alpha, L.box_scores(model, scene), fast_columns=8)
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(shown) == 4 + 9  # 4 Slow frames, 8 Fast ones + the keyframe
    for ax in shown:
        assert sum(isinstance(p, Rectangle) for p in ax.patches) == 3
    keyframes = [ax for ax in shown if "keyframe" in ax.get_title()]
    assert [ax.get_title() for ax in keyframes] == ["Slow 2 (keyframe)", "Fast 8 (keyframe)"]
    assert all(len(ax.texts) == 3 for ax in keyframes)  # the box numbers
    assert "true: 0: cw,  1: ccw,  2: ccw+colour   |   predicted (p > 0.5): " in fig.get_suptitle()
    plain = L.boxes_figure(scene, TASK.alpha)
    assert "predicted" not in plain.get_suptitle() and "true: 0: cw" in plain.get_suptitle()


def test_roi_parts_split_the_logits_exactly(detector) -> None:
    model, scene = detector
    parts = L.roi_parts(model, scene)
    assert parts["channels"] == {"slow": 512, "fast": 128}
    assert parts["features"].shape == (3, 640)
    assert parts["parts"]["slow"].shape == (3, 512) and parts["parts"]["fast"].shape == (3, 128)
    total = parts["logit_parts"]["slow"] + parts["logit_parts"]["fast"] + parts["bias"]
    torch.testing.assert_close(total, parts["logits"], rtol=1e-5, atol=1e-6)
    assert isinstance(L.roi_features_figure(parts), Figure)
    assert len(L.logit_parts_figure(parts, scene).axes) == 3
    slow_only = build_model("slow_tiny", head="detect", num_classes=4).eval()
    assert set(L.roi_parts(slow_only, scene)["parts"]) == {"slow"}


def test_logit_lean_rows_see_a_pathway_the_head_ignores(detector) -> None:
    model, _ = detector
    model = __import__("copy").deepcopy(model)
    with torch.no_grad():
        model.head.fc.weight[:, 512:] = 0  # the head reads no Fast channel
    rows = L.logit_lean_rows(model, TASK, seed=7, clips=6, progress=False)
    assert len(rows) == 2 * len(ACTIONS)
    fast = [r for r in rows if r["pathway"] == "fast"]
    assert all(r["doers"] == 0 and r["separation"] == 0 for r in fast)
    slow = [r for r in rows if r["pathway"] == "slow"]
    assert any(abs(r["separation"]) > 0 for r in slow)
    text = L.separation_summary(rows)
    assert text.count("\n") == len(ACTIONS) - 1 and "Fast channels +0.00" in text
    assert all(
        line.endswith("-> mostly Slow") for line in text.splitlines() if "+0.00 ->" not in line
    )
    weak = [{**r, "separation": 0.5 if r["pathway"] == "slow" else 0.0} for r in rows]
    assert all(line.endswith("neither separates it (the head has not learnt it)")
               for line in L.separation_summary(weak).splitlines())  # fmt: skip
    counts = {r["action"]: r["boxes"] for r in slow}
    assert all(sum(map(int, c.split("/"))) == 18 for c in counts.values())  # 6 scenes x 3 boxes


def test_attribution_panel_reports_shares_and_draws_the_track(detector) -> None:
    model, _ = detector
    line, fig = L.attribution_panel(model, TASK, 7, 2, 2, "changing colour", method="saliency")
    assert line.startswith("box 2 does: circling ccw + changing colour. Attributed: 'changing")
    assert "Slow:" in line and "Fast:" in line and "in-box ratio" in line
    assert isinstance(fig, Figure)
    drawn = [ax for ax in fig.axes if ax.get_title()]
    assert drawn and all(sum(isinstance(p, Rectangle) for p in ax.patches) == 1 for ax in drawn)
    with pytest.raises(ValueError, match="boxes 0..2"):
        L.attribution_panel(model, TASK, 7, 2, 5, "still", method="saliency")


def _rows(action: str, slow: float, k: int = 0) -> list[dict]:
    """Two rows of `box_attribution_rows` (Slow, Fast) for one (box, action) target."""
    base = {"clip": 0, "box": k, "action": action, "group": L.GROUP_OF[action], "score": 0.5}
    fixed = {"inside": 0.2, "mask_share": 0.1}
    return [
        {**base, **fixed, "pathway": "slow", "share": slow, "sum": slow, "ratio": 2.0},
        {**base, **fixed, "pathway": "fast", "share": 1 - slow, "sum": -1.0, "ratio": 1.0},
    ]


def test_lean_rows_and_summary_say_what_was_measured() -> None:
    rows = _rows("still", 0.2) + _rows("circling cw", 0.4, 1) + _rows("changing colour", 0.6, 2)
    lean = L.lean_rows(rows)
    assert [r["action"] for r in lean] == ["still", "circling cw", "changing colour"]
    assert lean[0]["Slow share"] == pytest.approx(0.2)
    assert lean[0]["Fast share"] == pytest.approx(0.8)
    assert lean[2]["Slow in-box ratio"] == 2.0 and lean[2]["targets"] == 1
    assert lean[1]["Slow sum"] == pytest.approx(0.4) and lean[1]["Fast sum"] == -1.0
    text = L.lean_summary(lean)
    assert "motion actions 70%, changing colour 40%" in text and "as expected" in text
    assert "does not detect" not in text  # every mean score is 0.5
    low = L.lean_rows(rows[:4] + [{**r, "score": 0.3} for r in rows[4:]])
    assert "does not detect 'changing colour': its mean score on the boxes that do it is 0.30" in (
        L.lean_summary(low)
    )
    flipped = L.lean_summary(L.lean_rows(_rows("still", 0.6) + _rows("changing colour", 0.2, 1)))
    assert "MORE on Fast" in flipped and "NOT as expected" in flipped
    same = L.lean_summary(L.lean_rows(_rows("still", 0.3) + _rows("changing colour", 0.3, 1)))
    assert "No difference" in same
    assert "Not enough" in L.lean_summary(L.lean_rows(_rows("still", 0.3)))
    assert isinstance(L.lean_figure(lean), Figure)


@pytest.mark.parametrize(("crop", "dilation"), [(48, 1), (48, 2), (64, 1), (64, 2)])
def test_res5_size_is_the_real_models(crop, dilation) -> None:
    model = build_model("slowfast_tiny", head="detect", num_classes=4, res5_dilation=dilation)
    slow, fast = torch.zeros(1, 3, 4, crop, crop), torch.zeros(1, 3, 16, crop, crop)
    boxes = torch.tensor([[0.0, 0.0, 0.0, 8.0, 8.0]])
    out = model.eval().stage_outputs(slow, fast, boxes=boxes)["res5"]
    assert out["slow"].shape[-1] == out["fast"].shape[-1] == L.res5_size(crop, dilation)
    assert L.res5_size(224, 1) == 7 and L.res5_size(224, 2) == 14 and L.res5_size(256, 2) == 16


def test_dilation_rows_count_the_ava_model() -> None:
    rows = L.dilation_rows()
    ava = [r for r in rows if r["model"].startswith("SlowFast 8x8") and r["crop"] == 256]
    strided, dilated = ava
    assert strided["res5 map"] == "8 x 8" and dilated["res5 map"] == "16 x 16"
    assert strided["multiply-adds"] == "65.7 G" and dilated["multiply-adds"] == "96.9 G"
    assert dilated["vs stride 2"] == "1.47x" and dilated["output stride"] == 16
    assert dilated["fc per box"] == "184.3 K"  # (2048 + 256) x 80 actions
    assert dilated["params"] == strided["params"] == "33.83 M"
    assert L.roi_align_macs(2304, 7) == 2304 * 49 * 4


def test_recorded_rows_and_the_ava_table(tmp_path) -> None:
    assert L.recorded_rows(tmp_path / "absent.json") is None
    row = {"name": "SlowFast, T-conv", "head": "detect", "res5_dilation": 1, "seed": 0,
           "metric": "frame mAP@0.5", "map": 0.8, "steps": 800, "test_seed": 1000, "test_clips": 1000}  # fmt: skip
    rows = [row, {**row, "seed": 1, "map": 1.0}]  # two training seeds: one line, their mean
    (tmp_path / "a.json").write_text(json.dumps({"rows": rows}))
    assert L.recorded_rows(tmp_path / "a.json") == rows
    ours = {
        "metric": "frame mAP@0.5",
        "map": 0.5,
        "clips": 40,
        "clip_map": 0.75,
        "prior": dict.fromkeys(ACTIONS, 0.25),
        "per_action": dict.fromkeys(ACTIONS, 0.5),
    }
    line = L.measured_line("tiny", ours)
    assert line.startswith("tiny: frame mAP@0.5 50.0% on 40 clips") and "about 25%" in line
    assert "cw 50" in line and "clip mAP 75.0%" in line
    rows = L.our_rows({"tiny (this notebook)": ours, "multi-label": None}, rows)
    assert [r["name"] for r in rows] == ["tiny (this notebook)", "SlowFast, T-conv (detect)"]
    assert rows[1]["map"] == pytest.approx(0.9) and "seeds 0, 1" in rows[1]["source"]
    table = L.ava_table(rows)
    assert isinstance(table, pd.DataFrame) and len(table) == len(paper.AVA) + 2
    zoo = table[table["model"] == "SlowFast 8x8 R50"].iloc[0]
    assert zoo["mAP %"] == "24.7" and zoo["data"].startswith("AVA v2.2")
    assert list(table["mAP %"])[-2:] == ["50.0", "90.0"]
    assert all("synthetic" in d for d in table["data"][-2:])
    assert "ground-truth boxes" in L.NOT_COMPARABLE
