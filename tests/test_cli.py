"""The command line: `python -m slowfast_lab ...`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slowfast_lab.__main__ import main


def test_complexity_command_prints_the_paper_number(capsys: pytest.CaptureFixture) -> None:
    assert main(["complexity", "slowfast_4x16_r50"]) == 0
    out = capsys.readouterr().out
    assert "36.1 G multiply-adds" in out and "34.48M params" in out and "Fast share 19.1%" in out


def test_complexity_overrides_and_bad_values(capsys: pytest.CaptureFixture) -> None:
    assert main(["complexity", "slowfast_4x16_r50", "--set", "fusion=none"]) == 0
    assert "34.2 G" in capsys.readouterr().out
    assert main(["complexity", "slowfast_4x16_r50", "--set", "alpha=3"]) == 2
    assert "alpha=3 does not divide tau=16" in capsys.readouterr().err


def test_complexity_of_a_detector_counts_its_boxes(capsys: pytest.CaptureFixture) -> None:
    """The AVA model: dilated res5 (96.9 G at 256^2, not 65.7 G) and one fc per person box."""
    assert main(["complexity", "slowfast_8x8_r50_ava", "--boxes", "10"]) == 0
    out = capsys.readouterr().out
    assert "10 box(es): 96.9 G" in out and "head 1.8 M" in out
    assert main(["complexity", "slowfast_8x8_r50_ava", "--boxes", "-1"]) == 2
    assert "boxes=-1 must be a whole number >= 0" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "slowfast_lab", "--help"], capture_output=True, text=True, check=True
    )
    assert "complexity" in done.stdout


def test_train_options_reach_the_training_config() -> None:
    """--optimizer and --dropout of train / compare are used, not silently dropped."""
    from slowfast_lab.__main__ import _train_config, build_parser

    args = build_parser().parse_args(["train", "--optimizer", "sgd", "--dropout", "0"])
    cfg = _train_config(args)
    assert cfg.optimizer == "sgd" and cfg.model.dropout == 0.0
    default = _train_config(build_parser().parse_args(["train"]))
    assert default.optimizer == "adamw" and default.model.dropout == 0.2  # slowfast_tiny's
    both = build_parser().parse_args(["compare", "--dropout", "0.1", "--set", "dropout=0.3"])
    assert _train_config(both).model.dropout == 0.3  # --set wins
    assert main(["train", "--dropout", "1.5", "--steps", "1"]) == 2
