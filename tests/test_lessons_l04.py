"""Tests of slowfast_lab.lessons.l04_slow_only."""

from __future__ import annotations

import slowfast_lab as sfl
from slowfast_lab import results
from slowfast_lab.lessons import l04_slow_only as L04


def test_group_rows_confusion_block_and_point() -> None:
    from slowfast_lab.synthetic import CLASS_NAMES

    report = {
        "accuracy": 0.6,
        "groups": {"appearance": 1.0, "motion": 0.33, "appearance+motion": 0.5},
        "chance_within_group": {"appearance": 1 / 3, "motion": 1 / 3, "appearance+motion": 0.25},
    }
    rows = L04.group_accuracy_rows({"Slow-only": report})
    assert rows[1] == {"model": "Slow-only", "group": "motion", "accuracy": 0.33, "chance": 1 / 3}
    confusion = [[10 * i + j for j in range(10)] for i in range(10)]
    block, names = L04.confusion_block(confusion, list(CLASS_NAMES), "motion")
    assert names == ["L-still", "L-cw", "L-ccw"]
    assert block == [[33, 34, 35], [43, 44, 45], [53, 54, 55]]
    point = results.model_point("Slow-only", sfl.build_model("slow_tiny"), report, crop=48)
    assert point["macs"] == sfl.complexity("slow_tiny", crop_size=48).macs
    assert point["pathways"] == "slow" and point["groups"]["motion"] == 0.33


def test_lesson04_figures() -> None:
    rows = [
        {"model": "Slow-only", "group": "motion", "accuracy": 0.33, "chance": 1 / 3},
        {"model": "SlowFast", "group": "motion", "accuracy": 1.0, "chance": 1 / 3},
    ]
    fig = L04.group_accuracy_figure(rows)
    assert [t.get_text() for t in fig.axes[0].texts] == ["33", "100"]
    conf = L04.confusion_figure([[5, 0], [2, 3]], ["a", "b"], title="t")
    assert [t.get_text() for t in conf.axes[0].texts] == ["5", "2", "3"]


def test_interventions_on_shipped_models() -> None:
    rows = L04.intervention_rows("MotionShapes SlowFast", "reverse_fast", 30)
    assert [r["intervention"] for r in rows] == ["the clips as they are", "Fast frames reversed"]
    assert rows[0]["overall"] >= 95 and rows[1]["direction flipped"] >= 90
    assert rows[1]["appearance"] >= 90  # the still squares do not care
    assert L04.intervention_rows("MotionShapes SlowFast", "none", 30)[0]["called still"] == 0.0
    # A lateral cut does not apply to a Fast-only model: only the baseline row, and the view says so.
    only = L04.intervention_rows("MotionShapes Fast-only", "cut_fuse1", 30)
    assert [r["intervention"] for r in only] == ["the clips as they are"]
    fig = L04.intervention_view("MotionShapes Fast-only", "cut_fuse1", 30)
    assert "does not apply" in fig.axes[0].texts[0].get_text()
    scenes = L04.intervention_rows("scenes SlowFast (T-conv)", "cut_all", 30)
    assert scenes[1]["mover colour"] < scenes[0]["mover colour"]
    assert scenes[0]["called still"] is None  # scenes have no still class
