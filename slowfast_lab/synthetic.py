"""MotionShapes: a synthetic video task on which the Slow and the Fast pathway are needed for
different reasons, small enough to train SlowFast on a laptop CPU in minutes.

A clip shows one object (a square, an "L" or a "pac-man") over a moving, noisy background. Its
class is given by three factors: the coarse **shape** (easy for every model: it only says which
group the class is in), a fine, low-contrast **texture** printed on the object (stripes, checks,
dots, or plain), and its **motion** (still, or spinning clockwise / counter-clockwise).

The 10 classes form three groups, each built to defeat one pathway:

| group | classes | differ only in | who fails |
|---|---|---|---|
| appearance | square-stripes / -checks / -dots (still) | fine texture | Fast-only: its beta C channels are too few for fine, low-contrast detail |
| motion | L-still / L-cw / L-ccw (plain) | direction | Slow-only: temporal aliasing, see below |
| appearance+motion | pacman-{stripes,checks}-{cw,ccw} | texture AND direction | Slow-only (direction) and Fast-only (texture) |

**Temporal aliasing.** A spinning object turns exactly one full turn every `tau` raw frames, the
Slow pathway's stride. Every Slow frame (raw frames 0, tau, 2 tau, ...) therefore shows the object
in the *same* pose, exactly as a still object: the Slow pathway cannot tell still, clockwise and
counter-clockwise apart (chance: 1/3 on the motion group, 1/2 on the appearance+motion group).
The Fast pathway samples every tau/alpha frames and sees the object turn by 360/alpha degrees per
frame (90 degrees for alpha=4). The spinning shapes have no rotational symmetry, so a 90 degree
step is never invisible and clockwise never looks like counter-clockwise (a "+" or an "S" shape
would hide it). Do not flip clips horizontally: a mirror swaps clockwise and counter-clockwise.

**Distractors** keep the task from being trivial: a random background colour with a drifting
low-frequency grating, two small discs crossing the frame, a slow drift of the object itself (so
"something changes" is not a motion cue), per-frame brightness flicker and pixel noise, and a
random object colour, size, position and starting angle.

**MotionShapes scenes** (`TaskConfig(kind="scenes")`, see "Scenes" below) is the task where
laterals matter: three isoluminant squares, one circling (aliased for Slow), a gray Fast input,
and a class that binds the mover's colour to its direction, which pathways meeting only in the
head cannot do.

Clips are deterministic: clip `index` of split `seed` depends on nothing else (a fresh test split
is just another seed). `make_dataset` renders many clips once and caches them (memory and disk).

    >>> data = make_dataset(seed=1, num_clips=20, progress=False)
    >>> data.fast.shape, data.slow.shape       # uint8 [N, alpha T, H, W, 3], [N, T, H, W, 3]
    (torch.Size([20, 16, 48, 48, 3]), torch.Size([20, 4, 48, 48, 3]))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .sampling import MEAN, STD, sample_indices

GROUPS = ("appearance", "motion", "appearance+motion")
SHAPES = ("square", "L", "pacman")
TEXTURES = ("plain", "stripes", "checks", "dots")
MOTIONS = ("still", "cw", "ccw")
# Normalisation of model inputs (the public Kinetics checkpoints' values): RGB in [0,1].


@dataclass(frozen=True)
class ClassSpec:
    """One MotionShapes class: coarse shape, fine texture, motion, and the group it belongs to."""

    name: str
    group: str
    shape: str
    texture: str
    motion: str
    colour: str | None = None  # scenes: the colour of the square that circles


CLASSES: tuple[ClassSpec, ...] = (
    # appearance: still squares, only the fine texture differs.
    ClassSpec("square-stripes", "appearance", "square", "stripes", "still"),
    ClassSpec("square-checks", "appearance", "square", "checks", "still"),
    ClassSpec("square-dots", "appearance", "square", "dots", "still"),
    # motion: plain L shapes, only the spin differs (aliased to a still picture for Slow).
    ClassSpec("L-still", "motion", "L", "plain", "still"),
    ClassSpec("L-cw", "motion", "L", "plain", "cw"),
    ClassSpec("L-ccw", "motion", "L", "plain", "ccw"),
    # appearance+motion: textured pac-men spinning one way or the other.
    ClassSpec("pacman-stripes-cw", "appearance+motion", "pacman", "stripes", "cw"),
    ClassSpec("pacman-stripes-ccw", "appearance+motion", "pacman", "stripes", "ccw"),
    ClassSpec("pacman-checks-cw", "appearance+motion", "pacman", "checks", "cw"),
    ClassSpec("pacman-checks-ccw", "appearance+motion", "pacman", "checks", "ccw"),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
NUM_CLASSES = len(CLASSES)


# MotionShapes scenes (`TaskConfig(kind="scenes")`): three squares of three colours, one circles.
# The class is the colour of the spinning one and its direction: every colour occurs with both
# directions, and every clip shows every colour (see `render_scene`).
COLOURS = ("red", "green", "blue")
SCENE_GROUPS = ("mover colour", "direction")  # factors, scored separately (see below)


def scene_classes(objects: int = 3) -> tuple[ClassSpec, ...]:
    """The scenes classes with `objects` objects (colours `COLOURS[:objects]`): colour x direction."""
    return tuple(
        ClassSpec(f"{colour}-{motion}", f"{colour} moves", "square", "plain", motion, colour)
        for colour in COLOURS[:objects]
        for motion in ("cw", "ccw")
    )


SCENE_CLASSES = scene_classes(3)

# MotionShapes scenes with actions (`TaskConfig(kind="scenes_multi")`, see "Scenes with actions"
# below): every square does its own actions, AVA-style labels per box, Charades-style per clip.
ACTIONS = ("still", "circling cw", "circling ccw", "changing colour")
ACTION_CLASSES: tuple[ClassSpec, ...] = (
    ClassSpec("still", "motion", "square", "plain", "still"),
    ClassSpec("circling cw", "motion", "square", "plain", "cw"),
    ClassSpec("circling ccw", "motion", "square", "plain", "ccw"),
    ClassSpec("changing colour", "appearance", "square", "plain", "still"),
)
KINDS = ("motionshapes", "scenes", "scenes_multi")


def group_of(label: int) -> str:
    return CLASSES[label].group


def group_labels() -> dict[str, list[int]]:
    """{group: [class indices]} in the order of GROUPS."""
    return {g: [i for i, c in enumerate(CLASSES) if c.group == g] for g in GROUPS}


@dataclass(frozen=True)
class TaskConfig:
    """How MotionShapes clips are made. T, tau, alpha must match the model that reads them.

    Attributes:
        size: frame height = width in pixels.
        T, tau, alpha: the clip has T*tau raw frames; the Slow pathway sees every tau-th, the Fast
            pathway every (tau/alpha)-th. A spin takes `spin_period` raw frames per turn.
        spin_period: raw frames per full turn; None means tau (exact aliasing for Slow).
        texture_period: period of the fine texture in pixels.
        texture_contrast: texture amplitude (fraction of the [0,1] intensity range).
        noise: std of the per-pixel, per-frame Gaussian noise.
        distractors: number of small discs crossing the background.
        kind: "motionshapes" (one object, 10 classes), "scenes" (three coloured objects, one
            circles; 6 classes: the mover's colour and direction, see `render_scene`) or
            "scenes_multi" (each object does its own actions, `ACTIONS`: labels per object box
            and frame for detection, multi-label per clip; see `scene_multi_params`).
        fast_input: what the Fast pathway receives: "rgb" or "gray" (paper Table 5c); None: the
            task's own choice, "rgb" for motionshapes and "gray" for the scenes.
    """

    size: int = 48
    T: int = 4
    tau: int = 8
    alpha: int = 4
    spin_period: int | None = None
    texture_period: float = 4.0
    texture_contrast: float = 0.25
    noise: float = 0.05
    distractors: int = 2
    kind: str = "motionshapes"
    fast_input: str | None = None
    objects: int = 3
    radius: float = 0.125

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r}: tasks are {', '.join(KINDS)}")
        if self.objects not in (2, 3):
            raise ValueError(f"objects={self.objects}: scenes have 2 or 3 objects")
        if not 0.05 <= self.radius <= 0.13:
            raise ValueError(f"radius={self.radius}: use 0.05..0.13 (a fraction of the frame)")
        if self.fast_input not in (None, "rgb", "gray"):
            raise ValueError(f"fast_input={self.fast_input!r} must be 'rgb' or 'gray' (or None)")
        if self.tau % self.alpha:
            raise ValueError(f"alpha={self.alpha} must divide tau={self.tau}")
        if self.size < 32:
            raise ValueError(f"size={self.size}: the networks need frames of at least 32x32")

    @property
    def raw_frames(self) -> int:
        return self.T * self.tau

    @property
    def period(self) -> int:
        return self.spin_period or self.tau

    @property
    def fast_view(self) -> str:
        """What the Fast pathway sees: "rgb" or "gray"."""
        return self.fast_input or ("rgb" if self.kind == "motionshapes" else "gray")

    @property
    def multilabel(self) -> bool:
        """True for "scenes_multi": targets are sets of actions (per object box and per clip)."""
        return self.kind == "scenes_multi"

    @property
    def keyframe(self) -> int:
        """The raw frame whose boxes and actions a clip is labelled with (AVA's keyframe): the
        Fast frame at the clip's centre, raw frame (alpha T / 2) (tau / alpha) (16 of 0..31)."""
        _, fast_idx = pathway_indices(self)
        return fast_idx[len(fast_idx) // 2]

    @property
    def classes(self) -> tuple[ClassSpec, ...]:
        if self.kind == "scenes_multi":
            return ACTION_CLASSES
        return scene_classes(self.objects) if self.kind == "scenes" else CLASSES

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def groups(self) -> tuple[str, ...]:
        if self.kind == "scenes_multi":
            return ("motion", "appearance")
        return SCENE_GROUPS if self.kind == "scenes" else GROUPS

    @classmethod
    def for_model(cls, model_config, **overrides) -> TaskConfig:
        """The task whose clip length and frame rates fit a SlowFastConfig (T, tau, alpha)."""
        base = dict(T=model_config.T, tau=model_config.tau, alpha=model_config.alpha)
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def factor_hits(
    task: TaskConfig, preds: torch.Tensor, labels: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Scenes: per clip, did the prediction get the mover's colour right, and the direction?
    (bool [N] each). A model that cannot bind colour to motion is at 1/3 on the first."""
    classes = task.classes
    colour = torch.tensor([COLOURS.index(c.colour) for c in classes])
    motion = torch.tensor([c.motion == "cw" for c in classes])
    return {
        "mover colour": colour[preds] == colour[labels],
        "direction": motion[preds] == motion[labels],
    }


@dataclass
class MotionShapesClip:
    """One rendered clip: frames uint8 [F, H, W, 3], object mask bool [F, H, W], and its class.

    Scenes also carry, per object o: `object_masks` bool [O, F, H, W], `boxes` float [O, F, 4]
    (x0, y0, x1, y1 in pixels, inclusive of the mask's pixels) and `actions` ("still", "cw",
    "ccw"); `mask` is then the union of the objects. Scenes with actions ("scenes_multi") have
    `label` -1, `actions` such as "circling cw + changing colour", and `targets` bool [O, F, A]:
    object o does action `ACTIONS[a]` in frame f.
    """

    frames: np.ndarray
    mask: np.ndarray
    frame_indices: list[int]
    label: int
    params: dict
    object_masks: np.ndarray | None = None
    boxes: np.ndarray | None = None
    actions: tuple[str, ...] | None = None
    targets: np.ndarray | None = None

    @property
    def clip_targets(self) -> np.ndarray:
        """Scenes with actions: bool [A], the actions any object does in the clip (Charades-style
        clip labels)."""
        if self.targets is None:
            raise ValueError(
                "clip_targets: only scenes with actions (kind='scenes_multi') have them"
            )
        return self.targets.any(axis=(0, 1))

    @property
    def spec(self) -> ClassSpec:
        if self.targets is not None:
            raise ValueError("a scenes_multi clip has actions per object (targets), not one class")
        if self.object_masks is not None:
            return scene_classes(len(self.object_masks))[self.label]
        return CLASSES[self.label]


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test in object coordinates (u, v scaled so the shape fits in [-1, 1]^2)."""
    if shape == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == "L":  # two bars; mirror-symmetric about a diagonal, no rotational symmetry
        vertical = (u >= -0.9) & (u <= -0.25) & (np.abs(v) <= 0.9)
        horizontal = (v >= 0.25) & (v <= 0.9) & (np.abs(u) <= 0.9)
        return vertical | horizontal
    if shape == "pacman":  # a disc with a 90 degree mouth cut out, opening towards +u
        r2 = u * u + v * v
        mouth = (u > 0) & (np.abs(v) < u)
        return (r2 <= 1.0) & ~mouth
    raise ValueError(f"unknown shape {shape!r}; shapes are {SHAPES}")


def _texture(texture: str, u: np.ndarray, v: np.ndarray, period: float) -> np.ndarray:
    """Fine pattern in [-0.5, 0.5] on object coordinates in pixels (it turns with the object)."""
    if texture == "plain":
        return np.zeros_like(u)
    phase_u, phase_v = np.sin(2 * np.pi * u / period), np.sin(2 * np.pi * v / period)
    if texture == "stripes":
        return np.sign(phase_u) * 0.5
    if texture == "checks":
        return np.sign(phase_u * phase_v) * 0.5
    if texture == "dots":
        du = np.mod(u, period) - period / 2
        dv = np.mod(v, period) - period / 2
        return np.where(du * du + dv * dv <= (period / 3.2) ** 2, 0.5, -0.5)
    raise ValueError(f"unknown texture {texture!r}; textures are {TEXTURES}")


def _backdrop_params(
    rng: np.random.Generator,
    task: TaskConfig,
    grating_dir: float,
    amp: tuple[float, float],
    disc_radius: tuple[float, float],
) -> dict:
    """The draws both tasks share, in this order: the drifting grating, the distractor discs, the
    per-frame flicker and the noise seed (`amp` and `disc_radius` are uniform ranges)."""
    s = task.size
    return {
        "grating": {
            "freq": float(rng.uniform(1.0, 2.5) * 2 * np.pi / s),
            "dir": float(grating_dir),
            "speed": float(rng.uniform(-0.4, 0.4)),
            "amp": float(rng.uniform(*amp)),
            "phase": float(rng.uniform(0, 2 * np.pi)),
        },
        "discs": [
            {
                "pos": rng.uniform(0, s, 2).tolist(),
                "vel": rng.uniform(-1.5, 1.5, 2).tolist(),
                "radius": float(rng.uniform(*disc_radius) * s),
                "color": rng.uniform(0.1, 0.9, 3).tolist(),
            }
            for _ in range(task.distractors)
        ],
        "flicker": rng.normal(0, 0.03, task.raw_frames).tolist(),
        "noise_seed": int(rng.integers(2**31)),
    }


def _draw_backdrop(p: dict, t: np.ndarray, x: np.ndarray, y: np.ndarray, s: int) -> np.ndarray:
    """float [F, H, W, 3]: the background colour with its drifting low-frequency grating, and the
    distractor discs crossing the frame (wrapping around), behind the objects."""
    g = p["grating"]
    along = x * np.cos(g["dir"]) + y * np.sin(g["dir"])  # [H, W]
    wave = g["amp"] * np.sin(g["freq"] * (along - g["speed"] * t) + g["phase"])  # [F, H, W]
    frames = np.asarray(p["bg"], np.float32) + wave[..., None]  # [F, H, W, 3]
    frames = np.broadcast_to(frames, (len(t), s, s, 3)).copy()
    for d in p["discs"]:
        cx = np.mod(d["pos"][0] + d["vel"][0] * t, s)
        cy = np.mod(d["pos"][1] + d["vel"][1] * t, s)
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= d["radius"] ** 2  # [F, H, W]
        frames[inside] = np.asarray(d["color"], np.float32)
    return frames


def _finish(frames: np.ndarray, p: dict, idx: list[int], task: TaskConfig) -> np.ndarray:
    """Flicker and pixel noise, keyed by the raw frame index, then uint8 [F, H, W, 3]."""
    s = task.size
    flicker = np.asarray(p["flicker"], np.float32)[idx][:, None, None, None]
    noise = np.stack(
        [
            np.random.default_rng([p["noise_seed"], i]).standard_normal((s, s, 3), np.float32)
            for i in idx
        ]
    )
    frames = frames + flicker + task.noise * noise
    return np.clip(np.round(frames * 255), 0, 255).astype(np.uint8)


def clip_params(seed: int, index: int, task: TaskConfig = TaskConfig()) -> dict:
    """The random draws of clip `index` of split `seed` (label, colours, positions, angles...).

    Labels cycle through the classes (index % 10; scenes: index % 6), so every split is balanced.
    """
    if task.kind == "scenes":
        return scene_params(seed, index, task)
    if task.kind == "scenes_multi":
        return scene_multi_params(seed, index, task)
    rng = np.random.default_rng([int(seed), int(index), 20190000])
    s = task.size
    label = index % NUM_CLASSES
    bg = rng.uniform(0.15, 0.85, 3)
    obj = rng.uniform(0.1, 0.9, 3)
    while np.abs(obj - bg).mean() < 0.25:  # keep the object visible
        obj = rng.uniform(0.1, 0.9, 3)
    speed = rng.uniform(0, 0.3)
    drift_dir = rng.uniform(0, 2 * np.pi)
    grating_dir = rng.uniform(0, 2 * np.pi)
    return {
        "label": int(label),
        "bg": bg.tolist(),
        "obj": obj.tolist(),
        "radius": float(rng.uniform(0.26, 0.32) * s),
        "center": rng.uniform(0.4 * s, 0.6 * s, 2).tolist(),
        "drift": [speed * np.cos(drift_dir), speed * np.sin(drift_dir)],
        "angle0": float(rng.uniform(0, 2 * np.pi)),
        "texture_shift": rng.uniform(0, task.texture_period, 2).tolist(),
        **_backdrop_params(rng, task, grating_dir, amp=(0.05, 0.15), disc_radius=(0.05, 0.08)),
    }


def render_clip(
    seed: int,
    index: int,
    task: TaskConfig = TaskConfig(),
    frame_indices: list[int] | None = None,
) -> MotionShapesClip:
    """Render clip `index` of split `seed`: the raw frames `frame_indices` (default: all T*tau).

    Rendering any subset of frames gives exactly the same pixels as rendering all and selecting
    (per-frame noise is keyed by the raw frame index).
    """
    if task.kind in ("scenes", "scenes_multi"):
        return render_scene(seed, index, task, frame_indices)
    p = clip_params(seed, index, task)
    spec = CLASSES[p["label"]]
    s = task.size
    idx = list(range(task.raw_frames)) if frame_indices is None else list(frame_indices)
    t = np.asarray(idx, dtype=np.float32)[:, None, None]  # [F, 1, 1]
    y, x = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5  # pixel centres [H, W]

    frames = _draw_backdrop(p, t, x, y, s)  # background, grating, distractor discs

    # The object: drifting centre, angle0 + omega t, shape and texture in its own coordinates.
    omega = {"still": 0.0, "cw": 1.0, "ccw": -1.0}[spec.motion] * 2 * np.pi / task.period
    # Image y points down, so a positive angle turns clockwise on screen.
    angle = p["angle0"] + omega * t  # [F, 1, 1]
    cx = p["center"][0] + p["drift"][0] * t
    cy = p["center"][1] + p["drift"][1] * t
    dx, dy = x - cx, y - cy
    cos, sin = np.cos(angle), np.sin(angle)
    u = cos * dx + sin * dy  # rotate the pixel into the object frame (inverse rotation)
    v = -sin * dx + cos * dy
    r = p["radius"]
    mask = _shape_mask(spec.shape, u / r, v / r)  # [F, H, W]
    tu, tv = u + p["texture_shift"][0], v + p["texture_shift"][1]
    pattern = task.texture_contrast * _texture(spec.texture, tu, tv, task.texture_period)
    obj = np.asarray(p["obj"], np.float32) + pattern[..., None]  # [F, H, W, 3]
    frames = np.where(mask[..., None], obj, frames)

    return MotionShapesClip(_finish(frames, p, idx, task), mask, idx, p["label"], p)


# ------------------------------------------------------------------------------------------------
# Scenes: where late fusion cannot work
# ------------------------------------------------------------------------------------------------
#
# Three squares, one red, one green, one blue, at random places; one of them circles on a small
# orbit (clockwise or counter-clockwise) once every `tau` raw frames, the others stay still. The
# Slow pathway, sampling every tau-th frame, sees every square at the same place in each of its
# frames (aliasing, as for the spinning L of MotionShapes): nothing moves. The Fast pathway sees
# the circling square at four points of its orbit. The class is the circling square's colour and
# direction (6 classes). The colours have the same luma (ITU-R BT.601, what
# `sampling.to_grayscale` keeps), so the Fast pathway, which gets gray frames as in the paper's
# Table 5c, sees three identical squares, one of them circling: it knows *that* and *how*
# something moves, not which colour. Each pathway's globally pooled features say nothing about
# *which* square moves (every colour is in every clip, at random places): a SlowFast whose
# pathways meet only in the head gets the direction, and the colour only by chance (1/3). A
# lateral hands the Fast pathway's motion maps to the Slow pathway at every place before
# pooling, where the colour is.

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
ORBIT = 0.06  # radius of the circling square's orbit, as a fraction of the frame


def isoluminant_colours(luma: float, chroma: float) -> np.ndarray:
    """float [3 colours, RGB]: red, green and blue of the same luma: luma + chroma (e_c - w_c)
    for colour c, where w is the BT.601 luma weights (so that w . (e_c - w_c 1) = 0)."""
    return (luma + chroma * (np.eye(3, dtype=np.float32) - _LUMA[:, None])).astype(np.float32)


def scene_params(seed: int, index: int, task: TaskConfig) -> dict:
    """The random draws of scene `index` of split `seed` (see `clip_params`)."""
    rng = np.random.default_rng([int(seed), int(index), 20190001])
    classes = scene_classes(task.objects)
    label = index % len(classes)
    luma = float(rng.uniform(0.38, 0.58))
    colours = isoluminant_colours(luma, float(rng.uniform(0.22, 0.32)))
    # Background clearly lighter or darker than the objects, also in gray.
    gap = float(rng.uniform(0.2, 0.3)) * (1 if rng.random() < 0.5 else -1)
    bg = np.clip(luma + gap + rng.uniform(-0.08, 0.08, 3), 0.0, 1.0)
    # One square per quadrant, centres 0.46 s apart (+-0.01 s); a square reaches at most
    # 0.8 sqrt(2) (radius + 0.005) <= 0.153 s from its centre (radius <= 0.13), plus the
    # orbit's 0.06 s: two never overlap.
    quadrants = rng.permutation(4)[: task.objects]
    mover = COLOURS.index(classes[label].colour)
    objects = []
    for o in range(task.objects):
        objects.append(
            {
                "colour": COLOURS[o],
                "rgb": colours[o].tolist(),
                "action": classes[label].motion if o == mover else "still",
                **_square_geometry(rng, int(quadrants[o]), task),
            }
        )
    grating_dir = rng.uniform(0, 2 * np.pi)
    return {
        "label": int(label),
        "bg": bg.tolist(),
        "objects": objects,
        **_backdrop_params(rng, task, grating_dir, amp=(0.03, 0.08), disc_radius=(0.04, 0.06)),
    }


def _square_geometry(rng: np.random.Generator, quadrant: int, task: TaskConfig) -> dict:
    """Where a scene's square sits (centre in quadrant 0..3, size, tilt) and its orbit."""
    s = task.size
    qx, qy = quadrant % 2, quadrant // 2
    return {
        "center": [
            float((0.27 + 0.46 * qx + rng.uniform(-0.01, 0.01)) * s),
            float((0.27 + 0.46 * qy + rng.uniform(-0.01, 0.01)) * s),
        ],
        "radius": float(rng.uniform(task.radius - 0.005, task.radius + 0.005) * s),
        "angle": float(rng.uniform(0, np.pi / 2)),
        "orbit": float(ORBIT * s),
        "phase0": float(rng.uniform(0, 2 * np.pi)),
    }


# Scenes with actions (`TaskConfig(kind="scenes_multi")`): the same squares, but each one does its
# own actions, drawn independently: exactly one motion ("still", "circling cw", "circling ccw",
# circling once every tau raw frames as above) and, for one square in three, "changing colour":
# its hue turns once round the isoluminant colour circle over the clip. Labels are per square and
# frame (AVA: boxes with a set of actions at a keyframe) and per clip (Charades: the set of actions
# anyone does). What each pathway can see:
# * motion: aliased for the Slow pathway (every Slow frame shows each square at the same place), so
#   still / cw / ccw need the Fast pathway;
# * changing colour: the colours keep one luma, so the Fast pathway's gray frames never change;
#   the Slow pathway sees four hues a quarter turn apart. A single frame cannot tell it either
#   (every square gets a random hue), so it needs colour *and* time: the Slow pathway's job.
# A square that circles while changing colour needs both pathways, at the same place.

_CHANGE_PROB = 1 / 3  # chance that a square changes colour


def _isoluminant_basis() -> np.ndarray:
    """float [2, 3]: orthonormal RGB directions with zero luma (w . e = 0): the colour circle."""
    w = _LUMA / np.linalg.norm(_LUMA)
    e1 = np.array([1.0, 0.0, 0.0]) - w[0] * w
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(w, e1)
    return np.stack([e1, e2]).astype(np.float32)


def hue_colour(luma: float, chroma: float, hue: np.ndarray | float) -> np.ndarray:
    """float [..., 3]: the colour of luma `luma` at angle `hue` (radians) on the isoluminant circle
    of radius `chroma`; its BT.601 luma is `luma` for every hue."""
    hue = np.asarray(hue, np.float32)[..., None]
    e1, e2 = _isoluminant_basis()
    return (luma + chroma * (np.cos(hue) * e1 + np.sin(hue) * e2)).astype(np.float32)


def scene_multi_params(seed: int, index: int, task: TaskConfig) -> dict:
    """The random draws of scene-with-actions `index` of split `seed` (see `clip_params`): every
    square draws its motion (uniform over still / cw / ccw) and whether it changes colour."""
    rng = np.random.default_rng([int(seed), int(index), 20190002])
    luma = float(rng.uniform(0.4, 0.56))
    chroma = float(rng.uniform(0.16, 0.22))  # <= 0.22 keeps every hue inside [0, 1]
    gap = float(rng.uniform(0.2, 0.3)) * (1 if rng.random() < 0.5 else -1)
    bg = np.clip(luma + gap + rng.uniform(-0.08, 0.08, 3), 0.0, 1.0)
    quadrants = rng.permutation(4)[: task.objects]
    objects = []
    for o in range(task.objects):
        motion = ("still", "cw", "ccw")[int(rng.integers(3))]
        changes = bool(rng.random() < _CHANGE_PROB)
        names = [ACTIONS[("still", "cw", "ccw").index(motion)]]
        objects.append(
            {
                "colour": f"hue {o}",
                "luma": luma,
                "chroma": chroma,
                "hue0": float(rng.uniform(0, 2 * np.pi)),
                # one turn of the colour circle per clip, either way round
                "hue_turns": float(rng.choice([-1.0, 1.0])) if changes else 0.0,
                "action": motion,
                "actions": names + (["changing colour"] if changes else []),
                **_square_geometry(rng, int(quadrants[o]), task),
            }
        )
    for ob in objects:
        ob["rgb"] = hue_colour(luma, chroma, ob["hue0"]).tolist()
    grating_dir = rng.uniform(0, 2 * np.pi)
    return {
        "label": -1,
        "bg": bg.tolist(),
        "objects": objects,
        **_backdrop_params(rng, task, grating_dir, amp=(0.03, 0.08), disc_radius=(0.04, 0.06)),
    }


def _object_rgb(ob: dict, t: np.ndarray, task: TaskConfig) -> np.ndarray:
    """float [F, 3]: a scene square's colour in each frame (constant unless it changes colour)."""
    if not ob.get("hue_turns"):
        return np.broadcast_to(np.asarray(ob["rgb"], np.float32), (len(t), 3))
    hue = ob["hue0"] + ob["hue_turns"] * 2 * np.pi * t.reshape(-1) / task.raw_frames
    return hue_colour(ob["luma"], ob["chroma"], hue)


def _boxes(masks: np.ndarray) -> np.ndarray:
    """bool [F, H, W] -> float [F, 4]: x0, y0, x1, y1 of each frame's mask (pixel indices)."""
    out = np.zeros((len(masks), 4), np.float32)
    for f, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        if len(xs):
            out[f] = xs.min(), ys.min(), xs.max(), ys.max()
    return out


def render_scene(
    seed: int, index: int, task: TaskConfig, frame_indices: list[int] | None = None
) -> MotionShapesClip:
    """Render scene `index` of split `seed` (see `render_clip`), with per-object masks and boxes
    (and, for scenes with actions, the per-object, per-frame action targets)."""
    p = (
        scene_multi_params(seed, index, task)
        if task.multilabel
        else scene_params(seed, index, task)
    )
    s = task.size
    idx = list(range(task.raw_frames)) if frame_indices is None else list(frame_indices)
    t = np.asarray(idx, dtype=np.float32)[:, None, None]  # [F, 1, 1]
    y, x = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5

    frames = _draw_backdrop(p, t, x, y, s)

    masks = []
    for ob in p["objects"]:
        omega = {"still": 0.0, "cw": 1.0, "ccw": -1.0}[ob["action"]] * 2 * np.pi / task.period
        theta = ob["phase0"] + omega * t  # image y points down: growing theta turns clockwise
        dx = x - (ob["center"][0] + ob["orbit"] * np.cos(theta))
        dy = y - (ob["center"][1] + ob["orbit"] * np.sin(theta))
        cos, sin = np.cos(ob["angle"]), np.sin(ob["angle"])
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # square coordinates
        mask = _shape_mask("square", u / ob["radius"], v / ob["radius"])  # [F, H, W]
        if ob.get("hue_turns"):  # its colour changes from frame to frame
            frames = np.where(mask[..., None], _object_rgb(ob, t, task)[:, None, None], frames)
        else:
            frames[mask] = np.asarray(ob["rgb"], np.float32)
        masks.append(mask)

    object_masks = np.stack(masks)  # [O, F, H, W]
    if task.multilabel:
        hot = np.array([[a in ob["actions"] for a in ACTIONS] for ob in p["objects"]])  # [O, A]
        return MotionShapesClip(
            _finish(frames, p, idx, task),
            object_masks.any(0),
            idx,
            -1,
            p,
            object_masks=object_masks,
            boxes=np.stack([_boxes(m) for m in object_masks]),
            actions=tuple(" + ".join(ob["actions"]) for ob in p["objects"]),
            # an action holds over the whole clip (AVA labels a second around each keyframe)
            targets=np.repeat(hot[:, None], len(idx), axis=1),
        )
    return MotionShapesClip(
        _finish(frames, p, idx, task),
        object_masks.any(0),
        idx,
        p["label"],
        p,
        object_masks=object_masks,
        boxes=np.stack([_boxes(m) for m in object_masks]),
        actions=tuple(ob["action"] for ob in p["objects"]),
    )


def distractor_mask(clip: MotionShapesClip) -> np.ndarray:
    """Where the distractor discs are visible in each of the clip's frames: bool [F, H, W], the
    discs as `render_clip` draws them, less the object in front of them."""
    s = clip.frames.shape[1]
    t = np.asarray(clip.frame_indices, dtype=np.float32)[:, None, None]  # [F, 1, 1]
    y, x = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    discs = np.zeros(clip.mask.shape, dtype=bool)
    for d in clip.params["discs"]:
        cx = np.mod(d["pos"][0] + d["vel"][0] * t, s)
        cy = np.mod(d["pos"][1] + d["vel"][1] * t, s)
        discs |= (x - cx) ** 2 + (y - cy) ** 2 <= d["radius"] ** 2
    return discs & ~clip.mask


def pathway_indices(task: TaskConfig) -> tuple[list[int], list[int]]:
    """Raw frame indices the Slow and Fast pathways see (the paper's sampling, start 0)."""
    return sample_indices(task.raw_frames, T=task.T, tau=task.tau, alpha=task.alpha, start=0)


# ------------------------------------------------------------------------------------------------
# Datasets: many clips, rendered once, cached
# ------------------------------------------------------------------------------------------------


@dataclass
class MotionShapesData:
    """A split of MotionShapes: the Fast pathway's frames of every clip and the labels.

    fast:   uint8 [N, alpha T, H, W, 3] (raw frames 0, tau/alpha, 2 tau/alpha, ...)
    labels: int64 [N]; scenes with actions: float [N, A], 1 for every action anyone does in
            the clip (Charades-style multi-label clip targets)
    The Slow frames are every alpha-th Fast frame (`slow`), as the paper samples them.
    Scenes with actions also hold the keyframe's (`TaskConfig.keyframe`) ground truth per object:
    boxes:   float [N, O, 4]: x1, y1, x2, y2 in input-frame pixels, continuous coordinates (the
             mask's pixels [x0, x1] cover [x0, x1 + 1]), as `detection.roi_align` reads them
    targets: float [N, O, A]: 1 where object o does action a (AVA-style labels per box)
    """

    fast: torch.Tensor
    labels: torch.Tensor
    task: TaskConfig
    seed: int
    boxes: torch.Tensor | None = None
    targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def slow(self) -> torch.Tensor:
        """uint8 [N, T, H, W, 3]: raw frames 0, tau, 2 tau, ..."""
        return self.fast[:, :: self.task.alpha]

    @property
    def groups(self) -> list[str]:
        if self.task.multilabel:
            raise ValueError("scenes with actions have sets of actions, not one class per clip")
        classes = self.task.classes
        return [classes[int(i)].group for i in self.labels]

    def batch(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Model-ready (slow, fast, labels): float [B,3,T,H,W], [B,3,alpha T,H,W], int64 [B].
        The Fast input is gray when the task says so (`TaskConfig.fast_view`)."""
        fast = self.fast[index]
        return (
            frames_to_input(fast[:, :: self.task.alpha]),
            frames_to_input(fast, gray=self.task.fast_view == "gray"),
            self.labels[index],
        )

    def detection_batch(
        self, index: torch.Tensor | slice
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scenes with actions: (slow, fast, boxes, targets) for the clips `index`, every object's
        keyframe box a region of interest: boxes float [K, 5] (index of the clip in this batch,
        x1, y1, x2, y2), targets float [K, A]; K = batch size x objects, clip by clip."""
        if self.boxes is None or self.targets is None:
            raise ValueError(
                f"detection_batch: the {self.task.kind} task has no boxes; use "
                "TaskConfig(kind='scenes_multi')"
            )
        slow, fast, _ = self.batch(index)
        boxes, targets = self.boxes[index], self.targets[index]  # [B, O, 4], [B, O, A]
        b, o = boxes.shape[:2]
        clip = torch.arange(b, dtype=boxes.dtype).repeat_interleave(o)[:, None]
        return slow, fast, torch.cat([clip, boxes.reshape(b * o, 4)], 1), targets.reshape(b * o, -1)


def roi_box(pixel_box: np.ndarray) -> np.ndarray:
    """Inclusive pixel-index boxes [..., 4] (x0, y0, x1, y1 of a mask, `MotionShapesClip.boxes`)
    -> continuous coordinates [..., 4] (x0, y0, x1 + 1, y1 + 1): the area the pixels cover."""
    return np.asarray(pixel_box, np.float32) + np.array([0, 0, 1, 1], np.float32)


def frames_to_input(frames: torch.Tensor, gray: bool = False) -> torch.Tensor:
    """A batch of clips, uint8 [N, t, H, W, 3] -> normalised float [N, 3, t, H, W], with the
    checkpoints' mean and std (`sampling.MEAN`, `sampling.STD`); with `gray`, luma on all three
    channels first, as `sampling.to_grayscale`. For one decoded video clip use
    `sampling.to_model_input`."""
    x = frames.permute(0, 4, 1, 2, 3).float().div_(255.0)
    if gray:
        x = (x * torch.tensor(_LUMA).view(1, 3, 1, 1, 1)).sum(1, keepdim=True).repeat(1, 3, 1, 1, 1)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1, 1)
    return x.sub_(mean).div_(std)


_MEMORY: dict[str, MotionShapesData] = {}
_MEMORY_LIMIT = 4  # splits kept in memory per process


def cache_dir() -> Path:
    """Where rendered splits are cached: $SLOWFAST_LAB_CACHE or ~/.cache/slowfast_lab."""
    root = os.environ.get("SLOWFAST_LAB_CACHE") or Path.home() / ".cache" / "slowfast_lab"
    return Path(root) / "motionshapes"


def _cache_key(seed: int, num_clips: int, task: TaskConfig) -> str:
    blob = json.dumps(
        {"v": 1, "seed": seed, "n": num_clips, "task": task.to_dict()}, sort_keys=True
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def make_dataset(
    seed: int,
    num_clips: int,
    task: TaskConfig = TaskConfig(),
    cache: bool = True,
    progress: bool = True,
) -> MotionShapesData:
    """Render (or load from cache) clips 0..num_clips-1 of split `seed`, Fast-pathway frames only.

    Cached in memory and, with `cache=True`, on disk under `cache_dir()` (about 110 kB per clip at
    48x48): rendering happens once per split, not once per epoch.
    """
    key = _cache_key(seed, num_clips, task)
    if key in _MEMORY:
        return _MEMORY[key]
    path = cache_dir() / f"{key}.npz"
    data = None
    extra = ("boxes", "targets") if task.multilabel else ()
    if cache and path.is_file():
        try:
            with np.load(path) as z:
                arrays = {k: torch.from_numpy(z[k]) for k in ("fast", "labels", *extra)}
            data = MotionShapesData(task=task, seed=seed, **arrays)
        except (OSError, ValueError, KeyError):  # a broken cache file: render again
            data = None
    if data is None:
        _, fast_idx = pathway_indices(task)
        fast = np.empty((num_clips, len(fast_idx), task.size, task.size, 3), np.uint8)
        labels = np.empty(num_clips, np.int64)
        arrays = {}
        if task.multilabel:
            labels = np.empty((num_clips, len(ACTIONS)), np.float32)
            arrays["boxes"] = np.empty((num_clips, task.objects, 4), np.float32)
            arrays["targets"] = np.empty((num_clips, task.objects, len(ACTIONS)), np.float32)
            key_pos = fast_idx.index(task.keyframe)
        what = {"scenes": "MotionShapes scenes", "scenes_multi": "MotionShapes scenes, actions"}
        desc = f"{what.get(task.kind, 'MotionShapes')} seed {seed}"
        for i in tqdm(range(num_clips), desc=desc, disable=not progress):
            clip = render_clip(seed, i, task, fast_idx)
            fast[i] = clip.frames
            if task.multilabel:
                labels[i] = clip.clip_targets
                arrays["boxes"][i] = roi_box(clip.boxes[:, key_pos])
                arrays["targets"][i] = clip.targets[:, key_pos]
            else:
                labels[i] = clip.label
        arrays.update(fast=fast, labels=labels)
        data = MotionShapesData(
            task=task, seed=seed, **{k: torch.from_numpy(v) for k, v in arrays.items()}
        )
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
    if len(_MEMORY) >= _MEMORY_LIMIT:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = data
    return data


def describe_classes() -> str:
    """The class table as text (one line per class)."""
    lines = [f"{'#':>2}  {'class':<20} {'group':<18} {'shape':<7} {'texture':<8} motion"]
    for i, c in enumerate(CLASSES):
        lines.append(f"{i:>2}  {c.name:<20} {c.group:<18} {c.shape:<7} {c.texture:<8} {c.motion}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# A folder of video files (for `datasets.VideoFolder` and `python -m slowfast_lab finetune`)
# ------------------------------------------------------------------------------------------------


def write_folder(
    root: str | os.PathLike,
    classes: tuple[str, ...] = ("L-still", "L-cw", "L-ccw"),
    clips_per_class: int = 8,
    seed: int = 0,
    task: TaskConfig = TaskConfig(),
    fps: float = 25,
    quality: int = 12,
    suffix: str = ".mp4",
) -> list[Path]:
    """Write MotionShapes clips as video files, `root/CLASS/SEED_INDEX.mp4` (H.264, 4:4:4, crf
    `quality`: the fine textures survive), the layout `datasets.VideoFolder` reads.

    Clip k of a class is clip `index` of split `seed` (labels cycle, so index = class + 10 k): its
    T tau raw frames, exactly the pixels `render_clip` gives (up to the encoder).
    """
    from .video import write_video

    names = [c.name for c in task.classes]
    unknown = [c for c in classes if c not in names]
    if unknown or task.kind != "motionshapes":
        raise ValueError(f"classes {unknown} are not MotionShapes classes ({', '.join(names)})")
    written = []
    for name in classes:
        label = names.index(name)
        for k in range(clips_per_class):
            index = label + len(names) * k
            clip = render_clip(seed, index, task)
            path = Path(root) / name / f"{seed}_{index:05d}{suffix}"
            written.append(
                write_video(path, clip.frames, fps, "libx264", pix_fmt="yuv444p", quality=quality)
            )
    return written
