"""Lesson 08, your own video: choose a clip (a path, an upload, or a shipped sample), predict with
the shipped tiny SlowFast (or the official 8x8 R50 where its weights are on disk), the top-k of
every window over time, each pathway's attribution over time, the labelled copy of the video;
then fine-tune the tiny model on a few folders of clips, see it learn, and export it.

Everything real lives in the library: `predict` (windows, views, top-k, attributions, the
labelled video), `finetune` (the loop), `synthetic.write_folder` (the class folders), `export`
(the file and its logit check). This module holds what the lesson shows: choosing the clip, the
figures and the questions.

    clip = choose_clip(upload.value, None, work)            # the upload, else a path, else SAMPLE
    predictor = tiny_predictor()
    pred = predict.predict_video(predictor, clip, "sliding", progress=False)
    window_topk_figure(pred); attribution_strip_figure(pred, predict.window_attributions(...))
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import export, predict, synthetic
from ..datasets import VIDEO_SUFFIXES
from ..finetune import FinetuneConfig, FinetuneResult, datasets_for, finetune, steps_for
from ..model import VideoNet
from ..paths import checkpoints, data_samples
from ..sampling import eval_view
from ..video import VideoError, probe, read_frames
from .common import FAST_COLOR, OVERLAY_CMAP, SLOW_COLOR, Question

SAMPLE = "motionshapes_pacman-stripes-cw.mp4"  # 96 px; the tiny model reads it at 48 px
TINY_CHECKPOINT = "motionshapes_slowfast_tiny.pt"
RANDOM_TITLE = "RANDOM WEIGHTS - NOT A PREDICTION"

# ------------------------------------------------------------------------------------------------
# Choosing the clip: a path, an upload (saved to a new file, never over an existing one), a sample
# ------------------------------------------------------------------------------------------------


def sample_video(name: str = SAMPLE) -> Path:
    """A shipped sample video (`data_samples/NAME`)."""
    path = data_samples() / name
    if not path.is_file():
        raise FileNotFoundError(f"no sample video {name} in {data_samples()}")
    return path


def new_folder(parent: str | os.PathLike | None = None, prefix: str = "lesson08_") -> Path:
    """A new, empty folder for this run's files (uploads, the labelled video, the fine-tuning
    folders, the checkpoint, the export): inside `parent` (default: the system's temporary
    folder), never one that exists already. Nothing deletes it: the notebook says where it is
    (`runs/`, a git-ignored name anywhere in the checkout, keeps the files beside the lesson)."""
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def unused_path(folder: str | os.PathLike, name: str) -> Path:
    """`folder/name`, or `folder/stem-1.ext`, `stem-2.ext` ... : the first that does not exist.
    Only the file name of `name` is used (an upload's name cannot point elsewhere)."""
    base = Path(Path(name).name)
    if base.name in ("", ".", ".."):
        raise ValueError(f"name={name!r} is not a file name")
    path, n = Path(folder) / base, 0
    while path.exists():
        n += 1
        path = Path(folder) / f"{base.stem}-{n}{base.suffix}"
    return path


def _upload_files(value: object) -> list[tuple[str, bytes]]:
    """[(name, bytes)] from an ipywidgets FileUpload's `value`: a tuple of dicts with "name" and
    "content" (ipywidgets 8), a dict of name -> {"content": ...} (ipywidgets 7) or one dict."""
    if not value:
        return []
    if isinstance(value, Mapping) and "content" in value:
        items = [value]
    elif isinstance(value, Mapping):
        items = [{"name": k, **v} for k, v in value.items()]
    else:
        items = list(value)
    out = []
    for item in items:
        if not isinstance(item, Mapping) or "content" not in item or "name" not in item:
            raise ValueError(
                "upload must be a FileUpload's value: dicts with 'name' and 'content' (bytes)"
            )
        out.append((str(item["name"]), bytes(item["content"])))
    return out


def save_upload(value: object, folder: str | os.PathLike) -> Path | None:
    """Save the file of a FileUpload's `value` (see `_upload_files`) into `folder` under its
    own name, or `name-1.mp4`... when that name is taken: an existing file is never replaced (the
    file is created exclusively). None when nothing was uploaded. The file must be a video
    (`datasets.VIDEO_SUFFIXES`) that PyAV can read; otherwise the saved copy is removed and the
    error (`ValueError`, `VideoError`) says why."""
    files = _upload_files(value)
    if not files:
        return None
    if len(files) > 1:
        raise ValueError(f"upload holds {len(files)} files: choose one video")
    name, content = files[0]
    if Path(name).suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(
            f"upload {name!r} is not a video file this lesson reads ({', '.join(VIDEO_SUFFIXES)}); "
            "convert it, e.g. `ffmpeg -i clip.3gp clip.mp4`"
        )
    Path(folder).mkdir(parents=True, exist_ok=True)
    while True:
        path = unused_path(folder, name)
        try:
            with open(path, "xb") as f:  # "x": fails instead of replacing a file made meanwhile
                f.write(content)
            break
        except FileExistsError:
            continue
    try:
        probe(path)
    except VideoError:
        path.unlink(missing_ok=True)
        raise
    return path


def choose_clip(
    upload: object = None,
    path: str | os.PathLike | None = None,
    folder: str | os.PathLike | None = None,
    sample: str = SAMPLE,
) -> Path:
    """The clip the lesson works on: the uploaded file (saved into `folder` by `save_upload`),
    else `path`, else the shipped `sample`, so the lesson runs unattended."""
    if upload:
        if folder is None:
            raise ValueError("folder= is needed to save an upload (e.g. new_folder())")
        saved = save_upload(upload, folder)
        if saved is not None:
            return saved
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"video {path} does not exist: give the path of a video file")
        probe(path)  # VideoError naming the file when it is not a usable video
        return path
    return sample_video(sample)


def upload_widget():
    """A FileUpload for one video file."""
    import ipywidgets as w

    return w.FileUpload(accept=",".join(VIDEO_SUFFIXES), multiple=False,
                        description="video")  # fmt: skip


def clip_summary(path: str | os.PathLike) -> str:
    """One line about a video: frames, size, frame rate, duration."""
    info = probe(path)
    return (
        f"{Path(path).name}: {info.num_frames} frames of {info.width}x{info.height} at "
        f"{info.fps:.3g} fps ({info.duration:.2f} s)"
    )


# ------------------------------------------------------------------------------------------------
# The models
# ------------------------------------------------------------------------------------------------


def tiny_predictor(name: str = TINY_CHECKPOINT) -> predict.Predictor:
    """The shipped tiny SlowFast (MotionShapes, 10 classes, 48 px) as a `predict.Predictor`."""
    return predict.load_predictor(checkpoint=checkpoints() / name)


def official_predictor(preset: str = "slowfast_8x8_r50") -> tuple[predict.Predictor | None, str]:
    """(the official Kinetics-400 model, a line saying so) where its weights are on disk
    ($SLOWFAST_LAB_WEIGHTS or ~/.cache/slowfast_lab/weights), else (None, how to get them).
    Never downloads."""
    try:
        p = predict.load_predictor(preset=preset)
    except predict.WeightsMissing as err:
        return None, f"{preset}: no official weights here, so it is skipped. {err}"
    return p, f"{preset}: {p.source}"


# ------------------------------------------------------------------------------------------------
# What the model sees
# ------------------------------------------------------------------------------------------------


def model_view(path: str | os.PathLike, size: int, frame: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(raw frame `frame` as decoded [H, W, 3], the model's centre view of it [size, size, 3]:
    short side scaled to `size` while decoding, then the centre crop), both uint8 RGB."""
    info = probe(path)
    if not 0 <= frame < info.num_frames:
        raise ValueError(f"frame={frame} is outside {path} (0..{info.num_frames - 1})")
    (raw,) = read_frames(path, [frame])
    (small,) = read_frames(path, [frame], short_side=size)
    box = eval_view(info.height, info.width, size, 1)
    return raw, small[box.top : box.top + size, box.left : box.left + size]


def model_view_figure(path: str | os.PathLike, size: int, frame: int = 0) -> Figure:
    """The frame as the file has it beside the same frame as the model gets it (`model_view`),
    both drawn at the same width, pixels as blocks: what detail survives the scaling."""
    raw, small = model_view(path, size, frame)
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(raw, interpolation="nearest")
    left.set_title(f"frame {frame} as decoded: {raw.shape[1]}x{raw.shape[0]} px", fontsize=10)
    right.imshow(small, interpolation="nearest")
    right.set_title(f"what the model gets: {size}x{size} px", fontsize=10)
    for ax in (left, right):
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(Path(path).name, fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# Predictions over time
# ------------------------------------------------------------------------------------------------


def window_topk_rows(prediction: predict.Prediction, k: int = 3) -> list[dict]:
    """One row per window: its time span and its top-k classes with scores, for a table."""
    rows = []
    for i, w in enumerate(prediction.windows):
        row = {"window": i, "from s": w["start_s"], "to s": w["end_s"]}
        for r in prediction.window_top(i, k):
            row[f"top {r['rank']}"] = f"{r['class']} {r['score']:.2f}"
        rows.append(row)
    return rows


def window_topk_figure(
    prediction: predict.Prediction, k: int = 3, log: bool = False, title: str = ""
) -> Figure:
    """Scores over time. Top: one line per class that is in any window's top-`k` (that class's
    score in every window, at the window's centre; `log`: a log scale, so that a distant second
    shows). Bottom: each window's span of raw frames. The whole video's top-1 is in the title;
    with random weights the title says so first."""
    pred = prediction
    classes: list[int] = []
    for i in range(len(pred.windows)):
        for r in pred.window_top(i, k):
            if r["index"] not in classes:
                classes.append(r["index"])
    centres = [(w["start_s"] + w["end_s"]) / 2 for w in pred.windows]
    probs = pred.window_probs
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax, spans = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    for c in classes:
        ys = probs[:, c].clamp_min(1e-6).tolist() if log else probs[:, c].tolist()
        ax.plot(centres, ys, marker="o", label=pred.predictor.class_name(c))
    if log:
        ax.set_yscale("log")
        ax.set_ylim(top=1.5)
    else:
        ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("score (softmax,\ncrops averaged)" + (", log" if log else ""))
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    for i, w in enumerate(pred.windows):
        spans.plot([w["start_s"], w["end_s"]], [i, i], color="0.5", lw=4, solid_capstyle="butt")
        spans.plot([centres[i]], [i], "o", color="k", ms=3)
    spans.set_yticks(range(len(pred.windows)), [str(i) for i in range(len(pred.windows))])
    spans.set_ylim(len(pred.windows) - 0.5, -0.5)
    spans.tick_params(axis="y", labelsize=7)
    spans.set_ylabel("window", fontsize=8)
    spans.set_xlabel("time (s); gray: the frames each window sees, dots: its centre")
    best = pred.top(1)[0]
    head = f"{RANDOM_TITLE}\n" if pred.predictor.random else ""
    ax.set_title(
        head
        + (title or f"{pred.predictor.name} on {Path(pred.video).name}: top-{k} per window")
        + f"\nwhole video: {best['class']} ({best['score']:.2f})",
        fontsize=10,
        color="red" if pred.predictor.random else "black",
    )
    return fig


def strip_frames(attribution: dict, per_window: int) -> list[dict[str, int]]:
    """`per_window` moments spread evenly over a window's Fast frames; at each, the raw frame of
    every pathway the attribution has: {"fast": that Fast frame, "slow": the Slow frame at or
    before it (the pose the Slow pathway saw)}. Raw frame indices of the video."""
    if per_window < 1:
        raise ValueError(f"per_window={per_window} must be >= 1")
    slow = np.asarray(attribution.get("slow_indices", []))
    fast = np.asarray(attribution.get("fast_indices", []))
    steps = fast if "fast" in attribution else slow
    picks = np.linspace(0, len(steps) - 1, min(per_window, len(steps))).round().astype(int)
    moments = []
    for raw in steps[picks]:
        m = {}
        if "slow" in attribution:
            j = max(int(np.searchsorted(slow, raw, side="right")) - 1, 0)
            m["slow"] = int(slow[j])
        if "fast" in attribution:
            m["fast"] = int(raw)
        moments.append(m)
    return moments


def attribution_strip_figure(
    prediction: predict.Prediction,
    attributions: list[dict],
    per_window: int = 4,
    title: str = "",
) -> Figure:
    """Each pathway's attribution over time: one row per window, `per_window` moments of it
    (`strip_frames`); at each, the Slow map over the Slow frame it belongs to (blue title) and
    the Fast map over the Fast frame (orange title), in the model's view (short side scaled to
    the prediction's size, centre crop). Maps from `predict.window_attributions` (Grad-CAM of the
    window's top class, |a| / max per pathway and window: the colour bar)."""
    pred = prediction
    if len(attributions) != len(pred.windows):
        raise ValueError(
            f"{len(attributions)} attributions for {len(pred.windows)} windows: pass "
            "predict.window_attributions(predictor, prediction)"
        )
    info, size = pred.info, pred.size
    box = eval_view(info.height, info.width, size, 1)
    pathways = [p for p in ("slow", "fast") if p in attributions[0]]
    moments = [strip_frames(a, per_window) for a in attributions]
    cols = max(len(m) for m in moments) * len(pathways)
    fig = Figure(figsize=(1.15 * cols + 1.4, 1.45 * len(moments) + 0.8), layout="constrained")
    grid = fig.subplots(len(moments), cols, squeeze=False)
    colors = {"slow": SLOW_COLOR, "fast": FAST_COLOR}
    heat = None
    for row, (w, maps, ms) in enumerate(zip(pred.windows, attributions, moments, strict=True)):
        raws = sorted({m[p] for m in ms for p in pathways})
        decoded = read_frames(pred.video, raws, short_side=size)
        view = {r: f[box.top : box.top + size, box.left : box.left + size]
                for r, f in zip(raws, decoded, strict=True)}  # fmt: skip
        for j, m in enumerate(ms):
            for n, p in enumerate(pathways):
                ax = grid[row][j * len(pathways) + n]
                k = int(np.flatnonzero(maps[f"{p}_indices"] == m[p])[0])
                ax.imshow(view[m[p]])
                heat = ax.imshow(maps[p][k], cmap=OVERLAY_CMAP, alpha=0.6, vmin=0, vmax=1)
                ax.set_title(f"{p.capitalize()} {m[p] / info.fps:.2f} s", fontsize=7,
                             color=colors[p])  # fmt: skip
        top = pred.window_top(row, 1)[0]["class"]
        grid[row][0].set_ylabel(f"{w['start_s']:.2f}-{w['end_s']:.2f} s\n{top}", fontsize=8)
        for ax in grid[row]:
            ax.set_xticks([]), ax.set_yticks([])
            if not ax.images:
                ax.set_axis_off()
    if heat is not None:
        bar = fig.colorbar(heat, ax=grid.ravel().tolist(), shrink=0.8, aspect=30)
        bar.set_label("|Grad-CAM| / its max in the\nwindow, per pathway", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    head = f"{RANDOM_TITLE}\n" if pred.predictor.random else ""
    fig.suptitle(
        head + (title or "Slow (blue) and Fast (orange) attribution per window, over time"),
        fontsize=10,
        color="red" if pred.predictor.random else "black",
    )
    return fig


def video_player(path: str | os.PathLike, width: int = 640):
    """The labelled video embedded in the notebook (plays offline, in the exported book too)."""
    from IPython.display import Video

    return Video(str(path), embed=True, mimetype="video/mp4", width=width,
                 html_attributes="controls loop muted")  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Fine-tuning on a few folders
# ------------------------------------------------------------------------------------------------

# Direction only: the Slow pathway alone cannot tell these apart (aliasing, lesson 01).
FINETUNE_CLASSES = ("L-cw", "L-ccw")


def write_class_folders(
    root: str | os.PathLike,
    classes: Sequence[str] = FINETUNE_CLASSES,
    clips_per_class: int = 10,
    seed: int = 5,
) -> Path:
    """MotionShapes clips as `root/CLASS/*.mp4` (`synthetic.write_folder`), the layout
    `finetune` reads; `root` must not exist yet or be empty, so nothing is ever overwritten.
    Seed 5: a split the shipped model was not trained on (it used 0)."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty: choose a new folder (new_folder())")
    synthetic.write_folder(root, tuple(classes), clips_per_class, seed=seed)
    return root


def finetune_config(
    data: str | os.PathLike,
    out: str | os.PathLike | None = None,
    pretrained: bool = True,
    epochs: int = 3,
    batch_size: int = 4,
    lr: float = 3e-3,
    freeze: str | None = None,
    threads: int | None = None,
) -> FinetuneConfig:
    """The lesson's fine-tuning run: `slowfast_tiny` at 48 px from the shipped checkpoint (its
    head replaced; everything up to res4 frozen, so only res5 and the new head learn) or from
    scratch (`pretrained=False`: nothing frozen), 40% of every class held out for validation,
    no horizontal flips (a mirror swaps clockwise and counter-clockwise)."""
    return FinetuneConfig(
        str(data),
        preset="slowfast_tiny",
        weights=str(checkpoints() / TINY_CHECKPOINT) if pretrained else None,
        freeze=freeze or ("res4" if pretrained else "none"),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        val_fraction=0.4,
        size=48,
        hflip=False,
        threads=threads or max(1, min(2, torch.get_num_threads())),
        out=str(out) if out is not None else None,
        progress=True,
    )


def training_figure(records: Mapping[str, dict], title: str = "") -> Figure:
    """Fine-tuning runs side by side ({name: `finetune` record}): the training loss per step
    (left) and the val accuracy after every epoch (right) with chance (1 / classes, dotted)."""
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    chance = None
    for (name, rec), color in zip(records.items(), (SLOW_COLOR, FAST_COLOR, "0.4", "green"),
                                  strict=False):  # fmt: skip
        steps = [s for s, _ in rec["loss_curve"]]
        loss_ax.plot(steps, [v for _, v in rec["loss_curve"]], color=color, label=name)
        epochs = [r["epoch"] + 1 for r in rec["epochs"]]
        acc = [100 * a for a in rec["val_accuracy"]]
        acc_ax.plot(epochs, acc, "o-", color=color, label=name)
        chance = 100 / len(rec["classes"])
    if chance is not None:
        acc_ax.axhline(chance, ls=":", color="0.3", label=f"chance ({chance:.0f}%)")
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("training loss (cross-entropy)")
    loss_ax.set_ylim(bottom=0)
    loss_ax.legend(fontsize=8)
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("val accuracy (%)")
    acc_ax.set_ylim(-5, 105)
    acc_ax.legend(fontsize=8)
    fig.suptitle(title or "fine-tuning: loss and held-out accuracy", fontsize=10)
    return fig


def finetune_rows(records: Mapping[str, dict]) -> list[dict]:
    """One row per run: what learned, the steps, the final val accuracy and the time."""
    rows = []
    for name, rec in records.items():
        val = rec.get("val") or {}
        rows.append({
            "run": name,
            "frozen": rec["config"]["freeze"],
            "trainable params": rec["trainable_parameters"],
            "train clips": sum(rec["data"]["train"].values()),
            "val clips": val.get("clips", 0),
            "steps": rec["steps"],
            "val accuracy %": round(100 * val["accuracy"], 1) if val else None,
            "seconds": rec["train_time_s"],
        })  # fmt: skip
    return rows


def run_finetune(cfg: FinetuneConfig) -> FinetuneResult:
    """`finetune.finetune(cfg)` (a thin call, so the notebook cell stays one line)."""
    return finetune(cfg, command="lesson 08")


# ------------------------------------------------------------------------------------------------
# Export and its check
# ------------------------------------------------------------------------------------------------


def val_inputs(cfg: FinetuneConfig, limit: int = 8) -> tuple[torch.Tensor, ...]:
    """Up to `limit` held-out clips of a fine-tuning run as model inputs (slow [N, 3, T, S, S],
    fast [N, 3, alpha T, S, S]): the check runs the export on real clips, not only noise."""
    _, val = datasets_for(cfg)
    if val is None or not len(val):
        raise ValueError("the run held out no clips (val_fraction=0): nothing to check on")
    items = [val[i] for i in range(min(limit, len(val)))]
    return torch.stack([s for s, _, _ in items]), torch.stack([f for _, f, _ in items])


def export_check(
    model: VideoNet, result: export.ExportResult, inputs: tuple[torch.Tensor, ...]
) -> dict:
    """The exported file (loaded back with `export.load_exported`) and the eager model on the
    same `inputs`: {"eager": [N, classes], "exported": [N, classes], "max_rel_error": float,
    "same_top1": share of clips whose top class agrees, "format", "path"}."""
    model = model.eval().cpu()
    run = export.load_exported(result.path, result.format)
    with torch.no_grad():
        want = model(*inputs).float()
        got = torch.as_tensor(run(*inputs)).float()
    return {
        "eager": want,
        "exported": got,
        "max_rel_error": export.max_relative_error(got, want),
        "same_top1": float((got.argmax(1) == want.argmax(1)).float().mean()),
        "format": result.format,
        "path": str(result.path),
    }


def export_check_figure(check: dict, title: str = "") -> Figure:
    """Every logit of the exported file against the eager model's (one dot per clip and class;
    on the diagonal when they agree), with the largest relative error against the tolerance."""
    want = check["eager"].flatten().numpy()
    got = check["exported"].flatten().numpy()
    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = float(min(want.min(), got.min())), float(max(want.max(), got.max()))
    pad = 0.05 * (hi - lo or 1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1, ls="--", label="equal")
    ax.scatter(want, got, s=18, color=SLOW_COLOR, label="logits of held-out clips")
    ax.set_xlabel("eager model (PyTorch)")
    ax.set_ylabel(f"exported file ({check['format']})")
    ok = check["max_rel_error"] <= export.TOLERANCE
    ax.set_title(
        (title or f"{Path(check['path']).name}")
        + f"\nmax relative error {check['max_rel_error']:.1e} "
        + ("<=" if ok else ">")
        + f" {export.TOLERANCE:g}; same top-1 on "
        + f"{100 * check['same_top1']:.0f}% of clips",
        fontsize=9,
        color="black" if ok else "red",
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


# ------------------------------------------------------------------------------------------------
# Questions (kept here, so that the notebook cell does not show the answer)


def _steps(classes: int, per_class: int, val_fraction: float, batch: int, epochs: int) -> int:
    """Optimiser steps of a `finetune` run (per class round(val_fraction n) held out)."""
    return steps_for(classes * (per_class - round(val_fraction * per_class)), batch, epochs)


_STEPS = _steps(3, 12, 0.25, 8, 5)

QUESTIONS: dict[str, Question] = {
    "half_right": Question(
        "On the 96-px striped pac-man spinning clockwise, the tiny model answers 'L-cw' (a plain "
        "L spinning clockwise). Which part of that answer is right, which is wrong, and which "
        "pathway is each part the job of?",
        "The direction (clockwise) is right: that is the Fast pathway's part, and the spin "
        "survives the scaling. The shape and texture (stripes on a pac-man) are wrong: scaled "
        "from 96 to 48 pixels, the fine stripes blur away, and fine texture is the Slow "
        "pathway's job. The model was trained only on clips rendered at 48 pixels; a clip "
        "rendered at 48 pixels is read right.",
    ),
    "confident_nonsense": Question(
        "On Big Buck Bunny the tiny model gives one MotionShapes class a score near 1. Is the "
        "model sure that a cartoon rabbit is an L shape?",
        "No. A softmax over 10 classes always sums to 1: the model has no 'none of these' answer, "
        "and a score near 1 only says which of its 10 classes the input is least unlike. It has "
        "never seen anything but MotionShapes, so on real footage its scores mean nothing; use "
        "the official Kinetics-400 model for real video.",
    ),
    "no_flip": Question(
        "The lesson fine-tunes with hflip=False, although horizontal flips are a standard "
        "augmentation. Why here?",
        "A mirror image of a clockwise spin is a counter-clockwise spin. With flips, half of the "
        "flipped clips would carry the wrong label, and a direction task could not be learnt.",
    ),
    "finetune_steps": Question(
        "A folder holds 3 classes of 12 clips each; finetune holds out 25% of every class for "
        "validation and uses batch 8 (full batches only) for 5 epochs. How many optimiser steps?",
        f"Each class keeps 12 - round(0.25 x 12) = 9 clips for training, 27 in all; 27 // 8 = 3 "
        f"full batches per epoch (the last 3 clips, drawn anew by every epoch's shuffle, are left out of that epoch), so "
        f"3 x 5 = {_STEPS} steps.",
        check=lambda s: int(s) == _STEPS,
        solution=str(_STEPS),
    ),
    "traced_shapes": Question(
        "The TorchScript file was traced on a batch of 2 clips of 4 Slow and 16 Fast frames. "
        "Can it run a batch of 5? A clip of 8 Slow and 32 Fast frames?",
        "A batch of 5, yes: the trace recorded tensor operations whose sizes follow the input. "
        "8 Slow frames, no: the trace fixed the control flow that depends on the frame counts "
        "(T and alpha T), so export again with such inputs (see the export module's doc).",
    ),
}
