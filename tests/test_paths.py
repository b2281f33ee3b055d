"""Tests of slowfast_lab.paths."""

from __future__ import annotations

import pytest

from slowfast_lab import paths


def test_sample_path() -> None:
    assert paths.sample_path("numbered_300f_30fps.mp4").endswith(
        "data_samples/numbered_300f_30fps.mp4"
    )
    with pytest.raises(FileNotFoundError, match="data_samples"):
        paths.sample_path("nope.mp4")
