"""Proof of faithfulness: our network computes what PyTorchVideo's computes, from every file format.

For each model, PyTorchVideo's own builder makes a network with random weights and random BN
statistics and affine parameters; its weights are written as a PyTorchVideo .pyth, a PySlowFast
.pyth and a PySlowFast Caffe2 .pkl (tests/_ptv_reference.py, independent of our name table) and,
after loading, as our own checkpoint. Each file is loaded into our model with `sfl.load_weights`,
and the logits on the same input must agree with PyTorchVideo's to 1e-4 of the logits' scale.

Crops are 64^2 (PyTorchVideo's fixed head pools are set to fit), which keeps the whole file to
tens of seconds on 2 cores; every layer and every weight still takes part.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab.weights import save_checkpoint

pytest.importorskip("pytorchvideo", reason="dev dependency: pip install -e .[dev]")
from _ptv_reference import Spec, randomize, write_formats  # noqa: E402

SPECS = {
    "slowfast_8x8_r50": Spec("slowfast_8x8_r50", T=8, alpha=4, fusion_kernel=7),  # hub slowfast_r50
    "slowfast_4x16_r50": Spec("slowfast_4x16_r50", T=4, alpha=8, fusion_kernel=5),
    "slow_8x8_r50": Spec("slow_8x8_r50", T=8, alpha=0),  # hub slow_r50
}
FORMATS = ("pytorchvideo", "pyslowfast", "caffe2")
TOLERANCE = 1e-4  # max |ours - reference| / max |reference|


class Reference:
    """A random PyTorchVideo model, its logits on a fixed input, and its weights in each format."""

    def __init__(self, spec: Spec, folder: Path):
        torch.manual_seed(0)
        ptv = randomize(spec.build_ptv(), seed=1)
        self.spec = spec
        self.inputs = spec.inputs(seed=2)
        with torch.no_grad():
            self.logits = spec.ptv_forward(ptv, self.inputs)
        self.paths = write_formats(ptv, folder)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, Reference]:
    cache: dict[str, Reference] = {}

    def get(name: str) -> Reference:
        if name not in cache:
            cache[name] = Reference(SPECS[name], tmp_path_factory.mktemp(name))
        return cache[name]

    return get


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours - reference).abs().max() / reference.abs().max()).item()


def our_logits(preset: str, path: Path, ref: Reference) -> torch.Tensor:
    model = sfl.build_model(preset, num_classes=ref.spec.num_classes)
    sfl.load_weights(model, path)
    with torch.no_grad():
        return model.eval()(*ref.inputs)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("preset", list(SPECS))
def test_logits_match_pytorchvideo(preset: str, fmt: str, references) -> None:
    ref = references(preset)
    assert ref.logits.abs().max() > 1.0  # a meaningful signal, not all zeros
    error = relative_error(our_logits(preset, ref.paths[fmt], ref), ref.logits)
    print(f"{preset} from {fmt}: max relative logit error {error:.2e}")
    assert error <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["slowfast_8x8_r50"])
def test_our_checkpoint_of_official_weights_matches(preset: str, references, tmp_path) -> None:
    ref = references(preset)
    model = sfl.build_model(preset)
    sfl.load_weights(model, ref.paths["caffe2"])
    path = save_checkpoint(model, tmp_path / "ours.pt")
    assert relative_error(our_logits(preset, path, ref), ref.logits) <= TOLERANCE


@pytest.mark.slow
def test_official_format_mismatches_name_the_preset(references) -> None:
    """The classic errors, with real PySlowFast files: a 4x16 (K=5) .pkl into an 8x8 (K=7) model,
    a Slow-only file into a SlowFast model, a SlowFast file into a Slow-only model."""
    cases = [
        ("slowfast_4x16_r50", "caffe2", "slowfast_8x8_r50", "fusion_kernel=5"),
        ("slow_8x8_r50", "caffe2", "slowfast_8x8_r50", "slow pathway only"),
        ("slowfast_8x8_r50", "pyslowfast", "slow_8x8_r50", "fusion_kernel=7"),
    ]
    for source, fmt, target, words in cases:
        with pytest.raises(sfl.CheckpointError) as err:
            sfl.load_weights(sfl.build_model(target), references(source).paths[fmt])
        message = str(err.value)
        assert words in message and repr(source) in message  # the preset that fits is named


@pytest.mark.slow
def test_every_weight_of_the_file_reaches_our_model(references) -> None:
    """Each PyTorchVideo tensor lands in exactly one of our entries (no silent defaults)."""
    ref = references("slowfast_4x16_r50")
    state = torch.load(ref.paths["pytorchvideo"], weights_only=True)["model_state"]
    model = sfl.build_model("slowfast_4x16_r50")
    sfl.load_weights(model, ref.paths["pytorchvideo"])
    ours = model.state_dict()
    assert len(ours) == len(state)
    ptv_sums = sorted(round(v.double().sum().item(), 4) for v in state.values())
    our_sums = sorted(round(v.double().sum().item(), 4) for v in ours.values())
    assert ptv_sums == our_sums
