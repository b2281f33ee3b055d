"""Average precision, Charades clip mAP and AVA frame mAP: hand-checked cases and brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slowfast_lab.metrics import (
    average_precision,
    box_iou,
    clip_map,
    frame_map,
    match_detections,
    voc_ap,
)


def brute_force_ap(scores, targets) -> float:
    """Mean over positives of the precision among everything scoring at least as high."""
    scores, targets = np.asarray(scores), np.asarray(targets) > 0
    precisions = [targets[scores >= s].mean() for s in scores[targets]]
    return float(np.mean(precisions))


def test_average_precision_by_hand():
    # Ranking: 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-): precision 1 at recall 1/2, 2/3 at recall 1.
    assert average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(5 / 6)
    assert average_precision([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert average_precision([0.1, 0.8, 0.9], [1, 0, 0]) == pytest.approx(1 / 3)
    # A tie of a positive and a negative is one threshold: precision 1/2 there.
    assert average_precision([0.5, 0.5], [1, 0]) == 0.5
    assert average_precision([0.3, 0.2], [0, 0]) is None
    assert average_precision(torch.tensor([2.0, -1.0]), torch.tensor([0, 1])) == 0.5


@pytest.mark.parametrize("seed", range(20))
def test_average_precision_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    scores = rng.integers(0, 6, n) / 5.0  # many ties
    targets = rng.random(n) < 0.4
    targets[0] = True
    assert average_precision(scores, targets) == pytest.approx(brute_force_ap(scores, targets))


def test_average_precision_errors_name_the_problem():
    with pytest.raises(ValueError, match="targets has 2"):
        average_precision([0.1, 0.2, 0.3], [1, 0])
    with pytest.raises(ValueError, match="NaN"):
        average_precision([float("nan"), 0.2], [1, 0])


def test_clip_map_skips_classes_without_positives():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.4], [0.6, 0.7, 0.3]])
    targets = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    out = clip_map(scores, targets, names=["a", "b", "c"])
    # a: its positive ranks first (AP 1); b: its positive ranks first too; c has no positive.
    assert out["per_class"] == {"a": 1.0, "b": 1.0, "c": None}
    assert out["map"] == 1.0
    assert out["prior"]["a"] == pytest.approx(1 / 3, abs=1e-4)
    targets[2, 1] = 1  # b: ranks 0.8 (+), 0.7 (+), 0.1 (-): still 1
    assert clip_map(scores, targets)["per_class"]["1"] == 1.0
    scores[0, 1] = 0.75  # now 0.8 (+), 0.75 (-), 0.7 (+): (1 + 2/3) / 2
    assert clip_map(scores, targets)["per_class"]["1"] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="clips, classes"):
        clip_map(scores[:, :2], targets)


def test_box_iou_by_hand():
    a = [[0, 0, 2, 2]]
    b = [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 0, 0]]
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 1.0, 0.0, 0.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_voc_ap_makes_precision_monotone():
    # Ranks: +, -, +: precision 1, 1/2, 2/3; recall 1/2, 1/2, 1. Monotone precision at recall 1/2
    # is max(1, ...) = 1, at recall 1 it is 2/3: AP = 1/2 * 1 + 1/2 * 2/3.
    assert voc_ap(np.array([1, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])) == pytest.approx(5 / 6)
    assert voc_ap(np.zeros(0), np.zeros(0)) == 0.0


def test_match_detections_duplicates_and_misses():
    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    dets = [[0, 0, 10, 10], [1, 0, 10, 10], [40, 40, 50, 50], [20, 20, 30, 29]]
    scores = [0.9, 0.8, 0.7, 0.6]
    # the duplicate (IoU 0.9 with a found box) and the box on nothing are false positives
    assert match_detections(dets, scores, gt).tolist() == [True, False, False, True]
    # the higher-scoring duplicate takes the box first
    assert match_detections(dets, [0.5, 0.8, 0.7, 0.6], gt).tolist() == [False, True, False, True]
    # an overlap below the threshold is a miss
    assert match_detections([[0, 0, 10, 4]], [1.0], gt).tolist() == [False]
    assert match_detections([[0, 0, 10, 4]], [1.0], gt, iou=0.4).tolist() == [True]
    assert match_detections(dets, scores, np.zeros((0, 4))).tolist() == [False] * 4


def test_frame_map_by_hand():
    # Two frames, two actions. Action 0: two boxes in frame 0, one in frame 1.
    gt_frames = [0, 0, 1]
    gt_boxes = [[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]]
    gt_labels = [[1, 0], [1, 1], [1, 0]]
    det_frames = [0, 0, 0, 1]
    det_boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]
    det_scores = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.9], [0.7, 0.3]]
    out = frame_map(
        (det_frames, det_boxes, det_scores), (gt_frames, gt_boxes, gt_labels), names=["a", "b"]
    )
    # Action a, by score: 0.9 TP, 0.8 duplicate FP, 0.7 (frame 1, nothing there) FP, 0.3 TP;
    # 3 ground-truth boxes: precision 1, 1/2, 1/3, 1/2 at recall 1/3, 1/3, 1/3, 2/3;
    # monotone: 1 up to recall 1/3, 1/2 up to 2/3, 0 beyond: AP = 1/3 + 1/3 * 1/2 = 1/2.
    assert out["per_action"]["a"] == pytest.approx(0.5)
    # Action b: one box, found by the top score.
    assert out["per_action"]["b"] == 1.0
    assert out["map"] == pytest.approx(0.75) and out["iou"] == 0.5
    # A detection in the right place but for another frame does not count.
    moved = frame_map(([1], [[20, 20, 30, 30]], [[0.0, 1.0]]), (gt_frames, gt_boxes, gt_labels))
    assert moved["per_action"]["1"] == 0.0


def brute_force_voc_ap(scores, targets) -> float:
    """Distinct scores: mean over positives of the best precision at that rank or any lower one
    (interpolated precision)."""
    order = np.argsort(-np.asarray(scores))
    hits = (np.asarray(targets) > 0)[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(np.mean([precision[k:].max() for k in np.nonzero(hits)[0]]))


def test_frame_map_with_ground_truth_boxes_is_a_ranking_of_the_boxes():
    """With detections = ground-truth boxes (AVA's protocol with given boxes), frame AP is the
    interpolated average precision of ranking the boxes by score."""
    rng = np.random.default_rng(0)
    g = 30
    frames = np.repeat(np.arange(10), 3)
    boxes = np.tile([[0, 0, 10, 10], [20, 0, 30, 10], [0, 20, 10, 30]], (10, 1)).astype(float)
    labels = rng.random((g, 2)) < 0.5
    scores = rng.random((g, 2))
    out = frame_map((frames, boxes, scores), (frames, boxes, labels))
    for a in range(2):
        want = brute_force_voc_ap(scores[:, a], labels[:, a])
        assert out["per_action"][str(a)] == pytest.approx(want)
        # interpolation only raises precision: never below the scikit-learn style AP
        assert want >= brute_force_ap(scores[:, a], labels[:, a]) - 1e-12


def test_frame_map_errors():
    gt = ([0], [[0, 0, 1, 1]], [[1, 0]])
    with pytest.raises(ValueError, match="iou"):
        frame_map(gt, gt, iou=0)
    with pytest.raises(ValueError, match="same actions"):
        frame_map(([0], [[0, 0, 1, 1]], [[0.5]]), gt)


def test_frame_map_takes_any_frame_ids_and_checks_names():
    """AVA frames are "video,timestamp" strings or float seconds: 902.5 is not 902.0."""
    box = [0.0, 0.0, 10.0, 10.0]
    gt = (["v,902.0", "v,902.5"], [box, box], [[1], [0]])
    det = (["v,902.5", "v,902.0"], [box, box], [[0.9], [0.1]])
    # the high score sits on frame 902.5, which has no positive box: AP 1/2, not 1
    assert frame_map(det, gt)["map"] == pytest.approx(0.5)
    floats = frame_map(([902.5, 902.0], [box, box], [[0.9], [0.1]]),
                               ([902.0, 902.5], [box, box], [[1], [0]]))  # fmt: skip
    assert floats["map"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="names has 2 entries for 1 actions"):
        frame_map(det, gt, names=["a", "b"])
