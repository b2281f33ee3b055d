"""Drive the AlphaBetaExplorer in-process: set values, click buttons, read what is displayed."""

from __future__ import annotations

import re

import pytest

from slowfast_lab import complexity
from slowfast_lab import widgets as ab


def displayed(explorer) -> dict[tuple[str, str], int]:
    cells = re.findall(
        r'data-part="(\w+)" data-field="(macs|params)" data-value="(\d+)"', explorer.cost_html.value
    )
    return {(p, f): int(v) for p, f, v in cells}


@pytest.fixture
def explorer():
    return ab.AlphaBetaExplorer()


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

    monkeypatch.setattr(ab, "train_small_model", fake_train)
    explorer.train_button.click()
    assert explorer.runs[-1]["accuracy"] == 0.5
    assert list(explorer.figure.data[5].y) == [50.0]
