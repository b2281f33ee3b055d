"""RoIAlign against a slow reference written sample by sample, and the detection head.

The reference below follows torchvision's RoIAlign kernel (roi_align_kernel.cpp) literally: one box,
one bin, one sample at a time, with explicit bilinear interpolation; the library computes the same
thing with interpolation matrices, so the two share no code.
"""

from __future__ import annotations

import pytest
import torch
from _roi_reference import reference_roi_align

import slowfast_lab as sfl
from slowfast_lab.detection import roi_align
from slowfast_lab.model import loss_for
from slowfast_lab.weights import load_model, save_checkpoint

# Boxes in input pixels for a 2-clip batch of 10x12 maps at scale 1/4 (a 40x48 frame): inside,
# across every border, tiny, empty, inverted, beyond the frame, and far larger than it.
BOXES = torch.tensor(
    [
        [0, 4.0, 4.0, 28.0, 20.0],
        [1, 0.0, 0.0, 48.0, 40.0],  # the whole frame
        [1, -6.0, -3.0, 9.0, 11.0],  # over the top-left corner
        [0, 35.0, 30.0, 52.0, 47.0],  # over the bottom-right corner
        [0, 10.0, 10.0, 11.0, 11.5],  # smaller than one feature pixel
        [1, 12.0, 12.0, 12.0, 12.0],  # empty
        [0, 20.0, 20.0, 8.0, 10.0],  # inverted
        [1, 60.0, 50.0, 80.0, 70.0],  # wholly outside the frame
        [0, -40.0, -30.0, 100.0, 90.0],  # larger than the frame
        [1, 47.9, 39.9, 48.0, 40.0],  # at the far corner
    ]
)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [0, 1, 2, 3])
@pytest.mark.parametrize("output_size", [(2, 2), (3, 2), (1, 1)])
def test_matches_reference(aligned, sampling_ratio, output_size) -> None:
    features = torch.randn(2, 3, 10, 12, generator=torch.Generator().manual_seed(0))
    ours = roi_align(features, BOXES, output_size, 0.25, sampling_ratio, aligned)
    ref = reference_roi_align(features, BOXES, output_size, 0.25, sampling_ratio, aligned)
    assert ours.shape == (len(BOXES), 3, *output_size)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_boxes_off_the_map_read_zeros_and_on_it_read_values() -> None:
    features = torch.ones(1, 1, 8, 8)
    inside = roi_align(features, torch.tensor([[0, 8.0, 8.0, 24.0, 24.0]]), 2, 0.25)
    outside = roi_align(features, torch.tensor([[0, 100.0, 100.0, 120.0, 120.0]]), 2, 0.25)
    assert torch.equal(inside, torch.ones(1, 1, 2, 2)) and torch.equal(
        outside, torch.zeros(1, 1, 2, 2)
    )


def test_aligned_shifts_samples_by_half_a_pixel() -> None:
    """A ramp f(x) = x: the mean of a box [x1, x2] is (x1 + x2)/2 - 0.5 aligned, (x1 + x2)/2 not."""
    ramp = torch.arange(16.0).expand(1, 1, 16, 16).contiguous()
    box = torch.tensor([[0, 4.0, 4.0, 10.0, 10.0]])
    assert roi_align(ramp, box, 1, 1.0, aligned=False).item() == pytest.approx(7.0)
    assert roi_align(ramp, box, 1, 1.0, aligned=True).item() == pytest.approx(6.5)


def test_empty_box_list_and_dtype() -> None:
    features = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    out = roi_align(features, torch.zeros(0, 5), (7, 7), 1 / 16)
    assert out.shape == (0, 4, 7, 7) and out.dtype == torch.float64


def test_gradients_are_exact() -> None:
    g = torch.Generator().manual_seed(1)
    features = torch.randn(2, 2, 5, 6, dtype=torch.float64, generator=g, requires_grad=True)
    boxes = BOXES[:5].double() * torch.tensor([1, 0.5, 0.5, 0.5, 0.5], dtype=torch.float64)
    for aligned in (False, True):
        assert torch.autograd.gradcheck(
            lambda f, a=aligned: roi_align(f, boxes, (2, 3), 0.25, 0, a), (features,)
        )


def test_vectorised_over_boxes_and_order_independent() -> None:
    features = torch.randn(2, 3, 10, 12)
    perm = torch.randperm(len(BOXES), generator=torch.Generator().manual_seed(3))
    full = roi_align(features, BOXES, 3, 0.25)
    torch.testing.assert_close(roi_align(features, BOXES[perm], 3, 0.25), full[perm])


@pytest.mark.parametrize(
    ("boxes", "words"),
    [
        (torch.zeros(3, 4), "prepend the batch index"),
        (torch.zeros(5), r"\[K, 5\]"),
        (torch.tensor([[2.0, 0, 0, 4, 4]]), "batch index 2, but the batch holds 2"),
        (torch.tensor([[-1.0, 0, 0, 4, 4]]), "batch index -1"),
        (torch.tensor([[0.5, 0, 0, 4, 4]]), "whole number"),
        (torch.tensor([[0, float("nan"), 0, 4, 4]]), "NaN"),
        (torch.tensor([[0, 0.0, 0, 1e9, 1e9]]), "scale"),
        ([[0, 0, 0, 4, 4]], "tensor"),
    ],
)
def test_bad_boxes_are_named(boxes, words) -> None:
    with pytest.raises(ValueError, match=words):
        roi_align(torch.zeros(2, 1, 4, 4), boxes, 2, 1.0)


def test_bad_arguments_are_named() -> None:
    features, box = torch.zeros(1, 1, 4, 4), torch.tensor([[0, 0.0, 0, 2, 2]])
    with pytest.raises(ValueError, match="features"):
        roi_align(torch.zeros(1, 4, 4), box, 2, 1.0)
    with pytest.raises(ValueError, match="sampling_ratio"):
        roi_align(features, box, 2, 1.0, sampling_ratio=-1)
    with pytest.raises(ValueError, match="output_size"):
        roi_align(features, box, 0, 1.0)
    with pytest.raises(ValueError, match="spatial_scale"):
        roi_align(features, box, 2, 0.0)


# ------------------------------------------------------------------------------------------------
# The detection and multi-label heads in the model
# ------------------------------------------------------------------------------------------------


CLIPS = (torch.randn(2, 3, 4, 64, 64), torch.randn(2, 3, 16, 64, 64))
CLIP_BOXES = torch.tensor(
    [[0, 4.0, 4.0, 40.0, 40.0], [1, 10.0, 8.0, 60.0, 50.0], [1, 0, 0, 64, 64]]
)


def test_dilated_res5_keeps_the_map_at_one_sixteenth() -> None:
    plain = sfl.build_model("slowfast_tiny").eval()
    dilated = sfl.build_model("slowfast_tiny", res5_dilation=2).eval()
    assert dilated.config.output_stride == 16 and plain.config.output_stride == 32
    conv = dilated.slow.res5[0].b.conv
    assert conv.stride == (1, 1, 1) and conv.dilation == (1, 2, 2) and conv.padding == (0, 2, 2)
    assert dilated.slow.res5[0].shortcut.conv.stride == (1, 1, 1)
    s, f = dilated.backbone(*CLIPS)
    assert s.shape[-2:] == (4, 4) and f.shape[-2:] == (4, 4)  # 64 / 16
    assert plain.backbone(*CLIPS)[0].shape[-2:] == (2, 2)  # 64 / 32
    # Same weights, so a classification checkpoint loads into the dilated network unchanged.
    dilated.load_state_dict(plain.state_dict())


@pytest.mark.parametrize("preset", ["slowfast_tiny", "slow_tiny", "fast_tiny"])
def test_detection_model_gives_one_row_per_box(preset) -> None:
    model = sfl.build_model(preset, head="detect", res5_dilation=2, num_classes=5).eval()
    inputs = sfl.model.model_inputs(model, *CLIPS)
    logits = model(*inputs, boxes=CLIP_BOXES)
    assert logits.shape == (3, 5)
    assert model.features(*inputs, boxes=CLIP_BOXES).shape[0] == 3
    # A box's logits depend on its own clip only: moving box 0 to clip 1 changes them.
    moved = CLIP_BOXES.clone()
    moved[0, 0] = 1
    assert not torch.allclose(model(*inputs, boxes=moved)[0], logits[0])
    torch.testing.assert_close(model(*inputs, boxes=moved)[1:], logits[1:])
    torch.testing.assert_close(model.predict(*inputs, boxes=CLIP_BOXES), logits.sigmoid())


def test_head_is_the_pyslowfast_roi_head_written_out() -> None:
    """Mean over time, RoIAlign, max over the bins, concatenate (Slow first), fc: by hand."""
    model = sfl.build_model("slowfast_tiny", head="detect", res5_dilation=2, num_classes=4).eval()
    s, f = model.backbone(*CLIPS, boxes=CLIP_BOXES)
    parts = [roi_align(x.mean(2), CLIP_BOXES, 7, 1 / 16, 0, True).amax(dim=(2, 3)) for x in (s, f)]
    expected = model.head.fc(torch.cat(parts, dim=1))
    torch.testing.assert_close(model(*CLIPS, boxes=CLIP_BOXES), expected)


def test_multilabel_head_and_losses() -> None:
    model = sfl.build_model("slowfast_tiny", head="multilabel", num_classes=6).eval()
    logits = model(*CLIPS)
    assert logits.shape == (2, 6)
    probs = model.predict(*CLIPS)
    assert ((probs > 0) & (probs < 1)).all() and not torch.allclose(probs.sum(1), torch.ones(2))
    targets = torch.tensor([[1.0, 0, 1, 0, 0, 1], [0, 0, 0, 1, 0, 0]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert loss_for(model.config)(logits, targets).item() == pytest.approx(bce.item())
    classify = sfl.build_model("slowfast_tiny").config
    assert isinstance(loss_for(classify), torch.nn.CrossEntropyLoss)
    assert isinstance(loss_for(classify.replace(head="detect")), torch.nn.BCEWithLogitsLoss)


def test_boxes_are_checked_before_the_network_runs() -> None:
    detector = sfl.build_model("slowfast_tiny", head="detect", num_classes=3).eval()
    with pytest.raises(sfl.ShapeError, match="needs person boxes"):
        detector(*CLIPS)
    with pytest.raises(ValueError, match="batch index 2, but the batch holds 2"):
        detector(*CLIPS, boxes=torch.tensor([[2.0, 0, 0, 8, 8]]))
    with pytest.raises(sfl.ShapeError, match="takes no boxes"):
        sfl.build_model("slowfast_tiny").eval()(*CLIPS, boxes=CLIP_BOXES)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"head": "boxes"}, "head='boxes' is not one of"),
        ({"res5_dilation": 0}, "res5_dilation=0 must be a positive integer"),
        ({"res5_dilation": 2.0}, "res5_dilation=2.0"),
        ({"roi_resolution": 0}, "roi_resolution=0"),
        ({"roi_aligned": "yes"}, "roi_aligned='yes' must be True or False"),
    ],
)
def test_config_errors_name_the_field(overrides, words) -> None:
    with pytest.raises(sfl.ConfigError, match=words):
        sfl.get_config("slowfast_tiny", **overrides)


def test_detection_checkpoint_reloads_as_a_detector(tmp_path) -> None:
    model = sfl.build_model(
        "slowfast_tiny", head="detect", res5_dilation=2, num_classes=3, roi_aligned=False
    ).eval()
    path = save_checkpoint(model, tmp_path / "det.pt")
    again = load_model(path)
    assert again.config == model.config
    torch.testing.assert_close(again(*CLIPS, boxes=CLIP_BOXES), model(*CLIPS, boxes=CLIP_BOXES))


def test_checkpoints_written_before_the_head_fields_still_load(tmp_path) -> None:
    model = sfl.build_model("slowfast_tiny").eval()
    path = save_checkpoint(model, tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    for name in ("head", "res5_dilation", "roi_resolution", "roi_aligned"):
        del payload["config"][name]
    torch.save(payload, path)
    assert load_model(path).config == model.config


def test_roi_align_keeps_float32_coordinates_for_bfloat16_features():
    """In bfloat16, input pixels 256-512 round to steps of 2: the sampling grid stays float32."""
    g = torch.Generator().manual_seed(0)
    features = torch.randn(1, 4, 32, 32, generator=g)
    boxes = torch.tensor([[0.0, 301.0, 297.0, 383.0, 411.0]])
    want = roi_align(features, boxes, 7, 1 / 16)
    got = roi_align(features.bfloat16(), boxes, 7, 1 / 16)
    assert got.dtype == torch.bfloat16
    assert (got.float() - want).abs().max() <= 0.02 * want.abs().max()
