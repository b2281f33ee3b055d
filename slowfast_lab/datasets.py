"""Your own videos as a torch Dataset: a folder of class folders, or a CSV of labelled files.

    root/                      or   root/train/CLASS/*.mp4  and  root/val/CLASS/*.mp4
      brushing_teeth/a.mp4          (an explicit split: used as it is)
      brushing_teeth/b.webm
      juggling/c.avi
    labels.csv:  path,label[,start,end]   (seconds; relative paths are relative to the CSV)

    train = VideoFolder("root", split="train", T=4, tau=8, alpha=4, size=48)
    val = VideoFolder("root", split="val", T=4, tau=8, alpha=4, size=48)
    slow, fast, label = train[0]          # float [3, T, S, S], [3, alpha T, S, S], int
    loader = DataLoader(train, batch_size=8, num_workers=2, worker_init_fn=seed_worker)

Classes are the sorted folder names (CSV: the sorted labels). Without explicit `train/` and `val/`
folders, the split is deterministic: per class (stratified), a `val_fraction` share of the videos,
drawn with `seed`, goes to validation, the rest to training; the same root and seed always give
the same split, whatever the order the file system lists files in.

Items (decoded in `__getitem__`, so a DataLoader's workers decode in parallel):
* training (`train=True`, the default for split "train"): the paper's training sampling, a
  random clip start inside the video (or the CSV's [start, end]), short side scaled to a random
  size in `jitter`, a random `size`^2 crop, a horizontal flip with p=1/2 (`hflip=False` for data
  where a mirror changes the class, e.g. MotionShapes' clockwise / counter-clockwise);
* evaluation: the centre clip and the centre crop (short side scaled to `size`).
Both as `sampling.to_model_input` makes them (normalised, the same view for both pathways),
without the batch dimension, plus the integer label.

Augmentation is seeded per item: item i of epoch e draws from a generator seeded with
(seed, e, i), so an item is the same whichever worker decodes it and however many workers there
are (`set_epoch` before each epoch; the DataLoader must re-create its workers each epoch, which
it does unless persistent_workers=True).

Unreadable or too-short videos: every file is probed when the dataset is built. By default the
dataset then refuses to build with one `VideoError` listing every unusable file and why
(`skip_unreadable=True` skips them with one warning listing them instead, and `skipped` holds
them). A clip longer than a CSV segment reads on past the segment's end; a video shorter than one
clip is unusable unless `pad=True` (the last frame repeated, as PySlowFast's clamping).
"""

from __future__ import annotations

import csv
import os
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .sampling import clip_span, load_clip, to_model_input, train_clip_start, uniform_clip_starts
from .video import VideoError, probe

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov")
SPLITS = ("train", "val", "all")


class DatasetError(ValueError):
    """A data folder or CSV that cannot make a dataset; the message names the folder or file."""


@dataclass(frozen=True)
class VideoItem:
    """One labelled video (or a segment of one): raw frames [start, end) of `path`."""

    path: str
    label: int
    start: int = 0  # first raw frame of the segment
    end: int | None = None  # one past its last raw frame (None: the video's end, set on probing)
    fps: float = 0.0

    @property
    def frames(self) -> int:
        return (self.end or 0) - self.start


def is_video(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")
    )


def _class_folders(root: Path) -> list[Path]:
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name)  # fmt: skip


def _scan_folder(root: Path, classes: Sequence[str] | None = None) -> tuple[list, list[str]]:
    """[(path, label name)] of root/CLASS/*.video and the class names (sorted folder names)."""
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    folders = _class_folders(root)
    if not folders:
        loose = [p.name for p in root.iterdir() if is_video(p)]
        hint = (
            f" ({len(loose)} videos lie directly in it: put each class's videos in a subfolder "
            "named after the class)"
            if loose
            else ""
        )
        raise DatasetError(
            f"{root}: no class folders; expected {root}/CLASS/*.mp4 (one folder per class, "
            f"videos {', '.join(VIDEO_SUFFIXES)}), or a CSV of path,label[,start,end]{hint}"
        )
    files = []
    for folder in folders:
        videos = sorted(p for p in folder.iterdir() if is_video(p))
        if not videos:
            raise DatasetError(
                f"{folder}: the class {folder.name!r} has no videos ({', '.join(VIDEO_SUFFIXES)}); "
                "add some, or remove the folder"
            )
        if classes is not None and folder.name not in classes:
            raise DatasetError(
                f"{folder}: the class {folder.name!r} is not one of the training classes "
                f"({', '.join(classes)})"
            )
        files += [(str(v), folder.name) for v in videos]
    return files, [f.name for f in folders]


def _seconds(value: str, what: str, where: str) -> float | None:
    if value.strip() == "":
        return None
    try:
        x = float(value)
    except ValueError:
        raise DatasetError(f"{where}: {what} {value!r} is not a number of seconds") from None
    if not np.isfinite(x) or x < 0:
        raise DatasetError(f"{where}: {what} {value!r} must be a number of seconds >= 0")
    return x


def read_csv(path: Path, classes: Sequence[str] | None = None) -> tuple[list, list[str]]:
    """[(path, label name, start s | None, end s | None)] and the class names of a CSV.

    Rows: path,label or path,label,start,end (seconds; empty start / end: the video's start / end).
    An optional header row `path,label[,start,end]`. With `classes`, every label must be one.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such CSV file")
    rows = []
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            where = f"{path} line {n}"
            if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                continue
            row = [c.strip() for c in row]
            if n == 1 and row[:2] == ["path", "label"]:
                continue
            if len(row) not in (2, 4):
                raise DatasetError(
                    f"{where}: {len(row)} columns ({','.join(row)}); rows are path,label or "
                    "path,label,start,end (seconds)"
                )
            file, label = row[0], row[1]
            if not file or not label:
                raise DatasetError(f"{where}: empty path or label ({','.join(row)})")
            start = end = None
            if len(row) == 4:
                start = _seconds(row[2], "start", where)
                end = _seconds(row[3], "end", where)
                if start is not None and end is not None and end <= start:
                    raise DatasetError(f"{where}: end {end:g} s is not after start {start:g} s")
            video = Path(file) if Path(file).is_absolute() else path.parent / file
            if not video.is_file():
                raise DatasetError(f"{where}: video {video} not found")
            if classes is not None and label not in classes:
                raise DatasetError(
                    f"{where}: label {label!r} not found among the classes ({', '.join(classes)})"
                )
            rows.append((str(video), label, start, end))
    if not rows:
        raise DatasetError(f"{path}: no rows; expected path,label[,start,end] per line")
    names = sorted({r[1] for r in rows}) if classes is None else list(classes)
    return rows, names


def stratified_split(
    labels: Sequence[int], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """(train positions, val positions): per class, round(val_fraction * n) of its n items (at
    least 1 when val_fraction > 0 and the class has 2 or more, never all) go to validation, drawn
    with a generator seeded by (seed, class)."""
    if not 0 <= val_fraction < 1:
        raise DatasetError(f"val_fraction={val_fraction!r} must be in [0, 1)")
    train, val = [], []
    for c in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == c]
        order = np.random.default_rng([seed, c]).permutation(len(members))
        k = round(val_fraction * len(members))
        if val_fraction > 0 and len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        else:
            k = 0
        val += [members[j] for j in order[:k]]
        train += [members[j] for j in order[k:]]
    return sorted(train), sorted(val)


def _item_seed(seed: int, epoch: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


def seed_worker(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: one thread per worker (the workers share the cores with the
    model) and Python's and NumPy's generators seeded from the worker's torch seed (torch seeds
    only itself per worker). Items do not depend on it (they are seeded per item)."""
    torch.set_num_threads(1)
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


class VideoFolder(Dataset):
    """Labelled videos for fine-tuning (see the module doc for the layouts and the sampling).

    Args:
        data: a folder (root/CLASS/*.mp4, or root/train/... and root/val/...) or a CSV file.
        split: "train", "val" or "all" (every video, no split).
        val_fraction, seed: the per-class split when there are no train/ and val/ folders; `seed`
            also seeds the augmentation.
        T, tau, alpha: the model's sampling; size: the crop; jitter: the training short-side
            range (default: size x 8/7 .. size x 10/7, the paper's 256..320 for a 224 crop).
        train: training sampling (default: split == "train"); hflip: flip in training.
        fast_input: "rgb", "gray" or "timediff" (paper Table 5c), as `to_model_input`.
        pad: videos shorter than one clip repeat their last frame instead of being unusable.
        skip_unreadable: skip unusable videos with a warning instead of refusing to build.
        classes: the class names to use (the val split of an explicit train/val layout takes
            the training split's); labels not among them are an error.
    """

    def __init__(
        self,
        data: str | os.PathLike,
        split: str = "train",
        *,
        val_fraction: float = 0.2,
        seed: int = 0,
        T: int = 4,
        tau: int = 8,
        alpha: int = 4,
        size: int = 64,
        jitter: tuple[int, int] | None = None,
        train: bool | None = None,
        hflip: bool = True,
        fast_input: str = "rgb",
        pad: bool = False,
        skip_unreadable: bool = False,
        classes: Sequence[str] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise DatasetError(f"split={split!r} must be one of {', '.join(SPLITS)}")
        if fast_input not in ("rgb", "gray", "timediff"):
            raise DatasetError(f"fast_input={fast_input!r} must be 'rgb', 'gray' or 'timediff'")
        if not isinstance(size, int) or size < 1:
            raise DatasetError(f"size={size!r} must be a positive number of pixels")
        self.jitter = tuple(jitter) if jitter else (round(size * 8 / 7), round(size * 10 / 7))
        if not size <= self.jitter[0] <= self.jitter[1]:
            raise DatasetError(f"jitter={self.jitter} must satisfy size {size} <= low <= high")
        self.data, self.split = Path(data), split
        self.T, self.tau, self.alpha, self.size = T, tau, alpha, size
        self.span = clip_span(T, tau, alpha)
        self.train = split == "train" if train is None else bool(train)
        self.hflip, self.fast_input, self.pad, self.seed = hflip, fast_input, pad, seed
        self.epoch = 0
        rows, self.classes = self._rows(split, val_fraction, seed, classes)
        self.items, self.skipped = self._probe(rows, skip_unreadable)
        if not self.items:
            raise DatasetError(f"{self.data}: the {split} split has no usable videos")

    # -- building ----------------------------------------------------------------------------

    def _rows(self, split, val_fraction, seed, classes) -> tuple[list, list[str]]:
        """[(path, label name, start s, end s)] of this split, and the class names."""
        root = self.data
        if root.suffix.lower() == ".csv" or root.is_file():
            rows, names = read_csv(root, classes)
        elif (root / "train").is_dir() and (root / "val").is_dir():  # an explicit split
            _, names = _scan_folder(root / "train", classes)
            names = list(classes) if classes is not None else names
            if split == "all":
                rows = [
                    (p, y, None, None)
                    for s in ("train", "val")
                    for p, y in _scan_folder(root / s, names)[0]
                ]
            else:
                rows = [(p, y, None, None) for p, y in _scan_folder(root / split, names)[0]]
            return rows, names
        else:
            files, names = _scan_folder(root, classes)
            names = list(classes) if classes is not None else names
            rows = [(p, y, None, None) for p, y in files]
        if split == "all":
            return rows, names
        labels = [names.index(r[1]) for r in rows]
        train, val = stratified_split(labels, val_fraction, seed)
        chosen = train if split == "train" else val
        if not chosen:
            raise DatasetError(
                f"{root}: the {split} split is empty (val_fraction={val_fraction}; each class "
                "needs at least 2 videos for a validation split)"
            )
        return [rows[i] for i in chosen], names

    def _probe(self, rows, skip: bool) -> tuple[list[VideoItem], list[tuple[str, str]]]:
        items, bad = [], []
        for path, label, start_s, end_s in rows:
            try:
                info = probe(path)
            except VideoError as err:
                bad.append((path, str(err)))
                continue
            start = round(start_s * info.fps) if start_s is not None else 0
            end = min(round(end_s * info.fps), info.num_frames) if end_s is not None else None
            end = info.num_frames if end is None else end
            if start >= info.num_frames or end <= start:
                bad.append((path, f"segment {start_s}..{end_s} s lies outside the video "
                                  f"({info.num_frames} frames at {info.fps:.4g} fps)"))  # fmt: skip
                continue
            if start + self.span > info.num_frames and not self.pad:
                bad.append((path, f"{info.num_frames - start} frames from frame {start}, one "
                                  f"clip needs {self.span} (T={self.T} x tau={self.tau}); "
                                  "pad=True repeats the last frame"))  # fmt: skip
                continue
            items.append(VideoItem(path, self.classes.index(label), start, end, info.fps))
        if bad and not skip:
            listing = "\n".join(f"  {p}: {why}" for p, why in bad)
            raise VideoError(
                f"{self.data}: {len(bad)} of {len(rows)} videos cannot be used (skip them with "
                f"skip_unreadable=True / --skip-unreadable):\n{listing}"
            )
        if bad:
            listing = "; ".join(f"{p} ({why.splitlines()[0]})" for p, why in bad)
            warnings.warn(
                f"{self.data}: skipped {len(bad)} unusable video(s): {listing}", stacklevel=3
            )
        return items, bad

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    @property
    def labels(self) -> list[int]:
        return [it.label for it in self.items]

    def counts(self) -> dict[str, int]:
        """Videos per class in this split."""
        return {c: self.labels.count(i) for i, c in enumerate(self.classes)}

    def set_epoch(self, epoch: int) -> None:
        """Training items of another epoch draw other augmentations (seeded by (seed, epoch, i))."""
        self.epoch = int(epoch)

    def clip_start(self, index: int, generator: torch.Generator | None = None) -> int:
        """The raw frame item `index`'s clip starts at: random in its segment (training), the
        centre clip otherwise."""
        it = self.items[index]
        n = it.frames
        if self.train:
            rel = train_clip_start(n, self.T, self.tau, self.alpha, generator=generator)
        else:
            rel = uniform_clip_starts(n, self.T, self.tau, self.alpha, num_clips=1)[0]
        return it.start + rel

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(slow [3, T, size, size], fast [3, alpha T, size, size], label) of item `index`."""
        if not 0 <= index < len(self.items):
            raise IndexError(f"index {index} out of range for {len(self.items)} videos")
        it = self.items[index]
        g = torch.Generator().manual_seed(_item_seed(self.seed, self.epoch, index))
        start = self.clip_start(index, g)
        info = probe(it.path)
        short = min(info.height, info.width)
        target = self.jitter[1] if self.train else self.size  # decode no larger than needed
        with warnings.catch_warnings():  # padding was announced once, when the item was probed
            warnings.simplefilter("ignore")
            clip = load_clip(
                it.path, self.T, self.tau, self.alpha, start, pad=self.pad,
                short_side=target if short > target else None,
            )  # fmt: skip
        slow, fast = to_model_input(
            clip, size=self.size, train=self.train, jitter=self.jitter, hflip=self.hflip,
            generator=g, fast_input=self.fast_input,
        )  # fmt: skip
        return slow[0], fast[0], it.label

    def __repr__(self) -> str:
        kind = "train" if self.train else "eval"
        return (
            f"VideoFolder({str(self.data)!r}, split={self.split!r}, {len(self)} videos, "
            f"{len(self.classes)} classes, {kind} sampling {self.T}x{self.tau} alpha {self.alpha}, "
            f"crop {self.size})"
        )


__all__ = [
    "DatasetError",
    "VIDEO_SUFFIXES",
    "VideoFolder",
    "VideoItem",
    "read_csv",
    "seed_worker",
    "stratified_split",
]
