"""Exporting a model: every format that works here round-trips the logits (max rel. error <= 1e-4)."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab import export
from slowfast_lab.__main__ import main

CHECKPOINT = Path(__file__).parent.parent / "data_samples" / "checkpoints"


def _model(preset: str = "slowfast_tiny") -> sfl.VideoNet:
    model = sfl.build_model(preset).eval()
    g = torch.Generator().manual_seed(0)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)):
        bn.weight.data.uniform_(0.5, 1.5, generator=g)  # non-trivial statistics and gammas
        bn.running_mean.uniform_(-0.2, 0.2, generator=g)
    return model


@pytest.mark.parametrize("fmt", ["torchscript", "exported"])
@pytest.mark.parametrize("preset", ["slowfast_tiny", "slow_tiny"])
def test_export_round_trips_the_logits(fmt: str, preset: str, tmp_path: Path) -> None:
    model = _model(preset)
    result = export.export_and_check(model, tmp_path / f"m{export.SUFFIX[fmt]}", fmt, crop=48)
    assert result.path.is_file() and result.max_rel_error <= export.TOLERANCE
    assert result.input_shapes[0][0] == 3  # checked on another batch size than the export's 2
    run = export.load_exported(result.path, fmt)
    x = export.example_inputs(model, 48, batch=1, seed=5)
    with torch.no_grad():
        assert export.max_relative_error(run(*x), model(*x)) <= 1e-4


def test_we_trace_because_script_fails() -> None:
    """torch.jit.script cannot compile the readable model: export must not rely on it."""
    with pytest.raises(Exception):  # noqa: B017 (torch raises several kinds here)
        torch.jit.script(_model())
    assert "torch.jit.script(" not in inspect.getsource(export).replace("`torch.jit.script`", "")


def test_a_wrong_export_is_refused_and_removed(tmp_path: Path, monkeypatch) -> None:
    model = _model()
    real = export.load_exported
    monkeypatch.setattr(export, "load_exported", lambda p, f: lambda *x: real(p, f)(*x) * 1.01)
    with pytest.raises(export.ExportError, match="off by 1.0"):
        export.export_and_check(model, tmp_path / "m.pt2", "exported", crop=48)
    assert not (tmp_path / "m.pt2").exists()


def test_existing_file_needs_overwrite_and_bad_format(tmp_path: Path) -> None:
    out = tmp_path / "m.ts.pt"
    out.write_text("mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export.export_model(_model(), out, "torchscript")
    assert out.read_text() == "mine"
    with pytest.raises(export.ExportError, match="torchscript, onnx, exported"):
        export.export_model(_model(), tmp_path / "x", "tflite")


def test_onnx_without_the_package_says_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(  # as on a machine without onnx (a dev dependency, not a runtime one)
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    with pytest.raises(export.ExportError, match="pip install onnx"):
        export.export_model(_model(), tmp_path / "m.onnx", "onnx")
    assert not list(tmp_path.iterdir())


def test_onnx_round_trips_the_logits(tmp_path: Path) -> None:
    result = export.export_and_check(_model(), tmp_path / "m.onnx", "onnx", crop=48)
    assert result.max_rel_error <= export.TOLERANCE


def test_cli_exports_a_shipped_checkpoint(tmp_path: Path, capsys) -> None:
    src = CHECKPOINT / "motionshapes_fast_only_tiny.pt"
    out = tmp_path / "fast.ts.pt"
    assert main(["export", str(src), "--format", "torchscript", "--out", str(out)]) == 0
    assert "max relative logit error" in capsys.readouterr().out and out.is_file()
    assert main(["export", str(src), "--format", "torchscript", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert export.default_path("runs/a.pt", "onnx") == Path("runs/a.onnx")


def test_a_detector_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    det = sfl.build_model("slowfast_tiny", head="detect").eval()
    with pytest.raises(export.ExportError, match="person boxes"):
        export.export_model(det, tmp_path / "d.pt2", "exported")
    assert not list(tmp_path.iterdir())
