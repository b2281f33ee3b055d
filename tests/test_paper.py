"""The quoted numbers (slowfast_lab.paper): each once, with a source, consistent with our counts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import slowfast_lab as sfl
from slowfast_lab import paper

ROOT = Path(__file__).resolve().parents[1]


def test_every_row_names_its_source() -> None:
    tables = (paper.TABLE_5A, paper.TABLE_5B, paper.TABLE_5C, paper.MODELS)
    for table in tables:
        for key, row in table.items():
            assert row.source.startswith(("paper", paper.PYSLOWFAST_ZOO, paper.PYTORCHVIDEO_ZOO)), (
                key
            )
            assert row.top1 is None or 40 < row.top1 < 90
    assert paper.sources() >= {"paper Table 5a", "paper Table 5b", paper.PYTORCHVIDEO_ZOO}


def test_model_zoo_figures_are_not_labelled_paper() -> None:
    # The 127.2 G of the 8x8 R101 is the PyTorchVideo model zoo's (our count: 125.91 G).
    assert paper.MODELS["SlowFast 8x8 R101"].source == paper.PYTORCHVIDEO_ZOO
    assert paper.MODELS["Slow-only 8x8 R50"].source == paper.PYSLOWFAST_ZOO
    ours = sfl.complexity("slowfast_8x8_r101", crop_size=256).gflops
    assert ours == pytest.approx(paper.MODELS["SlowFast 8x8 R101"].gflops, rel=0.02)


@pytest.mark.parametrize(
    ("name", "preset"),
    [
        ("SlowFast 4x16 R50", "slowfast_4x16_r50"),
        ("SlowFast 8x8 R50", "slowfast_8x8_r50"),
        ("Slow-only 4x16 R50", "slow_4x16_r50"),
        ("Slow-only 8x8 R50", "slow_8x8_r50"),
    ],
)
def test_quoted_gflops_match_our_count(name: str, preset: str) -> None:
    assert sfl.complexity(preset, crop_size=256).gflops == pytest.approx(
        paper.MODELS[name].gflops, abs=0.1
    )


def test_figure2_points_are_the_model_rows() -> None:
    assert {n: (g, a) for n, g, a in paper.FIGURE2_POINTS} == {
        n: (r.gflops, r.top1) for n, r in paper.MODELS.items()
    }


def test_no_copy_of_a_quoted_table_in_the_library() -> None:
    # A quoted top-1 typed into another module would drift from paper.py (74.6 / 74.7 / 74.8).
    files = subprocess.run(
        ["git", "ls-files", "slowfast_lab/*.py", "slowfast_lab/**/*.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    quoted = {f"{r.top1}" for t in (paper.TABLE_5A, paper.TABLE_5B, paper.MODELS)
              for r in t.values()}  # fmt: skip
    for name in files:
        if name.endswith("paper.py"):
            continue
        text = (ROOT / name).read_text()
        for number in quoted:
            assert not re.search(rf"\({re.escape(number)}, \d", text), (name, number)


def test_ava_rows_are_model_zoo_figures_with_sources() -> None:
    for key, row in paper.AVA.items():
        assert row.source in (paper.PYSLOWFAST_ZOO, paper.PYTORCHVIDEO_ZOO), key
        assert 10 < row.map < 40 and row.version in ("2.1", "2.2"), key
    assert paper.sources() >= {paper.PYSLOWFAST_ZOO, paper.PYTORCHVIDEO_ZOO}
    # The quoted parameter count is the model slowfast_8x8_r50_ava builds (80 actions).
    ours = sfl.complexity("slowfast_8x8_r50_ava").params / 1e6
    assert ours == pytest.approx(paper.AVA["SlowFast 8x8 R50"].mparams, abs=0.011)
