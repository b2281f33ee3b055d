"""Proof of faithfulness for the detection models: our AVA detector computes what PyTorchVideo's
hub `slowfast_r50_detection` computes, from every file format; our K600 model what PyTorchVideo's
600-class SlowFast computes.

PyTorchVideo's RoI head calls `torchvision.ops.RoIAlign`, and there is no CPU torchvision here.
`ReferenceRoIAlign` below stands in for it: a plain loop over boxes, bins and bilinear samples,
written from torchvision's C++ kernel (roi_align_kernel.cpp: `bilinear_interpolate` and the bin
loop), independent of `slowfast_lab.detection`. It is checked against our vectorised `roi_align`
on its own (aligned True/False, several sampling ratios, boxes partly outside the map), and then
serves inside PyTorchVideo's network for the end-to-end comparison.

The random PyTorchVideo detector (random weights, BN statistics and affine parameters) is written
as a PyTorchVideo .pyth (network under "model.", projection at "detection_head.proj"), a
PySlowFast .pyth ("head.projection") and a Caffe2 .pkl ("pred_w"/"pred_b"), with the independent
name tables of tests/_ptv_reference.py. Each file is loaded into build_model("slowfast_8x8_r50_ava")
and the logits (PyTorchVideo's, taken before its eval-mode sigmoid) and the probabilities must
agree to 1e-4 of their scale on the same 64^2 clips (batch 2) and boxes.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _roi_reference import reference_roi_align
from torch import nn

import slowfast_lab as sfl
from slowfast_lab.detection import roi_align

pytest.importorskip("pytorchvideo", reason="dev dependency: pip install -e .[dev]")
from _ptv_reference import (  # noqa: E402
    Spec,
    import_pytorchvideo,
    ptv_to_pyslowfast,
    pyslowfast_to_caffe2,
    randomize,
    write_formats,
)

FORMATS = ("pytorchvideo", "pyslowfast", "caffe2")
TOLERANCE = 1e-4  # max |ours - reference| / max |reference|
PRESET = "slowfast_8x8_r50_ava"
CROP = 64  # the res5 map is 4x4 at 1/16


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours - reference).abs().max() / reference.abs().max()).item()


# ------------------------------------------------------------------------------------------------
# An independent RoIAlign: torchvision's CPU kernel, one sample at a time
# ------------------------------------------------------------------------------------------------


class ReferenceRoIAlign(nn.Module):
    """torchvision.ops.RoIAlign's interface (aligned=False by default, as torchvision's)."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int, aligned=False):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned
        self.calls = 0

    def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return reference_roi_align(
            input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )


# ------------------------------------------------------------------------------------------------
# Our roi_align against the reference
# ------------------------------------------------------------------------------------------------


def _random_boxes(g: torch.Generator, n: int, batch: int, width: float, height: float):
    """Boxes (batch index, x1, y1, x2, y2) in input pixels, many reaching past the map's edges."""
    rows = []
    for _ in range(n):
        x1 = float(torch.empty(()).uniform_(-0.4 * width, 0.9 * width, generator=g))
        y1 = float(torch.empty(()).uniform_(-0.4 * height, 0.9 * height, generator=g))
        w = float(torch.empty(()).uniform_(1.0, 1.3 * width, generator=g)) + max(0.0, -x1)
        h = float(torch.empty(()).uniform_(1.0, 1.3 * height, generator=g)) + max(0.0, -y1)
        b = int(torch.randint(batch, (), generator=g))
        rows.append([b, x1, y1, x1 + w, y1 + h])
    return torch.tensor(rows, dtype=torch.float64)


# Hand-picked boxes on a 9x11 map at spatial_scale 1/2 (input frame 18x22): one inside, one
# smaller than a feature pixel (legacy RoIAlign widens it), one past the top-left corner, one
# past the bottom-right, one larger than the whole map, one on the border, one on clip 1.
_HAND_BOXES = torch.tensor(
    [
        [0, 3.3, 2.1, 14.7, 12.9],
        [0, 8.2, 5.1, 9.1, 5.7],
        [1, -6.5, -4.25, 7.0, 9.5],
        [1, 15.0, 11.0, 27.5, 24.0],
        [0, -9.0, -7.0, 33.0, 26.0],
        [1, 0.0, 0.0, 22.0, 18.0],
        [1, 20.9, 16.9, 23.9, 19.3],
    ],
    dtype=torch.float64,
)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [0, 1, 2, 3])
@pytest.mark.parametrize("output_size", [7, (2, 3)])
def test_roi_align_matches_the_reference(aligned: bool, sampling_ratio: int, output_size) -> None:
    g = torch.Generator().manual_seed(sampling_ratio + 10 * aligned)
    features = torch.randn(2, 3, 9, 11, generator=g, dtype=torch.float64)
    boxes = torch.cat([_HAND_BOXES, _random_boxes(g, 9, 2, 22.0, 18.0)])
    args = (output_size, 0.5, sampling_ratio, aligned)
    reference = reference_roi_align(features, boxes, *args)
    ours = roi_align(features, boxes, *args)
    assert ours.shape == reference.shape
    sampled = reference.abs().amax(dim=(1, 2, 3)) > 0.01  # (a few samples may all miss the map)
    assert sampled.float().mean() >= 0.8
    error = relative_error(ours, reference)
    print(f"roi_align {output_size} aligned={aligned} sampling={sampling_ratio}: {error:.2e}")
    assert error <= 1e-12
    # float32, as in the network: the same up to rounding (against the reference on the same
    # float32 boxes: rounding a box can move a sample across the map's border, a discontinuity)
    features32, boxes32 = features.float(), boxes.float()
    reference32 = reference_roi_align(features32.double(), boxes32.double(), *args)
    error32 = relative_error(roi_align(features32, boxes32, *args).double(), reference32)
    print(f"  float32: {error32:.2e}")
    assert error32 <= 1e-5


def test_roi_align_reference_is_not_vacuous() -> None:
    """The reference tells the flags apart, and a wrong offset in ours would be caught."""
    g = torch.Generator().manual_seed(3)
    features = torch.randn(2, 3, 9, 11, generator=g, dtype=torch.float64)
    boxes = _HAND_BOXES
    legacy = reference_roi_align(features, boxes, 7, 0.5, 0, aligned=False)
    centred = reference_roi_align(features, boxes, 7, 0.5, 0, aligned=True)
    assert relative_error(centred, legacy) > 0.05
    assert relative_error(roi_align(features, boxes, 7, 0.5, 0, aligned=True), legacy) > 0.05
    two = reference_roi_align(features, boxes, 7, 0.5, 2, aligned=False)
    assert relative_error(two, legacy) > 0.01  # sampling_ratio matters too
    shifted = boxes.clone()
    shifted[:, 1:] += 0.25  # a quarter of a feature pixel off (half an input pixel at 1/2)
    assert relative_error(roi_align(features, shifted, 7, 0.5, 0, aligned=False), legacy) > 0.01


# ------------------------------------------------------------------------------------------------
# The AVA detector against PyTorchVideo's hub slowfast_r50_detection
# ------------------------------------------------------------------------------------------------

# Boxes in input pixels of a 64^2 clip; clip 0 and clip 1 have boxes of their own. The third is
# smaller than one feature pixel in height (legacy RoIAlign widens it); the fourth reaches far
# past the frame (140 px = 8.75 feature pixels: 2x2 samples per bin, some outside the map).
BOXES = torch.tensor(
    [
        [0, 4.0, 6.0, 50.0, 60.0],
        [0, 20.5, 10.25, 44.75, 18.5],
        [1, 33.3, 2.7, 63.9, 41.1],
        [1, -20.0, -12.0, 120.0, 90.0],
        [1, 8.0, 30.0, 28.0, 62.0],
    ]
)


def build_ptv_detector() -> nn.Module:
    """PyTorchVideo's hub `slowfast_r50_detection` (untrained), its RoIAlign the reference's.

    pytorchvideo.models.head binds `torchvision.ops.RoIAlign` as a default argument at import,
    so the stand-in module gets the reference class and so does that default (for this build).
    """
    import_pytorchvideo()
    import pytorchvideo.models.head as ptv_head
    from pytorchvideo.models.hub.slowfast import slowfast_r50_detection

    with pytest.MonkeyPatch.context() as mp:
        ops = sys.modules.get("torchvision.ops")
        if ops is not None and not hasattr(ops, "roi_align"):  # the stand-in, not a torchvision
            mp.setattr(ops, "RoIAlign", ReferenceRoIAlign)
        mp.setitem(ptv_head.create_res_roi_pooling_head.__kwdefaults__, "roi", ReferenceRoIAlign)
        model = slowfast_r50_detection(pretrained=False)
    roi = model.detection_head.roi_layer
    assert isinstance(roi, ReferenceRoIAlign)
    assert (roi.output_size, roi.spatial_scale, roi.sampling_ratio, roi.aligned) == (
        (7, 7),
        1 / 16,
        0,
        False,
    )
    return model


def detection_inputs(seed: int = 2) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, t, CROP, CROP, generator=g) for t in (8, 32)]


def detection_states(ptv: nn.Module) -> dict[str, dict]:
    """The detector's weights in each format's names, independent of slowfast_lab.weights."""
    state = {k: v.detach().clone() for k, v in ptv.state_dict().items()}
    assert all(k.startswith(("model.", "detection_head.proj.")) for k in state)
    backbone = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    pyslowfast = ptv_to_pyslowfast(backbone)
    for k, v in state.items():  # PySlowFast's ResNetRoIHead: head.projection
        if k.startswith("detection_head.proj."):
            pyslowfast["head.projection." + k.removeprefix("detection_head.proj.")] = v
    return {"pytorchvideo": state, "pyslowfast": pyslowfast}


def write_detection_formats(ptv: nn.Module, folder: Path) -> dict[str, Path]:
    states = detection_states(ptv)
    names = {"pytorchvideo": "ptv.pyth", "pyslowfast": "psf.pyth", "caffe2": "c2.pkl"}
    paths = {fmt: folder / name for fmt, name in names.items()}
    torch.save({"model_state": states["pytorchvideo"]}, paths["pytorchvideo"])
    torch.save({"model_state": states["pyslowfast"], "epoch": 20}, paths["pyslowfast"])
    blobs = pyslowfast_to_caffe2(states["pyslowfast"])
    assert {"pred_w", "pred_b"} <= set(blobs)
    blobs["pred_w_momentum"] = np.zeros_like(blobs["pred_w"])
    blobs["lr"] = np.array([0.1], dtype=np.float32)
    with open(paths["caffe2"], "wb") as f:
        pickle.dump({"blobs": blobs}, f, protocol=2)
    return paths


class DetectionReference:
    """A random PyTorchVideo detector, its logits and probabilities, its weights in each format."""

    def __init__(self, folder: Path):
        torch.manual_seed(0)
        ptv = randomize(build_ptv_detector(), seed=1)
        self.inputs = detection_inputs()
        logits: list[torch.Tensor] = []
        hook = ptv.detection_head.proj.register_forward_hook(lambda m, i, o: logits.append(o))
        with torch.no_grad():
            # Random weights give logits in the tens, whose sigmoids are all 0 or 1: scale the
            # projection so that the logits spread over a few units and the probabilities matter.
            ptv.detection_head(ptv.model(list(self.inputs)), BOXES.clone())
            ptv.detection_head.proj.weight.mul_(2.0 / logits.pop().std())
            self.probabilities = ptv(list(self.inputs), BOXES.clone())
        hook.remove()
        assert ptv.detection_head.roi_layer.calls == 2
        self.logits = logits[0].reshape(len(BOXES), -1)
        self.paths = write_detection_formats(ptv, folder)


@pytest.fixture(scope="module")
def detection(tmp_path_factory) -> DetectionReference:
    return DetectionReference(tmp_path_factory.mktemp("ava"))


def our_detector(path: Path, **overrides) -> sfl.VideoNet:
    return sfl.load_weights(sfl.build_model(PRESET, **overrides), path).eval()


def our_logits(model: sfl.VideoNet, ref: DetectionReference, boxes=BOXES) -> torch.Tensor:
    with torch.no_grad():
        return model(*ref.inputs, boxes=boxes.clone())


@pytest.mark.slow
def test_reference_detector_is_meaningful(detection: DetectionReference) -> None:
    """PyTorchVideo's output is the sigmoid of the logits we compare; boxes make a difference."""
    logits, probs = detection.logits, detection.probabilities
    assert logits.shape == probs.shape == (len(BOXES), 80)
    assert torch.allclose(probs, logits.sigmoid(), atol=1e-6)
    assert logits.abs().max() > 1.0
    assert ((probs > 0.05) & (probs < 0.95)).float().mean() > 0.2  # not saturated
    rows = logits / logits.abs().max()
    assert torch.cdist(rows, rows).add(torch.eye(len(BOXES))).min() > 0.01  # every box differs


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_detection_matches_pytorchvideo(fmt: str, detection: DetectionReference) -> None:
    model = our_detector(detection.paths[fmt])
    if fmt == "pytorchvideo":  # once through the public predict (a sigmoid per box and class)
        with torch.no_grad():
            probabilities = model.predict(*detection.inputs, boxes=BOXES.clone())
        logits = probabilities.logit()
    else:
        logits = our_logits(model, detection)
        probabilities = logits.sigmoid()
    assert logits.shape == (len(BOXES), 80)
    logit_error = relative_error(logits, detection.logits)
    prob_error = relative_error(probabilities, detection.probabilities)
    print(f"{PRESET} from {fmt}: logits {logit_error:.2e}, probabilities {prob_error:.2e}")
    assert logit_error <= TOLERANCE
    assert prob_error <= TOLERANCE


@pytest.mark.slow
def test_every_detection_weight_reaches_our_model(detection: DetectionReference) -> None:
    state = torch.load(detection.paths["pytorchvideo"], weights_only=True)["model_state"]
    ours = our_detector(detection.paths["pytorchvideo"]).state_dict()
    assert len(ours) == len(state)
    ptv_sums = sorted(round(v.double().sum().item(), 4) for v in state.values())
    our_sums = sorted(round(v.double().sum().item(), 4) for v in ours.values())
    assert ptv_sums == our_sums


@pytest.mark.slow
def test_detection_comparison_catches_mistakes(detection: DetectionReference) -> None:
    """One perturbed weight, the aligned RoIAlign or a box on the wrong clip breaks equality."""
    model = our_detector(detection.paths["pyslowfast"])
    swapped = BOXES.clone()
    swapped[:, 0] = 1 - swapped[:, 0]
    assert relative_error(our_logits(model, detection, swapped), detection.logits) > 0.01

    assert model.head.aligned is False
    model.head.aligned = True  # PySlowFast's default offset instead of the legacy RoIAlign
    assert relative_error(our_logits(model, detection), detection.logits) > 10 * TOLERANCE
    model.head.aligned = False

    with torch.no_grad():
        model.state_dict()["fast.res5.1.b.conv.weight"].mul_(1.01)
    assert relative_error(our_logits(model, detection), detection.logits) > 10 * TOLERANCE


# ------------------------------------------------------------------------------------------------
# Kinetics-600: PyTorchVideo's create_slowfast with 600 classes
# ------------------------------------------------------------------------------------------------

K600 = Spec("slowfast_8x8_r50_k600", T=8, alpha=4, fusion_kernel=7, num_classes=600)


@pytest.fixture(scope="module")
def k600(tmp_path_factory):
    torch.manual_seed(0)
    ptv = randomize(K600.build_ptv(), seed=1)
    inputs = K600.inputs(seed=2)
    with torch.no_grad():
        logits = K600.ptv_forward(ptv, inputs)
    return inputs, logits, write_formats(ptv, tmp_path_factory.mktemp("k600"))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_k600_matches_pytorchvideo(fmt: str, k600) -> None:
    inputs, reference, paths = k600
    assert reference.shape == (1, 600) and reference.abs().max() > 1.0
    model = sfl.load_weights(sfl.build_model(K600.preset), paths[fmt]).eval()
    with torch.no_grad():
        logits = model(*inputs)
    error = relative_error(logits, reference)
    print(f"{K600.preset} from {fmt}: max relative logit error {error:.2e}")
    assert error <= TOLERANCE
    with torch.no_grad():
        model.head.fc.weight[123].add_(0.01)
        assert relative_error(model(*inputs), reference) > 10 * TOLERANCE
