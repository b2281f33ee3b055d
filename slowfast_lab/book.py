"""`python -m slowfast_lab book --out DIR`: execute every lesson and write an HTML copy of each.

For teachers who want to share the lessons as web pages. Lessons run in fast mode unless the
environment says SLOWFAST_LAB_FAST=0 (then each takes its full time, see its first cell). The
notebooks in git stay without outputs; the executed copies go to DIR (`book/` via `make book`,
git-ignored), one `NN_name.html` per lesson plus an `index.html` that links them.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
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


@dataclass
class Page:
    notebook: str
    html: str | None
    seconds: float
    error: str | None = None


def lesson_notebooks(folder: str | os.PathLike | None = None) -> list[Path]:
    """The numbered lessons (NN_*.ipynb) in `folder` (default: the checkout's notebooks/), in order."""
    folder = paths.notebooks() if folder is None else Path(folder)
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def execute_to_html(path: Path, out_dir: Path, timeout: int = 1800) -> Page:
    """Run one notebook top to bottom (cwd: its folder) and write its HTML copy into `out_dir`."""
    import nbformat
    from nbconvert import HTMLExporter

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
    body, _ = HTMLExporter().from_notebook_node(nb)
    target = out_dir / f"{path.stem}.html"
    target.write_text(body, encoding="utf-8")
    return Page(path.name, target.name, seconds, error)


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
    )


def build_book(
    out: str | os.PathLike = "book",
    folder: str | os.PathLike | None = None,
    only: str | None = None,
) -> list[Page]:
    """Execute the lessons (fast mode unless SLOWFAST_LAB_FAST=0) and write DIR/*.html + index."""
    os.environ.setdefault("SLOWFAST_LAB_FAST", "1")
    fast = os.environ["SLOWFAST_LAB_FAST"].strip().lower() in ("1", "true", "yes")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [p for p in lesson_notebooks(folder) if only is None or only in p.name]
    if not paths:
        raise FileNotFoundError(
            f"no lesson notebooks (NN_*.ipynb) in {folder or paths.notebooks()}"
        )
    pages = []
    for path in tqdm(paths, desc="book", unit="lesson"):
        page = execute_to_html(path, out_dir)
        pages.append(page)
        status = f"FAILED ({page.error})" if page.error else "ok"
        tqdm.write(f"{path.name}: {page.seconds:.0f} s, {status} -> {out_dir / page.html}")
    (out_dir / "index.html").write_text(index_html(pages, fast), encoding="utf-8")
    return pages
