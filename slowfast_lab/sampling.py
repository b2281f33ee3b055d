"""The paper's temporal sampling: which raw frames each pathway sees, and packing clips into
pathway tensors.

Slow pathway: T frames, one every tau raw frames. Fast pathway: alpha*T frames, one every tau/alpha
raw frames, over the same raw clip of T*tau frames; every Slow frame is also a Fast frame.

    raw frames   0 1 2 3 4 5 ... 63                      (4x16: T=4, tau=16, alpha=8)
    Fast         0 . 2 . 4 . ... 62     alpha*T = 32 frames, stride tau/alpha = 2
    Slow         0 ...  16 ...  32 ...  48                T = 4 frames, stride tau = 16

Then the spatial side, in plain torch: scale the short side, crop (centre, 3 crops for testing,
random crop with short-side jitter and flip for training), normalise, and `to_model_input` gives
the `(slow, fast)` float tensors that `model(slow, fast)` takes.

Short videos: asking for frames past the end is an error (`VideoError`) unless `pad=True`, which
repeats the last frame (as PySlowFast's clamping does) and warns.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .video import VideoError, probe, read_frames

Packing = Literal["paper", "pyslowfast"]
MEAN = (0.45, 0.45, 0.45)  # the public checkpoints' input normalisation (RGB in [0, 1])
STD = (0.225, 0.225, 0.225)


# ------------------------------------------------------------------------------------------------
# Temporal sampling
# ------------------------------------------------------------------------------------------------


def sample_indices(
    num_video_frames: int,
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    start: int = 0,
    *,
    packing: Packing = "paper",
) -> tuple[list[int], list[int]]:
    """Raw frame indices of the Slow and Fast pathways (the paper's definition).

    slow = start + i*tau (i < T); fast = start + j*tau/alpha (j < alpha*T).

    `packing="pyslowfast"` reproduces how PySlowFast's checkpoints were trained: Fast takes
    `floor(linspace(start, start + T*tau - 1, alpha*T))` and Slow takes Fast positions
    `floor(linspace(0, alpha*T - 1, T))`, i.e. [0, 10, 20, 31] of 32, not every alpha-th.

    >>> sample_indices(64, T=4, tau=16, alpha=8)[0]
    [0, 16, 32, 48]
    >>> sample_indices(64, T=4, tau=16, alpha=8, packing="pyslowfast")[0]
    [0, 20, 40, 63]
    """
    _check_count("num_video_frames", num_video_frames, 0)
    _check_sampling(T, tau, alpha, packing, start=start, cap=False)
    last = start + clip_span(T, tau, alpha, packing=packing, cap=False) - 1
    if last >= num_video_frames:  # checked before building any list (T may be huge)
        fits = num_video_frames - (last - start + 1)
        hint = f"use start in 0..{fits}" if fits >= 0 else "use a smaller T or tau"
        raise ValueError(
            f"the clip needs raw frames {start}..{last} but the video has {num_video_frames}: "
            f"{hint}"
        )
    return _raw_indices(T, tau, alpha, start, packing)


# Bounds that no real clip reaches (the paper's largest: 64 Fast frames) but that stop a typo such
# as T=3_000_000 before it allocates lists or frames.
MAX_FAST_FRAMES = 100_000
MAX_CLIPS = 10_000
MAX_SHORT_SIDE = 8192


def _is_int(value) -> bool:
    return not isinstance(value, bool) and hasattr(type(value), "__index__")


def _check_count(name: str, value, least: int, most: int | None = None) -> None:
    """TypeError unless `value` is an integer (bool, float, str, None refused); ValueError unless
    least <= value <= most. The messages name the parameter and the range."""
    if not _is_int(value):
        raise TypeError(
            f"{name}={value!r} must be an integer ({type(value).__name__} given)"
            + (
                f"; e.g. {name}={int(value)}"
                if isinstance(value, float) and value.is_integer()
                else ""
            )
        )
    if value < least or (most is not None and value > most):
        span = f"{least}..{most}" if most is not None else f">= {least}"
        raise ValueError(f"{name}={value} must be {span}")


def _check_sampling(T, tau, alpha, packing, *, start=0, cap: bool = True) -> None:
    """The temporal parameters, checked before any list is built: ints, in range, consistent."""
    _check_count("T", T, 1)
    _check_count("tau", tau, 1)
    _check_count("alpha", alpha, 1)
    _check_count("start", start, 0)
    if packing not in ("paper", "pyslowfast"):
        raise ValueError(f"packing must be 'paper' or 'pyslowfast', got {packing!r}")
    if cap and alpha * T > MAX_FAST_FRAMES:
        raise ValueError(
            f"alpha*T = {alpha}*{T} = {alpha * T} Fast frames is more than {MAX_FAST_FRAMES}; "
            "the paper uses T in 2..16 and alpha in 2..8 (4x16: T=4, tau=16, alpha=8)"
        )


def _check_short_side(short_side) -> None:
    if short_side is not None:
        _check_count("short_side", short_side, 1, MAX_SHORT_SIDE)


def _check_path(path) -> None:
    """A str or os.PathLike (what probe opens); VideoError for None, bytes and other types."""
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        if isinstance(os.fspath(path), str) and os.fspath(path):
            return
    if isinstance(path, bytes):
        raise VideoError(
            f"path={path!r} is bytes: give a str or pathlib.Path, e.g. {path.decode(errors='replace')!r}"
        )
    raise VideoError(
        f"path={path!r} ({type(path).__name__}) is not a video path: give a str or pathlib.Path "
        "of a video file"
    )


def _raw_indices(T: int, tau: int, alpha: int, start: int, packing: str):
    """Indices without the bounds check (the padding path clamps them afterwards)."""
    _check_sampling(T, tau, alpha, packing, start=max(start, 0) if _is_int(start) else start)
    if packing == "paper":
        if tau % alpha != 0:
            divisors = [d for d in range(1, tau + 1) if tau % d == 0]
            raise ValueError(
                f"alpha={alpha} must divide tau={tau} (the Fast stride tau/alpha = "
                f"{tau / alpha:.3g} frames is not an integer); choose alpha in {divisors}, or "
                "packing='pyslowfast' (truncated linspace positions)"
            )
        step = tau // alpha
        slow = [start + i * tau for i in range(T)]
        fast = [start + j * step for j in range(alpha * T)]
        return slow, fast
    if packing == "pyslowfast":
        # float32 linspace, then truncation: exactly what PySlowFast computes (decoder.py, utils.py)
        fast_t = torch.linspace(start, start + T * tau - 1, alpha * T).long()
        pick = torch.linspace(0, alpha * T - 1, T).long()
        return fast_t[pick].tolist(), fast_t.tolist()
    raise ValueError(f"packing must be 'paper' or 'pyslowfast', got {packing!r}")


def clip_span(
    T: int = 4, tau: int = 16, alpha: int = 8, *, packing: Packing = "paper", cap: bool = True
) -> int:
    """Raw frames one clip covers, from its first to its last sampled frame (63 for 4x16).

    Computed without building the index lists (`cap=False` allows any T: nothing is allocated).
    """
    _check_sampling(T, tau, alpha, packing, cap=cap)
    if packing == "paper":
        _raw_indices(1, tau, alpha, 0, packing)  # the divisibility check and its message
        return (alpha * T - 1) * (tau // alpha) + 1
    return T * tau if alpha * T > 1 else 1  # linspace(0, T*tau - 1, alpha*T) ends at T*tau - 1


def train_clip_start(
    num_video_frames: int,
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    *,
    packing: Packing = "paper",
    generator: torch.Generator | None = None,
) -> int:
    """A random start for training: uniform over every start whose clip fits (0 if none fits)."""
    _check_count("num_video_frames", num_video_frames, 0)
    last = max(num_video_frames - clip_span(T, tau, alpha, packing=packing), 0)
    return int(torch.randint(0, last + 1, (1,), generator=generator))


def uniform_clip_starts(
    num_video_frames: int,
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    num_clips: int = 10,
    *,
    packing: Packing = "paper",
) -> list[int]:
    """Starts of `num_clips` clips spread uniformly over the video (the paper's 10-clip test).

    The first clip starts at frame 0, the last one ends at the last frame; one clip is centred.
    (PySlowFast uses start_k = delta*k/num_clips, which never reaches the end.)
    """
    _check_count("num_video_frames", num_video_frames, 0)
    _check_count("num_clips", num_clips, 1, MAX_CLIPS)
    delta = max(num_video_frames - clip_span(T, tau, alpha, packing=packing), 0)
    if num_clips == 1:
        return [delta // 2]
    return [round(k * delta / (num_clips - 1)) for k in range(num_clips)]


# ------------------------------------------------------------------------------------------------
# Clips from files
# ------------------------------------------------------------------------------------------------


@dataclass
class Clip:
    """What the two pathways see of one clip, as decoded (uint8 RGB).

    slow: [T, H, W, 3]; fast: [alpha*T, H, W, 3]. `slow_indices` / `fast_indices` are raw frame
    indices in the file; `times` the Fast frames' times in seconds. `padded`: how many Fast frames repeat the last frame (pad=True).
    """

    slow: np.ndarray
    fast: np.ndarray
    slow_indices: list[int]
    fast_indices: list[int]
    fps: float
    path: str = ""
    T: int = 4
    tau: int = 16
    alpha: int = 8
    packing: str = "paper"
    padded: int = 0

    @property
    def times(self) -> list[float]:
        """Seconds of the Fast frames, assuming the average frame rate."""
        return [i / self.fps for i in self.fast_indices]

    def __repr__(self) -> str:
        return (
            f"Clip({os.path.basename(self.path)!r}, slow {tuple(self.slow.shape)} frames "
            f"{self.slow_indices}, fast {tuple(self.fast.shape)} frames {self.fast_indices[0]}.."
            f"{self.fast_indices[-1]}, {self.fps:.4g} fps{', padded ' if self.padded else ''}"
            f"{self.padded or ''})"
        )


def load_clip(
    path: str | os.PathLike,
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    start: int = 0,
    *,
    packing: Packing = "paper",
    pad: bool = False,
    short_side: int | None = None,
) -> Clip:
    """Decode the frames one SlowFast clip needs from `path`, starting at raw frame `start`.

    Only the alpha*T Fast frames are decoded to RGB (Slow frames are a subset of them); see
    `slowfast_lab.video.read_frames` for how seeking keeps this cheap on long videos.
    Too short for the window: `VideoError`, unless `pad=True` (repeat the last frame, warn).
    `short_side`: scale while decoding (saves memory on HD videos; None keeps the decoded size).
    """
    return load_clips(
        path, [start], T, tau, alpha, packing=packing, pad=pad, short_side=short_side
    )[0]


def load_clips(
    path: str | os.PathLike,
    starts: Sequence[int],
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    *,
    packing: Packing = "paper",
    pad: bool = False,
    short_side: int | None = None,
) -> list[Clip]:
    """Several clips of one file in one decoding pass (overlapping frames are decoded once)."""
    _check_path(path)
    _check_short_side(short_side)
    if isinstance(starts, (str, bytes)) or not isinstance(starts, Sequence):
        raise TypeError(f"starts={starts!r} must be a list of frame numbers, e.g. [0, 64]")
    for start in starts:
        _check_count("start", start, 0)
    _check_sampling(T, tau, alpha, packing, cap=False)
    span = clip_span(T, tau, alpha, packing=packing, cap=False)
    info = probe(path)
    for start in starts if not pad else ():  # too short: say so before building any index list
        if start + span > info.num_frames:
            raise VideoError(
                f"{info.path}: too few frames for the requested window: T={T} x tau={tau} "
                f"from start={start} needs raw frames {start}..{start + span - 1}, but the video "
                f"has {info.num_frames} ({info.duration:.2f} s at {info.fps:.4g} fps). Use "
                f"start <= {max(info.num_frames - span, 0)}, T*tau <= about {info.num_frames}, "
                "or pad=True to repeat the last frame"
            )
    plans = []
    for start in starts:
        try:
            slow, fast = _raw_indices(T, tau, alpha, int(start), packing)
        except ValueError as err:
            raise VideoError(f"{info.path}: {err}") from err
        if start < 0:
            raise VideoError(f"{info.path}: start={start} must be >= 0")
        last = info.num_frames - 1
        if fast[-1] > last:
            if not pad:
                raise VideoError(
                    f"{info.path}: too few frames for the requested window: T={T} x tau={tau} "
                    f"from start={start} needs raw frames {start}..{fast[-1]}, but the video has "
                    f"{info.num_frames} ({info.duration:.2f} s at {info.fps:.4g} fps). Use "
                    f"start <= {max(info.num_frames - (fast[-1] - start + 1), 0)}, a smaller T or "
                    "tau, or pad=True to repeat the last frame"
                )
            if start > last:
                raise VideoError(
                    f"{info.path}: start={start} is past the last frame ({last}); even pad=True "
                    "needs the clip to start inside the video"
                )
            padded = sum(i > last for i in fast)
            warnings.warn(
                f"{info.path}: {info.num_frames} frames are too few for frames {start}.."
                f"{fast[-1]}: the last frame is repeated {padded} times (pad=True)",
                stacklevel=3,
            )
            slow, fast = [min(i, last) for i in slow], [min(i, last) for i in fast]
        else:
            padded = 0
        plans.append((slow, fast, padded))
    union = sorted({i for _, fast, _ in plans for i in fast})
    try:
        frames = read_frames(info.path, union, short_side=short_side)
    except VideoError:
        if probe(info.path).num_frames == info.num_frames:
            raise
        # Reading replaced a frame table made from the container's (wrong) timestamps by one
        # made from decoding, with another frame count: check the windows against it again.
        return load_clips(
            path, starts, T, tau, alpha, packing=packing, pad=pad, short_side=short_side
        )
    row = {i: r for r, i in enumerate(union)}
    clips = []
    for slow, fast, padded in plans:
        clips.append(
            Clip(
                slow=frames[[row[i] for i in slow]],
                fast=frames[[row[i] for i in fast]],
                slow_indices=slow,
                fast_indices=fast,
                fps=info.fps,
                path=info.path,
                T=T,
                tau=tau,
                alpha=alpha,
                packing=packing,
                padded=padded,
            )
        )
    return clips


def load_train_clip(
    path: str | os.PathLike,
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    *,
    packing: Packing = "paper",
    generator: torch.Generator | None = None,
    pad: bool = False,
    short_side: int | None = None,
) -> Clip:
    """One clip at a random start (training). See `train_clip_start`."""
    _check_path(path)
    _check_short_side(short_side)
    _check_sampling(T, tau, alpha, packing)
    n = probe(path).num_frames
    start = train_clip_start(n, T, tau, alpha, packing=packing, generator=generator)
    return load_clip(path, T, tau, alpha, start, packing=packing, pad=pad, short_side=short_side)


def load_uniform_clips(
    path: str | os.PathLike,
    num_clips: int = 10,
    T: int = 4,
    tau: int = 16,
    alpha: int = 8,
    *,
    packing: Packing = "paper",
    pad: bool = False,
    short_side: int | None = 256,
) -> list[Clip]:
    """`num_clips` clips uniformly over the video (the paper's test protocol; see `uniform_clip_starts`).

    Frames are scaled to `short_side` (256, the test scale) while decoding to bound memory.
    """
    _check_path(path)
    _check_short_side(short_side)
    _check_count("num_clips", num_clips, 1, MAX_CLIPS)
    _check_sampling(T, tau, alpha, packing)
    n = probe(path).num_frames
    starts = uniform_clip_starts(n, T, tau, alpha, num_clips, packing=packing)
    try:
        return load_clips(
            path, starts, T, tau, alpha, packing=packing, pad=pad, short_side=short_side
        )
    except VideoError:
        if probe(path).num_frames == n:
            raise
        # the frame count was corrected while reading (see `load_clips`): spread the clips again
        return load_uniform_clips(
            path, num_clips, T, tau, alpha, packing=packing, pad=pad, short_side=short_side
        )


# ------------------------------------------------------------------------------------------------
# Spatial transforms (plain torch). Clips are float tensors [3, T, H, W] ({T, S^2} with RGB).
# ------------------------------------------------------------------------------------------------


def frames_to_tensor(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 [T, H, W, 3] frames -> float [3, T, H, W] in [0, 1]."""
    x = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], got {tuple(x.shape)}")
    return x.permute(3, 0, 1, 2).float().div_(255.0)


def short_side_scale(x: torch.Tensor, size: int) -> torch.Tensor:
    """Scale [C, T, H, W] so that min(H, W) == size (bilinear, as PySlowFast/PyTorchVideo)."""
    h, w = x.shape[-2:]
    new_h, new_w = _scaled_size(h, w, size)
    if (new_h, new_w) == (h, w):
        return x
    y = F.interpolate(
        x.transpose(0, 1), size=(new_h, new_w), mode="bilinear", align_corners=False
    )  # T plays the batch
    return y.transpose(0, 1)


def _scaled_size(h: int, w: int, size: int) -> tuple[int, int]:
    if h <= w:
        return size, int(math.floor(w / h * size))
    return int(math.floor(h / w * size)), size


def crop(x: torch.Tensor, top: int, left: int, size: int) -> torch.Tensor:
    """The size x size window at (top, left) of [C, T, H, W]."""
    h, w = x.shape[-2:]
    if not (0 <= top <= h - size and 0 <= left <= w - size):
        raise ValueError(f"a {size}x{size} crop at ({top}, {left}) does not fit in {h}x{w}")
    return x[..., top : top + size, left : left + size]


def crop_offsets(h: int, w: int, size: int, position: int = 1) -> tuple[int, int]:
    """(top, left) of test crop `position`: 0 first, 1 centre, 2 last along the long side."""
    if size > min(h, w):
        raise ValueError(
            f"crop {size} is larger than the frame {h}x{w}; scale the short side first"
        )
    top, left = math.ceil((h - size) / 2), math.ceil((w - size) / 2)  # PySlowFast's rounding
    if position == 1:
        return top, left
    if position not in (0, 2):
        raise ValueError(f"position must be 0 (first), 1 (centre) or 2 (last), got {position}")
    end = position == 2
    if h > w:
        return (h - size if end else 0), left
    return top, (w - size if end else 0)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The centre size x size window of [C, T, H, W]."""
    return crop(x, *crop_offsets(*x.shape[-2:], size, 1), size)


def three_crop(x: torch.Tensor, size: int) -> list[torch.Tensor]:
    """The paper's 3 test crops covering the long side: first, centre, last ([C, T, size, size])."""
    return [crop(x, *crop_offsets(*x.shape[-2:], size, p), size) for p in (0, 1, 2)]


@dataclass(frozen=True)
class SpatialView:
    """One spatial view: scale the short side to `scale`, take the `size`^2 window at (top, left),
    mirror it if `flip`. Drawn once per clip and applied to both pathways, so they stay aligned."""

    scale: int
    top: int
    left: int
    size: int
    flip: bool = False


def eval_view(
    height: int, width: int, size: int = 256, position: int = 1, scale: int | None = None
) -> SpatialView:
    """The test-time view: short side to `scale` (default `size`), crop `position` (0, 1 or 2)."""
    scale = scale or size
    h, w = _scaled_size(height, width, scale)
    return SpatialView(scale, *crop_offsets(h, w, size, position), size)


def random_view(
    height: int,
    width: int,
    size: int = 224,
    jitter: tuple[int, int] = (256, 320),
    *,
    hflip: bool = True,
    generator: torch.Generator | None = None,
) -> SpatialView:
    """The training view: short side uniform in `jitter`, a random size^2 crop, flip with p=1/2."""
    lo, hi = jitter
    if not size <= lo <= hi:
        raise ValueError(f"need crop size {size} <= jitter low {lo} <= high {hi}")
    scale = int(torch.randint(lo, hi + 1, (1,), generator=generator))
    h, w = _scaled_size(height, width, scale)
    top = int(torch.randint(0, h - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - size + 1, (1,), generator=generator))
    flip = bool(hflip and torch.rand(1, generator=generator) < 0.5)
    return SpatialView(scale, top, left, size, flip)


def apply_view(x: torch.Tensor, view: SpatialView) -> torch.Tensor:
    """[C, T, H, W] -> [C, T, size, size] through `view`."""
    y = crop(short_side_scale(x, view.scale), view.top, view.left, view.size)
    return y.flip(-1) if view.flip else y


def normalize(x: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    """(x - mean) / std per channel of [3, T, H, W] (the checkpoints' 0.45 / 0.225)."""
    m = torch.as_tensor(mean, dtype=x.dtype).view(-1, 1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype).view(-1, 1, 1, 1)
    return (x - m) / s


def to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """RGB [3, T, H, W] -> luma (ITU-R BT.601) repeated on 3 channels (paper Table 5c, "gray").

    Three equal channels keep the model unchanged: a conv over them equals a 1-channel conv whose
    weights are the sum over the RGB weights, which is the paper's gray-input Fast pathway.
    """
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(3, 1, 1, 1)
    return (x * w).sum(0, keepdim=True).expand_as(x).contiguous()


def time_difference(x: torch.Tensor) -> torch.Tensor:
    """Frame differences along time of [C, T, H, W] (paper Table 5c, "time difference").

    out[:, t] = x[:, t] - x[:, t-1] for t >= 1, and out[:, 0] = 0: the frame count is kept, so the
    Fast pathway's shapes do not change. On normalised input the mean cancels: differences / std.
    """
    out = torch.zeros_like(x)
    out[:, 1:] = x[:, 1:] - x[:, :-1]
    return out


def to_model_input(
    clip: Clip,
    *,
    size: int = 256,
    scale: int | None = None,
    position: int = 1,
    train: bool = False,
    jitter: tuple[int, int] = (256, 320),
    hflip: bool = True,
    generator: torch.Generator | None = None,
    mean=MEAN,
    std=STD,
    fast_input: Literal["rgb", "gray", "timediff"] = "rgb",
) -> tuple[torch.Tensor, torch.Tensor]:
    """A clip -> `(slow, fast)`, float [1, 3, T, size, size] and [1, 3, alpha*T, size, size].

    Test (default): short side to `scale` (default `size`), crop `position` (1 = centre; 0 / 2 are
    the other two of the 3-crop protocol). Train: short side uniform in `jitter`, random crop, random
    horizontal flip, drawn from `generator`. The same view is applied to both pathways.
    Then normalisation with the public checkpoints' mean/std, and the Fast input variant.
    """
    h, w = clip.fast.shape[1:3]
    if train:
        view = random_view(h, w, size, jitter, hflip=hflip, generator=generator)
    else:
        view = eval_view(h, w, size, position, scale)
    slow = normalize(apply_view(frames_to_tensor(clip.slow), view), mean, std)
    fast = apply_view(frames_to_tensor(clip.fast), view)
    if fast_input == "gray":
        fast = to_grayscale(fast)
    fast = normalize(fast, mean, std)
    if fast_input == "timediff":
        fast = time_difference(fast)
    elif fast_input not in ("rgb", "gray"):
        raise ValueError(f"fast_input must be 'rgb', 'gray' or 'timediff', got {fast_input!r}")
    return slow.unsqueeze(0).contiguous(), fast.unsqueeze(0).contiguous()


def eval_views(
    clips: Sequence[Clip], *, size: int = 256, num_crops: int = 3, **kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's test batch: every clip x `num_crops` crops (1: centre; 3: the 3-crop protocol).

    Returns slow [len(clips)*num_crops, 3, T, size, size] and fast [..., alpha*T, ...]; average the
    model's softmax scores over the batch to get the video's prediction (10 x 3 = 30 views).
    """
    positions = {1: (1,), 3: (0, 1, 2)}.get(num_crops)
    if positions is None:
        raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
    pairs = [to_model_input(c, size=size, position=p, **kwargs) for c in clips for p in positions]
    return torch.cat([s for s, _ in pairs]), torch.cat([f for _, f in pairs])
