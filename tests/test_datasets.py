"""datasets.VideoFolder: layouts (class folders, train/val folders, CSV), the seeded stratified
split, the sampling of training and evaluation items, workers, and errors that name the file."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from _video_folders import CLASSES, CLIPS_PER_CLASS, motionshapes_folder
from torch.utils.data import DataLoader

from slowfast_lab.datasets import DatasetError, VideoFolder, seed_worker, stratified_split
from slowfast_lab.sampling import load_clip, to_model_input, uniform_clip_starts
from slowfast_lab.video import VideoError, write_video

SAMPLING = dict(T=4, tau=8, alpha=4, size=48, hflip=False)


@pytest.fixture(scope="session")
def folder(tmp_path_factory):
    return motionshapes_folder(tmp_path_factory)


def test_classes_split_and_labels(folder) -> None:
    train = VideoFolder(folder, "train", val_fraction=0.25, **SAMPLING)
    val = VideoFolder(folder, "val", val_fraction=0.25, **SAMPLING)
    assert train.classes == val.classes == list(CLASSES)
    assert train.counts() == {c: 6 for c in CLASSES}  # stratified: 2 of 8 per class held out
    assert val.counts() == {c: 2 for c in CLASSES}
    paths = lambda d: {it.path for it in d.items}  # noqa: E731
    assert not paths(train) & paths(val)
    assert len(paths(train) | paths(val)) == len(CLASSES) * CLIPS_PER_CLASS
    for it in train.items + val.items:  # the label is the folder's class
        assert os.path.basename(os.path.dirname(it.path)) == CLASSES[it.label]
    again = VideoFolder(folder, "val", val_fraction=0.25, **SAMPLING)
    assert paths(again) == paths(val)  # deterministic
    other = VideoFolder(folder, "val", val_fraction=0.25, seed=1, **SAMPLING)
    assert paths(other) != paths(val)
    assert len(VideoFolder(folder, "all", **SAMPLING)) == len(CLASSES) * CLIPS_PER_CLASS
    assert train.train and not val.train


def test_stratified_split_edge_cases() -> None:
    labels = [0] * 5 + [1] * 2 + [2]
    tr, va = stratified_split(labels, 0.2, seed=0)
    assert sorted(tr + va) == list(range(8))
    assert [labels[i] for i in va].count(1) == 1  # at least one of a small class...
    assert [labels[i] for i in tr].count(2) == 1  # ...but never a class's only video
    assert stratified_split(labels, 0.0, 0) == (list(range(8)), [])
    with pytest.raises(DatasetError, match="val_fraction"):
        stratified_split(labels, 1.0, 0)


def test_items_shapes_and_seeded_augmentation(folder) -> None:
    train = VideoFolder(folder, "train", hflip=True, T=4, tau=8, alpha=4, size=40)
    slow, fast, label = train[3]
    assert slow.shape == (3, 4, 40, 40) and fast.shape == (3, 16, 40, 40)
    assert slow.dtype == torch.float32 and isinstance(label, int)
    # the Slow frames are every alpha-th Fast frame, under the same spatial view
    assert torch.equal(slow, fast[:, ::4])
    assert torch.equal(train[3][1], fast)  # seeded per item: the same again
    train.set_epoch(1)
    assert not torch.equal(train[3][1], fast)  # another epoch, another view
    other = VideoFolder(folder, "train", hflip=True, seed=7, T=4, tau=8, alpha=4, size=40)
    train.set_epoch(0)
    assert any(not torch.equal(train[i][1], other[i][1]) for i in range(4))  # another seed


def test_eval_items_are_the_centre_clip_and_crop(folder) -> None:
    val = VideoFolder(folder, "val", T=4, tau=8, alpha=4, size=40)
    it = val.items[0]
    start = uniform_clip_starts(it.frames, 4, 8, 4, num_clips=1)[0]
    # frames are scaled to the crop's short side while decoding (cheaper than after, for HD)
    expect = to_model_input(load_clip(it.path, 4, 8, 4, start, short_side=40), size=40)
    slow, fast, label = val[0]
    assert torch.equal(slow, expect[0][0]) and torch.equal(fast, expect[1][0])
    assert label == it.label


def test_workers_give_the_same_items(folder) -> None:
    data = VideoFolder(folder, "train", **SAMPLING)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:8].tolist()

    def run(workers: int):
        loader = DataLoader(data, batch_size=4, sampler=order, num_workers=workers,
                            worker_init_fn=seed_worker)  # fmt: skip
        return [b for b in loader]

    alone, two = run(0), run(2)
    for (s0, f0, y0), (s2, f2, y2) in zip(alone, two, strict=True):
        assert torch.equal(y0, y2)
        # the same views; the pixels up to float rounding (a worker scales with 1 thread)
        assert torch.allclose(s0, s2, atol=1e-5) and torch.allclose(f0, f2, atol=1e-5)


def test_explicit_train_and_val_folders(folder, tmp_path) -> None:
    for split, picks in (("train", range(6)), ("val", range(6, 8))):
        for c in CLASSES:
            files = sorted((folder / c).iterdir())
            (tmp_path / split / c).mkdir(parents=True)
            for i in picks:
                (tmp_path / split / c / files[i].name).symlink_to(files[i])
    train = VideoFolder(tmp_path, "train", **SAMPLING)
    val = VideoFolder(tmp_path, "val", **SAMPLING)
    assert len(train) == 18 and len(val) == 6 and val.classes == list(CLASSES)
    (tmp_path / "val" / "jumping").mkdir()
    (tmp_path / "val" / "jumping" / "x.mp4").symlink_to(sorted((folder / CLASSES[0]).iterdir())[0])
    with pytest.raises(DatasetError, match="jumping.*not one of the training classes"):
        VideoFolder(tmp_path, "val", classes=train.classes, **SAMPLING)


def test_csv_with_segments(folder, tmp_path) -> None:
    files = sorted((folder / "L-cw").iterdir())[:3] + sorted((folder / "L-still").iterdir())[:3]
    rel = os.path.relpath(folder, tmp_path)
    lines = ["path,label,start,end"]
    for f in files:  # relative to the CSV; 32 frames at 25 fps = 1.28 s
        lines.append(f"{rel}/{f.parent.name}/{f.name},{f.parent.name},0.04,")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    data = VideoFolder(tmp_path / "labels.csv", "all", pad=True, **SAMPLING)
    assert data.classes == ["L-cw", "L-still"] and len(data) == 6
    assert data.items[0].start == 1 and data.items[0].end == 32
    assert data[0][1].shape == (3, 16, 48, 48)
    val = VideoFolder(tmp_path / "labels.csv", "val", val_fraction=0.3, pad=True, **SAMPLING)
    assert sorted(val.counts().values()) == [1, 1]


@pytest.mark.parametrize(
    "text, match",
    [
        ("a.mp4\n", r"labels.csv line 1: 1 columns"),
        ("{v},x,0,1,2\n", r"line 1: 5 columns"),
        ("{v},x,zero,1\n", r"line 1: start 'zero' is not a number"),
        ("{v},x,1,0.5\n", r"line 1: end 0.5 s is not after start 1 s"),
        ("missing.mp4,x\n", r"line 1: video .*missing.mp4 not found"),
        ("{v},L-cw\n{v},dancing\n", r"line 2: label 'dancing' not found among the classes"),
        ("\n", r"labels.csv: no rows"),
    ],
)
def test_csv_errors_name_the_file_and_line(folder, tmp_path, text, match) -> None:
    video = sorted((folder / "L-cw").iterdir())[0]
    (tmp_path / "labels.csv").write_text(text.format(v=video))
    with pytest.raises(DatasetError, match=match):
        VideoFolder(tmp_path / "labels.csv", "all", classes=["L-cw", "L-still"], **SAMPLING)


def test_folder_errors_name_the_folder(folder, tmp_path) -> None:
    with pytest.raises(DatasetError, match=f"{tmp_path}: no class folders"):
        VideoFolder(tmp_path, **SAMPLING)
    (tmp_path / "loose.mp4").write_bytes(b"")
    with pytest.raises(DatasetError, match="1 videos lie directly in it"):
        VideoFolder(tmp_path, **SAMPLING)
    (tmp_path / "waving").mkdir()
    (tmp_path / "waving" / "notes.txt").write_text("no videos here")
    with pytest.raises(DatasetError, match=r"waving: the class 'waving' has no videos"):
        VideoFolder(tmp_path, **SAMPLING)
    with pytest.raises(DatasetError, match="no such folder"):
        VideoFolder(tmp_path / "nowhere", **SAMPLING)


def test_unusable_videos_fail_or_are_skipped(folder, tmp_path) -> None:
    for c in CLASSES[:2]:
        (tmp_path / c).mkdir()
        for f in sorted((folder / c).iterdir())[:3]:
            (tmp_path / c / f.name).symlink_to(f)
    (tmp_path / "L-cw" / "broken.mp4").write_bytes(b"not a video at all" * 10)
    short = np.zeros((10, 48, 48, 3), np.uint8)
    write_video(tmp_path / "L-ccw" / "short.mp4", short, 25)
    with pytest.raises(VideoError) as err:
        VideoFolder(tmp_path, "all", **SAMPLING)
    message = str(err.value)
    assert "2 of 8 videos cannot be used" in message
    assert "broken.mp4" in message and "short.mp4" in message and "10 frames" in message
    with pytest.warns(UserWarning, match="skipped 2 unusable video"):
        data = VideoFolder(tmp_path, "all", skip_unreadable=True, **SAMPLING)
    assert len(data) == 6 and len(data.skipped) == 2
    with pytest.warns(UserWarning, match="skipped 1 unusable"):  # padded: the short one is used
        padded = VideoFolder(tmp_path, "all", skip_unreadable=True, pad=True, **SAMPLING)
    assert len(padded) == 7
    short_item = [i for i, it in enumerate(padded.items) if it.path.endswith("short.mp4")][0]
    assert padded[short_item][1].shape == (3, 16, 48, 48)
