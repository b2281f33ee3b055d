"""Recognising actions in a real video with the paper's test protocol, and Kinetics-400 names.

    video --10 clips uniformly in time--> x 3 crops of size^2 (short side scaled to size)
          --> 30 views --model.predict--> softmax per view [clips, crops, 400]
          --> averaged over the views --> the video's class scores -> top-5 with names

Official weights are found through $SLOWFAST_LAB_WEIGHTS (a file, or a folder holding the
official file names such as SLOWFAST_8x8_R50.pkl) or in ~/.cache/slowfast_lab/weights. Without
them a model keeps its random initial weights and every result says so first: RANDOM WEIGHTS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from .inference import inference_mode
from .model import VideoNet, build_model, model_inputs
from .sampling import eval_views, load_uniform_clips
from .timing import default_device
from .weights import download, load_weights

WEIGHTS_ENV = "SLOWFAST_LAB_WEIGHTS"
DEFAULT_WEIGHTS_DIR = Path.home() / ".cache" / "slowfast_lab" / "weights"
RANDOM_WARNING = (
    "RANDOM WEIGHTS - NOT A PREDICTION: no official weights were found, so these scores come "
    "from an untrained network and mean nothing. Download them (see the lesson) to see real ones."
)
# Official files per preset, best first (PySlowFast model zoo, then PyTorchVideo's).
OFFICIAL_NAMES = {
    "slowfast_8x8_r50": ("SLOWFAST_8x8_R50.pkl", "SLOWFAST_8x8_R50.pyth"),
    "slowfast_4x16_r50": ("SLOWFAST_4x16_R50.pkl",),
    "slow_8x8_r50": ("SLOWONLY_8x8_R50.pkl", "SLOW_8x8_R50.pyth"),
    "slow_4x16_r50": ("SLOWONLY_4x16_R50.pkl",),
    "slowfast_8x8_r101": ("SLOWFAST_8x8_R101.pyth",),
}


@lru_cache(maxsize=1)
def kinetics400_classes() -> tuple[str, ...]:
    """The 400 Kinetics class names in the checkpoints' output order (index = line - 1)."""
    text = resources.files("slowfast_lab").joinpath("data/kinetics400_classes.txt").read_text()
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != 400:
        raise ValueError(f"kinetics400_classes.txt has {len(names)} names, expected 400")
    return names


def weights_dir() -> Path:
    """The folder official weights are looked for in (and downloaded to)."""
    env = os.environ.get(WEIGHTS_ENV, "").strip()
    if env and Path(env).expanduser().is_dir():
        return Path(env).expanduser()
    return DEFAULT_WEIGHTS_DIR


def find_weights(preset: str, search: list[Path] | None = None) -> Path | None:
    """The official weights file for `preset`, or None.

    $SLOWFAST_LAB_WEIGHTS may name a file (used for the preset whose official names include its
    file name, or for any preset when its name is not an official one) or a folder.
    """
    names = OFFICIAL_NAMES.get(preset, ())
    env = os.environ.get(WEIGHTS_ENV, "").strip()
    if env:
        p = Path(env).expanduser()
        if p.is_file():
            known = {n for ns in OFFICIAL_NAMES.values() for n in ns}
            if p.name in names or p.name not in known:
                return p
    folders = search if search is not None else [weights_dir(), DEFAULT_WEIGHTS_DIR]
    for folder in folders:
        for name in names:
            if (Path(folder) / name).is_file():
                return Path(folder) / name
    return None


@dataclass
class LoadedModel:
    """A model and where its weights came from ("random" when none were found)."""

    model: VideoNet
    preset: str
    weights: Path | None

    @property
    def random(self) -> bool:
        return self.weights is None

    @property
    def source(self) -> str:
        return f"official weights {self.weights.name}" if self.weights else "RANDOM weights"


def load_model_for(preset: str, path: str | os.PathLike | None = None) -> LoadedModel:
    """Build `preset` and load its official weights from `path`, or from `find_weights(preset)`;
    with none found the model keeps its random initialisation (and says so)."""
    model = build_model(preset)
    found = Path(path) if path else find_weights(preset)
    if found is not None:
        load_weights(model, found)
    return LoadedModel(model.eval(), preset, found)


@dataclass
class VideoScores:
    """Class probabilities of every view of a video, and their average (the video's scores)."""

    probs: torch.Tensor  # [clips, crops, classes]
    starts: list[int]  # first raw frame of each clip
    clip_times: list[float]  # centre of each clip, seconds
    preset: str
    random: bool
    classes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def video_probs(self) -> torch.Tensor:
        """[classes]: softmax scores averaged over all clips x crops."""
        return self.probs.mean(dim=(0, 1))

    @property
    def clip_probs(self) -> torch.Tensor:
        """[clips, classes]: each clip's scores averaged over its crops."""
        return self.probs.mean(dim=1)

    @property
    def header(self) -> str:
        views = f"{self.probs.shape[0]} clips x {self.probs.shape[1]} crops"
        head = f"{self.preset}, {views}"
        return f"{RANDOM_WARNING}\n{head}" if self.random else f"{head}, official weights"

    def top(self, k: int = 5) -> list[dict]:
        return topk_rows(self.video_probs, self.classes, k)

    def __str__(self) -> str:
        lines = [self.header]
        lines += [f"  {r['rank']}. {r['class']:<32s} {r['score']:.3f}" for r in self.top()]
        return "\n".join(lines)


def class_name(index: int, classes: tuple[str, ...] | list[str]) -> str:
    return classes[index] if 0 <= index < len(classes) else f"class {index}"


def topk_rows(probs: torch.Tensor, classes=(), k: int = 5) -> list[dict]:
    """[{"rank", "index", "class", "score"}] of the k highest scores of a [classes] vector."""
    k = min(k, probs.numel())
    values, indices = probs.float().topk(k)
    return [
        {"rank": r + 1, "index": int(i), "class": class_name(int(i), classes), "score": float(v)}
        for r, (v, i) in enumerate(zip(values, indices, strict=True))
    ]


def side_by_side(results: dict[str, VideoScores], k: int = 5) -> list[dict]:
    """Rows rank 1..k with each model's class and score in its own columns (for a table)."""
    rows = [{"rank": r + 1} for r in range(k)]
    for name, result in results.items():
        for row, top in zip(rows, result.top(k), strict=False):
            row[name] = f"{top['class']} ({top['score']:.3f})"
    return rows


def clip_score_rows(result: VideoScores, classes_to_show: list[int] | None = None) -> dict:
    """Per-clip scores over time of a few classes (the video's top 5 by default):
    {"times": [s], "series": {class name: [score per clip]}}."""
    if classes_to_show is None:
        classes_to_show = [r["index"] for r in result.top(5)]
    probs = result.clip_probs
    return {
        "times": list(result.clip_times),
        "series": {
            class_name(i, result.classes): [float(p) for p in probs[:, i]] for i in classes_to_show
        },
        "random": result.random,
    }


def classify_video(
    loaded: LoadedModel | VideoNet,
    path: str | os.PathLike,
    num_clips: int = 10,
    num_crops: int = 3,
    size: int = 256,
    batch: int = 6,
    device: torch.device | str | None = None,
    bf16: bool = False,
    progress: bool = True,
) -> VideoScores:
    """The paper's test protocol on one video: `num_clips` clips uniformly in time x `num_crops`
    crops of size^2 (short side scaled to `size`), softmax per view (PySlowFast's eval head),
    computed `batch` views at a time."""
    if isinstance(loaded, VideoNet):
        loaded = LoadedModel(loaded, "model", None)
    model, cfg = loaded.model, loaded.model.config
    device = torch.device(device or default_device())
    model = model.to(device).eval()
    clips = load_uniform_clips(
        path, num_clips, cfg.T, cfg.tau, cfg.alpha, short_side=size, pad=True
    )
    slow, fast = eval_views(clips, size=size, num_crops=num_crops)
    inputs = model_inputs(model, slow, fast)
    probs = []
    with inference_mode(device, bf16=bf16):
        for i in tqdm(
            range(0, len(slow), batch), desc=f"{loaded.preset} views", disable=not progress
        ):
            views = [x[i : i + batch].to(device) for x in inputs]
            probs.append(model.predict(*views).float().cpu())
    probs_t = torch.cat(probs).view(len(clips), num_crops, -1)
    classes = kinetics400_classes() if probs_t.shape[-1] == 400 else ()
    return VideoScores(
        probs=probs_t,
        starts=[c.fast_indices[0] for c in clips],
        clip_times=[(c.fast_indices[0] + c.fast_indices[-1]) / 2 / c.fps for c in clips],
        preset=loaded.preset,
        random=loaded.random,
        classes=classes,
    )


def weights_status(models: list[LoadedModel]) -> str:
    """Plain words on where each model's weights came from; the RANDOM warning first if any is."""
    lines = [RANDOM_WARNING] if any(m.random for m in models) else []
    for m in models:
        lines.append(f"  {m.preset}: {m.source}" + (f" ({m.weights})" if m.weights else ""))
    if any(m.random for m in models):
        lines.append(
            f"  looked in: ${WEIGHTS_ENV} ({os.environ.get(WEIGHTS_ENV) or 'not set'}) and "
            f"{DEFAULT_WEIGHTS_DIR}"
        )
    return "\n".join(lines)


def download_official(preset: str, to: str | os.PathLike | None = None) -> Path:
    """Download the first official file of `preset` (PySlowFast model zoo) with the library's
    download helper (`slowfast_lab.weights.download`: resumable-safe, verified) into `to`
    (default: `weights_dir()`). Needs internet."""
    names = OFFICIAL_NAMES.get(preset)
    if not names:
        raise ValueError(
            f"no official weights for {preset!r}; presets with some: {', '.join(OFFICIAL_NAMES)}"
        )
    return download(names[0], to or weights_dir())


def comparison_frame(results: dict[str, VideoScores], k: int = 5):
    """The top-k of several models side by side as a table (pandas Styler); its caption starts
    with the RANDOM WEIGHTS warning when any model has random weights."""
    frame = pd.DataFrame(side_by_side(results, k)).set_index("rank")
    random = any(r.random for r in results.values())
    views = next(iter(results.values())).probs.shape[:2]
    caption = f"top-{k} over {views[0]} clips x {views[1]} crops"
    if random:
        caption = f"{RANDOM_WARNING}<br>{caption}"
    style = frame.style.set_caption(caption)
    if random:
        style = style.set_table_styles(
            [{"selector": "caption", "props": "color: red; font-weight: bold; caption-side: top"}]
        )
    return style
