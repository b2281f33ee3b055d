"""The pure functions behind the alpha/beta explorer, and its chart, tested on values."""

from __future__ import annotations

import pytest

from slowfast_lab import complexity
from slowfast_lab import widgets as ab
from slowfast_lab.viz import explorer_chart, update_explorer_chart


def test_cost_rows_equal_complexity() -> None:
    ev = ab.evaluate_state(ab.ExplorerState())
    c = complexity("slowfast_4x16_r50", crop_size=256)
    rows = {r["part"]: r for r in ab.cost_rows(ev.cost)}
    for part in ("slow", "fast", "lateral", "head"):
        assert rows[part]["macs"] == c.by_part[part]
        assert rows[part]["params"] == c.params_by_part[part]
    assert rows["total"]["macs"] == c.macs and rows["total"]["params"] == c.params
    assert rows["fast"]["share"] == pytest.approx(c.fast_share)


def test_invalid_states_give_messages() -> None:
    ev = ab.evaluate_state(ab.ExplorerState(alpha=5, tau=16))
    assert not ev.ok and "alpha=5" in ev.error and "[1, 2, 4, 8, 16]" in ev.error
    ev = ab.evaluate_state(ab.ExplorerState(preset="slowfast_tiny", beta_inv=32, crop=64))
    assert not ev.ok and "no channels" in ev.error
    assert ab.current_point(ev) is None
    assert ab.summary_text(ev).startswith("Invalid configuration")


def test_shape_rows_paper_table1() -> None:
    cfg = ab.evaluate_state(ab.ExplorerState(crop=224)).config
    rows = {r["stage"]: r for r in ab.shape_rows(cfg, 224)}
    assert rows["conv1"]["slow"] == "{4, 112^2, 64}" and rows["conv1"]["fast"] == "{32, 112^2, 8}"
    assert rows["res2"]["slow"] == "{4, 56^2, 256}" and rows["res5"]["fast"] == "{32, 7^2, 256}"
    assert rows["pool1"]["lateral"] == "+16 ch" and rows["res5"]["lateral"] == "-"


def test_chart_points_paper_and_ours() -> None:
    points = ab.chart_points(ab.evaluate_state(ab.ExplorerState()))
    paper = {p.label.split(" ")[0]: p for p in points["paper"]}
    ours = {p.label.split(" ")[0]: p for p in points["ours"]}
    assert paper["beta=1/8"].gflops == 36.1 and paper["beta=1/4"].top1 == 75.6
    for b in ("1/8", "1/16", "1/32"):
        assert ours[f"beta={b}"].gflops == pytest.approx(paper[f"beta={b}"].gflops, abs=0.07)
    (current,) = points["current"]
    assert current.top1 == 75.6 and current.gflops == pytest.approx(36.0992, abs=1e-3)
    other = ab.chart_points(ab.evaluate_state(ab.ExplorerState(crop=224)))["current"][0]
    assert other.top1 is None  # the paper did not run this crop


def test_chart_traces_follow_points_and_runs() -> None:
    points = ab.chart_points(ab.evaluate_state(ab.ExplorerState()))
    fig = explorer_chart(points)
    assert list(fig.data[0].x) == [54.5, 41.8, 36.1, 32.8, 30.6, 28.6]
    assert list(fig.data[2].y) == [75.6] and len(fig.data[3].x) == 0
    runs = [{"kind": "measure", "label": "m", "gflops": 1.0, "ms": 5.0, "device": "cpu"}]
    update_explorer_chart(fig, ab.chart_points(ab.evaluate_state(ab.ExplorerState(T=8))), runs)
    assert len(fig.data[2].x) == 0 and len(fig.data[3].x) == 2
    assert list(fig.data[4].y) == [5.0]
