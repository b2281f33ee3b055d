"""Tests of slowfast_lab.lessons.l05_explorer."""

from __future__ import annotations

import re

import pytest

from slowfast_lab import complexity
from slowfast_lab.lessons import l05_explorer as L05


def test_cost_rows_equal_complexity() -> None:
    ev = L05.evaluate_state(L05.ExplorerState())
    c = complexity("slowfast_4x16_r50", crop_size=256)
    rows = {r["part"]: r for r in L05.cost_rows(ev.cost)}
    for part in ("slow", "fast", "lateral", "head"):
        assert rows[part]["macs"] == c.by_part[part]
        assert rows[part]["params"] == c.params_by_part[part]
    assert rows["total"]["macs"] == c.macs and rows["total"]["params"] == c.params
    assert rows["fast"]["share"] == pytest.approx(c.fast_share)


def test_invalid_states_give_messages() -> None:
    ev = L05.evaluate_state(L05.ExplorerState(alpha=5, tau=16))
    assert not ev.ok and "alpha=5" in ev.error and "[1, 2, 4, 8, 16]" in ev.error
    ev = L05.evaluate_state(L05.ExplorerState(preset="slowfast_tiny", beta_inv=32, crop=64))
    assert not ev.ok and "no channels" in ev.error
    assert L05.current_point(ev) is None
    assert L05.summary_text(ev).startswith("Invalid configuration")


def test_shape_rows_paper_table1() -> None:
    cfg = L05.evaluate_state(L05.ExplorerState(crop=224)).config
    rows = {r["stage"]: r for r in L05.shape_rows(cfg, 224)}
    assert rows["conv1"]["slow"] == "{4, 112^2, 64}" and rows["conv1"]["fast"] == "{32, 112^2, 8}"
    assert rows["res2"]["slow"] == "{4, 56^2, 256}" and rows["res5"]["fast"] == "{32, 7^2, 256}"
    assert rows["pool1"]["lateral"] == "+16 ch" and rows["res5"]["lateral"] == "-"


def test_chart_points_paper_and_ours() -> None:
    points = L05.chart_points(L05.evaluate_state(L05.ExplorerState()))
    paper = {p.label.split(" ")[0]: p for p in points["paper"]}
    ours = {p.label.split(" ")[0]: p for p in points["ours"]}
    assert paper["beta=1/8"].gflops == 36.1 and paper["beta=1/4"].top1 == 75.6
    for b in ("1/8", "1/16", "1/32"):
        assert ours[f"beta={b}"].gflops == pytest.approx(paper[f"beta={b}"].gflops, abs=0.07)
    (current,) = points["current"]
    assert current.top1 == 75.6 and current.gflops == pytest.approx(36.0992, abs=1e-3)
    other = L05.chart_points(L05.evaluate_state(L05.ExplorerState(crop=224)))["current"][0]
    assert other.top1 is None  # the paper did not run this crop


def test_chart_traces_follow_points_and_runs() -> None:
    points = L05.chart_points(L05.evaluate_state(L05.ExplorerState()))
    fig = L05.explorer_chart(points)
    assert list(fig.data[0].x) == [54.5, 41.8, 36.1, 32.8, 30.6, 28.6]
    assert list(fig.data[2].y) == [75.6] and len(fig.data[3].x) == 0
    runs = [{"kind": "measure", "label": "m", "gflops": 1.0, "ms": 5.0, "device": "cpu"}]
    L05.update_explorer_chart(
        fig, L05.chart_points(L05.evaluate_state(L05.ExplorerState(T=8))), runs
    )
    assert len(fig.data[2].x) == 0 and len(fig.data[3].x) == 2
    assert list(fig.data[4].y) == [5.0]


@pytest.fixture
def explorer():
    return L05.AlphaBetaExplorer()


def displayed(explorer) -> dict[tuple[str, str], int]:
    cells = re.findall(
        r'data-part="(\w+)" data-field="(macs|params)" data-value="(\d+)"', explorer.cost_html.value
    )
    return {(p, f): int(v) for p, f, v in cells}


def test_numbers_follow_the_controls(explorer) -> None:
    for beta_inv in (4, 16, 32):
        explorer.beta.value = beta_inv
        c = complexity("slowfast_4x16_r50", crop_size=256, beta_inv=beta_inv)
        shown = displayed(explorer)
        assert shown[("total", "macs")] == c.macs
        for part in ("slow", "fast", "lateral", "head"):
            assert shown[(part, "macs")] == c.by_part[part]
            assert shown[(part, "params")] == c.params_by_part[part]
        assert f"Fast share {c.fast_share:.1%}" in explorer.summary.value
        assert explorer.last_update_ms < 500  # < 100 ms unloaded; the CI cores are shared


def test_preset_sets_controls(explorer) -> None:
    explorer.preset.value = "slowfast_8x8_r50"
    assert (explorer.T.value, explorer.tau.value, explorer.alpha.value) == (8, 8, 4)
    assert displayed(explorer)[("total", "macs")] == complexity("slowfast_8x8_r50").macs


def test_panel_is_marked_and_holds_every_part(explorer) -> None:
    panel = explorer.widget()
    assert "sfl-explorer" in panel._dom_classes  # the browser tests and styles find it by this

    def leaves(box):
        for child in getattr(box, "children", ()):
            yield child
            yield from leaves(child)

    parts = list(leaves(panel))
    for part in (explorer.alpha, explorer.beta, explorer.cost_html, explorer.measure_button):
        assert any(part is p for p in parts)


def test_invalid_combination_shows_message_not_traceback(explorer) -> None:
    explorer.alpha.value = 5
    assert "does not divide tau=16" in explorer.message.value
    assert explorer.cost_html.value == "" and explorer.measure_button.disabled
    explorer.alpha.value = 8
    assert explorer.message.value == "" and not explorer.measure_button.disabled


def test_measure_button_adds_a_run(explorer) -> None:
    explorer.set_state(preset="slowfast_tiny")
    explorer.measure_button.click()
    (run,) = explorer.runs
    assert run["kind"] == "measure" and run["ms"] > 0
    assert run["gflops"] == pytest.approx(complexity("slowfast_tiny", crop_size=64).gflops)
    assert list(explorer.figure.data[4].y) == [run["ms"]]
    assert "ms per clip" in explorer.runs_html.value


def test_train_button_adds_a_run(explorer, monkeypatch) -> None:
    def fake_train(cfg, steps, seed=0, train_clips=None, test_clips=None, progress=True):
        assert cfg.width == 16 and cfg.beta_inv == 8 and steps == explorer.budget.value
        return {
            "accuracy": 0.5,
            "groups": {"motion": 0.5},
            "gflops": 0.1,
            "train_time_s": 1.0,
            "clip_size": 48,
        }

    monkeypatch.setattr(L05, "train_small_model", fake_train)
    explorer.train_button.click()
    assert explorer.runs[-1]["accuracy"] == 0.5
    assert list(explorer.figure.data[5].y) == [50.0]


def test_fast_cost_by_beta_stem_and_laterals_shrink_linearly() -> None:
    rows = {r["piece"]: r for r in L05.fast_cost_by_beta(beta_invs=(4, 8, 16, 32))}
    fast, stem, res, lateral, slow_reads = (rows[p] for p in L05.FAST_COST_PIECES)
    betas = ["beta=1/4", "beta=1/8", "beta=1/16", "beta=1/32"]
    for b, inv in zip(betas, (4, 8, 16, 32), strict=True):
        c = complexity("slowfast_4x16_r50", crop_size=256, beta_inv=inv)
        assert fast[b] == pytest.approx(c.by_part["fast"] / 1e9)
        assert stem[b] + res[b] == pytest.approx(fast[b])
        assert lateral[b] == pytest.approx(c.by_part["lateral"] / 1e9)
    for a, b in zip(betas, betas[1:], strict=False):
        assert stem[a] / stem[b] == pytest.approx(2.0)  # 3 RGB channels in: linear in beta
        assert slow_reads[a] / slow_reads[b] == pytest.approx(2.0)  # wider Slow input only
        assert res[a] / res[b] == pytest.approx(4.0)  # beta C in and out: beta squared
        assert lateral[a] / lateral[b] == pytest.approx(4.0)
        assert 2.0 < fast[a] / fast[b] < 3.5  # the pathway: neither
    assert fast["beta=1/8"] == pytest.approx(6.89963008) and stem["beta=1/8"] == pytest.approx(
        3 * 8 * 5 * 49 * 32 * 128 * 128 / 1e9
    )
    assert fast["smaller per halving"] == "3.1x, 2.8x, 2.5x"
    assert (stem["smaller per halving"], res["smaller per halving"]) == ("2x", "4x")


def test_alpha_one_makes_the_fast_pathway_take_the_slow_frames() -> None:
    a = L05.alpha_one_answer()
    assert (a["frames"], a["stride"], a["slow stride"]) == (4, 16, 16)  # Slow's own frames
    assert (a["base frames"], a["base stride"]) == (32, 2)
    c1 = complexity("slowfast_4x16_r50", alpha=1)
    assert a["share"] == pytest.approx(c1.fast_share) and a["gflops"] == pytest.approx(c1.gflops)
    assert a["share"] < 0.03 < 0.19 < a["base share"] < 0.2
    with pytest.raises(ValueError, match="no channels"):
        L05.alpha_one_answer(L05.ExplorerState(preset="slowfast_tiny", beta_inv=32, crop=64))


def test_cheapest_beta_within_a_point_of_table_5b_best() -> None:
    b = L05.cheapest_beta_within(1.0)
    assert (b["best"], b["best top1"]) == (6, 75.8)
    assert (b["beta_inv"], b["top1"], b["gflops"]) == (16, 75.1, 30.6) and b["excluded"] == [32]
    assert b["our gflops"] == pytest.approx(30.6, abs=0.05)
    assert L05.cheapest_beta_within(0.3)["beta_inv"] == 8  # 75.6 >= 75.5; 1/12 (75.2) is not
    assert L05.cheapest_beta_within(2.0)["beta_inv"] == 32


def test_fast_share_crossing_20_percent() -> None:
    by_beta = L05.fast_share_crossing("beta_inv", (64, 32, 16, 12, 8, 6, 4, 2))
    assert by_beta["above"][0] == 6 and by_beta["below"][0] == 8
    assert by_beta["below"][1] == pytest.approx(complexity("slowfast_4x16_r50").fast_share)
    assert by_beta["above"][1] == pytest.approx(
        complexity("slowfast_4x16_r50", beta_inv=6).fast_share
    )
    by_alpha = L05.fast_share_crossing("alpha", range(1, 17))
    assert list(by_alpha["shares"]) == [1, 2, 4, 8, 16]  # only divisors of tau=16 are valid
    assert (by_alpha["below"][0], by_alpha["above"][0]) == (8, 16)
    assert L05.fast_share_crossing("beta_inv", (64, 32), threshold=0.2) is None
    assert L05.fast_share_crossing("beta_inv", (4, 8))["below"] is None  # 1/4 already above


def test_classroom_tasks_hide_computed_answers() -> None:
    page = L05.classroom_tasks_html()
    assert page.count("<details><summary>") == 3 and page.count("<li>") == 3
    answers = re.findall(r"<details><summary>[^<]*</summary><p>(.*?)</p></details>", page)
    assert "Fast sees 4 (every 16)" in answers[0] and "19.1% to 2.9%" in answers[0]
    assert answers[1].startswith("beta = 1/16: 75.1 top-1 at 30.6 GFLOPs")
    assert "20% at beta = 1/6 (25.8%); at 1/8 it is 19.1%" in answers[2]
    assert "20% at alpha = 16 (32.1%); at 8 it is 19.1%" in answers[2]
    question = page.split("<details>")[0]
    assert "alpha = 1" in question and "1/16" not in question  # the answer is not in the question
