"""Evaluating multi-label and detection models on MotionShapes scenes with actions.

The task (`TaskConfig(kind="scenes_multi")`, see `synthetic.py`) labels every square with a set
of actions (`synthetic.ACTIONS`) at the clip's keyframe. Two benchmarks of the paper:

* **Charades-style** (`head="multilabel"`): one score per action for the whole clip; metric
  `metrics.clip_map` over the clip's set of actions (anyone doing it).
* **AVA-style** (`head="detect"`): a score per action for every box; metric `metrics.frame_map`
  at IoU 0.5 over the keyframes. Protocol: **ground-truth boxes given** (AVA's "with GT boxes"
  evaluation, the paper's and PySlowFast's way of isolating action classification from person
  detection): every object's keyframe box is a region of interest, so matching always succeeds
  and frame AP measures how well the boxes are ranked per action. The same detection scores,
  max-pooled over the boxes of a clip, also give a clip mAP comparable with the multi-label head.

Training uses the ground-truth boxes too (`train.batch_loss`), as AVA training does.

    model = train(TrainConfig(model=get_config("slowfast_tiny", head="detect", num_classes=4),
                              task={"kind": "scenes_multi"})).model
    evaluate_actions(model, seed=1000, clips=500, task=task_of(model))["map"]   # frame mAP@0.5
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from .metrics import clip_map, frame_map
from .model import VideoNet, model_inputs
from .synthetic import (
    ACTION_CLASSES,
    ACTIONS,
    MotionShapesData,
    TaskConfig,
    frames_to_input,
    make_dataset,
    pathway_indices,
    render_clip,
    roi_box,
)

IOU = 0.5  # AVA's frame-mAP threshold


def action_groups(per_action: dict[str, float | None]) -> dict[str, float | None]:
    """Mean AP over the actions of each group: "motion" (still / cw / ccw, which the Slow
    pathway's aliased frames cannot tell apart) and "appearance" (changing colour, which the
    Fast pathway's gray frames cannot see)."""
    out = {}
    for group in ("motion", "appearance"):
        aps = [per_action[c.name] for c in ACTION_CLASSES if c.group == group]
        aps = [a for a in aps if a is not None]
        out[group] = round(sum(aps) / len(aps), 4) if aps else None
    return out


@torch.no_grad()
def action_scores(
    model: VideoNet,
    data: MotionShapesData,
    batch_size: int = 50,
    progress: bool = True,
) -> tuple[torch.Tensor, float]:
    """(probabilities, seconds of model time): a sigmoid per action, float [N, A] for a
    multi-label head (one row per clip), [N * O, A] for a detection head (one row per object's
    keyframe box, clip by clip, as `MotionShapesData.detection_batch` orders them)."""
    head = model.config.head
    if head not in ("multilabel", "detect"):
        raise ValueError(
            f"action_scores: the model's head is {head!r}; use a multilabel or detect head"
        )
    device = next(model.parameters()).device
    model.eval()
    scores, seconds = [], 0.0
    for i in tqdm(range(0, len(data), batch_size), desc="evaluate", disable=not progress):
        index = slice(i, i + batch_size)
        if head == "detect":
            slow, fast, boxes, _ = data.detection_batch(index)
            inputs = model_inputs(model, slow.to(device), fast.to(device))
            t0 = time.perf_counter()
            logits = model(*inputs, boxes=boxes.to(device))
        else:
            slow, fast, _ = data.batch(index)
            inputs = model_inputs(model, slow.to(device), fast.to(device))
            t0 = time.perf_counter()
            logits = model(*inputs)
        seconds += time.perf_counter() - t0
        scores.append(torch.sigmoid(logits.double()).cpu())  # float64: no ties at 1.0 below 36
    return torch.cat(scores), seconds


def scene_clip(seed: int, index: int, task: TaskConfig) -> dict:
    """Scene `index` of split `seed` (a scenes_multi task) as a detector sees it, with its boxes:

    {"clip": MotionShapesClip (the Fast frames, RGB), "inputs": {"slow": [1, 3, T, H, W],
     "fast": [1, 3, alpha T, H, W]} (the Fast input gray when the task says so, as in training),
     "boxes": float [O, 4] every object's keyframe box (x1, y1, x2, y2, continuous pixels: the
     detector's regions of interest, as `MotionShapesData.detection_batch`), "targets": float
     [O, A] the keyframe actions, "tracks": {"slow": [O, T, 4], "fast": [O, alpha T, 4]} each
     object's box in every frame a pathway sees, "actions": the objects' actions as text}."""
    if not task.multilabel:
        raise ValueError(
            f"scene_clip: the {task.kind} task has no actions; use kind='scenes_multi'"
        )
    _, fast_idx = pathway_indices(task)
    clip = render_clip(seed, index, task, fast_idx)
    fast = torch.from_numpy(clip.frames)[None]
    key = fast_idx.index(task.keyframe)
    track = torch.from_numpy(roi_box(clip.boxes))  # [O, alpha T, 4]
    return {
        "clip": clip,
        "inputs": {
            "slow": frames_to_input(fast[:, :: task.alpha]),
            "fast": frames_to_input(fast, gray=task.fast_view == "gray"),
        },
        "boxes": track[:, key].clone(),
        "targets": torch.from_numpy(clip.targets[:, key].astype("float32")),
        "tracks": {"slow": track[:, :: task.alpha], "fast": track},
        "actions": clip.actions,
    }


def detection_ground_truth(data: MotionShapesData) -> tuple[torch.Tensor, ...]:
    """(frames [K], boxes [K, 4], labels [K, A]) of every object at its clip's keyframe; the
    frame id is the clip's index in the split (one keyframe per clip)."""
    if data.boxes is None or data.targets is None:
        raise ValueError(f"the {data.task.kind} task has no boxes: use kind='scenes_multi'")
    n, o = data.boxes.shape[:2]
    frames = torch.arange(n).repeat_interleave(o)
    return frames, data.boxes.reshape(n * o, 4), data.targets.reshape(n * o, -1)


def evaluate_actions(
    model: VideoNet,
    seed: int,
    clips: int,
    task: TaskConfig,
    batch_size: int = 50,
    progress: bool = True,
) -> dict:
    """mAPs of a multi-label or detection model on `clips` clips of split `seed`.

    {"metric": "clip mAP" | "frame mAP@0.5", "map", "per_action": {action: AP}, "groups":
     {"motion", "appearance"}, "prior" (the AP of a scorer that knows nothing), "protocol",
     "seed", "clips", "ms_per_clip", "classes"}; detection models also give "clip_map" (their box
    scores max-pooled over each clip's boxes)."""
    if not task.multilabel:
        raise ValueError(f"the {task.kind} task has one class per clip: use kind='scenes_multi'")
    data = make_dataset(seed, clips, task, progress=progress)
    scores, seconds = action_scores(model, data, batch_size, progress)
    if model.config.head == "detect":
        frames, boxes, labels = detection_ground_truth(data)
        fm = frame_map((frames, boxes, scores), (frames, boxes, labels), IOU, ACTIONS)
        per_clip = scores.reshape(clips, -1, len(ACTIONS)).amax(1)
        result = {
            "metric": f"frame mAP@{IOU}",
            "map": fm["map"],
            "per_action": fm["per_action"],
            "prior": clip_map(labels, labels, ACTIONS)["prior"],
            "protocol": "ground-truth boxes given (AVA 'with GT boxes'), keyframe = clip centre",
            "clip_map": clip_map(per_clip, data.labels, ACTIONS)["map"],
        }
    else:
        cm = clip_map(scores, data.labels, ACTIONS)
        result = {
            "metric": "clip mAP",
            "map": cm["map"],
            "per_action": cm["per_class"],
            "prior": cm["prior"],
            "protocol": "Charades: one score per action per clip, AP per action over clips",
        }
    result["per_action"] = {k: _round(v) for k, v in result["per_action"].items()}
    result["map"] = _round(result["map"])
    if "clip_map" in result:
        result["clip_map"] = _round(result["clip_map"])
    result.update(
        groups=action_groups(result["per_action"]),
        seed=seed,
        clips=clips,
        ms_per_clip=round(1000 * seconds / clips, 3),
        classes=list(ACTIONS),
    )
    return result


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


# ------------------------------------------------------------------------------------------------
# The results table (data_samples/results/scenes_actions.md)
# ------------------------------------------------------------------------------------------------


def model_name(model_config: dict) -> str:
    """'SlowFast, T-conv' / 'SlowFast, no lateral' / 'Slow-only' / 'Fast-only' from a config."""
    if model_config["pathways"] != "slowfast":
        return {"slow": "Slow-only", "fast": "Fast-only"}[model_config["pathways"]]
    fusion = model_config.get("fusion", "t_conv")
    words = {"t_conv": "T-conv", "t_sample": "T-sample", "ttoc_sum": "TtoC sum",
             "ttoc_concat": "TtoC concat", "none": "no lateral"}  # fmt: skip
    return f"SlowFast, {words.get(fusion, fusion)}"


def actions_rows(records: list[dict]) -> list[dict]:
    """One row per training record (`train` JSON) of a multi-label or detection run."""
    rows = []
    for r in records:
        test, mc = r.get("test") or {}, r["model_config"]
        if "map" not in test:
            raise ValueError(
                f"record of {r.get('command') or r.get('checkpoint')!r} has no mAP: not a "
                "multilabel or detect run on kind=scenes_multi"
            )
        rows.append(
            {
                "name": model_name(mc),
                "head": mc.get("head", "classify"),
                "res5_dilation": mc.get("res5_dilation", 1),
                "metric": test["metric"],
                "map": test["map"],
                "per_action": test["per_action"],
                "clip_map": (r.get("test_detail") or {}).get("clip_map"),
                "prior": (r.get("test_detail") or {}).get("prior"),
                "test_seed": test["seed"],
                "test_clips": test["clips"],
                "seed": r["config"]["seed"],
                "steps": r["config"]["steps"],
                "train_time_s": r["train_time_s"],
                "machine": r.get("machine"),
                "command": r.get("command"),
                "checkpoint": r.get("checkpoint"),
            }
        )
    return rows


def seed_groups(rows: list[dict]) -> list[list[dict]]:
    """Rows of the same model, head, res5 dilation, steps and test split (one per training seed),
    in first-seen order: runs that differ otherwise are never averaged together."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (
            r["name"],
            r["head"],
            r["res5_dilation"],
            r["steps"],
            r["test_seed"],
            r["test_clips"],
        )
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _mean_range(values: list[float | None]) -> str:
    """'87.3' for one value, 'mean (min-max)' over seeds, in %; '' when any is missing."""
    if not values or any(v is None for v in values):
        return ""
    pcts = [100 * v for v in values]
    mean = f"{sum(pcts) / len(pcts):.1f}"
    return mean if len(pcts) == 1 else f"{mean} ({min(pcts):.1f}-{max(pcts):.1f})"


def actions_markdown(rows: list[dict]) -> str:
    """The multi-label / detection results as a Markdown table (APs in %), commands below. Runs of
    the same model and head with different training seeds make one line: mean (min-max)."""
    head = (
        "| model | head | metric | seeds | mAP | " + " | ".join(ACTIONS) + " | clip mAP | train s |"
    )
    lines = [head, "|" + "---|" * (len(ACTIONS) + 7)]
    for runs in seed_groups(rows):
        r = runs[0]
        dil = ", res5 dilation 2" if r["res5_dilation"] == 2 else ""
        aps = " | ".join(_mean_range([x["per_action"][a] for x in runs]) for a in ACTIONS)
        clip = [x["clip_map"] if x["head"] == "detect" else x["map"] for x in runs]
        seeds = ", ".join(str(x.get("seed", "?")) for x in runs)
        train_s = sum(x["train_time_s"] for x in runs) / len(runs)
        lines.append(
            f"| {r['name']} | {r['head']}{dil} | {r['metric']} | {seeds} | "
            f"{_mean_range([x['map'] for x in runs])} | {aps} | {_mean_range(clip)} | "
            f"{train_s:.0f} |"
        )
    notes = []
    if rows:
        r0 = rows[0]
        notes.append(
            f"Test split: seed {r0['test_seed']}, {r0['test_clips']} clips of "
            '`TaskConfig(kind="scenes_multi")` (three squares, each still / circling cw / '
            "circling ccw, one in three also changing colour; the Fast pathway sees gray "
            "frames). Detection: frame mAP at IoU 0.5 on the keyframe (the clip's centre frame) "
            "with the ground-truth boxes given (AVA's 'with GT boxes' protocol); its clip mAP "
            "max-pools the box scores over each clip. Multi-label: Charades-style clip mAP. "
            "Several training seeds: mean (min-max) over them."
        )
        if r0.get("prior"):
            prior = ", ".join(f"{a} {100 * p:.0f}%" for a, p in r0["prior"].items())
            notes.append(
                f"Share of positive boxes (the AP of a scorer that knows nothing): {prior}."
            )
        loads = [r["machine"]["loadavg_1m"] for r in rows if r.get("machine")]
        threads = sorted({r["machine"]["threads"] for r in rows if r.get("machine")})
        if loads:
            notes.append(
                f"Train s: wall time of a run (mean over seeds; rendering included) on "
                f"{'/'.join(map(str, threads))} thread(s) of a 2-core machine shared with other "
                f"jobs (load average {min(loads):.1f}-{max(loads):.1f})."
            )
    notes.append("Reproduce:\n\n```\n" + "\n".join(r["command"] or "" for r in rows) + "\n```")
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes)


__all__ = [
    "IOU",
    "action_groups",
    "action_scores",
    "actions_markdown",
    "actions_rows",
    "detection_ground_truth",
    "evaluate_actions",
    "scene_clip",
    "seed_groups",
]
