"""`python -m slowfast_lab book --out DIR`: execute every lesson and write an HTML copy of each.

For teachers who want to share the lessons as web pages. Lessons run in fast mode unless the
environment says SLOWFAST_LAB_FAST=0 (then each takes its full time, see its first cell). The
notebooks in git stay without outputs; the executed copies go to DIR (`book/` via `make book`,
git-ignored), one `NN_name.html` per lesson plus an `index.html` that links them.

The pages work offline, loading nothing from the network:
- plotly figures (which nbconvert cannot show) become plotly HTML, with plotly.js (from the
  installed `plotly` package) embedded once in each page that has one;
- widgets are drawn as they were when the lesson ran (`static_widget_html`): an HTML widget's
  content, a slider's position and value, a dropdown's choice, an Output widget's outputs. The
  JavaScript that would make them live (`@jupyter-widgets/html-manager`) is normally loaded from a
  CDN and no installed package ships a copy, so the controls do not respond in the book: the index
  says so. The questions' answers still open and close (a `<details>` element needs no script);
- MathJax, require.js and mermaid, also CDN-loaded by nbconvert's template, are left out (the
  lessons use none of them).
"""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from tqdm.auto import tqdm

from . import paths


def patient_client(nb, **kwargs):
    """An nbclient NotebookClient that never sleeps through a kernel reply.

    With pyzmq 27 / jupyter_client 8, a reply can sit unnoticed in the socket until the poll's
    timeout runs out (nbclient issue #312: cells with widgets "sometimes block"); the run then
    goes on, a whole cell timeout later. Polling in short slices finds such a message at once.
    """
    from nbclient import NotebookClient

    class PatientClient(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            for channel in (kc.shell_channel, kc.iopub_channel):
                _poll_in_slices(channel)
            return kc

    return PatientClient(nb, **kwargs)


def _poll_in_slices(channel, step: float = 0.25) -> None:
    original = channel.get_msg

    async def get_msg(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = step if deadline is None else max(0.0, min(step, deadline - time.monotonic()))
            try:
                return await original(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


# ------------------------------------------------------------------------------------------------
# Offline pages: plotly figures and widgets as plain HTML
# ------------------------------------------------------------------------------------------------

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
PNG_IN_HTML = re.compile(r"<img[^>]*src=[\"']data:image/png")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BOXES = {"VBoxModel": "column", "BoxModel": "column", "GridBoxModel": "column"}
BOXES |= {"HBoxModel": "row", "AccordionModel": "column", "TabModel": "column"}
CHOICES = {"DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"}
TEXTS = {"TextModel", "TextareaModel", "IntTextModel", "FloatTextModel", "PasswordModel"}
TEXTS |= {"BoundedIntTextModel", "BoundedFloatTextModel", "ComboboxModel"}

STATIC_CSS = """
.sfl-widget { margin: 4px 0; }
.sfl-box { display: flex; gap: 6px; align-items: flex-start; flex-wrap: wrap; }
.sfl-box.sfl-column { flex-direction: column; }
.sfl-control { display: inline-flex; gap: 6px; align-items: center; }
.sfl-label { min-width: 70px; }
.sfl-value { font-family: monospace; }
.sfl-answer summary { cursor: pointer; color: #1565c0; }
"""


@dataclass
class Figures:
    """What a page shows that a reader must see: PNG images, plotly figures, widget views."""

    png: int = 0
    plotly: int = 0
    widgets: int = 0

    @property
    def total(self) -> int:
        return self.png + self.plotly + self.widgets


def widget_states(nb) -> dict[str, dict]:
    """The widget models saved in an executed notebook (nbclient `store_widget_state=True`)."""
    saved = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE_MIME, {})
    return saved.get("state", {})


def _children(state: dict) -> list[str]:
    return [c.removeprefix("IPY_MODEL_") for c in state.get("children", [])]


def count_figures(nb) -> Figures:
    """Count the figures of an executed notebook, in its outputs and inside the widgets they show
    (an HTML widget's PNG images, an Output widget's outputs). Pure; the book test compares it with
    what the browser draws."""
    states, found = widget_states(nb), Figures()

    def output(out: dict) -> None:
        data = out.get("data", {})
        if WIDGET_VIEW_MIME in data:
            found.widgets += 1
            widget(data[WIDGET_VIEW_MIME]["model_id"])
        elif PLOTLY_MIME in data:
            found.plotly += 1
        elif "image/png" in data:
            found.png += 1
        elif "text/html" in data:
            found.png += len(PNG_IN_HTML.findall(_text(data["text/html"])))

    def widget(model_id: str) -> None:
        model = states.get(model_id)
        if model is None:
            return
        state = model["state"]
        if model["model_name"] in ("HTMLModel", "HTMLMathModel"):
            found.png += len(PNG_IN_HTML.findall(state.get("value", "")))
        for child in _children(state):
            widget(child)
        for inner in state.get("outputs", []) if model["model_name"] == "OutputModel" else []:
            output(inner)

    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            output(out)
    return found


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def plotly_html(figure: dict) -> str:
    """A plotly figure (the JSON of its mimetype output) as HTML that draws it with the plotly.js
    embedded in the page; an animation waits for its Play button."""
    import plotly.io as pio

    return pio.to_html(
        figure, include_plotlyjs=False, full_html=False, auto_play=False, validate=False
    )


def output_html(out: dict, states: dict[str, dict]) -> str:
    """One output (as nbformat stores it) as HTML for a page without a kernel or widget manager."""
    kind = out.get("output_type")
    if kind == "stream":
        return f"<pre>{html.escape(ANSI.sub('', _text(out.get('text', ''))))}</pre>"
    if kind == "error":
        trace = ANSI.sub("", "\n".join(out.get("traceback", [])))
        return f'<pre style="color:#b00020">{html.escape(trace)}</pre>'
    data = out.get("data", {})
    if WIDGET_VIEW_MIME in data:
        return static_widget_html(data[WIDGET_VIEW_MIME]["model_id"], states)
    if PLOTLY_MIME in data:
        return plotly_html(data[PLOTLY_MIME])
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{_text(data["image/png"]).strip()}" alt="figure">'
    if "image/svg+xml" in data:
        return _text(data["image/svg+xml"])
    if "text/html" in data:
        return _text(data["text/html"])
    return f"<pre>{html.escape(_text(data.get('text/plain', '')))}</pre>"


def static_widget_html(model_id: str, states: dict[str, dict]) -> str:
    """A widget view as plain HTML, drawn as the widget was when the notebook ran (the root of a
    view carries class `sfl-widget`)."""
    return f'<div class="sfl-widget">{_widget_html(model_id, states)}</div>'


def _widget_html(model_id: str, states: dict[str, dict]) -> str:
    model = states.get(model_id)
    if model is None:
        return '<span class="sfl-missing">(a widget whose state was not saved)</span>'
    name, state = model["model_name"], model["state"]
    esc = html.escape
    label = state.get("description") or ""
    label = label if state.get("description_allow_html") else esc(label)
    label = f'<span class="sfl-label">{label}</span>' if label else ""
    classes = "".join(f" {esc(c)}" for c in state.get("_dom_classes", []))  # add_class(...)
    if name in BOXES:
        inner = "".join(_widget_html(c, states) for c in _children(state))
        return f'<div class="sfl-box sfl-{BOXES[name]}{classes}">{inner}</div>'
    if name in ("HTMLModel", "HTMLMathModel"):
        value = state.get("value", "")
        return f'<div class="sfl-control{classes}">{label}<div>{value}</div></div>'
    if name == "LabelModel":
        return f"<span>{esc(str(state.get('value', '')))}</span>"
    if name == "OutputModel":
        inner = "".join(output_html(o, states) for o in state.get("outputs", []))
        return f'<div class="sfl-output">{inner}</div>'
    if name == "ButtonModel":
        text = esc(state.get("description") or "")
        return f'<button disabled title="needs a running kernel">{text}</button>'
    if name in ("IntSliderModel", "FloatSliderModel", "FloatLogSliderModel"):
        value = state.get("value")
        bar = (
            f'<input type="range" disabled min="{state.get("min")}" max="{state.get("max")}" '
            f'step="{state.get("step") or "any"}" value="{value}">'
        )
        return f'<div class="sfl-control">{label}{bar}<span class="sfl-value">{value}</span></div>'
    if name in ("IntRangeSliderModel", "FloatRangeSliderModel"):
        low, high = state.get("value", [None, None])
        return (
            f'<div class="sfl-control">{label}<span class="sfl-value">{low} - {high}</span></div>'
        )
    if name in CHOICES or name in ("SelectionSliderModel",):
        options, index = state.get("_options_labels", []), state.get("index")
        items = "".join(
            f"<option{' selected' if i == index else ''}>{esc(str(o))}</option>"
            for i, o in enumerate(options)
        )
        return f'<div class="sfl-control">{label}<select disabled>{items}</select></div>'
    if name in TEXTS:
        value, hint = esc(str(state.get("value", ""))), esc(state.get("placeholder") or "")
        box = f'<input type="text" disabled value="{value}" placeholder="{hint}">'
        return f'<div class="sfl-control">{label}{box}</div>'
    if name in ("CheckboxModel", "ToggleButtonModel"):
        checked = " checked" if state.get("value") else ""
        return f'<div class="sfl-control">{label}<input type="checkbox" disabled{checked}></div>'
    if name in ("IntProgressModel", "FloatProgressModel"):
        bar = f'<progress max="{state.get("max")}" value="{state.get("value")}"></progress>'
        return f'<div class="sfl-control">{label}{bar}</div>'
    value = state.get("value")
    shown = f": {esc(str(value))}" if isinstance(value, (str, int, float)) else ""
    return f'<span class="sfl-missing">[{esc(name.removesuffix("Model"))}{shown}]</span>'


def make_offline(nb) -> bool:
    """Rewrite an executed notebook's outputs so that its HTML export needs no network: widget
    views and plotly figures become HTML (see the module docstring), and the saved widget state,
    which only a CDN-loaded widget manager could read, is dropped. Returns whether the page needs
    plotly.js."""
    states = widget_states(nb)
    uses_plotly = False
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW_MIME in data or PLOTLY_MIME in data:
                page = output_html(out, states)
                uses_plotly |= "Plotly.newPlot" in page
                out["data"] = {"text/html": page}
    nb.get("metadata", {}).pop("widgets", None)
    return uses_plotly


# nbconvert's lab template, without the scripts it loads from CDNs, plus our styles and plotly.js
BOOK_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}
<style type="text/css">{{ resources.sfl_css }}</style>
{%- if resources.sfl_plotlyjs -%}
<script type="text/javascript">{{ resources.sfl_plotlyjs }}</script>
{%- endif -%}
{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
"""


def offline_html(nb) -> str:
    """The HTML page of an executed notebook, with nothing to load from the network."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    uses_plotly = make_offline(nb)
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"sfl_book.html.j2": BOOK_TEMPLATE})],
        template_file="sfl_book.html.j2",
    )
    resources = {"sfl_css": STATIC_CSS, "sfl_plotlyjs": ""}
    if uses_plotly:
        from plotly.offline import get_plotlyjs

        resources["sfl_plotlyjs"] = get_plotlyjs()
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


@dataclass
class Page:
    notebook: str
    html: str | None
    seconds: float
    error: str | None = None
    figures: Figures = field(default_factory=Figures)


def lesson_notebooks(folder: str | os.PathLike | None = None) -> list[Path]:
    """The numbered lessons (NN_*.ipynb) in `folder` (default: the checkout's notebooks/), in order."""
    folder = paths.notebooks() if folder is None else Path(folder)
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def execute_to_html(path: Path, out_dir: Path, timeout: int = 1800) -> Page:
    """Run one notebook top to bottom (cwd: its folder) and write its HTML copy into `out_dir`."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    error = None
    try:
        patient_client(
            nb,
            timeout=timeout,
            kernel_name="python3",
            store_widget_state=True,  # the widgets' last state is embedded in the page
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    except Exception as err:  # the page still shows every output up to the failing cell
        error = (
            f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
        )
    seconds = time.perf_counter() - start
    figures = count_figures(nb)
    target = out_dir / f"{path.stem}.html"
    target.write_text(offline_html(nb), encoding="utf-8")
    return Page(path.name, target.name, seconds, error, figures)


OFFLINE_NOTE = (
    "These pages work offline. Figures and plotly charts are all here. The widgets (sliders, "
    "dropdowns, buttons, answer boxes) are shown as they were when the lesson ran, but they do "
    "not respond: making them live needs a running kernel (open the notebook in JupyterLab, "
    "<code>make lab</code>) or the jupyter-widgets HTML manager, which is loaded from a CDN and "
    "not installed here. Each question's answer opens with <i>show answer</i>."
)


def index_html(pages: list[Page], fast: bool) -> str:
    """A plain index page linking every lesson, with its run time and any error."""
    mode = "fast mode (SLOWFAST_LAB_FAST=1)" if fast else "full mode"
    items = []
    for p in pages:
        name = html.escape(p.notebook.removesuffix(".ipynb").replace("_", " "))
        status = f" <b>failed: {html.escape(p.error)}</b>" if p.error else ""
        link = f'<a href="{html.escape(p.html)}">{name}</a>' if p.html else name
        items.append(f"<li>{link} ({p.seconds:.0f} s){status}</li>")
    return (
        "<!doctype html><meta charset='utf-8'><title>slowfast-lab lessons</title>"
        f"<h1>slowfast-lab lessons</h1><p>Executed in {mode}.</p><ul>{''.join(items)}</ul>"
        f"<p>{OFFLINE_NOTE}</p>"
    )


def build_book(
    out: str | os.PathLike = "book",
    folder: str | os.PathLike | None = None,
    only: str | Sequence[str] | None = None,
) -> list[Page]:
    """Execute the lessons (fast mode unless SLOWFAST_LAB_FAST=0) and write DIR/*.html + index."""
    os.environ.setdefault("SLOWFAST_LAB_FAST", "1")
    fast = os.environ["SLOWFAST_LAB_FAST"].strip().lower() in ("1", "true", "yes")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    only = [only] if isinstance(only, str) else only
    chosen = [p for p in lesson_notebooks(folder) if not only or any(s in p.name for s in only)]
    if not chosen:
        raise FileNotFoundError(
            f"no lesson notebooks (NN_*.ipynb) in {folder or paths.notebooks()}"
        )
    pages = []
    for path in tqdm(chosen, desc="book", unit="lesson"):
        page = execute_to_html(path, out_dir)
        pages.append(page)
        status = f"FAILED ({page.error})" if page.error else "ok"
        tqdm.write(f"{path.name}: {page.seconds:.0f} s, {status} -> {out_dir / page.html}")
    (out_dir / "index.html").write_text(index_html(pages, fast), encoding="utf-8")
    return pages
