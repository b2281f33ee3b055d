"""Predicting on your own video: windows over time, batched views, top-k per window, a JSON
record, and a labelled copy of the video (optionally with each pathway's attribution beside it).

    video --probe--> N frames --windows (the paper's 10 uniform clips, or a sliding window)-->
          starts --decode only the Fast frames of a few windows at a time (short side scaled
          while decoding)--> clips --views (1 or 3 crops)--> batch --model.predict--> softmax
          [windows, crops, classes] --> top-k per window and for the whole video

    pred = predict_video(load_predictor(checkpoint="data_samples/checkpoints/motionshapes_slowfast_tiny.pt"),
                         "clip.mp4")
    pred.top(3); pred.window_top(0, 3); pred.record()          # rows, JSON-ready dict
    write_labelled_video(pred, "labelled.mp4", attributions=window_attributions(predictor, pred))

Models: our checkpoints (`--checkpoint`, class names from the task they were trained on) or
official Kinetics-400 files (`--weights` + `--preset`, the 400 class names). Text is drawn with
matplotlib's Agg canvas (already a dependency), imported only when a video is written.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .inference import inference_mode
from .model import VideoNet, build_model, model_inputs
from .recognize import (
    DEFAULT_WEIGHTS_DIR,
    OFFICIAL_NAMES,
    RANDOM_WARNING,
    WEIGHTS_ENV,
    find_weights,
    kinetics400_classes,
    topk_rows,
)
from .sampling import clip_span, eval_view, eval_views, load_clips, uniform_clip_starts
from .timing import default_device
from .video import VideoError, VideoInfo, iter_frames, probe
from .weights import load_model, load_weights

MODES = ("auto", "test", "sliding")
TEST_MAX_SECONDS = 10.0  # "auto": the paper's test for videos up to Kinetics' 10 s, else sliding


class WeightsMissing(FileNotFoundError):
    """No weights where the command looked; the message says how to download them."""


# ------------------------------------------------------------------------------------------------
# The model and what its outputs mean
# ------------------------------------------------------------------------------------------------


@dataclass
class Predictor:
    """A model in eval mode with the names of its outputs and the input it expects.

    `size`: short side scaled to, and crop size (256 for Kinetics models; a MotionShapes model's
    frame size); `fast_input`: "rgb" or "gray" (MotionShapes scenes feed gray frames to Fast).
    """

    model: VideoNet
    name: str
    classes: tuple[str, ...]
    size: int
    random: bool = False
    fast_input: str = "rgb"
    source: str = ""

    def class_name(self, index: int) -> str:
        return self.classes[index] if 0 <= index < len(self.classes) else f"class {index}"


def _download_hint(preset: str) -> str:
    names = OFFICIAL_NAMES.get(preset)
    if not names:
        return (
            f"preset {preset!r} has no official file; pass --weights FILE, --checkpoint FILE "
            f"(our checkpoints), or a preset with official weights: {', '.join(OFFICIAL_NAMES)}"
        )
    return (
        f"download them with `python -m slowfast_lab weights download {names[0]} --to "
        f"{DEFAULT_WEIGHTS_DIR}` (or pass --weights FILE)"
    )


def load_predictor(
    checkpoint: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    preset: str = "slowfast_8x8_r50",
    random_weights: bool = False,
) -> Predictor:
    """Our checkpoint (`checkpoint`), or `preset` with an official file (`weights`, else the one
    `recognize.find_weights` finds). Missing weights raise `WeightsMissing` saying how to get
    them, unless `random_weights` (an untrained network, labelled RANDOM everywhere)."""
    if checkpoint is not None and weights is not None:
        raise ValueError(
            "give --checkpoint (our checkpoints) or --weights (official files), not both"
        )
    if checkpoint is not None:
        if not Path(checkpoint).is_file():
            raise WeightsMissing(
                f"checkpoint {checkpoint} does not exist; shipped ones are in "
                "data_samples/checkpoints/ (e.g. motionshapes_slowfast_tiny.pt)"
            )
        model = load_model(checkpoint)
        _refuse_detector(model, str(checkpoint))
        return _checkpoint_predictor(model, Path(checkpoint))
    if weights is not None and not Path(weights).is_file():
        raise WeightsMissing(f"weights file {weights} does not exist: {_download_hint(preset)}")
    found = Path(weights) if weights is not None else find_weights(preset)
    model = build_model(preset)
    _refuse_detector(model, preset)
    if found is None and not random_weights:
        raise WeightsMissing(
            f"no official weights for {preset} found (looked in ${WEIGHTS_ENV} = "
            f"{os.environ.get(WEIGHTS_ENV) or 'not set'} and {DEFAULT_WEIGHTS_DIR}): "
            f"{_download_hint(preset)}; or --random-weights to try the pipeline untrained"
        )
    if found is not None:
        load_weights(model, found)
    n = model.config.num_classes
    classes = kinetics400_classes() if n == 400 else ()
    source = f"official weights {found}" if found else "RANDOM weights"
    return Predictor(model.eval(), preset, classes, 256, found is None, "rgb", source)


def _refuse_detector(model: VideoNet, name: str) -> None:
    """Before any video is decoded: a detector needs person boxes, which predict has no source of."""
    if model.config.head == "detect":
        raise ValueError(
            f"{name} is an action detector (head='detect'): it scores person boxes, which predict "
            "does not find; predict takes classification and multi-label models"
        )


def _checkpoint_predictor(model: VideoNet, path: Path) -> Predictor:
    from .train import task_of  # the MotionShapes settings it was trained on

    meta = getattr(model, "checkpoint_meta", None) or {}
    task = task_of(model)
    classes = tuple(meta.get("classes") or task.class_names)
    if len(classes) != model.config.num_classes:
        classes = ()
    size = int(meta.get("input_size") or task.size)
    # A fine-tuned checkpoint records the Fast input it was trained with; ours follow their task.
    run = meta.get("config") if meta.get("kind") == "finetune" else None
    fast_input = run.get("fast_input", "rgb") if isinstance(run, dict) else task.fast_view
    return Predictor(model.eval(), path.stem, classes, size, False, fast_input, str(path))


# ------------------------------------------------------------------------------------------------
# Windows over time
# ------------------------------------------------------------------------------------------------


def window_starts(num_frames: int, span: int, stride: int | None = None) -> list[int]:
    """First raw frame of each sliding window of `span` frames, `stride` apart (default: `span`,
    back to back); the last window ends at the last frame so the end is covered. A video shorter
    than one window gets one window at 0 (padded by repeating its last frame).

    >>> window_starts(100, 32)
    [0, 32, 64, 68]
    """
    if span < 1 or num_frames < 1:
        raise ValueError(f"need span >= 1 and num_frames >= 1, got {span}, {num_frames}")
    stride = stride or span
    if stride < 1:
        raise ValueError(f"stride={stride} must be >= 1 raw frame")
    if num_frames <= span:
        return [0]
    starts = list(range(0, num_frames - span + 1, stride))
    if starts[-1] != num_frames - span:
        starts.append(num_frames - span)
    return starts


def choose_mode(mode: str, info: VideoInfo) -> str:
    """ "test" or "sliding"; "auto" is the test for videos up to 10 s, sliding beyond."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: use one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    return "test" if info.duration <= TEST_MAX_SECONDS else "sliding"


def frame_windows(num_frames: int, windows: list[dict]) -> list[int]:
    """For every raw frame, the window whose labels it shows: among the windows that contain it,
    the one whose centre is nearest; a frame outside every window takes the nearest centre."""
    centres = np.array([(w["start_frame"] + w["end_frame"]) / 2 for w in windows])
    out = []
    for i in range(num_frames):
        inside = [k for k, w in enumerate(windows) if w["start_frame"] <= i <= w["end_frame"]]
        pool = inside or range(len(windows))
        out.append(min(pool, key=lambda k: abs(centres[k] - i)))
    return out


# ------------------------------------------------------------------------------------------------
# Prediction
# ------------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """Class probabilities of every view of every window, and what they were computed on."""

    video: str
    info: VideoInfo
    mode: str
    windows: list[dict]  # start_frame, end_frame, start_s, end_s, padded
    probs: torch.Tensor  # [windows, crops, classes]
    predictor: Predictor
    size: int
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def window_probs(self) -> torch.Tensor:
        """[windows, classes]: each window's scores averaged over its crops."""
        return self.probs.mean(dim=1)

    @property
    def video_probs(self) -> torch.Tensor:
        """[classes]: averaged over every view (the paper's video-level score)."""
        return self.probs.mean(dim=(0, 1))

    @property
    def clips_per_second(self) -> float:
        return len(self.windows) / self.seconds if self.seconds else float("nan")

    def top(self, k: int = 5) -> list[dict]:
        return topk_rows(self.video_probs, self.predictor.classes, k)

    def window_top(self, index: int, k: int = 5) -> list[dict]:
        return topk_rows(self.window_probs[index], self.predictor.classes, k)

    def record(self, k: int = 5) -> dict:
        """Everything as a JSON-ready dict: video, model, protocol, top-k overall and per window."""
        p = self.predictor
        return {
            "video": self.video,
            "frames": self.info.num_frames,
            "fps": self.info.fps,
            "duration_s": round(self.info.duration, 3),
            "model": p.name,
            "weights": p.source,
            "random_weights": p.random,
            "warning": RANDOM_WARNING if p.random else None,
            "mode": self.mode,
            "clips": len(self.windows),
            "crops": int(self.probs.shape[1]),
            "size": self.size,
            "seconds": round(self.seconds, 3),
            "clips_per_s": round(self.clips_per_second, 3),
            "top": self.top(k),
            "windows": [{**w, "top": self.window_top(i, k)} for i, w in enumerate(self.windows)],
            **self.extra,
        }

    def __str__(self) -> str:
        head = [RANDOM_WARNING] if self.predictor.random else []
        head.append(
            f"{Path(self.video).name}: {self.predictor.name}, {self.mode} windows, "
            f"{len(self.windows)} clips x {self.probs.shape[1]} crops of {self.size}^2, "
            f"{self.clips_per_second:.2f} clips/s"
        )
        lines = [*head, "video:"]
        lines += [f"  {r['rank']}. {r['class']:<28s} {r['score']:.3f}" for r in self.top(5)]
        for i, w in enumerate(self.windows):
            best = ", ".join(f"{r['class']} {r['score']:.2f}" for r in self.window_top(i, 3))
            lines.append(f"  {w['start_s']:7.2f}-{w['end_s']:6.2f} s: {best}")
        return "\n".join(lines)


def predict_video(
    predictor: Predictor,
    path: str | os.PathLike,
    mode: str = "auto",
    num_clips: int = 10,
    stride: int | None = None,
    crops: int | None = None,
    size: int | None = None,
    batch: int = 6,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> Prediction:
    """Scores of `path` by window. mode "test": `num_clips` clips uniformly over the video (the
    paper's protocol; 3 crops by default); "sliding": windows of one clip span every `stride` raw
    frames (default: back to back; 1 centre crop by default); "auto": test up to 10 s, else
    sliding. Decodes `batch` views' worth of windows at a time, each window's Fast frames only.
    The record's `decode_s` (decoding, scaling, cropping, normalising) and `model_s` (the
    forward passes) split its `seconds`.
    A video shorter than one window is padded with its last frame (the record says how many)."""
    info = probe(path)
    mode = choose_mode(mode, info)
    model, cfg = predictor.model, predictor.model.config
    size = size or predictor.size
    crops = crops or (3 if mode == "test" and predictor.size >= 224 else 1)
    span = clip_span(cfg.T, cfg.tau, cfg.alpha)
    if mode == "test":
        starts = uniform_clip_starts(info.num_frames, cfg.T, cfg.tau, cfg.alpha, num_clips)
    else:
        starts = window_starts(info.num_frames, span, stride)
    device = torch.device(device or default_device())
    model = model.to(device).eval()
    per_step = max(1, batch // crops)  # windows per batch of views
    probs, windows = [], []
    decode_s = model_s = 0.0
    t0 = time.perf_counter()
    bar = tqdm(
        total=len(starts), desc=f"predict {Path(path).name}", unit="clip", disable=not progress
    )
    with inference_mode(device):
        for i in range(0, len(starts), per_step):
            chunk = starts[i : i + per_step]
            tc = time.perf_counter()
            with warnings.catch_warnings():  # padding is reported in the record instead
                warnings.simplefilter("ignore")
                clips = load_clips(
                    path, chunk, cfg.T, cfg.tau, cfg.alpha, pad=True, short_side=size
                )
            slow, fast = eval_views(
                clips, size=size, num_crops=crops, fast_input=predictor.fast_input
            )
            views = [x.to(device) for x in model_inputs(model, slow, fast)]
            tm = time.perf_counter()
            probs.append(model.predict(*views).float().cpu().view(len(chunk), crops, -1))
            model_s += time.perf_counter() - tm
            decode_s += tm - tc
            for c in clips:
                first = c.fast_indices[0]
                windows.append({
                    "start_frame": int(first), "end_frame": int(min(first + span - 1, info.num_frames - 1)),
                    "start_s": round(first / info.fps, 3),
                    "end_s": round(min(first + span, info.num_frames) / info.fps, 3),
                    "padded": int(c.padded),
                })  # fmt: skip
            bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - t0
    return Prediction(
        str(path), info, mode, windows, torch.cat(probs), predictor, size, seconds,
        extra={"device": str(device), "batch": batch, "decode_s": round(decode_s, 3),
               "model_s": round(model_s, 3)},
    )  # fmt: skip


def write_json(record: dict, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a prediction record; refuses an existing file unless `overwrite`."""
    from .train import write_json as write_record  # the one JSON writer of the library

    if Path(path).exists() and not overwrite:
        raise FileExistsError(f"{path} exists: choose another --json path, or pass --overwrite")
    return write_record(record, path)


# ------------------------------------------------------------------------------------------------
# Attribution per window (what each pathway looked at)
# ------------------------------------------------------------------------------------------------


def window_attributions(
    predictor: Predictor, prediction: Prediction, method: str = "gradcam", progress: bool = True
) -> list[dict[str, np.ndarray]]:
    """Per window, each pathway's attribution of the window's top class on its centre view:
    [{"slow": [T, S, S], "fast": [alpha T, S, S], "slow_indices", "fast_indices"}], maps as |a| /
    max per pathway and window in [0, 1]. Per-frame Grad-CAM by default (one backward a window)."""
    from .attribution import attribute

    model, cfg = predictor.model.cpu().eval(), predictor.model.config
    out = []
    for k, w in enumerate(tqdm(prediction.windows, desc="attribution", disable=not progress)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (clip,) = load_clips(
                prediction.video, [w["start_frame"]], cfg.T, cfg.tau, cfg.alpha, pad=True,
                short_side=prediction.size,
            )  # fmt: skip
        slow, fast = eval_views(
            [clip], size=prediction.size, num_crops=1, fast_input=predictor.fast_input
        )
        target = int(prediction.window_probs[k].argmax())
        a = attribute(model, model_inputs(model, slow, fast), target, method=method, progress=False)
        maps = {}
        for p, m in a.maps.items():
            m = m.abs().float()
            maps[p] = (m / m.max().clamp_min(1e-12)).numpy()
        maps["slow_indices"] = np.asarray(clip.slow_indices)
        maps["fast_indices"] = np.asarray(clip.fast_indices)
        out.append(maps)
    return out


# ------------------------------------------------------------------------------------------------
# Drawing
# ------------------------------------------------------------------------------------------------


def text_image(lines: list[str], width: int, line_height: int = 16) -> np.ndarray:
    """uint8 RGBA [len(lines) * line_height + 4, width, 4]: white text on a translucent black band,
    rendered with matplotlib's Agg canvas (no window, no font files of our own)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height = len(lines) * line_height + 4
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    fig.patch.set_facecolor((0, 0, 0, 0.6))
    for n, line in enumerate(lines):
        fig.text(
            3 / width, 1 - (n * line_height + 2) / height, line, color="white",
            fontsize=line_height * 0.62 * 72 / dpi * 1.0, va="top", ha="left", family="monospace",
        )  # fmt: skip
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def paste(frame: np.ndarray, rgba: np.ndarray, top: int = 0, left: int = 0) -> np.ndarray:
    """Alpha-blend an RGBA image onto a copy of an RGB frame at (top, left), clipped to it."""
    out = frame.copy()
    h = min(rgba.shape[0], out.shape[0] - top)
    w = min(rgba.shape[1], out.shape[1] - left)
    if h <= 0 or w <= 0:
        return out
    a = rgba[:h, :w, 3:4].astype(np.float32) / 255
    region = out[top : top + h, left : left + w].astype(np.float32)
    out[top : top + h, left : left + w] = np.round(region * (1 - a) + rgba[:h, :w, :3] * a)
    return out


def label_lines(prediction: Prediction, window: int, k: int = 3) -> list[str]:
    """The text drawn on a window's frames: its time span, then its top-k with scores."""
    w = prediction.windows[window]
    head = f"{w['start_s']:.1f}-{w['end_s']:.1f} s"
    if prediction.predictor.random:
        head += "  RANDOM WEIGHTS"
    return [head] + [f"{r['score']:.2f} {r['class']}" for r in prediction.window_top(window, k)]


def heat_overlay(frame: np.ndarray, heat: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """An RGB frame [H, W, 3] with a [h, w] map in [0, 1] (resized to H x W) blended on it in the
    'inferno' colour map, more opaque where the map is high."""
    from matplotlib import colormaps

    H, W = frame.shape[:2]
    m = torch.as_tensor(heat, dtype=torch.float32)[None, None]
    m = (
        F.interpolate(m, size=(H, W), mode="bilinear", align_corners=False)[0, 0]
        .clamp(0, 1)
        .numpy()
    )
    colour = colormaps["inferno"](m)[..., :3] * 255
    a = (strength * m)[..., None]
    return np.round(frame * (1 - a) + colour * a).astype(np.uint8)


def resize(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an RGB uint8 frame."""
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    y = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return y[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def _nearest_at_or_before(indices: np.ndarray, i: int) -> int:
    j = int(np.searchsorted(indices, i, side="right")) - 1
    return min(max(j, 0), len(indices) - 1)


def attribution_panels(
    frame: np.ndarray, box: tuple[int, int, int], maps: dict[str, np.ndarray], raw: int
) -> list[np.ndarray]:
    """The model's view (crop `box` = top, left, size of `frame`) with the Slow and the Fast map
    of raw frame `raw` over it: the Slow map of the latest Slow frame at or before it, the Fast
    map likewise. One panel per pathway the model has, titled by colour (Slow, Fast)."""
    top, left, s = box
    view = frame[top : top + s, left : left + s]
    panels = []
    for p in ("slow", "fast"):
        if p in maps:
            j = _nearest_at_or_before(maps[f"{p}_indices"], raw)
            panels.append(heat_overlay(view, maps[p][j]))
    return panels


def compose(
    frame: np.ndarray, panels: list[np.ndarray], titles: list[np.ndarray] | None = None
) -> np.ndarray:
    """Frame and panels side by side at the frame's height; `titles` (RGBA, from `text_image`)
    are pasted at the top of their panels."""
    h = frame.shape[0]
    parts = [frame] + [resize(p, h, h) for p in panels]
    for n, title in enumerate(titles or []):
        if n + 1 < len(parts):
            parts[n + 1] = paste(parts[n + 1], title)
    return np.concatenate(parts, axis=1)


def _even(frame: np.ndarray) -> np.ndarray:
    """H.264 in yuv420p needs even sizes: pad the last row / column by repeating it."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else frame


def write_labelled_video(
    prediction: Prediction,
    out: str | os.PathLike,
    k: int = 3,
    attributions: list[dict] | None = None,
    min_height: int = 240,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """A copy of the video (H.264 mp4 via PyAV, the source's frame rate) with each frame's window
    top-k drawn on it; with `attributions` (from `window_attributions`), the Slow and Fast maps
    over the model's view to the right. Frames are decoded at the model's scale (short side =
    the prediction's size), upscaled to at least `min_height` rows. Refuses an existing `out`
    unless `overwrite`; written to a temporary name and renamed when complete."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists: choose another --out, or pass --overwrite")
    info, size = prediction.info, prediction.size
    which = frame_windows(info.num_frames, prediction.windows)
    h0, w0 = (size, max(1, int(info.width / info.height * size))) if info.height <= info.width else (
        max(1, int(info.height / info.width * size)), size)  # fmt: skip
    box = eval_view(info.height, info.width, size, 1)
    crop = (box.top, box.left, box.size)
    scale = max(1.0, min_height / h0)
    labels: dict[int, np.ndarray] = {}
    titles: list[np.ndarray] | None = None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix or '.mp4'}")
    rate = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(25)
    written = 0
    try:
        with av.open(str(tmp), mode="w") as container:
            stream = None
            frames = iter_frames(prediction.video, short_side=size)
            bar = tqdm(
                frames, total=info.num_frames, desc="write", unit="frame", disable=not progress
            )
            for i, frame in enumerate(bar):
                if i >= len(which):
                    break
                win = which[i]
                panels = (
                    attribution_panels(frame, crop, attributions[win], i) if attributions else []
                )
                big = frame if scale == 1 else resize(frame, round(h0 * scale), round(w0 * scale))
                if win not in labels:
                    lh = max(12, min(18, big.shape[0] // 12))
                    labels[win] = text_image(label_lines(prediction, win, k), big.shape[1], lh)
                if panels and titles is None:
                    names = [p.capitalize() for p in ("slow", "fast") if p in attributions[win]]
                    side = big.shape[0]
                    titles = [text_image([f"{n} pathway (Grad-CAM)"], side, 14) for n in names]
                image = _even(compose(paste(big, labels[win]), panels, titles))
                if stream is None:
                    stream = container.add_stream("libx264", rate=rate, options={"crf": "20"})
                    stream.width, stream.height = image.shape[1], image.shape[0]
                    stream.pix_fmt = "yuv420p"
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                container.mux(stream.encode(vf))
                written += 1
            if stream is not None:
                container.mux(stream.encode())
        if not written:
            raise VideoError(f"{prediction.video}: no frame could be decoded to write {out}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
