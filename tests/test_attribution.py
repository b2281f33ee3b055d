"""Attribution per pathway on a tiny model: shapes, known answers, sanity checks."""

from __future__ import annotations

import time

import pytest
import torch

from slowfast_lab import build_model
from slowfast_lab.attribution import (
    attribute,
    box_attribution_rows,
    box_mask,
    box_share,
    localisation_score,
    randomisation_test,
    spearman,
)
from slowfast_lab.detect import scene_clip
from slowfast_lab.synthetic import ACTIONS


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model("slowfast_tiny").eval()
    for m in model.modules():  # give every residual branch a non-zero last BN (init sets 0)
        if isinstance(m, torch.nn.BatchNorm3d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    g = torch.Generator().manual_seed(1)
    slow = torch.randn(1, 3, 4, 48, 48, generator=g)
    fast = torch.randn(1, 3, 16, 48, 48, generator=g)
    return model, (slow, fast)


@pytest.mark.parametrize(
    "method", ["saliency", "integrated_gradients", "gradcam", "layer_gradcam", "occlusion"]
)
def test_maps_keyed_by_pathway_with_input_shapes(tiny, method) -> None:
    model, inputs = tiny
    kw = {"window": 16} if method == "occlusion" else {}
    r = attribute(
        model, {"slow": inputs[0], "fast": inputs[1]}, target=3, method=method, progress=False, **kw
    )
    assert set(r.maps) == {"slow", "fast"}
    assert r.maps["slow"].shape == (4, 48, 48) and r.maps["fast"].shape == (16, 48, 48)
    assert float(r.frame_mass("fast").sum()) == pytest.approx(1.0)


def test_ignored_channel_gets_zero_attribution(tiny) -> None:
    model, inputs = tiny
    model = __import__("copy").deepcopy(model)
    with torch.no_grad():
        model.fast.stem.conv.conv.weight[:, 2] = 0  # the Fast stem ignores the blue channel
    for method in ("saliency", "integrated_gradients"):
        r = attribute(model, inputs, target=0, method=method, progress=False)
        assert float(r.raw["fast"][2].abs().max()) == 0.0
        assert float(r.raw["fast"][0].abs().max()) > 0.0


def test_target_by_name_and_probability(tiny) -> None:
    model, inputs = tiny
    r = attribute(
        model, inputs, target="L-cw", output="probability", method="saliency", progress=False
    )
    assert r.target == 4 and r.target_name == "L-cw"
    with pytest.raises(ValueError, match="unknown class name"):
        attribute(model, inputs, target="nope", method="saliency", progress=False)


def test_tiny_model_ig_under_two_seconds(tiny) -> None:
    model, inputs = tiny
    attribute(model, inputs, target=0, method="integrated_gradients", progress=False)
    start = time.perf_counter()
    attribute(model, inputs, target=0, method="integrated_gradients", progress=False)
    elapsed = time.perf_counter() - start
    print(f"IG (32 steps) on the tiny model: {elapsed:.2f} s")
    assert elapsed < 6  # < 2 s on an idle 2-core CPU; CI cores are shared


def test_localisation_score_known_answer() -> None:
    mask = torch.zeros(2, 10, 10, dtype=torch.bool)
    mask[:, :5] = True  # half the pixels
    attr = mask.float() * 3.0
    s = localisation_score(attr, mask)
    assert s["inside"] == 1.0 and s["mask_share"] == 0.5 and s["ratio"] == 2.0
    assert localisation_score(torch.ones(2, 10, 10), mask)["ratio"] == pytest.approx(1.0)


def test_randomisation_changes_maps(tiny) -> None:
    model, inputs = tiny
    assert spearman(torch.arange(10.0), torch.arange(10.0)) == pytest.approx(1.0)
    rho = randomisation_test(model, inputs, target=0, method="gradcam")
    assert set(rho) == {"slow", "fast"}
    assert all(v < 0.9 for v in rho.values()), rho


# ------------------------------------------------------------------------------------------------
# Detection heads: a target is (box index, action)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector():
    """A tiny SlowFast detector (random weights, non-zero last BNs) and one clip with 3 boxes."""
    torch.manual_seed(0)
    model = build_model("slowfast_tiny", head="detect", num_classes=4).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    g = torch.Generator().manual_seed(2)
    slow = torch.randn(1, 3, 4, 48, 48, generator=g)
    fast = torch.randn(1, 3, 16, 48, 48, generator=g)
    boxes = torch.tensor(
        [[2.0, 3.0, 15.0, 14.0], [30.0, 28.0, 46.0, 45.0], [20.0, 2.0, 33.0, 20.0]]
    )
    return model, (slow, fast), boxes


def test_detection_saliency_is_the_gradient_of_that_box_and_action(detector) -> None:
    model, (slow, fast), boxes = detector
    rows = torch.cat([torch.zeros(3, 1), boxes], 1)
    for k, a in ((0, 2), (2, 1)):
        x = (slow.clone().requires_grad_(), fast.clone().requires_grad_())
        model(*x, boxes=rows)[k, a].backward()
        r = attribute(model, (slow, fast), (k, a), method="saliency", boxes=rows, progress=False)
        assert r.box == k and r.target == a and r.target_name == ACTIONS[a]
        torch.testing.assert_close(r.raw["slow"], x[0].grad[0].abs())
        torch.testing.assert_close(r.raw["fast"], x[1].grad[0].abs())


def test_detection_attribution_differs_between_boxes_not_with_other_boxes(detector) -> None:
    model, inputs, boxes = detector
    a0 = attribute(model, inputs, (0, "still"), method="saliency", boxes=boxes, progress=False)
    a1 = attribute(model, inputs, (1, "still"), method="saliency", boxes=boxes, progress=False)
    for p in ("slow", "fast"):
        assert not torch.allclose(a0.maps[p], a1.maps[p])
    # box 1 alone gives box 1's attribution: the other boxes do not enter its score
    alone = attribute(
        model, inputs, (0, "still"), method="saliency", boxes=boxes[1:2], progress=False
    )
    for p in ("slow", "fast"):
        torch.testing.assert_close(alone.maps[p], a1.maps[p])


def test_randomisation_test_takes_a_detectors_box_and_action(detector) -> None:
    from slowfast_lab.attribution import randomisation_test

    model, inputs, boxes = detector
    r = randomisation_test(model, inputs, (1, "still"), method="saliency", boxes=boxes)
    assert set(r) == {"slow", "fast"} and all(-1 <= v <= 1 for v in r.values())


def test_detection_ig_same_for_any_internal_batch(detector) -> None:
    """Captum evaluates several interpolated clips per call: each must get the box."""
    model, inputs, boxes = detector
    one, four = (
        attribute(
            model, inputs, (2, 3), boxes=boxes, steps=8, internal_batch_size=b, progress=False
        )
        for b in (1, 4)
    )
    for p in ("slow", "fast"):
        torch.testing.assert_close(one.maps[p], four.maps[p], rtol=1e-4, atol=1e-6)
    # completeness: the attributions add up to the change of box 2's logit from the black clip
    rows = torch.cat([torch.zeros(3, 1), boxes], 1)
    with torch.no_grad():
        gain = (
            model(*inputs, boxes=rows)[2, 3]
            - model(*(torch.zeros_like(x) for x in inputs), boxes=rows)[2, 3]
        )
    total = sum(float(m.sum()) for m in one.maps.values())
    assert total == pytest.approx(float(gain), rel=0.1, abs=0.05)


def test_detection_default_target_is_box0_top_action(detector) -> None:
    model, inputs, boxes = detector
    r = attribute(model, inputs, method="gradcam", boxes=boxes, progress=False)
    with torch.no_grad():
        top = int(model(*inputs, boxes=torch.cat([torch.zeros(3, 1), boxes], 1))[0].argmax())
    assert (r.box, r.target) == (0, top)


def test_detection_targets_and_boxes_checked(detector, tiny) -> None:
    model, inputs, boxes = detector
    with pytest.raises(ValueError, match=r"pair \(box index, action\)"):
        attribute(model, inputs, 1, method="saliency", boxes=boxes, progress=False)
    with pytest.raises(ValueError, match="needs the clip's boxes"):
        attribute(model, inputs, (0, 1), method="saliency", progress=False)
    with pytest.raises(ValueError, match="box 3 is not one of the 3 boxes"):
        attribute(model, inputs, (3, 1), method="saliency", boxes=boxes, progress=False)
    with pytest.raises(ValueError, match="column 0 must be 0"):
        attribute(model, inputs, (0, 1), method="saliency", boxes=torch.ones(3, 5), progress=False)
    with pytest.raises(ValueError, match="unknown class name"):
        attribute(model, inputs, (0, "jumping"), method="saliency", boxes=boxes, progress=False)
    classifier, x = tiny
    with pytest.raises(ValueError, match="boxes= is for detection models"):
        attribute(classifier, x, 0, method="saliency", boxes=boxes, progress=False)


def test_box_share_known_answer_on_a_hand_made_map() -> None:
    # 2 frames of 10 x 10; the box x in [2, 6), y in [0, 5) covers 4 x 5 = 20 pixels per frame
    attr = torch.ones(2, 10, 10)
    attr[:, 0:5, 2:6] = -4.0  # inside: 20 pixels of |4| per frame; outside: 80 pixels of 1
    share = box_share(attr, torch.tensor([2.0, 0.0, 6.0, 5.0]))
    assert share["mask_share"] == pytest.approx(0.2)
    assert share["inside"] == pytest.approx(80 / 160)
    assert share["ratio"] == pytest.approx(2.5)
    # a box per frame (a track): frame 1's box misses the hot region
    track = torch.tensor([[2.0, 0.0, 6.0, 5.0], [6.0, 5.0, 10.0, 10.0]])
    moved = box_share(attr, track)
    assert moved["inside"] == pytest.approx((80 + 20) / 320)
    mask = box_mask(track, (2, 10, 10))
    assert mask[1, 5:, 6:].all() and int(mask[1].sum()) == 20 and not mask[1, :5].any()
    with pytest.raises(ValueError, match=r"\[4\] or \[2, 4\]"):
        box_mask(torch.zeros(3, 4), (2, 10, 10))


def test_box_attribution_rows_per_true_action_and_pathway(detector) -> None:
    from slowfast_lab.synthetic import TaskConfig

    model, _, _ = detector
    task = TaskConfig(kind="scenes_multi")
    rows = box_attribution_rows(model, task, seed=7, clips=1, method="saliency", progress=False)
    clip = scene_clip(7, 0, task)
    expected = int(clip["targets"].sum())  # one attribution per true (box, action)
    assert len(rows) == 2 * expected
    for k in range(3):
        mine = [r for r in rows if r["box"] == k]
        assert {r["action"] for r in mine} == {
            ACTIONS[a] for a in clip["targets"][k].nonzero().flatten().tolist()
        }
        for action in {r["action"] for r in mine}:
            both = [r for r in mine if r["action"] == action]
            assert sum(r["share"] for r in both) == pytest.approx(1.0)
            r = attribute(
                model,
                tuple(clip["inputs"].values()),
                (k, action),
                method="saliency",
                boxes=clip["boxes"],
                progress=False,
            )
            assert [x["sum"] for x in both] == pytest.approx(
                [float(r.maps[p].sum()) for p in r.maps]
            )
    assert {r["group"] for r in rows} <= {"motion", "appearance"}
    with pytest.raises(ValueError, match="needs a detection model"):
        box_attribution_rows(build_model("slowfast_tiny"), task, clips=1)


def test_detection_probability_is_the_boxs_sigmoid(detector) -> None:
    """Detection (and multi-label) heads give a sigmoid per action, not a softmax over them."""
    model, (slow, fast), boxes = detector
    rows = torch.cat([torch.zeros(3, 1), boxes], 1)
    x = (slow.clone().requires_grad_(), fast.clone().requires_grad_())
    model(*x, boxes=rows)[1, 3].sigmoid().backward()
    r = attribute(
        model, (slow, fast), (1, 3), "saliency", output="probability", boxes=rows, progress=False
    )
    torch.testing.assert_close(r.raw["fast"], x[1].grad[0].abs())
