"""Attributions per pathway (Captum), per-frame Grad-CAM per pathway, and two sanity checks.

    result = attribute(model, (slow, fast), target="L-cw", method="integrated_gradients")
    result.maps["slow"]   # [T, H, W]   attribution per pixel, summed over colour channels
    result.maps["fast"]   # [alpha T, H, W]

Pathway maps are keyed by name ("slow", "fast"), never by list position. Inputs are batches of one
clip: slow [1, 3, T, H, W], fast [1, 3, alpha T, H, W] (only the pathways the model has).

A detection model (head="detect") scores every box: give the clip's boxes and a target
(box index, action), and the attribution is that of output row `box`, column `action`:

    result = attribute(detector, (slow, fast), target=(1, "circling cw"), boxes=boxes)  # [K, 4|5]
    box_share(result.maps["fast"], track)   # how much of the Fast map lies inside the box
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .synthetic import (
    ACTIONS,
    CLASS_NAMES,
    CLASSES,
    GROUPS,
    clip_params,
    frames_to_input,
    pathway_indices,
    render_clip,
)

METHODS = ("integrated_gradients", "saliency", "occlusion", "gradcam", "layer_gradcam")
# Integrated Gradients: 32 steps along the path, evaluated 8 clips at a time (memory bounded on the
# full R50: 8 clips of 32 frames at 224^2 need about 3 GB of activations for the backward pass).
IG_STEPS = 32
IG_BATCH = 8


def pathway_names(model: nn.Module) -> tuple[str, ...]:
    """The names of the inputs `model` takes, in order: ("slow", "fast"), ("slow",) or ("fast",)."""
    return {"slowfast": ("slow", "fast"), "slow": ("slow",), "fast": ("fast",)}[
        model.config.pathways
    ]


@dataclass
class Attribution:
    """Attribution maps of one clip. `maps[p]` is [t, H, W] (channels summed), `raw[p]` [3, t, H, W]."""

    method: str
    target: int
    target_name: str | None
    output: str
    maps: dict[str, torch.Tensor] = field(default_factory=dict)
    raw: dict[str, torch.Tensor] = field(default_factory=dict)
    box: int | None = None  # detection models: the box (row of the output) attributed

    def pathway_share(self) -> dict[str, float]:
        """Each pathway's share of the absolute attribution of all pathways (sums to 1)."""
        mass = {p: float(m.abs().sum()) for p, m in self.maps.items()}
        total = sum(mass.values()) or 1.0
        return {p: v / total for p, v in mass.items()}

    def frame_mass(self, pathway: str) -> torch.Tensor:
        """Share of the pathway's absolute attribution in each frame: [t], sums to 1."""
        m = self.maps[pathway].abs().sum(dim=(1, 2))
        return m / m.sum().clamp_min(1e-12)


class _Forward(nn.Module):
    """model(*inputs) -> logits, or softmax probabilities; counts calls on a progress bar.

    With `box` ([4]: x1, y1, x2, y2 in input pixels) the model is a detector and the output is
    that box's row for every clip of the batch, [N, num_classes]: Captum evaluates many clips at
    once (the steps of Integrated Gradients, occlusion patches), and each gets the same box. The
    RoI head treats boxes independently, so this row equals row k of a call with all K boxes.
    """

    def __init__(self, model: nn.Module, output: str, bar=None, box: torch.Tensor | None = None):
        super().__init__()
        self.model, self.output, self.bar, self.box = model, output, bar, box

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.box is None:
            out = self.model(*inputs)
        else:
            n = inputs[0].shape[0]
            index = torch.arange(n, dtype=self.box.dtype, device=self.box.device)[:, None]
            out = self.model(*inputs, boxes=torch.cat([index, self.box.expand(n, 4)], dim=1))
        if self.bar is not None:
            self.bar.update(1)
        if self.output == "probability":
            # one sigmoid per action for multi-label and detection heads, else a softmax
            multi = getattr(self.model.config, "head", "classify") != "classify"
            return out.sigmoid() if multi else out.softmax(dim=-1)
        return out


def resolve_target(target, class_names=None) -> int:
    """A class index from an index or a name (names need `class_names`)."""
    if isinstance(target, str):
        names = list(class_names or [])
        if target not in names:
            raise ValueError(f"unknown class name {target!r}; known: {names}")
        return names.index(target)
    return int(target)


def clip_boxes(boxes) -> torch.Tensor:
    """The boxes of one clip as float [K, 4] (x1, y1, x2, y2 in input pixels), from [K, 4] or
    from the model's [K, 5] rows (batch index, which must be 0, then x1, y1, x2, y2)."""
    b = torch.as_tensor(boxes).detach().float()
    if b.dim() != 2 or b.shape[1] not in (4, 5) or b.shape[0] == 0:
        raise ValueError(
            f"boxes must be [K, 4] (x1, y1, x2, y2) or [K, 5] (0, x1, y1, x2, y2) for one clip, "
            f"K >= 1, got {list(b.shape)}"
        )
    if b.shape[1] == 5:
        if bool((b[:, 0] != 0).any()):
            raise ValueError(
                "boxes: attribution takes one clip, so column 0 must be 0 in every row"
            )
        b = b[:, 1:]
    return b


def _detection_target(model: nn.Module, inputs, target, boxes, class_names) -> tuple[int, int]:
    """(box index, action index) of a detection target: (k, action) with the action an index or
    a name; None: box 0 and its top-scoring action."""
    if boxes is None:
        raise ValueError(
            "a detection model (head='detect') needs the clip's boxes: attribute(model, inputs, "
            "target=(box index, action), boxes=boxes) with boxes [K, 4] or [K, 5]"
        )
    if target is None:
        k = 0
    elif isinstance(target, (tuple, list)) and len(target) == 2:
        k = int(target[0])
    else:
        raise ValueError(
            f"target={target!r}: a detection model scores every box, so the target is a pair "
            "(box index, action), e.g. (0, 'still') or (2, 1)"
        )
    if not 0 <= k < len(boxes):
        raise ValueError(
            f"target box {k} is not one of the {len(boxes)} boxes (0..{len(boxes) - 1})"
        )
    if target is None:
        with torch.no_grad():
            action = int(_Forward(model, "logit", box=boxes[k])(*inputs).argmax(1)[0])
    else:
        action = resolve_target(target[1], class_names)
    return k, action


def attribute(
    model: nn.Module,
    inputs,
    target=None,
    method: str = "integrated_gradients",
    output: str = "logit",
    class_names=None,
    steps: int = IG_STEPS,
    internal_batch_size: int = IG_BATCH,
    window: int | None = None,
    layer: str = "res5",
    progress: bool = True,
    boxes=None,
) -> Attribution:
    """Attributions of `target` (class index or name; None: the predicted class) for one clip.

    inputs: a tuple in the model's order or a dict {"slow": .., "fast": ..}.
    A detection model (head="detect") needs `boxes`, the clip's boxes [K, 4] (x1, y1, x2, y2 in
    input pixels) or [K, 5] (batch index 0 first), and a target (box index k, action: index or
    name); None: box 0's top action. The attributed score is output row k, column action
    (`Attribution.box` = k); the other boxes do not change it (the RoI head pools each box alone).
    method: integrated_gradients (Captum, `steps` steps, `internal_batch_size` at a time, zero
    baseline), saliency (Captum, |gradient|), occlusion (Captum, window x window patches, one frame
    deep, zero fill), gradcam (per pathway, per frame: channel weights are gradients averaged over
    space only, so each frame has its own weights, as PySlowFast's visualisation tool), or
    layer_gradcam (Captum's LayerGradCam: weights averaged over time and space, for contrast).
    output: "logit" or "probability" (softmax; a sigmoid per class for multi-label and detection
    heads).
    """
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency

    if method not in METHODS:
        raise ValueError(f"method={method!r}: use one of {METHODS}")
    if output not in ("logit", "probability"):
        raise ValueError(f"output={output!r}: use 'logit' or 'probability'")
    names = pathway_names(model)
    if isinstance(inputs, dict):
        inputs = tuple(inputs[p] for p in names)
    inputs = tuple(x.detach().float() for x in inputs)
    model = model.eval()
    detect = getattr(model.config, "head", "classify") == "detect"
    if class_names is None:
        class_names = (getattr(model, "checkpoint_meta", None) or {}).get("classes")
        actions = detect or model.config.head == "multilabel"
        if class_names is None:
            if actions and model.config.num_classes == len(ACTIONS):
                class_names = ACTIONS
            elif model.config.num_classes == len(CLASS_NAMES):
                class_names = CLASS_NAMES
    box = None
    if detect:
        if boxes is not None:
            boxes = clip_boxes(boxes).to(inputs[0].device)
        box, target = _detection_target(model, inputs, target, boxes, class_names)
    elif boxes is not None:
        raise ValueError(
            f"boxes= is for detection models; this model has a {model.config.head!r} head, whose "
            "output is one row per clip: call attribute without boxes"
        )
    elif target is None:
        with torch.no_grad():
            target = int(model(*inputs).argmax(1)[0])
    else:
        target = resolve_target(target, class_names)
    total = {"integrated_gradients": math.ceil(steps / internal_batch_size), "occlusion": None}
    bar = tqdm(total=total.get(method, 1), desc=method, disable=not progress, leave=False)
    fwd = _Forward(model, output, bar, box=None if box is None else boxes[box])
    size = inputs[0].shape[-2:]
    try:
        if method == "saliency":
            attrs = Saliency(fwd).attribute(inputs, target=target, abs=True)
        elif method == "integrated_gradients":
            attrs = IntegratedGradients(fwd).attribute(
                inputs, target=target, n_steps=steps, internal_batch_size=internal_batch_size
            )
        elif method == "occlusion":
            w = window or max(4, size[0] // 8)
            attrs = Occlusion(fwd).attribute(
                inputs,
                target=target,
                sliding_window_shapes=tuple((3, 1, w, w) for _ in inputs),
                strides=tuple((3, 1, w, w) for _ in inputs),
                perturbations_per_eval=16,
            )
        elif method == "layer_gradcam":
            attrs = []
            for p in names:
                cam = LayerGradCam(fwd, getattr(getattr(model, p), layer)).attribute(
                    inputs, target=target, relu_attributions=True
                )
                t = inputs[names.index(p)].shape[2]
                up = LayerAttribution.interpolate(cam, (t, *size), interpolate_mode="trilinear")
                attrs.append(up.expand(-1, 3, -1, -1, -1) / 3)
            attrs = tuple(attrs)
        else:
            attrs = _gradcam(model, fwd, inputs, names, target, layer)
    finally:
        bar.close()
    result = Attribution(
        method, target, class_names[target] if class_names else None, output, box=box
    )
    for p, a in zip(names, attrs, strict=True):
        result.raw[p] = a[0].detach()
        result.maps[p] = a[0].detach().sum(dim=0)
    return result


def _gradcam(model, fwd, inputs, names, target, layer):
    """Per-pathway, per-frame Grad-CAM at `layer`: w[c, t] = mean over space of dy/dA[c, t]."""
    acts: dict[str, torch.Tensor] = {}
    handles = [
        getattr(getattr(model, p), layer).register_forward_hook(
            lambda _m, _i, out, p=p: acts.__setitem__(p, out)
        )
        for p in names
    ]
    try:
        with torch.enable_grad():
            score = fwd(*inputs)[0, target]
            grads = torch.autograd.grad(score, [acts[p] for p in names])
    finally:
        for h in handles:
            h.remove()
    out = []
    for p, g, x in zip(names, grads, inputs, strict=True):
        a = acts[p]
        weights = g.mean(dim=(3, 4), keepdim=True)  # [1, C, t, 1, 1]: space only
        cam = F.relu((weights * a).sum(dim=1, keepdim=True))  # [1, 1, t, h, w]
        cam = F.interpolate(cam, size=x.shape[2:], mode="trilinear", align_corners=False)
        out.append(cam.expand(-1, 3, -1, -1, -1) / 3)
    return tuple(out)


def localisation_score(attr_map: torch.Tensor, mask: torch.Tensor) -> dict:
    """Share of the absolute attribution inside the object mask, against the mask's share of pixels.

    attr_map, mask: [t, H, W]. ratio > 1 means attribution concentrates on the object.
    """
    a = attr_map.abs().float()
    m = torch.as_tensor(mask).bool()
    inside = float(a[m].sum() / a.sum().clamp_min(1e-12))
    share = float(m.float().mean())
    return {
        "inside": inside,
        "mask_share": share,
        "ratio": inside / share if share else float("nan"),
    }


def box_mask(boxes, shape: tuple[int, int, int]) -> torch.Tensor:
    """bool [t, H, W]: the pixels inside a box in each frame. boxes: [4] (one box for every frame)
    or [t, 4] (a box per frame, a track), x1, y1, x2, y2 in continuous input-pixel coordinates
    (pixel (x, y) covers [x, x + 1]), as the detector reads them; a pixel is inside when its centre
    (x + 0.5, y + 0.5) is."""
    t, h, w = shape
    b = torch.as_tensor(boxes, dtype=torch.float32)
    if b.dim() == 1:
        b = b.expand(t, 4)
    if b.shape != (t, 4):
        raise ValueError(f"boxes must be [4] or [{t}, 4] (one per frame), got {list(b.shape)}")
    y = torch.arange(h, dtype=torch.float32)[None, :, None] + 0.5
    x = torch.arange(w, dtype=torch.float32)[None, None, :] + 0.5
    x1, y1, x2, y2 = (b[:, i, None, None] for i in range(4))
    return (x >= x1) & (x <= x2) & (y >= y1) & (y <= y2)


def box_share(attr_map: torch.Tensor, boxes) -> dict:
    """How much of a pathway's absolute attribution falls inside the box: `localisation_score`
    against `box_mask` (attr_map [t, H, W]; boxes [4] or [t, 4]): {"inside", "mask_share",
    "ratio"}, ratio > 1 when the box gets more than its share of the pixels."""
    return localisation_score(attr_map, box_mask(boxes, tuple(attr_map.shape)))


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two maps (flattened)."""
    ra = a.flatten().argsort().argsort().float()
    rb = b.flatten().argsort().argsort().float()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-12))


def randomised_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy whose conv and fc weights are re-drawn at random (BN statistics kept)."""
    g = torch.Generator().manual_seed(seed)
    clone = copy.deepcopy(model).eval()
    with torch.no_grad():
        for m in clone.modules():
            if isinstance(m, (nn.Conv3d, nn.Linear)):
                fan = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan))
    return clone


def randomisation_test(
    model: nn.Module, inputs, target=None, method: str = "saliency", seed: int = 0, **kwargs
) -> dict:
    """Model-parameter randomisation test (Adebayo et al. 2018): per pathway, the rank correlation
    of |attribution| between the model and a weight-randomised copy. Near 1 means the map does not
    depend on what the model learned (a failed check); a useful method gives clearly less."""
    a = attribute(model, inputs, target, method=method, progress=False, **kwargs)
    same = a.target if a.box is None else (a.box, a.target)  # a detector's target is a pair
    b = attribute(
        randomised_copy(model, seed), inputs, same, method=method, progress=False, **kwargs
    )
    return {p: spearman(a.maps[p].abs(), b.maps[p].abs()) for p in a.maps}


def localisation_by_group(
    model: nn.Module,
    task,
    seed: int = 7,
    per_group: int = 3,
    method: str = "integrated_gradients",
    **kwargs,
) -> list[dict]:
    """Mean localisation score per class group and pathway over `per_group` MotionShapes clips of
    each group (split `seed`), attributing the true class. Rows {group, pathway, ratio, inside,
    mask_share, n}. `kwargs` go to `attribute` (e.g. steps)."""
    _, fast_idx = pathway_indices(task)
    names = pathway_names(model)
    picked: dict[str, list[int]] = {g: [] for g in GROUPS}
    index = 0
    while any(len(v) < per_group for v in picked.values()) and index < 10000:
        g = CLASSES[clip_params(seed, index, task)["label"]].group
        if len(picked[g]) < per_group:
            picked[g].append(index)
        index += 1
    rows = []
    for g in GROUPS:
        scores: dict[str, list[dict]] = {p: [] for p in names}
        for index in picked[g]:
            clip = render_clip(seed, index, task, fast_idx)
            fast = torch.from_numpy(clip.frames)[None]
            inputs = {
                "slow": frames_to_input(fast[:, :: task.alpha]),
                "fast": frames_to_input(fast),
            }
            masks = {"slow": clip.mask[:: task.alpha], "fast": clip.mask}
            a = attribute(model, inputs, clip.label, method=method, progress=False, **kwargs)
            for p in names:
                scores[p].append(localisation_score(a.maps[p], masks[p]))
        for p in names:
            s = scores[p]
            rows.append(
                {
                    "group": g,
                    "pathway": p,
                    "ratio": sum(x["ratio"] for x in s) / len(s),
                    "inside": sum(x["inside"] for x in s) / len(s),
                    "mask_share": sum(x["mask_share"] for x in s) / len(s),
                    "n": len(s),
                }
            )
    return rows


def box_attribution_rows(
    model: nn.Module,
    task,
    seed: int = 7,
    clips: int = 4,
    method: str = "integrated_gradients",
    progress: bool = True,
    **kwargs,
) -> list[dict]:
    """Attribution per box, per true action and per pathway of a detection model on `clips`
    scenes with actions (split `seed`, `detect.scene_clip`): every object's keyframe box is given,
    and each of its true actions is attributed as target (box, action). Rows {clip, box, action,
    group, pathway, share (the pathway's share of both pathways' |attribution|), sum (its signed
    total: with Integrated Gradients, the pathway's part of the logit's change from the baseline
    clip, by completeness), inside, mask_share, ratio (`box_share` against the object's box in
    every frame the pathway sees), score (the action's sigmoid for that box)}. `kwargs` go to `attribute` (e.g. steps)."""
    from .detect import scene_clip  # detection evaluation lives in detect (no cycle: it is leaf)

    if getattr(model.config, "head", "classify") != "detect":
        raise ValueError(
            f"box_attribution_rows needs a detection model (head='detect'), got head="
            f"{model.config.head!r}"
        )
    if not task.multilabel:
        raise ValueError(f"box_attribution_rows: use a kind='scenes_multi' task, got {task.kind!r}")
    names = pathway_names(model)
    groups = {c.name: c.group for c in task.classes}
    rows = []
    for index in tqdm(range(clips), desc="clips", disable=not progress):
        c = scene_clip(seed, index, task)
        inputs = tuple(c["inputs"][p] for p in names)
        with torch.no_grad():
            scores = model(
                *inputs, boxes=torch.cat([torch.zeros(len(c["boxes"]), 1), c["boxes"]], 1)
            )
        scores = scores.sigmoid()
        for k, target in enumerate(c["targets"]):
            for a in target.nonzero().flatten().tolist():
                r = attribute(model, inputs, (k, a), method=method, boxes=c["boxes"],
                              progress=False, **kwargs)  # fmt: skip
                share = r.pathway_share()
                for p in names:
                    inside = box_share(r.maps[p], c["tracks"][p][k])
                    rows.append(
                        {
                            "clip": index,
                            "box": k,
                            "action": ACTIONS[a],
                            "group": groups[ACTIONS[a]],
                            "pathway": p,
                            "share": share[p],
                            "sum": float(r.maps[p].sum()),
                            **inside,
                            "score": float(scores[k, a]),
                        }
                    )
    return rows
