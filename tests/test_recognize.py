"""Recognising a real video with the test protocol: class names, weights lookup, views, scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from slowfast_lab import recognize
from slowfast_lab.lessons import l07_real_model as L07

SAMPLE = Path(__file__).parent.parent / "data_samples" / "bigbuckbunny_256p.mp4"


def test_kinetics_class_names_ship_with_the_package():
    names = recognize.kinetics400_classes()
    assert len(names) == 400 and len(set(names)) == 400
    assert names[0] == "abseiling" and names[-1] == "zumba"
    assert list(names) == sorted(names)


def test_topk_rows_and_names():
    probs = torch.zeros(400)
    probs[[5, 2, 399]] = torch.tensor([0.5, 0.3, 0.2])
    rows = recognize.topk_rows(probs, recognize.kinetics400_classes(), k=3)
    assert [r["index"] for r in rows] == [5, 2, 399]
    assert rows[2]["class"] == "zumba" and rows[0]["rank"] == 1
    assert recognize.topk_rows(torch.tensor([0.1, 0.9]), (), k=5)[0]["class"] == "class 1"


def test_find_weights_from_env_file_or_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(recognize.WEIGHTS_ENV, str(tmp_path))
    assert recognize.find_weights("slowfast_8x8_r50", search=[tmp_path]) is None
    f = tmp_path / "SLOWFAST_8x8_R50.pkl"
    f.write_bytes(b"x")
    assert recognize.weights_dir() == tmp_path
    assert recognize.find_weights("slowfast_8x8_r50") == f
    assert recognize.find_weights("slow_8x8_r50", search=[tmp_path]) is None
    monkeypatch.setenv(recognize.WEIGHTS_ENV, str(f))  # a file: only for the preset it names
    assert recognize.find_weights("slowfast_8x8_r50") == f
    assert recognize.find_weights("slow_8x8_r50", search=[]) is None
    mine = tmp_path / "my_finetuned.pyth"
    mine.write_bytes(b"x")
    monkeypatch.setenv(recognize.WEIGHTS_ENV, str(mine))  # not an official name: used as given
    assert recognize.find_weights("slow_8x8_r50") == mine


def test_random_weights_say_so(monkeypatch, tmp_path):
    monkeypatch.setenv(recognize.WEIGHTS_ENV, str(tmp_path / "nothing-here"))
    monkeypatch.setattr(recognize, "DEFAULT_WEIGHTS_DIR", tmp_path)
    loaded = recognize.load_model_for("slowfast_tiny")
    assert loaded.random and "RANDOM" in loaded.source


def test_classify_video_views_and_scores(monkeypatch, tmp_path):
    monkeypatch.setattr(recognize, "DEFAULT_WEIGHTS_DIR", tmp_path)
    monkeypatch.delenv(recognize.WEIGHTS_ENV, raising=False)
    loaded = recognize.load_model_for("slowfast_tiny")
    result = recognize.classify_video(
        loaded, SAMPLE, num_clips=3, num_crops=3, size=64, batch=4, progress=False
    )
    assert result.probs.shape == (3, 3, 10)
    assert torch.allclose(result.probs.sum(-1), torch.ones(3, 3), atol=1e-4)
    assert result.video_probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert result.starts[0] == 0 and result.starts == sorted(result.starts)
    assert result.clip_times == sorted(result.clip_times)
    assert str(result).startswith(recognize.RANDOM_WARNING)
    data = recognize.clip_score_rows(result)
    assert len(data["series"]) == 5 and all(len(v) == 3 for v in data["series"].values())
    assert data["random"]
    other = recognize.classify_video(
        recognize.load_model_for("slow_tiny"),
        SAMPLE,
        num_clips=2,
        num_crops=1,
        size=64,
        progress=False,
    )
    rows = recognize.side_by_side({"SlowFast": result, "Slow-only": other}, k=3)
    assert [r["rank"] for r in rows] == [1, 2, 3] and set(rows[0]) == {
        "rank",
        "SlowFast",
        "Slow-only",
    }
    fig = L07.topk_figure({"SlowFast": result.top(), "Slow-only": other.top()}, random=True)
    assert "RANDOM" in fig._suptitle.get_text()
    fig = L07.clip_scores_figure(data)
    assert "RANDOM" in fig.axes[0].get_title()


def test_weights_status_and_table_warn_first(monkeypatch, tmp_path):
    monkeypatch.setattr(recognize, "DEFAULT_WEIGHTS_DIR", tmp_path)
    monkeypatch.delenv(recognize.WEIGHTS_ENV, raising=False)
    loaded = recognize.load_model_for("slowfast_tiny")
    assert recognize.weights_status([loaded]).startswith(recognize.RANDOM_WARNING)
    result = recognize.classify_video(
        loaded, SAMPLE, num_clips=1, num_crops=1, size=64, progress=False
    )
    html = recognize.comparison_frame({"SlowFast": result}, k=3).to_html()
    assert html.index("RANDOM WEIGHTS") < html.index("<tbody")
    with pytest.raises(ValueError, match="no official weights"):
        recognize.download_official("slowfast_tiny", tmp_path)
