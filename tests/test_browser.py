"""What a learner sees, in a real browser: JupyterLab and the Voila classroom app in headless Chromium.

Test 1 (JupyterLab): open lesson 05 and lesson 02 in a `jupyter lab` served from this environment,
run all cells (fast mode), wait until every cell has run and the kernel is idle, check that no cell
shows an error, move the explorer's alpha and beta controls like a learner, and check that the cost
numbers displayed become exactly what `sfl.complexity` gives; check that plotly figures and
matplotlib images really rendered. Test 2 (Voila): serve the classroom app like `make classroom`,
change alpha and beta, check the numbers the same way.

Screenshots go to test-artifacts/ (git-ignored). Servers listen on 127.0.0.1 only, on free ports,
with a token, in temporary Jupyter/IPython/matplotlib dirs, and are always stopped (tests/browser_support).
Skipped only where /usr/bin/chromium is missing (`make chromium` installs it as root).
"""

from __future__ import annotations

import json
import re
import shutil
import time

import browser_support as bs
import pytest

import slowfast_lab as sfl
from slowfast_lab.complexity import Complexity

MISSING = bs.chromium_missing_reason()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]

LESSON_05 = "05_alpha_beta_explorer.ipynb"
OTHER_LESSON = "02_two_pathways.ipynb"  # matplotlib figures, interact widgets, pandas tables
CLASSROOM = "classroom_explorer.ipynb"

# The explorer's controls, by their description, and the complexity() keyword each one sets.
CONTROL_KEYS = {
    "preset": "preset",
    "alpha": "alpha",
    "beta": "beta_inv",
    "tau": "tau",
    "T": "T",
    "crop": "crop_size",
    "depth": "depth",
    "fusion": "fusion",
}


# ------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with bs.chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a temporary copy of notebooks/ (nothing is ever saved into the repository)."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(bs.NOTEBOOKS, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_*"))
    for name in ("data_samples",):  # what lessons read next to notebooks/
        if (bs.ROOT / name).exists():
            (root / name).symlink_to(bs.ROOT / name)
    with bs.serve("lab", root, base / "server", timeout=120) as server:
        try:
            yield server
        finally:
            bs.ARTIFACTS.mkdir(exist_ok=True)
            (bs.ARTIFACTS / "jupyterlab-server.log").write_text(server.log_tail(200_000))


@pytest.fixture
def page(browser, request):
    """A fresh tab; browser-side errors are written next to the screenshots."""
    tab = browser.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    tab.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    try:
        yield tab
    finally:
        bs.ARTIFACTS.mkdir(exist_ok=True)
        (bs.ARTIFACTS / f"{request.node.name}-browser-console.txt").write_text(
            "\n".join(problems) + "\n"
        )
        tab.close()


def _require(name: str) -> str:
    path = bs.NOTEBOOKS / name
    assert path.exists(), f"notebooks/{name} is missing: the browser test opens it"
    return f"notebooks/{name}"


# ------------------------------------------------------------------------------------------------
# reading the explorer panel


def explorer_panel(scope):
    """The AlphaBetaExplorer panel (the widget box the explorer marks with class sfl-explorer)."""
    return scope.locator(".sfl-explorer").last


def control(panel, description: str):
    """An ipywidgets control (slider or dropdown) of the panel by its exact description."""
    label = panel.page.locator(  # matched inside each hbox: see explorer_panel
        ".widget-label", has_text=re.compile(rf"^\s*{re.escape(description)}\s*$")
    )
    return panel.locator(".widget-inline-hbox").filter(has=label).first


def control_text(ctrl) -> str:
    """What a control shows: a slider's readout or a dropdown's selected option."""
    if ctrl.locator("select").count():
        return ctrl.locator("select").evaluate("s => s.options[s.selectedIndex].text").strip()
    return ctrl.locator(".widget-readout").inner_text().strip()


def panel_settings(panel) -> dict:
    """The complexity() arguments the panel's controls show: {"preset":..., "alpha": 4, ...}."""
    settings = {}
    for description, key in CONTROL_KEYS.items():
        text = control_text(control(panel, description))
        if key in ("preset", "fusion"):
            settings[key] = text
        elif key == "beta_inv":
            settings[key] = int(text.split("/")[-1])
        else:
            settings[key] = int(text)
    return settings


def expected_cost(settings: dict) -> Complexity:
    args = dict(settings)
    return sfl.complexity(args.pop("preset"), crop_size=args.pop("crop_size"), **args)


def set_slider(page, ctrl, value: int) -> None:
    """Type a value into a slider's readout and press Enter (as a learner can)."""
    readout = ctrl.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")
    assert control_text(ctrl) == str(value), f"slider did not take {value}: {control_text(ctrl)}"


def set_dropdown(ctrl, label: str) -> None:
    ctrl.locator("select").select_option(label=label)
    assert control_text(ctrl) == label


def cell(panel, part: str, field: str):
    return panel.locator(f'table.sfl-cost td[data-part="{part}"][data-field="{field}"]')


def check_costs(panel, timeout_s: float = 60) -> Complexity:
    """Wait until the cost table shows what complexity() gives for the controls shown, then check
    every number of it (exact integers in data-value, rounded text in the cells) and the summary."""
    from playwright.sync_api import expect

    settings = panel_settings(panel)
    c = expected_cost(settings)
    # the kernel answers asynchronously: wait for the total to arrive, then read everything
    expect(cell(panel, "total", "macs")).to_have_attribute(
        "data-value", str(c.macs), timeout=timeout_s * 1000
    )
    shown = {}
    for part in (*c.by_part, "total"):
        macs = c.macs if part == "total" else c.by_part[part]
        params = c.params if part == "total" else c.params_by_part[part]
        m, p, s = cell(panel, part, "macs"), cell(panel, part, "params"), cell(panel, part, "share")
        shown[part] = (
            m.get_attribute("data-value"),
            m.inner_text(),
            p.inner_text(),
            s.inner_text(),
        )
        assert shown[part][0] == str(macs), f"{part} multiply-adds for {settings}: {shown[part]}"
        assert shown[part][1].strip() == f"{macs / 1e9:.3f}", f"{part} GFLOPs shown: {shown[part]}"
        assert p.get_attribute("data-value") == str(params), f"{part} params: {shown[part]}"
        assert shown[part][2].strip() == f"{params / 1e6:.3f} M", f"{part} params: {shown[part]}"
    fast_share = cell(panel, "fast", "share").inner_text().strip()
    assert fast_share == f"{c.fast_share:.1%}", (
        f"Fast share shown {fast_share}, not {c.fast_share:.1%}"
    )
    summary = panel.inner_text()
    assert f"{c.gflops:.2f} GFLOPs" in summary, f"summary lacks {c.gflops:.2f} GFLOPs"
    return c


def explorer_chart_x(panel) -> list[float]:
    """x of 'this configuration' in the explorer's plotly chart (the star, or the dashed line)."""
    return panel.locator(".js-plotly-plot").first.evaluate(
        """el => (el.data || []).filter(t => (t.name || '').startsWith('this configuration'))
                 .flatMap(t => Array.from(t.x || []))"""
    )


def exercise_explorer(page, scope, name: str) -> None:
    """Move alpha and beta like a learner; after each move the numbers must follow complexity()."""
    from playwright.sync_api import expect

    panel = explorer_panel(scope)
    expect(cell(panel, "total", "macs")).to_be_visible(timeout=60_000)
    panel.scroll_into_view_if_needed()
    start = check_costs(panel)
    bs.screenshot(page, f"{name}-explorer-start")

    # the lesson's own cells may have moved the panel already: pick an alpha it does not show
    new_alpha = 2 if start.config.alpha != 2 else 4  # both divide every tau the presets use
    set_slider(page, control(panel, "alpha"), new_alpha)
    after_alpha = check_costs(panel)
    assert after_alpha.config.alpha == new_alpha
    assert after_alpha.macs != start.macs, (
        f"multiply-adds did not change when alpha moved to {new_alpha}"
    )
    expect(panel.locator(".js-plotly-plot").first).to_be_visible()
    page.wait_for_function(
        "([el, x]) => (el.data || []).some(t => (t.name || '').startsWith('this configuration')"
        " && Array.from(t.x || []).some(v => Math.abs(v - x) < 1e-6))",
        arg=[panel.locator(".js-plotly-plot").first.element_handle(), after_alpha.gflops],
        timeout=30_000,
    )

    set_dropdown(control(panel, "beta"), "1/16")
    after_beta = check_costs(panel)
    assert after_beta.macs < after_alpha.macs, "a thinner Fast pathway (beta 1/16) must cost less"
    assert after_beta.fast_share < after_alpha.fast_share
    panel.scroll_into_view_if_needed()
    bs.screenshot(page, f"{name}-explorer-alpha4-beta16")
    panel.screenshot(path=str(bs.ARTIFACTS / f"{name}-explorer-panel.png"))


# ------------------------------------------------------------------------------------------------
# figures


def check_figures(page, name: str, want_plotly: bool, want_images: bool) -> dict:
    """Every plotly figure drew its traces, every matplotlib image decoded with a size > 0."""
    bs.ARTIFACTS.mkdir(exist_ok=True)
    plots = page.locator(".js-plotly-plot")
    images = page.locator(".jp-RenderedImage img")
    found = {"plotly": plots.count(), "images": images.count()}
    if want_plotly:
        assert found["plotly"] > 0, f"{name}: no plotly figure rendered"
    if want_images:
        assert found["images"] > 0, f"{name}: no matplotlib image rendered"
    for i in range(found["plotly"]):
        plot = plots.nth(i)
        plot.scroll_into_view_if_needed()
        info = plot.evaluate(
            """el => { const r = el.getBoundingClientRect();
                 return {w: r.width, h: r.height, traces: el.querySelectorAll('.trace').length,
                         svg: el.querySelectorAll('.main-svg').length,
                         data: (el.data || []).length}; }"""
        )
        assert info["w"] > 50 and info["h"] > 50, f"{name}: plotly figure {i} is empty: {info}"
        assert info["svg"] > 0 and info["data"] > 0 and info["traces"] > 0, f"{name}: {info}"
        if i < 6:  # for a person to look at
            plot.screenshot(path=str(bs.ARTIFACTS / f"{name}-plotly-{i}.png"))
    for i in range(found["images"]):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        size = img.evaluate(
            """async img => { try { await img.decode(); } catch (e) {}
                 return [img.naturalWidth, img.naturalHeight, img.getBoundingClientRect().width]; }"""
        )
        assert size[0] > 0 and size[1] > 0 and size[2] > 0, f"{name}: image {i} is empty: {size}"
        if i < 12:
            img.screenshot(path=str(bs.ARTIFACTS / f"{name}-image-{i}.png"))
    return found


def model_outputs(page, path: str) -> dict:
    """How many plotly / PNG outputs the notebook's cells hold (what the DOM must show)."""
    return page.evaluate(
        """(path) => {
          let plotly = 0, png = 0;
          for (const w of window.jupyterapp.shell.widgets('main')) {
            if (!w.context || w.context.path !== path) continue;
            const cells = w.content.model.cells;
            for (let i = 0; i < cells.length; i++) {
              const outs = cells.get(i).outputs;
              if (!outs) continue;
              for (let j = 0; j < outs.length; j++) {
                const data = outs.get(j).data || {};
                if (data['application/vnd.plotly.v1+json']) plotly += 1;
                // a PNG beside plotly JSON is a fallback: JupyterLab renders the plotly one
                if (data['image/png'] && !data['application/vnd.plotly.v1+json']) png += 1;
              }
            }
          }
          return {plotly, png};
        }""",
        path,
    )


# ------------------------------------------------------------------------------------------------
# Test 1: JupyterLab


def run_lesson(page, lab, path: str, name: str) -> dict:
    start = time.monotonic()
    bs.lab_open(page, lab, path)
    state = bs.lab_run_all(page, path, timeout=300)
    took = time.monotonic() - start
    bs.screenshot(page, f"{name}-after-run-all")
    shown_errors = bs.lab_error_outputs(page)
    assert not state["errors"] and not shown_errors, (
        f"{path}: cells show errors after 'run all' ({took:.0f} s):\n"
        + "\n".join(state["errors"] + shown_errors)
    )
    assert state["done"] == state["code"], f"{path}: only {state['done']}/{state['code']} cells ran"
    print(f"\n{path}: opened and ran all {state['code']} code cells in {took:.0f} s")
    return state


@pytest.mark.timeout(420)
def test_lab_lesson05_explorer_follows_complexity(lab, page):
    path = _require(LESSON_05)
    run_lesson(page, lab, path, "lab-05")
    outputs = model_outputs(page, path)
    found = check_figures(page, "lab-05", want_plotly=True, want_images=outputs["png"] > 0)
    assert found["plotly"] >= outputs["plotly"], f"plotly outputs {outputs}, rendered {found}"
    exercise_explorer(page, page.locator(".jp-Notebook"), "lab-05")
    bs.wait_idle(page, path)
    errors = bs.lab_error_outputs(page)
    assert not errors, "moving alpha / beta produced errors:\n" + "\n".join(errors)


@pytest.mark.timeout(420)
def test_lab_lesson02_runs_and_draws(lab, page):
    from playwright.sync_api import expect

    path = _require(OTHER_LESSON)
    run_lesson(page, lab, path, "lab-02")
    outputs = model_outputs(page, path)
    assert outputs["png"] > 0, f"{path} has no matplotlib output to check: {outputs}"
    found = check_figures(page, "lab-02", want_plotly=outputs["plotly"] > 0, want_images=True)
    assert found["images"] >= outputs["png"], f"PNG outputs {outputs}, rendered {found}"
    # a widget of the lesson answers: the T slider of the shape table
    t_slider = page.locator(".widget-inline-hbox").filter(
        has=page.locator(".widget-label", has_text=re.compile(r"^\s*T\s*$"))
    )
    if t_slider.count():
        t_slider.first.scroll_into_view_if_needed()
        output = t_slider.first.locator("xpath=ancestor::*[contains(@class,'widget-vbox')][1]")
        set_slider(page, t_slider.first, 8)
        bs.wait_idle(page, path)
        # the shape table below the controls now shows T = 8 Slow frames, alpha T = 64 Fast frames
        expect(output).to_contain_text("{8, ", timeout=60_000)
        expect(output).to_contain_text("{64, ", timeout=60_000)
        errors = bs.lab_error_outputs(page)
        assert not errors, "moving T produced errors:\n" + "\n".join(errors)
        bs.screenshot(page, "lab-02-after-T-8")
    check_question(page, path, lesson=2)


def check_question(page, path: str, lesson: int) -> None:
    """The lesson's first question with a check: the answer stays closed until asked for; a wrong
    response and the right one get their feedback from the kernel (a button, no Output widget)."""
    from playwright.sync_api import expect

    from slowfast_lab.lessons import l02_two_pathways

    questions = {2: l02_two_pathways.QUESTIONS}[lesson]
    key, q = next((k, q) for k, q in questions.items() if q.check)
    box = page.locator(".sfl-question").filter(has_text=q.text[:40]).first
    box.scroll_into_view_if_needed()
    answer = box.locator("details.sfl-answer div")
    expect(answer).to_be_hidden()
    for response, feedback in (("0", "Not quite"), (q.solution, "Correct!")):
        box.locator("input[type=text]").fill(response)
        box.locator("button", has_text="check").click()
        expect(box).to_contain_text(feedback, timeout=30_000)
    box.locator("details.sfl-answer summary").click()
    expect(answer).to_be_visible()
    expect(answer).to_contain_text(q.answer[:40])
    bs.screenshot(page, f"lab-{lesson:02d}-question-{key}")


# ------------------------------------------------------------------------------------------------
# Test 2: the classroom app (Voila)


@pytest.mark.timeout(300)
def test_classroom_app_follows_complexity(browser, tmp_path):
    from playwright.sync_api import expect

    notebook = bs.NOTEBOOKS / CLASSROOM
    assert notebook.exists(), f"notebooks/{CLASSROOM} is missing (`make classroom` serves it)"
    makefile = (bs.ROOT / "Makefile").read_text()
    assert f"voila notebooks/{CLASSROOM}" in makefile, (
        "`make classroom` no longer serves this notebook"
    )
    with bs.serve("voila", notebook, tmp_path / "server", timeout=120) as server:
        tab = browser.new_page()
        problems: list[str] = []
        tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        try:
            start = time.monotonic()
            tab.goto(server.with_token(""), wait_until="load", timeout=180_000)
            panel = explorer_panel(tab)
            expect(cell(panel, "total", "macs")).to_be_visible(timeout=120_000)
            print(f"\nclassroom app rendered in {time.monotonic() - start:.0f} s")
            assert "Traceback" not in tab.inner_text("body"), "the classroom app shows a traceback"
            errors = tab.locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
            ).all_inner_texts()
            assert not errors, "the classroom app shows errors:\n" + "\n".join(errors)
            check_figures(tab, "classroom", want_plotly=True, want_images=False)
            tab.evaluate("() => window.scrollTo(0, 0)")
            bs.screenshot(tab, "classroom-start", full_page=True)
            exercise_explorer(tab, tab, "classroom")
            tab.evaluate("() => window.scrollTo(0, 0)")
            bs.screenshot(tab, "classroom-alpha4-beta16", full_page=True)
        finally:
            bs.ARTIFACTS.mkdir(exist_ok=True)
            (bs.ARTIFACTS / "classroom-browser-console.txt").write_text("\n".join(problems) + "\n")
            (bs.ARTIFACTS / "voila-server.log").write_text(server.log_tail(200_000))
            tab.close()


def test_servers_leave_no_kernels_behind(tmp_path):
    """The stop path kills what a server started, by process id, and nothing else."""
    nb = tmp_path / "empty.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with bs.serve("lab", tmp_path, tmp_path / "server", timeout=120) as server:
        proc = server.proc
        runtime = server.runtime_dir
    assert proc.poll() is not None, "jupyter lab still running after the test"
    assert not bs._kernels_of(runtime), "kernels left running"
