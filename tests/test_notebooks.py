"""Every lesson runs top to bottom in fast mode, and is committed without outputs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from slowfast_lab.lessons.common import LESSON_TIMES, SANITY_FACTOR

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
UNNUMBERED_FAST_S = 40  # the classroom app's notebook: one explorer, no lesson number


def stated_fast_seconds(path: Path) -> int:
    """The fast-mode time the lesson's banner states (LESSON_TIMES, by the file's number)."""
    if path.name[:2].isdigit():
        return LESSON_TIMES[int(path.name[:2])].cpu_fast_s
    return UNNUMBERED_FAST_S


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing"


@pytest.mark.notebook
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_in_fast_mode(path: Path, tmp_path: Path) -> None:
    """Runs without an error, and prints its time beside the one LESSON_TIMES states. Fails only
    past SANITY_FACTOR x that time in wall clock *and* in the kernel's own CPU time: on a shared
    machine other jobs can stretch the wall clock of a `nice`d run many times over, but not the CPU
    seconds the lesson itself uses."""
    import nbformat
    import psutil

    from slowfast_lab.book import patient_client  # nbclient without its reply-polling stall

    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("SLOWFAST_LAB_FAST")
    os.environ["SLOWFAST_LAB_FAST"] = "1"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    cpu = {"s": 0.0}
    try:
        start = time.perf_counter()
        client = patient_client(
            nb,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )

        def kernel_cpu(**_) -> None:  # after each cell, while the kernel is alive
            t = psutil.Process(client.km.provisioner.pid).cpu_times()
            cpu["s"] = t.user + t.system + t.children_user + t.children_system

        client.on_cell_executed = kernel_cpu
        client.execute()
        elapsed = time.perf_counter() - start
    finally:
        if env_before is None:
            os.environ.pop("SLOWFAST_LAB_FAST", None)
        else:
            os.environ["SLOWFAST_LAB_FAST"] = env_before
    stated = stated_fast_seconds(path)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n{path.name}: ran in {elapsed:.1f} s in fast mode, kernel CPU {cpu['s']:.1f} s "
        f"(stated: {stated} s; load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    limit = SANITY_FACTOR * stated
    assert min(elapsed, cpu["s"]) < limit, (
        f"{path.name} took {elapsed:.0f} s ({cpu['s']:.0f} s of kernel CPU) in fast mode, over "
        f"{SANITY_FACTOR}x the {stated} s stated in lessons.common.LESSON_TIMES: a cell got much "
        "slower, or update the table"
    )
    # a matplotlib Figure with no image formatter registered shows as text: '<Figure size ...>'
    as_text = [
        i
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if set(out.get("data", {})) == {"text/plain"}
        and out["data"]["text/plain"].startswith("<Figure")
    ]
    assert not as_text, f"{path.name}: cells {as_text} show a figure as text, not as an image"


@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_widget_lesson_runs_at_full_speed_under_plain_nbclient() -> None:
    """What teachers run (nbconvert --execute, papermill, nbmake) is plain nbclient. It imitates
    every Output widget over the kernel's shell socket while waiting there for the cell's reply,
    which can stall a cell for its whole timeout (lessons.common explains why). The lessons'
    controls use none: no Output widget may receive output, and no cell may take the timeout."""
    import nbformat
    from nbclient import NotebookClient

    path = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    nb = nbformat.read(path, as_version=4)
    timeout = 60  # a stalled cell takes exactly this long; lesson 01's slowest cell takes ~3 s
    env_before = os.environ.get("SLOWFAST_LAB_FAST")
    os.environ["SLOWFAST_LAB_FAST"] = "1"
    try:
        start = time.perf_counter()
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()  # fmt: skip
        elapsed = time.perf_counter() - start
    finally:
        if env_before is None:
            os.environ.pop("SLOWFAST_LAB_FAST", None)
        else:
            os.environ["SLOWFAST_LAB_FAST"] = env_before
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    filled = [
        k for k, m in state.items()
        if m["model_name"] == "OutputModel" and m["state"].get("outputs")
    ]  # fmt: skip
    assert not filled, f"{len(filled)} Output widgets received output: nbclient can stall on them"
    print(f"\n{path.name} under plain nbclient: {elapsed:.1f} s")
    assert elapsed < timeout, f"took {elapsed:.0f} s: a cell waited for its whole timeout"
