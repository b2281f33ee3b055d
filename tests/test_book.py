"""The `book` command's pure parts: which notebooks, the index page, the patient polling."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

from slowfast_lab import book


def test_lesson_notebooks_are_the_numbered_ones(tmp_path) -> None:
    for name in ("02_b.ipynb", "01_a.ipynb", "classroom.ipynb", "notes.txt"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in book.lesson_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    assert all(p.name[:2].isdigit() for p in book.lesson_notebooks())


def test_index_links_pages_and_reports_failures() -> None:
    pages = [
        book.Page("01_temporal_sampling.ipynb", "01_temporal_sampling.html", 12.3),
        book.Page("02_two_pathways.ipynb", "02_two_pathways.html", 40.0, "CellExecutionError: x<y"),
    ]
    page = book.index_html(pages, fast=True)
    assert '<a href="01_temporal_sampling.html">01 temporal sampling</a> (12 s)' in page
    assert "failed: CellExecutionError: x&lt;y" in page and "fast mode" in page


def test_polling_in_slices_finds_a_late_message() -> None:
    class Channel:
        """A channel whose poll only wakes at its timeout (the stall), unless asked again."""

        def __init__(self) -> None:
            self.ready_at = time.monotonic() + 0.3
            self.calls = 0

        async def get_msg(self, timeout=None):
            self.calls += 1
            if time.monotonic() >= self.ready_at:
                return {"msg": "reply"}
            await asyncio.sleep(timeout)
            raise Empty

    ch = Channel()
    book._poll_in_slices(ch, step=0.05)
    start = time.monotonic()
    assert asyncio.run(ch.get_msg(timeout=30)) == {"msg": "reply"}
    assert time.monotonic() - start < 2 and ch.calls > 1
    ch2 = Channel()
    ch2.ready_at += 100
    book._poll_in_slices(ch2, step=0.05)
    start = time.monotonic()
    try:
        asyncio.run(ch2.get_msg(timeout=0.2))
        raise AssertionError("expected Empty")
    except Empty:
        assert time.monotonic() - start < 1
