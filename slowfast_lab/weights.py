"""Saving and loading weights: our own checkpoints, and (see below) the official formats.

Our format: `torch.save` of a plain dict, readable with `torch.load(weights_only=True)`:
    {"format": "slowfast_lab", "version": 1, "config": {SlowFastConfig fields},
     "model_state": state_dict, "meta": {anything JSON-like: command, seed, accuracy, ...}}
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from .config import SlowFastConfig
from .model import VideoNet, build_model

FORMAT = "slowfast_lab"


def save_checkpoint(model: VideoNet, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write `model` (config + weights + meta) atomically: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": 1,
        "config": dataclasses.asdict(model.config),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Our checkpoint dict, loaded safely (tensors and plain containers only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a slowfast_lab checkpoint (no format={FORMAT!r} entry)")
    return payload


def load_model(path: str | os.PathLike) -> VideoNet:
    """Build the model a slowfast_lab checkpoint describes and load its weights (in eval mode)."""
    payload = read_checkpoint(path)
    config = SlowFastConfig(**payload["config"])
    model = build_model(config)
    model.load_state_dict(payload["model_state"])
    model.checkpoint_meta = payload.get("meta", {})
    return model.eval()
