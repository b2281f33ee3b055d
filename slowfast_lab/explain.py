"""The numbers and tables behind the lessons' figures and widgets, as small pure functions.

Each function turns a config, a model or a clip into plain data (lists of rows, dicts, arrays)
that `viz` draws and the lesson widgets recompute when a slider moves. Nothing here draws or
displays; everything here is unit-tested on its values (tests/test_explain.py).

Lesson 01 (temporal sampling): `sampling_timeline`, `timeline_or_reason`, `frame_rate_rows`,
    `linspace_slow_positions`, `packing_comparison`, `apparent_rotation`, `angles_seen`,
    `aliasing_summary`, `find_clip`, `spin_clip`, `sample_path`.
Lesson 02 (the two pathways): `stage_shapes`, `shape_rows`, `temporal_kernels`, `temporal_strides`,
    `counted_macs_by_part`, `counted_macs_by_stage`, `stage_macs_rows`, `compute_rows`,
    `fast_share_rows`.
Lesson 03 (lateral connections): `fusion_point_rows`, `lateral_rows`, `time_to_channel_layout`,
    `fusion_cost_rows`, `pathway_influence`, `fusion_accuracy`, `fusion_group_rows`,
    `lateral_seed_rows`.
Lesson 04 (Slow-only vs SlowFast): `find_checkpoint`, `comparison_rows`, `model_point`,
    `group_accuracy_rows`, `confusion_block`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn

from .complexity import complexity
from .config import FUSIONS, SlowFastConfig, fusion_points, get_config, lateral_channels
from .fusion import build_lateral, time_to_channel
from .sampling import sample_indices

# ------------------------------------------------------------------------------------------------
# Lesson 01: temporal sampling
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """Which raw frames each pathway takes from one clip, and what that means in seconds.

    slow: start + i*tau (i < T); fast: start + j*tau/alpha (j < alpha*T); the clip covers T*tau raw
    frames starting at `start`.
    """

    T: int
    tau: int
    alpha: int
    start: int
    fps: float
    slow: list[int]
    fast: list[int]

    @property
    def raw_frames(self) -> int:
        """T*tau: raw frames the clip spans (both pathways cover the same span)."""
        return self.T * self.tau

    @property
    def slow_fps(self) -> float:
        """Frames per second the Slow pathway sees: fps / tau (30 / 16 = 1.9)."""
        return self.fps / self.tau

    @property
    def fast_fps(self) -> float:
        """Frames per second the Fast pathway sees: fps * alpha / tau (30 * 8 / 16 = 15)."""
        return self.fps * self.alpha / self.tau

    @property
    def seconds(self) -> float:
        """Length of the raw clip in seconds: T*tau / fps (64 / 30 = 2.13 s)."""
        return self.raw_frames / self.fps

    def summary(self) -> str:
        return (
            f"T={self.T}, tau={self.tau}, alpha={self.alpha}: the clip spans {self.raw_frames} raw "
            f"frames ({self.seconds:.2f} s at {self.fps:g} fps). Slow takes {len(self.slow)} frames "
            f"(every {self.tau}: {self.slow_fps:.2f} frames/s); Fast takes {len(self.fast)} "
            f"(every {self.tau // self.alpha}: {self.fast_fps:.2f} frames/s)."
        )


def sampling_timeline(
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    start: int = 0,
    fps: float = 30.0,
    num_video_frames: int | None = None,
) -> Timeline:
    """The paper's sampling of one clip (via `sample_indices`), with its frame rates in seconds.

    >>> sampling_timeline(4, 16, 8).slow
    [0, 16, 32, 48]
    """
    n = num_video_frames if num_video_frames is not None else start + T * tau
    slow, fast = sample_indices(n, T=T, tau=tau, alpha=alpha, start=start)
    return Timeline(T, tau, alpha, start, float(fps), slow, fast)


def linspace_slow_positions(fast_frames: int, alpha: int) -> list[int]:
    """PySlowFast's packing: the Slow frames are Fast frames linspace(0, n-1, n // alpha), truncated.

    >>> linspace_slow_positions(32, 8)   # positions within the Fast frames
    [0, 10, 20, 31]
    """
    count = fast_frames // alpha
    return torch.linspace(0, fast_frames - 1, count).long().tolist()


def packing_comparison(T: int = 4, tau: int = 16, alpha: int = 8, start: int = 0) -> list[dict]:
    """Slow frame i under the paper's strided definition and under PySlowFast's linspace packing.

    The paper: Slow = every tau-th raw frame. PySlowFast (how its checkpoints were trained): Fast =
    floor(linspace(start, start + T tau - 1, alpha T)), Slow = Fast positions
    floor(linspace(0, alpha T - 1, T)), so the last Slow frame is the clip's last frame and the
    spacing is uneven (0, 20, 40, 63 for 4x16 instead of 0, 16, 32, 48).
    """
    n = start + T * tau
    paper, _ = sample_indices(n, T=T, tau=tau, alpha=alpha, start=start)
    pyslowfast, _ = sample_indices(n, T=T, tau=tau, alpha=alpha, start=start, packing="pyslowfast")
    return [
        {
            "slow frame": i,
            "strided (paper)": a,
            "linspace (PySlowFast)": b,
            "difference": b - a,
        }
        for i, (a, b) in enumerate(zip(paper, pyslowfast, strict=True))
    ]


def timeline_or_reason(
    T: int, tau: int, alpha: int, start: int, fps: float, num_video_frames: int
) -> Timeline | str:
    """`sampling_timeline`, or the reason it is impossible (for widgets: a message, not a crash)."""
    try:
        return sampling_timeline(T, tau, alpha, start, fps, num_video_frames)
    except ValueError as err:
        return f"Not possible: {err}"


def frame_rate_rows(
    taus=(2, 4, 8, 16, 32), fps: float = 30.0, T: int = 4, alpha: int = 8
) -> list[dict]:
    """For each Slow stride tau: frames per second each pathway sees and the clip's length.

    At 30 fps, tau = 16 gives the Slow pathway 30/16 = 1.9 frames per second ("about 2").
    """
    rows = []
    for tau in taus:
        row = {
            "tau": tau,
            "Slow frames/s": fps / tau,
            "clip (raw frames)": T * tau,
            "clip (seconds)": T * tau / fps,
        }
        if tau % alpha == 0:
            row["Fast frames/s"] = fps * alpha / tau
        rows.append(row)
    return rows


def find_clip(class_name: str, seed: int = 0, task=None, limit: int = 1000) -> int:
    """Index of the first MotionShapes clip of `class_name` in split `seed`."""
    from .synthetic import CLASS_NAMES, TaskConfig, clip_params

    task = task or TaskConfig()
    if class_name not in CLASS_NAMES:
        raise ValueError(f"unknown MotionShapes class {class_name!r}; classes: {CLASS_NAMES}")
    label = CLASS_NAMES.index(class_name)
    for index in range(limit):
        if clip_params(seed, index, task)["label"] == label:
            return index
    raise ValueError(f"no {class_name!r} clip among the first {limit} of split {seed}")


def sample_path(name: str) -> str:
    """Path of a file in the repository's data_samples/ folder (the lessons' sample videos)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "data_samples" / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the lessons need the repository's data_samples/"
        )
    return str(path)


def spin_clip(
    period: int,
    class_name: str = "L-cw",
    seed: int = 0,
    T: int = 4,
    tau: int = 8,
    alpha: int = 4,
    size: int = 64,
) -> dict:
    """A MotionShapes clip whose object turns once every `period` raw frames, as both pathways
    see it: {"slow": uint8 [T,H,W,3], "fast": [alpha T,H,W,3], "slow_indices", "fast_indices"}."""
    from .synthetic import TaskConfig, pathway_indices, render_clip

    task = TaskConfig(size=size, T=T, tau=tau, alpha=alpha, spin_period=period)
    slow_idx, fast_idx = pathway_indices(task)
    clip = render_clip(seed, find_clip(class_name, seed, task), task, fast_idx)
    return {
        "slow": clip.frames[::alpha],
        "fast": clip.frames,
        "slow_indices": slow_idx,
        "fast_indices": fast_idx,
    }


def aliasing_summary(period: float, tau: int, alpha: int) -> dict:
    """How a spin with `period` raw frames per turn looks to each pathway: degrees per sampled frame
    (0 = looks still, negative = looks like it turns backwards)."""
    slow = apparent_rotation(period, tau)
    fast = apparent_rotation(period, tau // alpha)
    return {
        "period": period,
        "Slow step (deg)": slow,
        "Fast step (deg)": fast,
        "Slow sees": "no motion" if slow == 0 else ("backwards" if slow < 0 else "forwards"),
        "Fast sees": "no motion" if fast == 0 else ("backwards" if fast < 0 else "forwards"),
    }


def apparent_rotation(period: float, stride: int) -> float:
    """Rotation (degrees, in (-180, 180]) between two sampled frames of a spin with `period` raw
    frames per turn, seen every `stride` raw frames. 0 means the spin looks still (aliasing);
    negative means it looks like it turns backwards (the wagon-wheel effect).

    >>> apparent_rotation(16, 16), apparent_rotation(8, 16), apparent_rotation(16, 2)
    (0.0, 0.0, 45.0)
    """
    step = (360.0 * stride / period) % 360.0
    return step - 360.0 if step > 180.0 else step


def angles_seen(period: float, indices: list[int], phase: float = 0.0) -> list[float]:
    """The spin's angle (degrees in [0, 360)) at each sampled raw frame."""
    return [round((phase + 360.0 * i / period) % 360.0, 6) for i in indices]


# ------------------------------------------------------------------------------------------------
# Lesson 02: the two pathways
# ------------------------------------------------------------------------------------------------


def model_inputs(model: nn.Module, crop: int, T: int | None = None) -> tuple[torch.Tensor, ...]:
    """Zero clips shaped for `model`: (slow, fast), (slow,) or (fast,), each [1, 3, t, crop, crop]."""
    cfg: SlowFastConfig = model.config
    T = T or cfg.T
    device = next(model.parameters()).device
    slow = torch.zeros(1, 3, T, crop, crop, device=device)
    fast = torch.zeros(1, 3, cfg.alpha * T, crop, crop, device=device)
    return {"slowfast": (slow, fast), "slow": (slow,), "fast": (fast,)}[cfg.pathways]


@torch.no_grad()
def stage_shapes(model: nn.Module, crop: int = 64) -> dict[str, dict[str, tuple[int, ...]]]:
    """Shapes [N, C, t, H, W] of every stage's real output per pathway, from one hooked forward.

    {"pool1": {"slow": (1, 64, 4, 16, 16), "fast": (1, 8, 32, 16, 16)}, "res2": ...}
    """
    was_training = model.training
    model.eval()
    try:
        outputs = model.stage_outputs(*model_inputs(model, crop))
    finally:
        model.train(was_training)
    return {
        stage: {p: tuple(t.shape) for p, t in per.items()} for stage, per in outputs.items() if per
    }


def paper_shape(shape: tuple[int, ...]) -> str:
    """[N, C, t, H, W] in the paper's notation: (1, 64, 4, 56, 56) -> '{4, 56^2, 64}'."""
    _, c, t, h, w = shape
    space = f"{h}^2" if h == w else f"{h}x{w}"
    return f"{{{t}, {space}, {c}}}"


def shape_rows(shapes: dict[str, dict[str, tuple[int, ...]]]) -> list[dict]:
    """One row per stage: both pathways' shapes in paper notation and the Fast/Slow ratios.

    For the paper's models every row has frames ratio alpha and channels ratio beta.
    """
    rows = []
    for stage, per in shapes.items():
        row: dict = {"stage": stage}
        for p in ("slow", "fast"):
            if p in per:
                row[p] = paper_shape(per[p])
        if "slow" in per and "fast" in per:
            s, f = per["slow"], per["fast"]
            row["frames fast/slow"] = f[2] / s[2]
            row["channels fast/slow"] = f[1] / s[1]
        rows.append(row)
    return rows


STAGES = ("stem", "res2", "res3", "res4", "res5")


def temporal_kernels(model: nn.Module) -> dict[str, dict[str, list[int]]]:
    """Temporal kernel size read from the built layers: the stem conv, and each block's first conv.

    {"slow": {"stem": [1], "res2": [1, 1, 1], ..., "res4": [3]*6, ...}, "fast": {"stem": [5], ...}}
    """
    out: dict[str, dict[str, list[int]]] = {}
    for p in ("slow", "fast"):
        pathway = getattr(model, p, None)
        if pathway is None:
            continue
        out[p] = {"stem": [pathway.stem.conv.conv.kernel_size[0]]}
        for stage in STAGES[1:]:
            out[p][stage] = [block.a.conv.kernel_size[0] for block in getattr(pathway, stage)]
    return out


def kernel_rows(kernels: dict[str, dict[str, list[int]]]) -> list[dict]:
    """One row per stage with each pathway's temporal kernel(s), e.g. '3' or '3 (6 of 23), then 1'."""

    def describe(ks: list[int]) -> str:
        first = ks[0]
        n = sum(1 for k in ks if k == first)
        if n == len(ks):
            return str(first)
        return f"{first} ({n} of {len(ks)} blocks), then {ks[n]}"

    return [
        {"stage": stage, **{p: describe(kernels[p][stage]) for p in kernels}} for stage in STAGES
    ]


def temporal_strides(model: nn.Module) -> dict[str, int]:
    """The largest temporal stride of any conv or pool layer in each pathway (1: time never shrinks)."""
    out = {}
    for p in ("slow", "fast"):
        pathway = getattr(model, p, None)
        if pathway is None:
            continue
        strides = [1]
        for m in pathway.modules():
            if isinstance(m, (nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d)):
                stride = m.stride if isinstance(m.stride, tuple) else (m.stride,) * 3
                strides.append(stride[0])
        out[p] = max(strides)
    return out


def part_of(module_name: str) -> str | None:
    """Which part a module belongs to: 'SlowFast.fast.res2.0.a.conv' -> 'fast', fuseK -> 'lateral'."""
    parts = module_name.split(".")
    if len(parts) < 2:
        return None
    top = parts[1]
    if top in ("slow", "fast", "head"):
        return top
    if top.startswith("fuse"):
        return "lateral"
    return None


def counted_macs_by_part(model: nn.Module, crop: int = 64) -> dict[str, int]:
    """Multiply-adds per part counted on a real forward with torch.utils.flop_counter (which counts
    2 flops per multiply-add, so its numbers are halved). Checks `complexity` independently."""
    return _counted(model, crop, by_stage=False)


def _counted(model: nn.Module, crop: int, by_stage: bool) -> dict[str, int]:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(*model_inputs(model, crop))
    finally:
        model.train(was_training)
    totals: dict[str, int] = (
        {} if by_stage else dict.fromkeys(("slow", "fast", "lateral", "head"), 0)
    )
    # Leaf modules only (a Conv3d / Linear), so nothing is counted twice.
    leaves = {name for name, m in model.named_modules() if isinstance(m, (nn.Conv3d, nn.Linear))}
    prefix = type(model).__name__ + "."
    for name, counts in counter.get_flop_counts().items():
        if not (name.startswith(prefix) and name[len(prefix) :] in leaves):
            continue
        part = part_of(name)
        if part is None:
            continue
        key = part
        if by_stage and part in ("slow", "fast"):
            key = ".".join(name.split(".")[1:3])
        totals[key] = totals.get(key, 0) + int(sum(counts.values())) // 2
    return totals


def counted_macs_by_stage(model: nn.Module, crop: int = 64) -> dict[str, int]:
    """Like `counted_macs_by_part`, finer: {"slow.stem": .., "slow.res2": .., "fast.stem": ..,
    "lateral": .., "head": ..} (multiply-adds of one counted forward, flop counts halved)."""
    return _counted(model, crop, by_stage=True)


def stage_macs_rows(by_stage: dict[str, int]) -> list[dict]:
    """One row per stage: Slow and Fast multiply-adds (millions) and the Fast/Slow ratio."""
    rows = []
    for stage in STAGES:
        s, f = by_stage.get(f"slow.{stage}", 0), by_stage.get(f"fast.{stage}", 0)
        rows.append(
            {
                "stage": stage,
                "slow MMACs": s / 1e6,
                "fast MMACs": f / 1e6,
                "fast/slow": f / s if s else None,
            }
        )
    return rows


def compute_rows(analytic: dict[str, int], counted: dict[str, int] | None = None) -> list[dict]:
    """Per part: multiply-adds, share of the total, and (when given) the counted forward's number."""
    total = sum(analytic.values())
    rows = []
    for part, macs in analytic.items():
        row = {"part": part, "GFLOPs": macs / 1e9, "share": macs / total if total else 0.0}
        if counted is not None:
            row["counted GFLOPs"] = counted[part] / 1e9
            row["agree"] = counted[part] == macs
        rows.append(row)
    return rows


def fast_share_rows(
    preset: str = "slowfast_4x16_r50", beta_invs=(4, 6, 8, 12, 16, 32), crop: int = 256, **overrides
) -> list[dict]:
    """How the Fast pathway's cost falls with its channel ratio beta = 1/beta_inv.

    Most Fast layers have beta C inputs and beta C outputs, so their cost scales with beta^2:
    halving beta divides the Fast pathway's cost by nearly 4.
    """
    rows = []
    for b in beta_invs:
        c = complexity(preset, crop_size=crop, beta_inv=b, **overrides)
        rows.append(
            {
                "beta": f"1/{b}",
                "beta_inv": b,
                "total GFLOPs": c.macs / 1e9,
                "Fast GFLOPs": c.by_part["fast"] / 1e9,
                "Fast share": c.fast_share,
            }
        )
    return rows


# ------------------------------------------------------------------------------------------------
# Lesson 03: lateral connections
# ------------------------------------------------------------------------------------------------

# Paper Table 5a (SlowFast 4x16 R50, Kinetics-400, 30-view top-1 and GFLOPs of one 256^2 view).
PAPER_TABLE_5A = {
    "none": (73.5, 34.2),
    "ttoc_sum": (74.5, 34.2),
    "ttoc_concat": (74.3, 39.8),
    "t_sample": (75.4, 34.9),
    "t_conv": (75.6, 36.1),
}
FUSION_NAMES = {
    "none": "no lateral",
    "ttoc_sum": "time-to-channel, sum",
    "ttoc_concat": "time-to-channel, concat",
    "t_sample": "time-strided sampling",
    "t_conv": "time-strided conv",
}


def fusion_point_rows(
    preset: str | SlowFastConfig = "slowfast_4x16_r50", **overrides
) -> list[dict]:
    """Where the laterals attach and what they carry: one row per fusion point fuse1..fuse4.

    For 4x16 R50 with T-conv the next Slow stage receives 64+16=80, 256+64=320, 512+128=640 and
    1024+256=1280 channels.
    """
    cfg = get_config(preset, **overrides)
    after = ("pool1", "res2", "res3", "res4")
    rows = []
    for (name, c_slow, c_fast), where in zip(fusion_points(cfg), after, strict=True):
        added = lateral_channels(cfg, c_fast)
        rows.append(
            {
                "lateral": name,
                "after": where,
                "Slow channels C": c_slow,
                "Fast channels beta C": c_fast,
                "channels added": added,
                "next Slow stage reads": c_slow + added,
            }
        )
    return rows


@torch.no_grad()
def lateral_rows(
    preset: str | SlowFastConfig = "slowfast_4x16_r50",
    point: int = 0,
    spatial: int = 8,
    seed: int = 0,
    **overrides,
) -> list[dict]:
    """Each fusion type applied to real tensors at one fusion point (0: fuse1 after pool1 .. 3).

    A random Fast feature [1, beta C, alpha T, s, s] goes through the lateral's `transform`; the
    result is fused onto a Slow feature [1, C, T, s, s]. Rows give the shapes in paper notation
    and the channels the Slow pathway's next stage receives.
    """
    cfg = get_config(preset, **overrides)
    name, c_slow, c_fast = fusion_points(cfg)[point]
    g = torch.Generator().manual_seed(seed)
    slow = torch.randn(1, c_slow, cfg.T, spatial, spatial, generator=g)
    fast = torch.randn(1, c_fast, cfg.fast_frames, spatial, spatial, generator=g)
    rows = []
    for fusion in FUSIONS:
        lateral = build_lateral(cfg.replace(fusion=fusion), c_slow, c_fast).eval()
        lat = lateral.transform(fast)
        fused = lateral(slow, fast)
        rows.append(
            {
                "fusion": fusion,
                "name": FUSION_NAMES[fusion],
                "point": name,
                "fast in": paper_shape(tuple(fast.shape)),
                "lateral": paper_shape(tuple(lat.shape)) if lat.shape[1] else "-",
                "slow in": paper_shape(tuple(slow.shape)),
                "fused slow": paper_shape(tuple(fused.shape)),
                "channels added": fused.shape[1] - c_slow,
                "lateral params": sum(p.numel() for p in lateral.parameters()),
            }
        )
    return rows


def time_to_channel_layout(alpha: int = 4, T: int = 2, channels: int = 2) -> torch.Tensor:
    """Which Fast frame each value comes from after time-to-channel: an int array [alpha*C, T].

    Built by sending a Fast tensor whose every value is its own frame number through the real
    `time_to_channel`: entry [c*alpha + k, t] is frame t*alpha + k (of Fast channel c).
    """
    frames = torch.arange(alpha * T).view(1, 1, alpha * T, 1, 1).expand(1, channels, -1, 1, 1)
    return time_to_channel(frames.contiguous(), alpha)[0, :, :, 0, 0].numpy()


def fusion_cost_rows(
    preset: str = "slowfast_4x16_r50", crop: int = 256, accuracy: dict[str, float] | None = None
) -> list[dict]:
    """Each fusion type's cost from `complexity`, beside the paper's Table 5a (and, when given, our
    accuracy per fusion on MotionShapes)."""
    rows = []
    for fusion in FUSIONS:
        c = complexity(preset, crop_size=crop, fusion=fusion)
        top1, gflops = PAPER_TABLE_5A[fusion]
        row = {
            "fusion": fusion,
            "name": FUSION_NAMES[fusion],
            "GFLOPs (ours)": round(c.macs / 1e9, 2),
            "GFLOPs (paper)": gflops,
            "lateral GFLOPs": round(c.by_part["lateral"] / 1e9, 2),
            "params (M)": round(c.params / 1e6, 2),
            "Kinetics top-1 (paper)": top1,
        }
        if accuracy is not None and fusion in accuracy:
            row["MotionShapes accuracy (ours)"] = accuracy[fusion]
        rows.append(row)
    return rows


@torch.no_grad()
def pathway_influence(model: nn.Module, crop: int = 64, seed: int = 0) -> list[dict]:
    """Does changing one pathway's input change the other pathway's features? Per stage.

    Runs the model on a random clip, then again with only the Slow input changed, then with only
    the Fast input changed, and reports the largest change of each pathway's stage outputs.
    With Fast->Slow laterals, a Fast change reaches the Slow features from the first fusion on,
    while a Slow change never reaches the Fast features (the connections are unidirectional).
    """
    model.eval()
    g = torch.Generator().manual_seed(seed)
    slow, fast = (torch.randn(x.shape, generator=g) for x in model_inputs(model, crop))
    base = model.stage_outputs(slow, fast)
    slow_changed = model.stage_outputs(torch.randn(slow.shape, generator=g), fast)
    fast_changed = model.stage_outputs(slow, torch.randn(fast.shape, generator=g))

    def delta(other, stage, p):
        return float((other[stage][p] - base[stage][p]).abs().max())

    return [
        {
            "stage": stage,
            "slow change -> slow": delta(slow_changed, stage, "slow"),
            "slow change -> fast": delta(slow_changed, stage, "fast"),
            "fast change -> slow": delta(fast_changed, stage, "slow"),
            "fast change -> fast": delta(fast_changed, stage, "fast"),
        }
        for stage in base
    ]


def display_number(value: object) -> object:
    """How a table cell reads best: 8.0 -> '8', 0.125 -> '1/8', 36.1046 -> '36.1'; other values as
    they are."""
    if not isinstance(value, float) or value != value:  # not a float, or NaN
        return value
    if value.is_integer():
        return f"{int(value):,}"
    fraction = Fraction(value).limit_denominator(64)
    if 0 < abs(value) < 1 and float(fraction) == value:
        return f"{fraction.numerator}/{fraction.denominator}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def rows_to_frame(rows: list[dict]):
    """Rows as a DataFrame for a lesson: floats formatted by `display_number` (ints stay ints),
    and blank index labels instead of 0, 1, 2, ... that mean nothing to a learner."""
    import pandas as pd

    frame = pd.DataFrame(rows).map(display_number)
    frame.index = [""] * len(frame)
    return frame


# ------------------------------------------------------------------------------------------------
# Lesson 04: Slow-only versus SlowFast
# ------------------------------------------------------------------------------------------------

REPO = __import__("pathlib").Path(__file__).resolve().parent.parent
CHECKPOINTS = REPO / "data_samples" / "checkpoints"
COMPARISON = REPO / "data_samples" / "results" / "motionshapes_comparison.json"
# The lateral rows again with other training seeds (`compare --seed N --results ..._seedN`).
SEED_COMPARISONS = tuple(COMPARISON.with_name(f"{COMPARISON.stem}_seed{n}.json") for n in (1, 2))


def find_checkpoint(kind: str, folder=CHECKPOINTS) -> str | None:
    """The shipped MotionShapes checkpoint whose file name says `kind` ("slowfast", "slow_only",
    "fast_only"), or None when there is none."""
    from pathlib import Path

    folder = Path(folder)
    if not folder.is_dir():
        return None
    hits = sorted(
        p for p in folder.iterdir() if kind in p.name and p.suffix in (".pt", ".pth", ".pyth")
    )
    return str(hits[0]) if hits else None


def comparison_rows(path=COMPARISON) -> list[dict] | None:
    """The rows of the recorded MotionShapes comparison (`train.compare`), or None if absent."""
    import json
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text())["rows"]


def _lateral_runs(rows: list[dict] | None) -> list[dict]:
    """The comparison's SlowFast rows that differ from the default only in their lateral type."""
    return [
        r
        for r in rows or []
        if r.get("pathways") == "slowfast" and not set(r.get("overrides", {})) - {"fusion"}
    ]


def fusion_accuracy(rows: list[dict] | None) -> dict[str, float] | None:
    """MotionShapes test accuracy per lateral type, from the comparison rows (default beta only)."""
    return {r["fusion"]: r["accuracy"] for r in _lateral_runs(rows)} or None


def fusion_group_rows(rows: list[dict] | None) -> list[dict] | None:
    """Per lateral type (default beta): MotionShapes test accuracy (%) per group and on each class
    of the motion group, from the comparison rows. The motion classes show *what* a model missed:
    L-still right but L-cw / L-ccw near 50% means it sees that the L spins, not which way."""
    out = []
    for r in _lateral_runs(rows):
        row = {"lateral": FUSION_NAMES[r["fusion"]], "overall": round(100 * r["accuracy"], 1)}
        row.update({g: round(100 * a, 1) for g, a in r["groups"].items()})
        if r.get("per_class"):  # older tables have groups only
            row.update({c: round(100 * r["per_class"][c], 1) for c in ("L-still", "L-cw", "L-ccw")})
        out.append(row)
    return out or None


def lateral_seed_rows(paths=(COMPARISON, *SEED_COMPARISONS)) -> list[dict] | None:
    """Overall MotionShapes accuracy (%) per lateral type (default beta) and training seed, from
    `compare` tables trained with different `--seed`; None when none is recorded.

    One row per lateral type: {"lateral": name, "seed 0": %, "seed 1": %, ...}.
    """
    import json
    from pathlib import Path

    table: dict[str, dict] = {}
    for path in map(Path, paths):
        if not path.is_file():
            continue
        payload = json.loads(path.read_text())
        seed = payload["base_config"]["seed"]
        for row in fusion_group_rows(payload["rows"]) or []:
            table.setdefault(row["lateral"], {})[f"seed {seed}"] = row["overall"]
    return [{"lateral": name, **by_seed} for name, by_seed in table.items()] or None


def model_point(name: str, model: nn.Module, report: dict, crop: int) -> dict:
    """One row for `viz.accuracy_complexity_figure`: name, pathways, multiply-adds, accuracies."""
    c = complexity(model.config, crop_size=crop)
    return {
        "name": name,
        "pathways": model.config.pathways,
        "macs": c.macs,
        "accuracy": report["accuracy"],
        "groups": report["groups"],
    }


def group_accuracy_rows(reports: dict[str, dict]) -> list[dict]:
    """Per model and MotionShapes group: accuracy and chance, from `train.evaluate` reports."""
    rows = []
    for name, rep in reports.items():
        chance = rep.get("chance_within_group", {})
        for group, acc in rep["groups"].items():
            rows.append(
                {"model": name, "group": group, "accuracy": acc, "chance": chance.get(group)}
            )
    return rows


def confusion_block(confusion, class_names, group: str) -> tuple[list[list[int]], list[str]]:
    """The confusion matrix restricted to one group's classes (rows: true, columns: predicted)."""
    from .synthetic import CLASSES

    idx = [i for i, c in enumerate(CLASSES) if c.group == group]
    return [[confusion[i][j] for j in idx] for i in idx], [class_names[i] for i in idx]


SHIPPED = (("Slow-only", "slow_only"), ("SlowFast", "slowfast"), ("Fast-only", "fast_only"))


def shipped_models(
    fallback: dict[str, nn.Module] | None = None,
) -> tuple[dict[str, nn.Module], list[str]]:
    """The shipped MotionShapes checkpoints as models {"Slow-only": .., "SlowFast": .., "Fast-only": ..},
    and notes on what was missing. A missing one is replaced by `fallback[name]` when given."""
    from .weights import load_model

    models, notes = {}, []
    for name, kind in SHIPPED:
        path = find_checkpoint(kind)
        if path is not None:
            models[name] = load_model(path).eval()
            notes.append(f"{name}: loaded {path.split('/')[-1]}")
        elif fallback and name in fallback:
            models[name] = fallback[name].eval()
            notes.append(
                f"{name}: no shipped checkpoint; using the model trained above (few steps: near chance)"
            )
        else:
            notes.append(f"{name}: no shipped checkpoint in data_samples/checkpoints/")
    return models, notes


CHECKPOINT_TABLE = REPO / "data_samples" / "results" / "motionshapes_checkpoints.json"


def recorded_rows() -> tuple[list[dict] | None, str]:
    """Recorded MotionShapes results for the accuracy/compute figure, and where they came from:
    the full comparison if recorded, else the shipped checkpoints' table, else (None, reason)."""
    for path, what in (
        (COMPARISON, "the recorded comparison"),
        (CHECKPOINT_TABLE, "the shipped checkpoints' table"),
    ):
        rows = comparison_rows(path)
        if rows:
            return rows, f"{what} ({path.relative_to(REPO)}, 1000-clip test split)"
    return None, "no recorded results in data_samples/results/"
