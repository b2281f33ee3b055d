"""The library's layout holds: no import cycles, nothing outside lessons/ imports `lessons`,
training never imports plotting, and no module finds the checkout by itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "slowfast_lab"


def _modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts): p
        for p in PACKAGE.rglob("*.py")
    }


def _imports(name: str, path: Path) -> set[str]:
    """Internal modules `name` imports (module-level and inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("slowfast_lab"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("slowfast_lab"))
    return found


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {n: {m for m in _imports(n, p) if m in modules and m != n} for n, p in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if nxt in ("slowfast_lab", "slowfast_lab.lessons"):  # packages: their __init__
                continue
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path, nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for n in graph:
        if n not in state:
            visit(n, [n])


def test_nothing_outside_lessons_imports_lessons() -> None:
    for name, path in _modules().items():
        if name.startswith("slowfast_lab.lessons"):
            continue
        assert not any(m.startswith("slowfast_lab.lessons") for m in _imports(name, path)), name


def test_no_module_computes_the_checkout_path() -> None:
    for name, path in _modules().items():
        if name == "slowfast_lab.paths":
            continue
        assert "parent.parent" not in path.read_text(), name


@pytest.mark.parametrize("module", ["slowfast_lab.train", "slowfast_lab"])
def test_training_never_imports_plotting(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('matplotlib', 'plotly', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    ).stdout.strip()
    assert out == "[]"


def test_every_lesson_notebook_has_its_module() -> None:
    lessons = {p.stem.split("_")[0] for p in (PACKAGE / "lessons").glob("l[0-9][0-9]_*.py")}
    notebooks = {
        "l" + p.name[:2] for p in (PACKAGE.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")
    }
    assert lessons == notebooks


def test_interact_callbacks_have_only_slider_parameters() -> None:
    # ipywidgets.interact makes a control of every parameter, defaults included.
    import inspect

    from slowfast_lab.lessons import l01_sampling, l02_two_pathways, l03_laterals

    for fn in (
        l01_sampling.frame_rate_table,
        l02_two_pathways.shape_table,
        l02_two_pathways.beta_stage_macs_figure,
        l02_two_pathways.alpha_beta_breakdown_figure,
        l03_laterals.influence_for,
        l03_laterals.lateral_figure,
        l03_laterals.ttoc_figure,
        l03_laterals.fusion_cost_table,
    ):
        params = inspect.signature(fn).parameters.values()
        assert all(p.default is inspect.Parameter.empty for p in params), fn.__name__
