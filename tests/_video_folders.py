"""A small folder of MotionShapes clips as mp4, written once per test session (shared by
test_datasets.py and test_finetune.py): 3 motion classes x 8 clips, 48x48, 32 raw frames."""

from __future__ import annotations

from pathlib import Path

from slowfast_lab.synthetic import write_folder

CLASSES = ("L-ccw", "L-cw", "L-still")  # sorted: the folder names' order
CLIPS_PER_CLASS = 8
_MADE: dict[str, Path] = {}


def motionshapes_folder(tmp_path_factory) -> Path:
    if "root" not in _MADE:
        root = tmp_path_factory.mktemp("motionshapes_mp4")
        write_folder(root, CLASSES, CLIPS_PER_CLASS, seed=0)
        _MADE["root"] = root
    return _MADE["root"]
