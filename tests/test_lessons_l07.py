"""Tests of slowfast_lab.lessons.l07_real_model: the controls' views and the cost-growth note."""

from __future__ import annotations

import pandas as pd
import torch

from slowfast_lab import recognize
from slowfast_lab.lessons import l07_real_model as L07


def _growth(ms: list[float], load: float = 0.5, cores: int = 2) -> list[dict]:
    """A cost-growth sweep along T as `timing.cost_growth` returns it (work doubling per point)."""
    machine = {"loadavg_1m": load, "cpu_count": cores, "threads": cores}
    return [
        {
            "axis": "T",
            "T": t,
            "crop": 32,
            "batch": 1,
            "macs": 10**8 * t,
            "ms": m,
            "ms min": m - 1,
            "ms max": m + 2,
            "MB": 0.5 * t,
            "predicted ms": ms[0] * t,
            "predicted MB": 0.5 * t,
            "rounds": 3,
            "load": {"before": machine, "after": machine},
        }
        for t, m in zip((1, 2, 4), ms, strict=True)
    ]


def test_growth_note_says_how_it_was_timed_and_when_not_to_trust_it() -> None:
    note, warn = L07.growth_note(_growth([10.0, 18.0, 35.0]))
    assert not warn
    assert "median of 3 timed rounds" in note and "load average 0.5-0.5 on 2 cores" in note
    note, warn = L07.growth_note(_growth([10.0, 8.0, 35.0]))  # time fell as the work doubled
    assert warn and "time fell as the work grew: T" in note and "UNRELIABLE" in note
    note, warn = L07.growth_note(_growth([10.0, 18.0, 35.0], load=5.3))  # 5.3 > 2 cores
    assert warn and "machine busy" in note and "time fell" not in note


def test_cost_growth_figure_shows_spread_and_warns_in_red() -> None:
    fig = L07.cost_growth_figure(_growth([10.0, 18.0, 35.0]))
    assert len(fig.axes) == 2  # one axis: time and memory
    assert fig.axes[0].containers  # the fastest-to-slowest bars
    assert fig.get_suptitle().count("\n") == 1 and fig._suptitle.get_color() == "black"
    warned = L07.cost_growth_figure(_growth([10.0, 8.0, 35.0]))
    assert "UNRELIABLE" in warned.get_suptitle() and warned._suptitle.get_color() == "red"


def test_growth_table_is_one_axis_as_decimals() -> None:
    rows = _growth([10.0, 18.25, 35.0])
    rows.append({**rows[0], "axis": "batch"})
    table = L07.growth_table(rows, "T")
    assert isinstance(table, pd.DataFrame) and list(table["T"]) == [1, 2, 4]
    assert list(table["ms"]) == ["10.0", "18.2", "35.0"]
    assert list(table["MB"]) == ["0.5", "1.0", "2.0"]  # 0.5, not '1/2'
    assert list(table["GMACs"]) == ["0.1", "0.2", "0.4"]
    assert "load" not in table and "axis" not in table


def test_clip_scores_view_follows_the_top_k_of_the_chosen_model() -> None:
    probs = torch.zeros(3, 1, 5)
    probs[:, 0] = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05])
    probs[2, 0, 0] = 0.6  # class a rises in the last clip
    scores = recognize.VideoScores(
        probs, [0, 10, 20], [0.5, 1.5, 2.5], "slowfast_8x8_r50", False, ("a", "b", "c", "d", "e")
    )
    fig = L07.clip_scores_view({"SlowFast": scores}, "SlowFast", 2)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["b", "d"]
    assert list(ax.get_lines()[0].get_xdata()) == [0.5, 1.5, 2.5]
    assert "SlowFast: scores of the video's top-2 classes" in ax.get_title()


def test_stage_profile_table_has_one_row_per_part() -> None:
    table = L07.stage_profile_table("slowfast_tiny", 32, "cpu")
    assert isinstance(table, pd.DataFrame)
    assert set(table["part"]) >= {"slow", "fast", "head"}
