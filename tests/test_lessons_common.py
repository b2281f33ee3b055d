"""Tests of slowfast_lab.lessons.common."""

from __future__ import annotations

import pytest

from slowfast_lab.lessons import common as C


def test_display_number_reads_like_the_paper() -> None:
    from slowfast_lab.lessons.common import display_number, rows_to_frame

    assert display_number(8.0) == "8"
    assert display_number(0.125) == "1/8"
    assert display_number(36.10456) == "36.1"
    assert display_number(123456.7) == "123,457"
    assert display_number("res2") == "res2" and display_number(3) == 3
    html = rows_to_frame([{"stage": "res2", "channels fast/slow": 0.125}]).to_html()
    assert "1/8" in html and "0.125" not in html


def test_fast_mode_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "1")
    assert C.fast_mode() and C.pick("small", "big") == "small"
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "0")
    assert not C.fast_mode() and C.pick("small", "big") == "big"
    monkeypatch.delenv("SLOWFAST_LAB_FAST")
    assert not C.fast_mode()


def test_banner_states_times_device_and_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOWFAST_LAB_FAST", "1")
    text = C.banner("Lesson 0", cpu_fast="1 min", cpu_full="5 min", gpu="30 s")
    assert "CPU fast mode 1 min" in text and "GPU 30 s" in text
    assert "FAST mode" in text and C.device_name() in text
    times = C.LESSON_TIMES[4]
    text = C.banner("Lesson 04", lesson=4)
    assert f"CPU fast mode {times.cpu_fast}," in text and f"CPU full mode {times.cpu_full}," in text
    assert f"GPU {times.gpu}" in text


def test_format_seconds_reads_like_a_person() -> None:
    assert C.format_seconds(15) == "15 s" and C.format_seconds(59.6) == "1 min"
    assert C.format_seconds(90) == "1 min 30 s" and C.format_seconds(300) == "5 min"


def test_question_grades_with_its_check() -> None:
    q = C.Question(
        "How many Fast frames for T=4, alpha=8?", "32", check=lambda r: int(r) == 32, solution="32"
    )
    assert q.grade(" 32 ") == "Correct!"
    assert q.grade("16").startswith("Not quite")
    assert q.grade("thirty-two").startswith("Not quite")  # unparsable is wrong, not a crash
    assert "compare with the answer" in C.Question("Why?", "Because.").grade("x")


def test_output_html_shows_images_html_and_text() -> None:
    assert C.output_html({"image/png": b"\x89PNG"}).startswith('<img src="data:image/png;base64,')
    assert C.output_html({"image/png": "iVBO", "text/plain": "x"}).count("iVBO") == 1
    assert C.output_html({"text/html": "<b>t</b>", "text/plain": "t"}) == "<b>t</b>"
    assert C.output_html({"text/plain": "a<b"}) == "<pre>a&lt;b</pre>"


def test_render_call_shows_printed_text_and_errors() -> None:
    def shown(n: int) -> None:
        print(f"n = {n} < 5")

    assert "<pre>n = 3 &lt; 5\n</pre>" in C.render_call(shown, {"n": 3})

    def broken(n: int) -> None:
        raise ValueError(f"n={n} is not allowed")

    page = C.render_call(broken, {"n": 7})
    assert "ValueError: n=7 is not allowed" in page and "color:#b00020" in page


@pytest.fixture
def shell():
    """An IPython shell, so `display` publishes rich outputs as it does in a kernel."""
    from IPython.core.interactiveshell import InteractiveShell

    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def test_render_call_shows_each_returned_item(shell) -> None:
    from IPython.display import HTML

    from slowfast_lab.lessons.l01_sampling import Note

    def panel(n: int) -> list:
        return [Note(f"{n} points"), HTML("<b>figure</b>"), HTML("<i>table</i>")]

    page = C.render_call(panel, {"n": 3})
    assert page == "<pre>3 points</pre>\n<b>figure</b>\n<i>table</i>"  # each item, in order
    assert C.render_call(lambda: (1, 2), {}) == "<pre>1</pre>\n<pre>2</pre>"  # not "(1, 2)"
    # one returned value is shown as it is (lessons 04 and 07 rely on it); None shows nothing
    assert C.render_call(lambda: HTML("<b>one</b>"), {}) == "<b>one</b>"
    assert C.render_call(lambda: {"a": 1}, {}) == "<pre>{&#x27;a&#x27;: 1}</pre>"
    assert C.render_call(lambda: None, {}) == ""


def test_readme_states_the_fast_mode_times_of_lesson_times() -> None:
    """The README's lesson table and the banners read one table: LESSON_TIMES."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    rows = re.findall(r"^\| `(\d\d)_\w+` \|.*\| ([^|]*) \|$", readme, flags=re.MULTILINE)
    stated = {int(n): cell.strip() for n, cell in rows}
    assert set(stated) == set(C.LESSON_TIMES), "a lesson is missing from the README or the table"
    for n, times in C.LESSON_TIMES.items():
        assert stated[n] == f"~{C.format_seconds(times.cpu_fast_s)}", (
            f"README says {stated[n]!r} for lesson {n:02d}; LESSON_TIMES says "
            f"{times.cpu_fast_s} s: change both together"
        )
    numbered = sorted(Path(__file__).parent.parent.glob("notebooks/[0-9][0-9]_*.ipynb"))
    assert {int(p.name[:2]) for p in numbered} == set(C.LESSON_TIMES)
    for p in numbered:  # every banner reads the table
        assert f"lesson={int(p.name[:2])}," in p.read_text(), f"{p.name}: banner(..., lesson=N)"
