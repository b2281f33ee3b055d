"""The helpers every lesson uses."""

from __future__ import annotations

import pytest

from slowfast_lab import lesson


def test_fast_mode_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "1")
    assert lesson.fast_mode() and lesson.pick("small", "big") == "small"
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "0")
    assert not lesson.fast_mode() and lesson.pick("small", "big") == "big"
    monkeypatch.delenv("SLOWFAST_LAB_FAST")
    assert not lesson.fast_mode()


def test_banner_states_times_device_and_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "1")
    text = lesson.banner("Lesson 0", cpu_fast="1 min", cpu_full="5 min", gpu="30 s")
    assert "CPU fast mode 1 min" in text and "GPU 30 s" in text
    assert "FAST mode" in text and lesson.device_name() in text


def test_question_grades_with_its_check() -> None:
    q = lesson.Question(
        "How many Fast frames for T=4, alpha=8?", "32", check=lambda r: int(r) == 32
    )
    assert q.grade(" 32 ") == "Correct!"
    assert q.grade("16").startswith("Not quite")
    assert q.grade("thirty-two").startswith("Not quite")  # unparsable is wrong, not a crash
    assert "compare with the answer" in lesson.Question("Why?", "Because.").grade("x")
