"""The `book` command: which notebooks, the index page, the patient polling, the offline pages
(pure parts), and the book opened in Chromium with the network cut."""

from __future__ import annotations

import asyncio
import os
import re
import time
from queue import Empty

import browser_support as bs
import pytest

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


# ------------------------------------------------------------------------------------------------
# Offline pages: the pure parts


def _notebook_with_widgets() -> dict:
    """A small executed notebook: a PNG, a plotly figure, and a widget view (a VBox holding an
    HTML widget with an image, a slider, and an Output widget with a plotly figure and a PNG)."""
    figure = {"data": [{"type": "scatter", "x": [1, 2], "y": [3, 4]}], "layout": {}}
    png = "iVBORw0KGgo="
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}

    def model(name: str, **state) -> dict:
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    state = {
        "box": model(
            "VBoxModel",
            children=["IPY_MODEL_html", "IPY_MODEL_slider", "IPY_MODEL_out"],
            _dom_classes=["sfl-question"],
        ),
        "html": model("HTMLModel", value=f'<img src="data:image/png;base64,{png}"> & <b>x</b>'),
        "slider": model("IntSliderModel", value=16, min=1, max=32, step=1, description="tau"),
        "out": model(
            "OutputModel",
            outputs=[
                {"output_type": "display_data", "data": {book.PLOTLY_MIME: figure}},
                {"output_type": "display_data", "data": {"image/png": png}},
                {"output_type": "stream", "name": "stdout", "text": "a < b\n"},
            ],
        ),
    }
    outputs = [
        {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<Figure>"}},
        {"output_type": "display_data", "data": {book.PLOTLY_MIME: figure}},
        {"output_type": "execute_result", "data": {book.WIDGET_VIEW_MIME: view, "text/plain": "VBox"}},
    ]  # fmt: skip
    for out in outputs[2:]:
        out.update(execution_count=1, metadata={})
    for out in outputs[:2]:
        out["metadata"] = {}
    cell = {"cell_type": "code", "id": "c1", "source": "", "metadata": {}, "execution_count": 1}
    widgets = {book.WIDGET_STATE_MIME: {"state": state, "version_major": 2, "version_minor": 0}}
    return {
        "cells": [{**cell, "outputs": outputs}],
        "metadata": {"widgets": widgets},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_count_figures_looks_inside_widgets() -> None:
    found = book.count_figures(_notebook_with_widgets())
    # PNGs: one output, one in the HTML widget, one in the Output widget; plotly: one output and
    # one in the Output widget; one widget view
    assert (found.png, found.plotly, found.widgets, found.total) == (3, 2, 1, 6)


def test_static_widget_html_draws_the_saved_state() -> None:
    nb = _notebook_with_widgets()
    page = book.static_widget_html("box", book.widget_states(nb))
    assert page.startswith('<div class="sfl-widget"><div class="sfl-box sfl-column sfl-question">')
    assert '<span class="sfl-label">tau</span><input type="range" disabled min="1" max="32"' in page
    assert 'value="16"><span class="sfl-value">16</span>' in page
    assert page.count('src="data:image/png') == 2 and "<pre>a &lt; b\n</pre>" in page
    assert page.count("Plotly.newPlot") == 1
    assert "(a widget whose state was not saved)" in book.static_widget_html("gone", {})


def test_make_offline_leaves_nothing_for_a_cdn() -> None:
    nb = _notebook_with_widgets()
    assert book.make_offline(nb) is True
    kinds = [set(out["data"]) for out in nb["cells"][0]["outputs"]]
    assert kinds == [{"image/png", "text/plain"}, {"text/html"}, {"text/html"}]
    assert "widgets" not in nb["metadata"]
    plain = {"cells": [{"cell_type": "code", "source": "", "outputs": []}], "metadata": {}}
    assert book.make_offline(plain) is False


def test_offline_html_embeds_plotly_once_and_loads_nothing() -> None:
    import nbformat

    nb = nbformat.from_dict(_notebook_with_widgets())
    page = book.offline_html(nb)
    assert page.count("Plotly.newPlot") == 2
    assert len(re.findall(r"<script[^>]*\bsrc=", page)) == 0, "a script loaded from elsewhere"
    from plotly.offline import get_plotlyjs

    assert page.count(get_plotlyjs()[:500]) == 1  # plotly.js itself, once, inline
    assert "text/x-mathjax-config" not in page and "embed-amd" not in page


# ------------------------------------------------------------------------------------------------
# The book in a browser, offline: two lessons built in fast mode, opened with the network cut


@pytest.fixture(scope="module")
def offline_book(tmp_path_factory):
    missing = bs.chromium_missing_reason()
    if missing:
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("book")
    env = {"SLOWFAST_LAB_FAST": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        pages = book.build_book(out, only=BOOK_LESSONS)
    finally:
        for k, v in before.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return out, pages


BOOK_LESSONS = ["01_", "05_"]  # widgets, answers and PNGs; plotly at top level and in a widget


@pytest.mark.browser
@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_book_shows_every_figure_offline_and_hides_answers(offline_book, tmp_path) -> None:
    from playwright.sync_api import expect

    from slowfast_lab.lessons import l01_sampling

    out, pages = offline_book
    assert [p.notebook[:3] for p in pages] == ["01_", "05_"]
    assert not [p.error for p in pages if p.error], "a lesson failed while building the book"
    attempted: list[str] = []

    def only_files(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            attempted.append(url)
            route.abort("blockedbyclient")

    with bs.chromium(tmp_path / "profile") as context:
        context.route("**/*", only_files)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.goto((out / "index.html").as_uri())
        expect(tab.locator("body")).to_contain_text("work offline")
        assert tab.locator("a").count() == len(pages)
        for p in pages:
            tab.goto((out / p.html).as_uri(), wait_until="load", timeout=120_000)
            plots = tab.locator(".js-plotly-plot").filter(has=tab.locator("svg.main-svg"))
            if p.figures.plotly:
                expect(plots).to_have_count(p.figures.plotly, timeout=60_000)
            shown = {
                "png": tab.locator('img[src^="data:image/png"]').count(),
                "plotly": plots.count(),
                "widgets": tab.locator(".sfl-widget").count(),
            }
            want = {"png": p.figures.png, "plotly": p.figures.plotly, "widgets": p.figures.widgets}
            print(f"\n{p.html}: {shown} drawn offline; the executed notebook has {want}")
            assert shown == want, f"{p.html}: drawn {shown}, the executed notebook has {want}"
            bs.screenshot(tab, f"book-{p.html.removesuffix('.html')}")
        assert pages[1].figures.plotly >= 2 and pages[0].figures.widgets >= 5
        # lesson 01: every question's answer is in the page, closed until its summary is clicked
        tab.goto((out / pages[0].html).as_uri())
        answers = tab.locator("details.sfl-answer")
        assert answers.count() == len(l01_sampling.QUESTIONS)
        assert tab.locator(".sfl-question").count() == len(l01_sampling.QUESTIONS)
        first = l01_sampling.QUESTIONS["last_slow_frame"]
        body = answers.first.locator("div")
        expect(body).to_be_hidden()
        assert first.answer[:40] in answers.first.text_content()
        answers.first.locator("summary").click()
        expect(body).to_be_visible()
        expect(body).to_have_text(first.answer)
        assert not errors, f"script errors in the book: {errors}"
    assert not attempted, f"the book tried to load from the network: {attempted}"
