"""Predicting on a user's video: windows, batched views, top-k rows, JSON, the labelled video,
attribution side by side, missing weights and bad videos, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab import predict, synthetic
from slowfast_lab.__main__ import main
from slowfast_lab.video import probe, read_frames, write_video

CHECKPOINT = (
    Path(__file__).parent.parent / "data_samples" / "checkpoints" / "motionshapes_slowfast_tiny.pt"
)


@pytest.fixture(scope="module")
def shapes_video(tmp_path_factory) -> tuple[Path, list[str]]:
    """Three MotionShapes clips of the test split back to back (96 frames, 48x48, 25 fps)."""
    task = synthetic.TaskConfig()
    clips = [synthetic.render_clip(1000, i, task) for i in range(3)]
    path = tmp_path_factory.mktemp("v") / "shapes.mp4"
    write_video(path, np.concatenate([c.frames for c in clips]), 25, quality=12, pix_fmt="yuv444p")
    return path, [synthetic.CLASSES[c.label].name for c in clips]


@pytest.fixture(scope="module")
def predictor() -> predict.Predictor:
    return predict.load_predictor(checkpoint=CHECKPOINT)


def test_window_starts_cover_the_video() -> None:
    assert predict.window_starts(100, 32) == [0, 32, 64, 68]
    assert predict.window_starts(96, 32, 16) == [0, 16, 32, 48, 64]
    assert predict.window_starts(10, 32) == [0]  # shorter than a window: one, padded
    with pytest.raises(ValueError, match="stride"):
        predict.window_starts(100, 32, -1)


def test_frame_windows_pick_the_nearest_centre() -> None:
    windows = [{"start_frame": 0, "end_frame": 9}, {"start_frame": 6, "end_frame": 15}]
    assert predict.frame_windows(20, windows) == [0] * 8 + [1] * 12


def test_sliding_windows_on_a_long_video_follow_the_clips(shapes_video, predictor) -> None:
    path, names = shapes_video
    pred = predict.predict_video(predictor, path, "sliding", stride=32, progress=False)
    assert pred.mode == "sliding" and pred.probs.shape[:2] == (4, 1)  # starts 0, 32, 64, 65
    assert [w["start_frame"] for w in pred.windows] == [0, 32, 64, 65]
    tops = [pred.window_top(i, 1)[0]["class"] for i in range(3)]
    assert tops == names  # the shipped model reads each clip of the video right
    assert torch.allclose(pred.window_probs.sum(-1), torch.ones(4), atol=1e-5)
    rec = json.loads(json.dumps(pred.record(3)))  # JSON-ready
    assert rec["clips"] == 4 and len(rec["windows"][0]["top"]) == 3 and not rec["random_weights"]
    assert rec["top"][0]["class"] in names and rec["windows"][1]["start_s"] == pytest.approx(1.28)
    assert names[0] in str(pred)


def test_test_mode_batches_views_and_matches_one_at_a_time(shapes_video, predictor) -> None:
    path, _ = shapes_video
    a = predict.predict_video(predictor, path, "test", num_clips=4, batch=8, progress=False)
    b = predict.predict_video(predictor, path, "test", num_clips=4, batch=1, progress=False)
    assert a.probs.shape == (4, 1, 10)
    torch.testing.assert_close(a.probs, b.probs, atol=1e-5, rtol=1e-4)
    assert predict.choose_mode("auto", probe(path)) == "test"  # 3.8 s <= 10 s


def test_too_short_video_is_padded_and_says_so(tmp_path, predictor) -> None:
    clip = synthetic.render_clip(1000, 0, synthetic.TaskConfig())
    path = write_video(tmp_path / "short.mp4", clip.frames[:10], 25, quality=12)
    pred = predict.predict_video(predictor, path, "sliding", progress=False)
    assert len(pred.windows) == 1 and pred.windows[0]["padded"] > 0
    assert pred.record()["windows"][0]["padded"] == pred.windows[0]["padded"]


def test_bad_videos_name_the_file(tmp_path, predictor) -> None:
    with pytest.raises(sfl.VideoError, match="no such file"):
        predict.predict_video(predictor, tmp_path / "missing.mp4", progress=False)
    text = tmp_path / "page.mp4"
    text.write_text("<html>not found</html>")
    with pytest.raises(sfl.VideoError, match="page.mp4.*not a video"):
        predict.predict_video(predictor, text, progress=False)


def _pyslowfast_file(path: Path, preset: str = "slowfast_tiny") -> Path:
    """Random weights of `preset` under PySlowFast's key names (as a .pyth)."""
    rules = [
        (r"(slow|fast)\.stem\.conv\.(conv|bn)\.", lambda m: f"s1.pathway{_p(m)}_stem.{m[2]}."),
        (r"(slow|fast)\.res(\d)\.(\d+)\.([abc])\.conv\.",
         lambda m: f"s{m[2]}.pathway{_p(m)}_res{m[3]}.branch2.{m[4]}."),
        (r"(slow|fast)\.res(\d)\.(\d+)\.([abc])\.bn\.",
         lambda m: f"s{m[2]}.pathway{_p(m)}_res{m[3]}.branch2.{m[4]}_bn."),
        (r"(slow|fast)\.res(\d)\.(\d+)\.shortcut\.conv\.",
         lambda m: f"s{m[2]}.pathway{_p(m)}_res{m[3]}.branch1."),
        (r"(slow|fast)\.res(\d)\.(\d+)\.shortcut\.bn\.",
         lambda m: f"s{m[2]}.pathway{_p(m)}_res{m[3]}.branch1_bn."),
        (r"fuse(\d)\.conv\.", lambda m: f"s{m[1]}_fuse.conv_f2s."),
        (r"fuse(\d)\.bn\.", lambda m: f"s{m[1]}_fuse.bn."),
        (r"head\.fc\.", lambda m: "head.projection."),
    ]  # fmt: skip
    state = {}
    for key, value in sfl.build_model(preset).state_dict().items():
        for pattern, name in rules:
            m = re.match(pattern, key)
            if m:
                state[name(m) + key[m.end() :]] = value
                break
        else:
            raise KeyError(key)
    torch.save({"model_state": state, "epoch": 1}, path)
    return path


def _p(m: re.Match) -> int:
    return 0 if m[1] == "slow" else 1


def test_official_format_weights_and_missing_ones(tmp_path, monkeypatch, shapes_video) -> None:
    path = _pyslowfast_file(tmp_path / "SLOWFAST_TINY.pyth")
    p = predict.load_predictor(weights=path, preset="slowfast_tiny")
    assert not p.random and p.classes == () and p.size == 256
    pred = predict.predict_video(p, shapes_video[0], "test", 2, size=64, progress=False)
    assert pred.top(2)[0]["class"].startswith("class ")
    with pytest.raises(predict.WeightsMissing, match=r"nothing\.pkl.*weights download"):
        predict.load_predictor(weights=tmp_path / "nothing.pkl", preset="slowfast_8x8_r50")
    monkeypatch.setenv("SLOWFAST_LAB_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setattr(predict, "find_weights", lambda preset: None)
    with pytest.raises(predict.WeightsMissing) as err:
        predict.load_predictor(preset="slowfast_8x8_r50")
    assert "weights download SLOWFAST_8x8_R50.pkl" in str(err.value)
    assert "--random-weights" in str(err.value)
    assert predict.load_predictor(preset="slowfast_tiny", random_weights=True).random


def test_labelled_video_with_attribution_side_by_side(shapes_video, predictor, tmp_path) -> None:
    path, _ = shapes_video
    pred = predict.predict_video(predictor, path, "sliding", stride=32, progress=False)
    maps = predict.window_attributions(predictor, pred, progress=False)
    assert maps[0]["slow"].shape == (4, 48, 48) and maps[0]["fast"].shape == (16, 48, 48)
    assert 0 <= maps[0]["fast"].min() and maps[0]["fast"].max() == pytest.approx(1)
    plain = predict.write_labelled_video(pred, tmp_path / "plain.mp4", progress=False)
    both = predict.write_labelled_video(
        pred, tmp_path / "att.mp4", attributions=maps, progress=False
    )
    a, b = probe(plain), probe(both)
    assert a.num_frames == b.num_frames == 96 and a.fps == pytest.approx(25)
    assert (a.height, a.width) == (240, 240) and (b.height, b.width) == (240, 720)
    drawn = read_frames(plain, [10])[0].astype(int)
    src = predict.resize(read_frames(path, [10])[0], 240, 240).astype(int)
    band = np.abs(drawn[:50] - src[:50]).mean()  # the label band over the top rows
    rest = np.abs(drawn[120:] - src[120:]).mean()  # below it: the video only
    assert band > 20 and rest < 8
    with pytest.raises(FileExistsError, match="--overwrite"):
        predict.write_labelled_video(pred, plain, progress=False)


def test_cli_predict_writes_json_and_video_and_refuses_to_overwrite(shapes_video, tmp_path, capsys):
    path, names = shapes_video
    out = tmp_path / "labelled.mp4"
    args = ["predict", str(path), "--checkpoint", str(CHECKPOINT), "--mode", "sliding",
            "--stride", "32", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    rec = json.loads(out.with_suffix(".json").read_text())
    assert [w["top"][0]["class"] for w in rec["windows"][:3]] == names
    assert probe(out).num_frames == 96 and names[0] in capsys.readouterr().out
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--attribution"]) == 0
    assert probe(out).width == 720
    assert main(["predict", str(path), "--attribution", "--checkpoint", str(CHECKPOINT)]) == 2
    assert "--out" in capsys.readouterr().err


def test_a_detector_is_refused_before_any_decoding() -> None:
    with pytest.raises(ValueError, match="action detector"):
        predict.load_predictor(preset="slowfast_8x8_r50_ava", random_weights=True)
