"""Tests of slowfast_lab.results."""

from __future__ import annotations

import dataclasses
import json

import pytest

import slowfast_lab as sfl
from slowfast_lab import results
from slowfast_lab.attribution import localisation_by_group
from slowfast_lab.train import TrainConfig


def test_checkpoints_and_comparison_rows(tmp_path) -> None:
    (tmp_path / "motionshapes_slow_only_tiny.pt").write_bytes(b"")
    (tmp_path / "motionshapes_slowfast_tiny.pt").write_bytes(b"")
    (tmp_path / "motionshapes_slowfast_tiny.json").write_text("{}")
    assert results.find_checkpoint("slowfast", tmp_path).endswith("motionshapes_slowfast_tiny.pt")
    assert results.find_checkpoint("slow_only", tmp_path).endswith("slow_only_tiny.pt")
    assert results.find_checkpoint("fast_only", tmp_path) is None
    assert results.find_checkpoint("slowfast", tmp_path / "absent") is None
    # The scenes task's files do not answer for MotionShapes, and the reverse.
    (tmp_path / "scenes_slowfast_nolateral_tiny.pt").write_bytes(b"")
    (tmp_path / "scenes_slowfast_tiny.pt").write_bytes(b"")
    assert results.find_checkpoint("slowfast", tmp_path).endswith("motionshapes_slowfast_tiny.pt")
    found = results.find_checkpoint("slowfast", tmp_path, task="scenes")
    assert found.endswith("scenes_slowfast_tiny.pt")
    nolateral = results.find_checkpoint("slowfast_nolateral", tmp_path, task="scenes")
    assert nolateral.endswith("scenes_slowfast_nolateral_tiny.pt")
    assert results.find_checkpoint("slow_only", tmp_path, task="scenes") is None
    assert results.comparison_rows(tmp_path / "absent.json") is None
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
    assert results.comparison_rows(tmp_path / "cmp.json") == rows
    assert results.fusion_accuracy(rows) == {"none": 0.7, "t_conv": 0.9}
    assert results.fusion_accuracy(None) is None


def test_recorded_rows_say_where_they_come_from() -> None:
    rows, source = results.recorded_rows()
    if rows is None:
        assert "no recorded results" in source
    else:
        assert "data_samples/results/" in source
        assert {"name", "pathways", "macs", "accuracy", "groups"} <= set(rows[0])


def test_localisation_by_group_on_the_shipped_model():
    from slowfast_lab.results import find_checkpoint
    from slowfast_lab.synthetic import TaskConfig
    from slowfast_lab.weights import load_model

    path = find_checkpoint("slowfast")
    if path is None:
        pytest.skip("no shipped SlowFast checkpoint")
    model = load_model(path)
    rows = localisation_by_group(
        model, TaskConfig.for_model(model.config), per_group=1, method="saliency"
    )
    assert {(r["group"], r["pathway"]) for r in rows} == {
        (g, p) for g in ("appearance", "motion", "appearance+motion") for p in ("slow", "fast")
    }
    for r in rows:
        assert r["n"] == 1 and 0 < r["mask_share"] < 1
        assert r["ratio"] == pytest.approx(r["inside"] / r["mask_share"], rel=1e-6)


def test_red_arrow_is_slowfast_more_accurate_and_cheaper() -> None:
    from slowfast_lab.paper import FIGURE2_POINTS, MODELS

    slow, fast = results.red_arrow(FIGURE2_POINTS)
    assert (slow, fast) == ("Slow-only 8x8 R50", "SlowFast 4x16 R50")
    assert MODELS[fast].gflops < MODELS[slow].gflops and MODELS[fast].top1 > MODELS[slow].top1
    # no such pair: no arrow
    assert results.red_arrow([("Slow-only a", 10.0, 70.0), ("SlowFast b", 12.0, 72.0)]) is None


def test_figure2_panel_has_the_red_arrow_and_no_overlapping_labels() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from slowfast_lab.paper import FIGURE2_POINTS

    fig = results.accuracy_complexity_figure([])
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    paper = fig.axes[1]
    red = [t for t in paper.texts if t.arrow_patch is not None
           and t.arrow_patch.get_edgecolor()[:3] == (1.0, 0.0, 0.0)]  # fmt: skip
    pts = {n: (g, a) for n, g, a in FIGURE2_POINTS}
    assert len(red) == 1 and red[0].xy == pts["SlowFast 4x16 R50"]
    assert red[0].xyann == pts["Slow-only 8x8 R50"]
    labels = [t for t in paper.texts if t.get_text()]
    assert len(labels) == len(FIGURE2_POINTS) + 1  # a number per point and the red note
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[i + 1 :]), labels[i].get_text()
    names = [t.get_text() for t in paper.get_legend().get_texts()]
    assert names[0].startswith("1  Fast-only 4x16 R50")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SLOWFAST_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_compare_writes_table_and_figure(tmp_path):
    runs = (
        ("Slow-only", "slow_tiny", {}),
        ("SlowFast, T-sample", "slowfast_tiny", {"fusion": "t_sample"}),
    )
    base = TrainConfig(
        model=sfl.get_config("slowfast_tiny", dropout=0.0),
        task={"size": 32},
        train_clips=32,
        val_clips=0,
        test_clips=10,
        steps=1,
        batch_size=8,
        warmup_steps=1,
        progress=False,
    )
    rows = results.compare(base, tmp_path / "runs", tmp_path / "table", runs, command="pytest")
    assert [r["name"] for r in rows] == ["Slow-only", "SlowFast, T-sample"]
    assert rows[0]["macs"] < rows[1]["macs"] and rows[0]["cpu_ms_per_clip"] > 0
    table = json.loads((tmp_path / "table.json").read_text())
    assert table["rows"][1]["fusion"] == "t_sample"
    md = (tmp_path / "table.md").read_text()
    assert "| Slow-only |" in md and f"on {base.threads} thread(s) of a" in md
    assert f"Training, every row: 1 steps, batch {base.batch_size}" in md
    assert (tmp_path / "table.png").read_bytes().startswith(b"\x89PNG")
    again = results.compare(
        base, tmp_path / "runs", tmp_path / "table", runs
    )  # resumed, not retrained
    assert [r["train_time_s"] for r in again] == [r["train_time_s"] for r in rows]

    fig = results.accuracy_complexity_figure(rows, group="motion")
    assert len(fig.axes) == 2


def test_records_from_before_a_model_field_existed_are_recognised():
    """A record written before `head` (and the other detection fields) existed describes the
    same run as the default head: a comparison resumes it instead of training it again."""
    cfg = TrainConfig(model=sfl.get_config("slowfast_tiny"), steps=5)
    have = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    assert results.same_run(have, cfg)
    for name in ("head", "res5_dilation", "roi_resolution", "roi_aligned"):
        del have["model"][name]
    assert results.same_run(have, cfg)
    assert not results.same_run({**have, "steps": 6}, cfg)
    assert not results.same_run({**have, "model": {**have["model"], "head": "multilabel"}}, cfg)
    assert results.same_run({**have, "progress": not cfg.progress}, cfg)  # cosmetic
    del have["bf16"]  # a record from before the option: trained without it
    assert results.same_run(have, cfg)
    assert not results.same_run(have, dataclasses.replace(cfg, bf16=True))
    del have["channels_last"]  # before it existed, training was contiguous
    assert not results.same_run(have, cfg)
    assert results.same_run(have, dataclasses.replace(cfg, channels_last=False))


def test_find_checkpoint_for_scenes_with_actions_by_head(tmp_path) -> None:
    for name in (
        "scenes_multi_detect_slowfast_nolateral_tiny.pt",
        "scenes_multi_multilabel_slowfast_tiny.pt",
        "scenes_slowfast_tiny.pt",
    ):
        (tmp_path / name).write_bytes(b"")
    find = results.find_checkpoint
    found = find("slowfast", tmp_path, task="scenes_multi", head="multilabel")
    assert found.endswith("scenes_multi_multilabel_slowfast_tiny.pt")
    nolateral = find("slowfast_nolateral", tmp_path, task="scenes_multi", head="detect")
    assert nolateral.endswith("scenes_multi_detect_slowfast_nolateral_tiny.pt")
    # the no-lateral detector does not stand in for the missing SlowFast one
    assert find("slowfast", tmp_path, task="scenes_multi", head="detect") is None
    (tmp_path / "scenes_multi_detect_slowfast_800steps.pt").write_bytes(b"")
    other = find("slowfast", tmp_path, task="scenes_multi", head="detect")
    assert other.endswith("scenes_multi_detect_slowfast_800steps.pt")
    assert find("slowfast", tmp_path, task="scenes").endswith("scenes_slowfast_tiny.pt")
    with pytest.raises(ValueError, match="per head"):
        find("slowfast", tmp_path, task="scenes_multi")
    with pytest.raises(ValueError, match="only for task='scenes_multi'"):
        find("slowfast", tmp_path, task="scenes", head="detect")
