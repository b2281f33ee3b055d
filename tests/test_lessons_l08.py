"""Tests of slowfast_lab.lessons.l08_own_video: choosing the clip (an upload never overwrites),
the figures show what they claim, the lesson's fine-tuning learns, and the export check."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch

from slowfast_lab import predict, recognize, synthetic
from slowfast_lab.datasets import stratified_split
from slowfast_lab.finetune import shard_batches, steps_for
from slowfast_lab.lessons import l08_own_video as L
from slowfast_lab.video import VideoError, probe, write_video


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    """A small, real mp4 (one MotionShapes clip at 48 px) as an upload would carry it."""
    clip = synthetic.render_clip(1000, 4, synthetic.TaskConfig())
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_video(path, clip.frames, 25, quality=12, pix_fmt="yuv444p")
    return path.read_bytes()


# ------------------------------------------------------------------------------------------------
# Choosing the clip


def test_an_upload_never_overwrites_a_file(tmp_path: Path, clip_bytes: bytes) -> None:
    mine = tmp_path / "holiday.mp4"
    mine.write_bytes(b"my own file")
    (tmp_path / "holiday-1.mp4").write_bytes(b"another")
    value = ({"name": "holiday.mp4", "type": "video/mp4", "content": memoryview(clip_bytes)},)
    saved = L.save_upload(value, tmp_path)
    assert saved == tmp_path / "holiday-2.mp4" and saved.read_bytes() == clip_bytes
    assert mine.read_bytes() == b"my own file"  # untouched
    assert (tmp_path / "holiday-1.mp4").read_bytes() == b"another"
    again = L.save_upload(value, tmp_path)  # the same upload twice: a third name, not a replace
    assert again == tmp_path / "holiday-3.mp4" and probe(again).num_frames == 32


def test_upload_names_cannot_leave_the_folder(tmp_path: Path, clip_bytes: bytes) -> None:
    folder = tmp_path / "uploads"
    saved = L.save_upload([{"name": "../../escape.mp4", "content": clip_bytes}], folder)
    assert saved == folder / "escape.mp4" and not (tmp_path / "escape.mp4").exists()


def test_upload_formats_and_bad_uploads(tmp_path: Path, clip_bytes: bytes) -> None:
    assert L.save_upload((), tmp_path) is None and L.save_upload(None, tmp_path) is None
    old_style = {"a.mp4": {"content": clip_bytes, "metadata": {}}}  # ipywidgets 7's value
    assert L.save_upload(old_style, tmp_path) == tmp_path / "a.mp4"
    with pytest.raises(ValueError, match=r"'notes.txt' is not a video file.*\.mp4"):
        L.save_upload([{"name": "notes.txt", "content": b"hello"}], tmp_path)
    assert not (tmp_path / "notes.txt").exists()
    with pytest.raises(ValueError, match="choose one video"):
        L.save_upload([{"name": "a.mp4", "content": b""}] * 2, tmp_path)
    with pytest.raises(VideoError, match="broken.mp4"):
        L.save_upload([{"name": "broken.mp4", "content": b"not a video at all" * 50}], tmp_path)
    assert not (tmp_path / "broken.mp4").exists()  # the unusable copy is removed again


def test_every_format_the_button_offers_is_saved(tmp_path: Path) -> None:
    """The upload button's accept list is the suffixes save_upload (and finetune) read; a phone's
    .mov among them (PyAV reads QuickTime)."""
    offered = L.upload_widget().accept.split(",")
    assert ".mov" in offered
    clip = synthetic.render_clip(1000, 4, synthetic.TaskConfig())
    for suffix in offered:
        if suffix in (".webm", ".avi"):  # other codecs: covered by the video tests
            continue
        path = tmp_path / f"src{suffix}"
        write_video(path, clip.frames, 25, quality=12, pix_fmt="yuv444p")
        value = [{"name": f"phone{suffix}", "content": path.read_bytes()}]
        saved = L.save_upload(value, tmp_path / "up")
        assert saved == tmp_path / "up" / f"phone{suffix}" and probe(saved).num_frames == 32


def test_file_upload_widget_value_is_accepted(tmp_path: Path, clip_bytes: bytes) -> None:
    widget = L.upload_widget()
    assert ".mp4" in widget.accept and not widget.multiple
    assert L.choose_clip(widget.value, None, tmp_path) == L.sample_video()  # nothing chosen yet
    widget.value = (  # as the browser sends it: content as a memoryview
        {"name": "w.mp4", "type": "video/mp4", "size": len(clip_bytes),
         "content": memoryview(clip_bytes), "last_modified": datetime.now(timezone.utc)},
    )  # fmt: skip
    assert L.choose_clip(widget.value, None, tmp_path) == tmp_path / "w.mp4"


def test_choose_clip_prefers_upload_then_path_then_sample(tmp_path: Path, clip_bytes) -> None:
    path = tmp_path / "given.mp4"
    path.write_bytes(clip_bytes)
    upload = [{"name": "up.mp4", "content": clip_bytes}]
    assert L.choose_clip(upload, path, tmp_path / "u") == tmp_path / "u" / "up.mp4"
    assert L.choose_clip(None, path) == path
    assert L.choose_clip() == L.sample_video() and L.sample_video().name == L.SAMPLE
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        L.choose_clip(None, tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="folder="):
        L.choose_clip(upload, None, None)
    assert "32 frames of 48x48 at 25 fps (1.28 s)" in L.clip_summary(path)


def test_new_folder_is_new_every_time(tmp_path: Path) -> None:
    a, b = L.new_folder(tmp_path), L.new_folder(tmp_path)
    assert a != b and a.is_dir() and not any(a.iterdir()) and a.parent == tmp_path


# ------------------------------------------------------------------------------------------------
# What the model sees, predictions over time


def test_model_view_is_the_centre_crop_at_the_model_size() -> None:
    raw, small = L.model_view(L.sample_video(), 48)
    assert raw.shape == (96, 96, 3) and small.shape == (48, 48, 3)
    down = raw.reshape(48, 2, 48, 2, 3).mean(axis=(1, 3))  # 2x2 averages ~ bilinear halving
    assert np.abs(small.astype(float) - down).mean() < 12
    assert raw.astype(float).std() > small.astype(float).std()  # the fine detail is gone
    bunny_raw, bunny = L.model_view(L.sample_video("bigbuckbunny_256p.mp4"), 64, frame=10)
    assert bunny_raw.shape == (256, 454, 3) and bunny.shape == (64, 64, 3)
    with pytest.raises(ValueError, match="frame=64"):
        L.model_view(L.sample_video(), 48, frame=64)
    fig = L.model_view_figure(L.sample_video(), 48)
    assert "96x96" in fig.axes[0].get_title() and "48x48" in fig.axes[1].get_title()


def _prediction(probs: torch.Tensor, random: bool = False) -> predict.Prediction:
    """A Prediction over windows 1 s apart (no model needed for the figures)."""
    n = probs.shape[0]
    windows = [
        {"start_frame": 25 * i, "end_frame": 25 * i + 31, "start_s": float(i),
         "end_s": i + 1.28, "padded": 0}
        for i in range(n)
    ]  # fmt: skip
    p = predict.Predictor(None, "toy", ("a", "b", "c", "d"), 48, random, "rgb", "")
    return predict.Prediction("toy.mp4", None, "sliding", windows, probs, p, 48)


def test_window_topk_figure_follows_every_class_in_a_window_top_k() -> None:
    probs = torch.tensor([[0.7, 0.2, 0.05, 0.05], [0.1, 0.6, 0.25, 0.05], [0.5, 0.4, 0.05, 0.05]])
    fig = L.window_topk_figure(_prediction(probs[:, None]), k=1)
    ax, spans = fig.axes[:2]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["a", "b"]  # top-1 of some window; c and d never are
    assert list(lines["b"].get_xdata()) == pytest.approx([0.64, 1.64, 2.64])  # window centres
    assert list(lines["b"].get_ydata()) == pytest.approx([0.2, 0.6, 0.4])
    assert len(spans.get_lines()) == 2 * 3  # a span and a centre per window
    assert "whole video: a (0.43)" in ax.get_title() and ax.get_yscale() == "linear"
    two = L.window_topk_figure(_prediction(probs[:, None]), k=2, log=True)
    assert [x.get_label() for x in two.axes[0].get_lines()] == ["a", "b", "c"]
    assert two.axes[0].get_yscale() == "log"
    rnd = L.window_topk_figure(_prediction(probs[:, None], random=True), k=1)
    assert rnd.axes[0].get_title().startswith(L.RANDOM_TITLE)
    rows = L.window_topk_rows(_prediction(probs[:, None]), k=2)
    assert rows[1]["top 1"] == "b 0.60" and rows[1]["top 2"] == "c 0.25" and len(rows) == 3


def test_strip_frames_pair_each_fast_frame_with_its_slow_frame() -> None:
    maps = {"slow": 0, "fast": 0, "slow_indices": np.array([10, 18, 26, 34]),
            "fast_indices": np.arange(10, 42, 2)}  # fmt: skip
    moments = L.strip_frames(maps, 4)
    assert [m["fast"] for m in moments] == [10, 20, 30, 40]  # first to last, evenly
    assert [m["slow"] for m in moments] == [10, 18, 26, 34]  # at or before
    assert L.strip_frames(maps, 1) == [{"slow": 10, "fast": 10}]
    assert len(L.strip_frames(maps, 99)) == 16  # no more moments than Fast frames
    slow_only = {"slow": 0, "slow_indices": np.array([0, 8])}
    assert L.strip_frames(slow_only, 4) == [{"slow": 0}, {"slow": 8}]
    with pytest.raises(ValueError, match="per_window"):
        L.strip_frames(maps, 0)


@pytest.fixture(scope="module")
def sample_prediction():
    tiny = L.tiny_predictor()
    pred = predict.predict_video(tiny, L.sample_video(), "sliding", device="cpu", progress=False)
    return tiny, pred


def test_the_tiny_model_on_the_sample_says_what_the_lesson_says(sample_prediction) -> None:
    """The lesson's text states these outcomes; if the model or the sample changes, it must too."""
    _, pred = sample_prediction
    assert all(pred.window_top(i, 1)[0]["class"] == "L-cw" for i in range(len(pred.windows)))
    assert pred.top(2)[1]["class"] == "pacman-stripes-cw" and pred.top(2)[1]["score"] < 1e-3
    assert pred.top(1)[0]["score"] > 0.999


def test_attribution_strip_shows_both_pathways_per_window(sample_prediction) -> None:
    tiny, pred = sample_prediction
    attributions = predict.window_attributions(tiny, pred, progress=False)
    fig = L.attribution_strip_figure(pred, attributions, per_window=3)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == len(pred.windows) * 3 * 2
    titles = [ax.get_title() for ax in panels[:6]]
    assert [t.split()[0] for t in titles] == ["Slow", "Fast"] * 3
    assert (
        panels[0].title.get_color() == L.SLOW_COLOR and panels[1].title.get_color() == L.FAST_COLOR
    )
    assert all(len(ax.images) == 2 for ax in panels)  # the frame and the map over it
    assert any("Grad-CAM" in ax.get_ylabel() for ax in fig.axes)  # the colour bar
    heat = panels[1].images[1].get_array()
    first = attributions[0]
    k = int(np.flatnonzero(first["fast_indices"] == L.strip_frames(first, 3)[0]["fast"])[0])
    assert np.allclose(heat, first["fast"][k])  # the map of the frame its title names
    with pytest.raises(ValueError, match="window_attributions"):
        L.attribution_strip_figure(pred, attributions[:1])
    # The notebook's reading of the sample: summed over each window's frames, both pathways peak
    # in the lower right quarter, in every window; the Fast map changes more between frames.
    for a in attributions:
        for pathway in ("slow", "fast"):
            total = a[pathway].sum(0)
            row, col = np.unravel_index(total.argmax(), total.shape)
            assert row >= total.shape[0] / 2 and col >= total.shape[1] / 2, pathway
        moves = {p: np.abs(np.diff(a[p], axis=0)).mean() for p in ("slow", "fast")}
        assert moves["fast"] > moves["slow"]


def test_official_predictor_never_downloads(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(recognize.WEIGHTS_ENV, str(tmp_path))
    monkeypatch.setattr(recognize, "DEFAULT_WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(recognize, "download_official", lambda *a, **k: pytest.fail("download"))
    model, status = L.official_predictor("slowfast_8x8_r50")
    assert model is None and "weights download SLOWFAST_8x8_R50" in status
    assert "skipped" in status


def test_official_predictor_uses_weights_found_on_disk(tmp_path, monkeypatch, clip_bytes) -> None:
    """The notebook's branch with weights: found where the lesson says, predicted, plotted
    (a small preset in place of the R50, which would take a 270 MB file)."""
    from slowfast_lab.model import build_model
    from slowfast_lab.weights import save_checkpoint

    weights = save_checkpoint(build_model("slowfast_tiny"), tmp_path / "my_weights.pt")
    monkeypatch.setenv(recognize.WEIGHTS_ENV, str(weights))
    model, status = L.official_predictor("slowfast_tiny")
    assert model is not None and not model.random and str(weights) in status
    video = tmp_path / "v.mp4"
    video.write_bytes(clip_bytes)
    pred = predict.predict_video(model, video, "auto", num_clips=2, crops=1, size=64,
                                 progress=False)  # fmt: skip
    fig = L.window_topk_figure(pred, k=5)
    assert len(fig.axes[0].get_lines()) >= 5 and not fig.axes[0].get_title().startswith("RANDOM")


def test_video_player_embeds_the_file(tmp_path: Path, clip_bytes: bytes) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(clip_bytes)
    page = L.video_player(path)._repr_html_()
    assert "data:video/mp4;base64," in page and "controls" in page


# ------------------------------------------------------------------------------------------------
# Fine-tuning and export, with the notebook's fast-mode settings


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("l08")
    folders = L.write_class_folders(work / "my_videos", L.FINETUNE_CLASSES, 10)
    cfg = L.finetune_config(folders, work / "mine.pt", epochs=2, threads=1)
    cfg.progress = False
    return cfg, L.run_finetune(cfg)


def test_write_class_folders_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        L.write_class_folders(tmp_path / "x", ("L-cw",), 1)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_the_lesson_finetuning_learns_the_two_spins(run) -> None:
    cfg, result = run
    rec = result.record
    assert rec["classes"] == sorted(L.FINETUNE_CLASSES)
    assert rec["data"]["train"] == {"L-ccw": 6, "L-cw": 6} and rec["val"]["clips"] == 8
    assert rec["config"]["hflip"] is False and rec["config"]["freeze"] == "res4"
    chance = 1 / len(rec["classes"])
    assert rec["val"]["accuracy"] >= 0.75 > chance  # 6 of 8 held-out clips at least
    assert rec["val_accuracy"][0] == 1.0  # the notebook: 100% after the first epoch (fast mode)
    losses = [v for _, v in rec["loss_curve"]]
    assert np.mean(losses[len(losses) // 2 :]) < np.mean(losses[: len(losses) // 2])
    rows = L.finetune_rows({"pretrained": rec})
    assert rows[0]["val accuracy %"] == round(100 * rec["val"]["accuracy"], 1)
    assert rows[0]["train clips"] == 12 and rows[0]["steps"] == rec["steps"] == 6
    assert rec["steps"] == steps_for(12, cfg.batch_size, 2)
    scratch = L.finetune_config(cfg.data, pretrained=False)
    assert scratch.weights is None and scratch.freeze == "none" and scratch.out is None


def test_training_figure_has_a_curve_per_run_and_chance(run) -> None:
    _, result = run
    rec = result.record
    fig = L.training_figure({"pretrained": rec, "again": rec})
    loss_ax, acc_ax = fig.axes
    assert [x.get_label() for x in loss_ax.get_lines()] == ["pretrained", "again"]
    assert list(loss_ax.get_lines()[0].get_ydata()) == [v for _, v in rec["loss_curve"]]
    chance = [x for x in acc_ax.get_lines() if x.get_label().startswith("chance")]
    assert len(chance) == 1 and list(chance[0].get_ydata()) == [50, 50]
    assert list(acc_ax.get_lines()[0].get_ydata()) == [100 * a for a in rec["val_accuracy"]]


def test_export_check_on_held_out_clips(run, tmp_path: Path) -> None:
    from slowfast_lab import export

    cfg, result = run
    exported = export.export_and_check(result.model, tmp_path / "m.ts.pt", "torchscript")
    inputs = L.val_inputs(cfg, limit=4)
    assert inputs[0].shape == (4, 3, 4, 48, 48) and inputs[1].shape == (4, 3, 16, 48, 48)
    check = L.export_check(result.model, exported, inputs)
    assert check["eager"].shape == check["exported"].shape == (4, 2)
    assert check["max_rel_error"] <= export.TOLERANCE and check["same_top1"] == 1.0
    fig = L.export_check_figure(check)
    ax = fig.axes[0]
    assert "max relative error" in ax.get_title() and ax.title.get_color() == "black"
    assert len(ax.collections[0].get_offsets()) == 4 * 2  # one dot per clip and class
    bad = {**check, "exported": check["exported"] + 1.0}
    bad["max_rel_error"] = export.max_relative_error(bad["exported"], bad["eager"])
    assert L.export_check_figure(bad).axes[0].title.get_color() == "red"


def test_finetune_steps_question_matches_the_split_and_the_loader() -> None:
    labels = [c for c in range(3) for _ in range(12)]
    train, _ = stratified_split(labels, 0.25, seed=0)
    steps = steps_for(len(train), 8, 5)
    assert steps == 15 and len(shard_batches(len(train), 8, shuffle_seed=0)) * 5 == steps
    q = L.QUESTIONS["finetune_steps"]
    assert q.solution == str(steps) and q.grade(str(steps)) == "Correct!"
