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


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def test_group_accuracy_legend_covers_no_bar() -> None:
    full = {"appearance": 1.0, "motion": 1.0, "appearance+motion": 1.0}
    reports = {name: {"groups": full, "chance_within_group": {}} for name in ("A", "B", "C")}
    fig = L04.group_accuracy_figure(L04.group_accuracy_rows(reports))
    renderer = _drawn(fig)
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [p.get_window_extent(renderer) for p in ax.patches]
    assert len(bars) == 9 and not any(legend.overlaps(b) for b in bars)


def test_confusion_and_comparison_views() -> None:
    from slowfast_lab.synthetic import CLASS_NAMES

    names = list(CLASS_NAMES)
    confusion = [[10 * i + j for j in range(10)] for i in range(10)]
    fig = L04.confusion_view({"Slow-only": {"confusion": confusion}}, names, "Slow-only", "motion")
    ax = fig.axes[0]
    assert ax.get_title() == "Slow-only: motion"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["L-still", "L-cw", "L-ccw"]
    assert ax.texts[0].get_text() == "33"
    rows = [
        {"name": "Slow-only", "pathways": "slow", "macs": 2e7, "accuracy": 0.6,
         "groups": {"motion": 0.33}},
        {"name": "SlowFast, T-conv (beta 1/4)", "pathways": "slowfast", "macs": 7e7,
         "accuracy": 1.0, "groups": {"motion": 0.98}},
    ]  # fmt: skip
    overall = L04.comparison_view(rows, "overall").axes[0]
    motion = L04.comparison_view(rows, "motion").axes[0]
    assert overall.get_ylabel() == "overall accuracy (%)" and motion.get_ylabel().startswith(
        "motion"
    )
    assert motion.collections[0].get_offsets()[0][1] == 33.0


def test_training_summary_reads_a_record() -> None:
    record = {
        "config": {"steps": 150, "batch_size": 32, "train_clips": 1000, "seed": 0},
        "model_config": {"pathways": "slowfast"},
        "train_time_s": 61.4,
        "loss_curve": [(0, 2.3051), (149, 0.91234)],
        "test_detail": {
            "seed": 1000,
            "clips": 60,
            "accuracy": 0.45,
            "groups": {"appearance": 0.6, "motion": 0.3333, "appearance+motion": None},
            "chance_within_group": {
                "appearance": 1 / 3,
                "motion": 1 / 3,
                "appearance+motion": 0.25,
            },
        },
    }
    text = L04.training_summary(record)
    assert "150 steps (batch 32, 1000 clips of split 0) in 61 s" in text
    assert "Loss 2.305 at step 0 -> 0.912 at step 149." in text
    assert "seed 1000, 60 clips" in text and "accuracy 45% (chance 10%)" in text
    assert "  motion             33% (chance within the group 33%)" in text
    assert "appearance+motion  no clips" in text
    assert "(149," not in text and "(0," not in text  # no raw (step, loss) tuples
    untested = L04.training_summary({**record, "test_detail": None})
    assert untested.endswith("Not tested (test_clips=0).")
