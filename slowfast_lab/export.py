"""Exporting a trained model to run without slowfast_lab: TorchScript, ONNX or torch.export.

    model --trace / torch.onnx.export / torch.export--> file --load back--> logits
          --compare with the eager model--> max relative error (must be <= 1e-4)

Formats (`FORMATS`):

* ``torchscript``: `torch.jit.trace` on example clips, saved with `torch.jit.save`; load with
  `torch.jit.load(path)`. Tracing, not `torch.jit.script`: scripting compiles the Python source and
  rejects what the readable model uses (type annotations naming our own classes such as `Head`,
  `*inputs` varargs, f-string error messages in the input checks), so it fails on this model; a
  trace records the tensor operations one forward really ran, which is all inference needs.
  The trace fixes the shapes' control flow (pathways, frame counts), not the sizes: other batch and
  crop sizes run as long as T and alpha*T stay the same.
* ``onnx``: `torch.onnx.export` (needs the `onnx` package: `pip install onnx`; the check runs the
  file with onnxruntime when installed, else with onnx's own reference evaluator). Batch is a
  dynamic axis.
* ``exported``: `torch.export.export` with a dynamic batch, saved with `torch.export.save` (.pt2);
  load with `torch.export.load(path).module()`.

Inputs follow `model_inputs`: (slow, fast) for SlowFast, (slow,) for Slow-only, (fast,) for
Fast-only; slow [N, 3, T, S, S], fast [N, 3, alpha T, S, S].
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .model import VideoNet, dummy_inputs

FORMATS = ("torchscript", "onnx", "exported")
SUFFIX = {"torchscript": ".ts.pt", "onnx": ".onnx", "exported": ".pt2"}
TOLERANCE = 1e-4  # largest relative logit error an export may have


class ExportError(ValueError):
    """An export that cannot be made or does not reproduce the model's logits."""


@dataclass
class ExportResult:
    """Where the export went and how closely it reproduces the eager model's logits."""

    path: Path
    format: str
    max_rel_error: float
    input_shapes: list[tuple[int, ...]]

    def summary(self) -> str:
        shapes = ", ".join("x".join(map(str, s)) for s in self.input_shapes)
        return (
            f"{self.path} ({self.format}): max relative logit error {self.max_rel_error:.2e} "
            f"(<= {TOLERANCE:g}) on inputs {shapes}"
        )


def default_path(checkpoint: str | os.PathLike, fmt: str) -> Path:
    """`runs/model.pt` -> `runs/model.ts.pt` / `runs/model.onnx` / `runs/model.pt2`."""
    _check_format(fmt)
    p = Path(checkpoint)
    return p.with_name(p.name.removesuffix(p.suffix) + SUFFIX[fmt])


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ExportError(f"format={fmt!r}: use one of {', '.join(FORMATS)}")


def example_inputs(
    model: VideoNet, crop: int | None = None, batch: int = 2, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """N(0, 1) clips shaped for `model` at `crop`^2 (default: its config's crop), on its device."""
    return dummy_inputs(model, crop or model.config.crop, batch=batch, seed=seed)


def max_relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| / max |want|: the error relative to the logits' scale (float64)."""
    got, want = torch.as_tensor(got).double(), torch.as_tensor(want).double()
    if got.shape != want.shape:
        raise ExportError(
            f"exported output has shape {tuple(got.shape)}, expected {tuple(want.shape)}"
        )
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))


def export_model(
    model: VideoNet,
    path: str | os.PathLike,
    fmt: str,
    inputs: Sequence[torch.Tensor] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `model` (put in eval mode) to `path` in format `fmt`; refuses an existing file
    unless `overwrite`. The file is written beside the target and renamed when complete."""
    _check_format(fmt)
    if model.config.head == "detect":
        raise ExportError(
            "this model is an action detector (head='detect'), whose forward also takes person "
            "boxes; export takes classification and multi-label models"
        )
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: choose another --out, or pass --overwrite")
    inputs = tuple(inputs) if inputs is not None else example_inputs(model)
    model = model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.tmp.{path.name}")  # keeps the suffix torch checks
    try:
        with torch.no_grad():
            if fmt == "torchscript":
                with warnings.catch_warnings():  # the input checks' Python branches are traced
                    warnings.simplefilter("ignore", torch.jit.TracerWarning)
                    traced = torch.jit.trace(model, inputs, check_trace=False)
                torch.jit.save(traced, str(tmp))
            elif fmt == "exported":
                torch.export.save(_torch_export(model, inputs), str(tmp))
            else:
                _onnx_export(model, inputs, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _torch_export(model: VideoNet, inputs: tuple[torch.Tensor, ...]):
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic = tuple({0: batch} for _ in inputs)
    try:
        return torch.export.export(model, inputs, dynamic_shapes=dynamic)
    except Exception:  # some torch versions specialise a batch of 1: export that shape only
        return torch.export.export(model, inputs)


def _require_onnx() -> None:
    if importlib.util.find_spec("onnx") is None:
        raise ExportError(
            "--format onnx needs the onnx package, which is not installed: `pip install onnx "
            "onnxscript` (and onnxruntime to run the file); torchscript and exported work without it"
        )


def _onnx_export(model: VideoNet, inputs: tuple[torch.Tensor, ...], path: Path) -> None:
    _require_onnx()
    names = [f"input{i}" for i in range(len(inputs))]
    axes = {n: {0: "batch"} for n in [*names, "logits"]}
    torch.onnx.export(
        model, inputs, str(path), input_names=names, output_names=["logits"],
        dynamic_axes=axes, dynamo=False,
    )  # fmt: skip


def load_exported(path: str | os.PathLike, fmt: str) -> Callable[..., torch.Tensor]:
    """A callable `f(*inputs) -> logits` running the exported file `path` (format `fmt`)."""
    _check_format(fmt)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exported model {path} does not exist")
    if fmt == "torchscript":
        return torch.jit.load(str(path), map_location="cpu")
    if fmt == "exported":
        return torch.export.load(str(path)).module()
    _require_onnx()
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]

        def run_ort(*xs: torch.Tensor) -> torch.Tensor:
            feeds = {n: x.detach().cpu().numpy() for n, x in zip(names, xs, strict=True)}
            return torch.from_numpy(session.run(None, feeds)[0])

        return run_ort
    from onnx.reference import ReferenceEvaluator  # slow but exact: fine for a check

    evaluator = ReferenceEvaluator(str(path))
    names = list(evaluator.input_names)

    def run_reference(*xs: torch.Tensor) -> torch.Tensor:
        feeds = {n: x.detach().cpu().numpy() for n, x in zip(names, xs, strict=True)}
        return torch.from_numpy(evaluator.run(None, feeds)[0])

    return run_reference


def export_and_check(
    model: VideoNet,
    path: str | os.PathLike,
    fmt: str,
    crop: int | None = None,
    batch: int = 2,
    overwrite: bool = False,
    tolerance: float = TOLERANCE,
) -> ExportResult:
    """Export `model`, load the file back, and compare its logits with the eager model's on
    fresh random clips (another seed than the export's examples, and another batch size for the
    formats with a dynamic batch). Raises ExportError (and removes the file) when the max relative
    error exceeds `tolerance`."""
    model = model.eval().cpu()
    path = export_model(model, path, fmt, example_inputs(model, crop, batch, 0), overwrite)
    check = example_inputs(model, crop, batch + 1, seed=1)  # every format: another batch size
    try:
        with torch.no_grad():
            want = model(*check)
            try:
                got = load_exported(path, fmt)(*check)
            except Exception:  # an export that fixed the batch (see _torch_export)
                check = example_inputs(model, crop, batch, seed=1)
                want, got = model(*check), load_exported(path, fmt)(*check)
        error = max_relative_error(got, want)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    if not error <= tolerance:
        path.unlink(missing_ok=True)
        raise ExportError(
            f"{fmt} export of the model gives logits off by {error:.2e} (relative), more than "
            f"{tolerance:g}: the file was removed; try another --format"
        )
    return ExportResult(path, fmt, error, [tuple(x.shape) for x in check])
