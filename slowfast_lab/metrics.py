"""The metrics of the multi-label and detection benchmarks, as the paper reports them.

* **Charades** (multi-label clips): `clip_map`, the mean over classes of the average precision
  of the clip scores (PySlowFast's `get_map`: scikit-learn's `average_precision_score` per class,
  classes without a positive clip left out).
* **AVA** (action detection): `frame_map`, the frame-level mean AP at IoU 0.5 (PASCAL VOC
  style, as the AVA evaluation code of the TensorFlow object detection API computes it): per
  action, detections sorted by score are matched greedily to ground-truth boxes of the same frame
  (IoU >= 0.5, each ground-truth box matched at most once); AP is the area under the
  precision-recall curve with precision made monotone.

Pure numpy (no scikit-learn); scores and targets may be numpy arrays or torch tensors.

    >>> average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])   # scikit-learn's doc example
    0.8333333333333333
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def _array(x, dtype=np.float64, name: str = "array") -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: cannot read {type(x).__name__} as numbers ({err})") from None


def box_iou(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Intersection over union of every box in `a` [M, 4] with every box in `b` [N, 4] -> [M, N].

    Boxes are (x1, y1, x2, y2) in continuous coordinates (area (x2 - x1) (y2 - y1)); an empty
    box has IoU 0 with everything."""
    a = _array(a, name="box_iou a").reshape(-1, 4)
    b = _array(b, name="box_iou b").reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def average_precision(scores: ArrayLike, targets: ArrayLike) -> float | None:
    """Average precision of one class: sum_n (R_n - R_{n-1}) P_n over the distinct score
    thresholds from the highest down (scikit-learn's `average_precision_score`; tied scores form
    one threshold). Equivalently, the mean over positives of the precision among all samples
    scoring at least as high as that positive. None when there is no positive.

    scores: float [N]; targets: [N], nonzero = positive."""
    s = _array(scores, name="scores").reshape(-1)
    t = _array(targets, name="targets").reshape(-1) > 0
    if len(s) != len(t):
        raise ValueError(f"scores has {len(s)} entries but targets has {len(t)}: one per sample")
    if not np.isfinite(s).all():
        raise ValueError("scores hold NaN/Inf: average precision needs finite scores")
    if not t.any():
        return None
    order = np.argsort(-s, kind="stable")
    s, t = s[order], t[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last sample of each threshold
    tp = np.cumsum(t)[last]
    precision = tp / (last + 1)
    recall = tp / t.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def class_aps(scores: ArrayLike, targets: ArrayLike) -> list[float | None]:
    """Average precision per class (column) of scores [N, C] against targets [N, C]."""
    s, t = _array(scores, name="scores"), _array(targets, name="targets")
    if s.ndim != 2 or s.shape != t.shape:
        raise ValueError(
            f"scores {tuple(s.shape)} and targets {tuple(t.shape)} must both be [clips, classes]"
        )
    return [average_precision(s[:, c], t[:, c]) for c in range(s.shape[1])]


def clip_map(scores: ArrayLike, targets: ArrayLike, names: Sequence[str] | None = None) -> dict:
    """Charades-style clip mAP: {"map": mean AP over the classes with at least one positive
    clip, "per_class": {name: AP or None}, "prior": {name: share of positive clips}} (the
    prior is the AP of a scorer that knows nothing).

    scores: float [N, C] (logits or probabilities: AP depends on the order only);
    targets: [N, C], 1 where the clip shows the class."""
    aps = class_aps(scores, targets)
    names = list(names) if names is not None else [str(c) for c in range(len(aps))]
    if len(names) != len(aps):
        raise ValueError(f"names has {len(names)} entries for {len(aps)} classes")
    valid = [a for a in aps if a is not None]
    prior = (_array(targets) > 0).mean(0)
    return {
        "map": float(np.mean(valid)) if valid else None,
        "per_class": dict(zip(names, aps, strict=True)),
        "prior": {n: round(float(p), 4) for n, p in zip(names, prior, strict=True)},
    }


def voc_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under a precision-recall curve (detections in score order) with precision made
    monotone decreasing, PASCAL VOC 2010+ and AVA style (every recall point, no 11-point
    sampling)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0] + 1
    return float(np.sum((r[steps] - r[steps - 1]) * p[steps]))


def match_detections(
    det_boxes: ArrayLike, det_scores: ArrayLike, gt_boxes: ArrayLike, iou: float = 0.5
) -> np.ndarray:
    """Which detections of one frame and one action are true positives: bool [D].

    Detections in score order, each takes the ground-truth box it overlaps most; it is a true
    positive when that IoU is >= `iou` and that box is not yet taken (a duplicate of a found box
    is a false positive, even if it overlaps another box less)."""
    det_boxes = _array(det_boxes).reshape(-1, 4)
    tp = np.zeros(len(det_boxes), bool)
    gt_boxes = _array(gt_boxes).reshape(-1, 4)
    if not len(gt_boxes) or not len(det_boxes):
        return tp
    overlaps = box_iou(det_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), bool)
    for d in np.argsort(-_array(det_scores).reshape(-1), kind="stable"):
        g = int(overlaps[d].argmax())
        if overlaps[d, g] >= iou and not taken[g]:
            tp[d] = taken[g] = True
    return tp


def frame_map(
    detections: tuple[ArrayLike, ArrayLike, ArrayLike],
    ground_truth: tuple[ArrayLike, ArrayLike, ArrayLike],
    iou: float = 0.5,
    names: Sequence[str] | None = None,
) -> dict:
    """AVA-style frame mAP at an IoU threshold.

    detections:   (frames int [D], boxes float [D, 4], scores float [D, A]): every detected box
                  scores every action (what a detection head outputs, one row per box);
    ground_truth: (frames int [G], boxes float [G, 4], labels [G, A]): a box may do several
                  actions (nonzero = does it).
    Frames are any ids (a clip's keyframe); boxes (x1, y1, x2, y2). Per action a: the ground
    truth is every box with label a, the detections are all boxes scored by their column a,
    matched frame by frame (`match_detections`), then ranked over all frames (`voc_ap`).

    Returns {"map": mean AP over actions with at least one ground-truth box, "per_action":
    {name: AP or None}, "iou": iou}.
    """
    if not 0 < iou <= 1:
        raise ValueError(f"iou={iou}: the overlap threshold must be in (0, 1] (AVA uses 0.5)")
    if len(detections) != 3 or len(ground_truth) != 3:
        raise ValueError("detections and ground_truth are each (frames, boxes, scores/labels)")
    d_ids = _frame_ids(detections[0])
    d_boxes = _array(detections[1], name="detection boxes").reshape(-1, 4)
    d_scores = _array(detections[2], name="detection scores")
    g_ids = _frame_ids(ground_truth[0])
    g_boxes = _array(ground_truth[1], name="ground-truth boxes").reshape(-1, 4)
    g_labels = _array(ground_truth[2], name="ground-truth labels") > 0
    if d_scores.ndim != 2 or g_labels.ndim != 2 or d_scores.shape[1] != g_labels.shape[1]:
        raise ValueError(
            f"detection scores {d_scores.shape} and ground-truth labels {g_labels.shape} must be "
            "[boxes, actions] with the same actions"
        )
    # Any hashable ids (ints, float timestamps, AVA's "video,timestamp" strings) -> 0..F-1.
    _, codes = np.unique(np.concatenate([d_ids, g_ids]), return_inverse=True)
    d_frames, g_frames = codes[: len(d_ids)], codes[len(d_ids) :]
    if not len(d_frames) == len(d_boxes) == len(d_scores):
        raise ValueError("detections: frames, boxes and scores need one row per detected box")
    if not len(g_frames) == len(g_boxes) == len(g_labels):
        raise ValueError("ground truth: frames, boxes and labels need one row per box")
    actions = d_scores.shape[1]
    names = list(names) if names is not None else [str(a) for a in range(actions)]
    if len(names) != actions:
        raise ValueError(f"names has {len(names)} entries for {actions} actions")
    # The boxes of each frame, found once (not once per action and frame).
    d_by_frame = _group_by(d_frames)
    g_by_frame = _group_by(g_frames)
    none = np.zeros(0, np.int64)
    per_action: dict[str, float | None] = {}
    for a in range(actions):
        gt = g_labels[:, a]
        if not gt.any():
            per_action[names[a]] = None
            continue
        tp = np.zeros(len(d_frames), bool)
        for f, dsel in d_by_frame.items():
            gsel = g_by_frame.get(f, none)
            gsel = gsel[gt[gsel]]
            tp[dsel] = match_detections(d_boxes[dsel], d_scores[dsel, a], g_boxes[gsel], iou)
        order = np.argsort(-d_scores[:, a], kind="stable")
        hits = np.cumsum(tp[order])
        precision = hits / np.arange(1, len(order) + 1)
        per_action[names[a]] = voc_ap(precision, hits / gt.sum())
    valid = [v for v in per_action.values() if v is not None]
    return {"map": float(np.mean(valid)) if valid else None, "per_action": per_action, "iou": iou}


def _frame_ids(ids: ArrayLike) -> np.ndarray:
    ids = np.asarray(ids.detach().cpu().numpy() if hasattr(ids, "detach") else ids)
    if ids.dtype == object:
        ids = ids.astype(str)
    return ids.reshape(-1)


def _group_by(codes: np.ndarray) -> dict[int, np.ndarray]:
    """{code: indices of the rows with that code}, in one sort."""
    if len(codes) == 0:
        return {}
    order = np.argsort(codes, kind="stable")
    values, starts = np.unique(codes[order], return_index=True)
    return dict(zip(values.tolist(), np.split(order, starts[1:]), strict=True))


__all__ = [
    "average_precision",
    "box_iou",
    "class_aps",
    "clip_map",
    "frame_map",
    "match_detections",
    "voc_ap",
]
