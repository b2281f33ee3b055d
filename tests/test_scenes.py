"""MotionShapes scenes: the task where late fusion cannot bind colour to motion.

What must hold for the task to mean what lesson 03 says: every clip shows every colour; the
mover's colour and direction set the class; the Fast pathway's gray frames cannot tell the
colours apart; the Slow frames cannot tell the mover from the still objects; per-object masks
and boxes follow the objects (the detection task uses them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slowfast_lab import synthetic as ms
from slowfast_lab.interventions import intervention_report, mirror_labels
from slowfast_lab.train import TrainConfig, accuracy_report, check_train_config

TASK = ms.TaskConfig(kind="scenes", size=48, noise=0.0, distractors=0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SLOWFAST_LAB_CACHE", str(tmp_path))
    ms._MEMORY.clear()


def test_classes_cross_every_colour_with_both_directions():
    classes = TASK.classes
    assert len(classes) == 6 and TASK.class_names == tuple(c.name for c in classes)
    pairs = {(c.colour, c.motion) for c in classes}
    assert pairs == {(c, m) for c in ms.COLOURS for m in ("cw", "ccw")}
    assert TASK.fast_view == "gray" and ms.TaskConfig().fast_view == "rgb"
    assert ms.TaskConfig(kind="scenes", fast_input="rgb").fast_view == "rgb"
    with pytest.raises(ValueError, match="kind"):
        ms.TaskConfig(kind="scene")
    with pytest.raises(ValueError, match="fast_input"):
        ms.TaskConfig(kind="scenes", fast_input="flow")


def test_isoluminant_colours_have_the_same_luma_and_differ_in_rgb():
    c = ms.isoluminant_colours(0.5, 0.3)
    luma = c @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(luma, 0.5, atol=1e-6)
    assert np.abs(c[0] - c[1]).max() > 0.2 and np.abs(c[1] - c[2]).max() > 0.2


@pytest.mark.parametrize("index", range(6))
def test_every_colour_in_every_clip_and_one_mover_with_the_class(index):
    clip = ms.render_clip(4, index, TASK)
    spec = clip.spec
    assert clip.label == index % 6
    assert [o["colour"] for o in clip.params["objects"]] == list(ms.COLOURS)
    assert sorted(clip.actions) == sorted(["still", "still", spec.motion])
    assert clip.actions[ms.COLOURS.index(spec.colour)] == spec.motion
    # Objects never overlap, and each is visible in every frame.
    assert clip.object_masks.shape == (3, TASK.raw_frames, 48, 48)
    assert clip.object_masks.sum(0).max() == 1
    assert clip.object_masks.any(axis=(2, 3)).all()


def test_gray_frames_show_the_three_objects_alike_and_rgb_frames_do_not():
    clip = ms.render_clip(2, 1, TASK)
    frame = clip.frames[0].astype(np.float64) / 255
    luma = frame @ np.array([0.299, 0.587, 0.114])
    means_gray = [luma[m[0]].mean() for m in clip.object_masks]
    means_rgb = [frame[m[0]].mean(0) for m in clip.object_masks]
    assert max(means_gray) - min(means_gray) < 2 / 255  # rounding to uint8 only
    assert min(np.abs(a - b).max() for a in means_rgb for b in means_rgb if a is not b) > 0.15
    # ... and the model's Fast input is exactly that gray: three equal channels.
    data = ms.make_dataset(2, 6, TASK, progress=False)
    slow, fast, _ = data.batch(slice(0, 6))
    assert torch.equal(fast[:, 0], fast[:, 1]) and torch.equal(fast[:, 1], fast[:, 2])
    assert not torch.equal(slow[:, 0], slow[:, 1])


def test_the_mover_is_still_for_slow_and_circles_for_fast():
    clip = ms.render_clip(5, 0, TASK)  # red-cw
    mover = clip.object_masks[ms.COLOURS.index(clip.spec.colour)]
    slow_idx, fast_idx = ms.pathway_indices(TASK)
    # Slow frames: the same place (one orbit per tau raw frames); Fast frames: a quarter orbit each.
    assert all(np.array_equal(mover[slow_idx[0]], mover[i]) for i in slow_idx[1:])
    centre = [np.argwhere(mover[i]).mean(0)[::-1] for i in fast_idx[:4]]  # (x, y) per frame
    steps = np.diff(np.array(centre), axis=0)
    turn = np.cross(steps[:-1], steps[1:])  # > 0: clockwise on screen (y points down)
    assert (turn > 0).all() and (np.linalg.norm(steps, axis=1) > 2).all()
    still = clip.object_masks[[i for i, a in enumerate(clip.actions) if a == "still"]]
    assert all(np.array_equal(m[0], m[-1]) for m in still)


def test_boxes_enclose_the_masks():
    clip = ms.render_clip(1, 3, TASK)
    for masks, boxes in zip(clip.object_masks, clip.boxes, strict=True):
        for m, (x0, y0, x1, y1) in zip(masks, boxes, strict=True):
            ys, xs = np.nonzero(m)
            assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max(), ys.max())


def test_reports_score_colour_and_direction_separately():
    labels = torch.arange(6).repeat(5)
    # Right direction, colour always "red": what a model that cannot bind would do.
    preds = torch.tensor([(0 if TASK.classes[int(t)].motion == "cw" else 1) for t in labels])
    r = accuracy_report(preds, labels, TASK)
    assert r["groups"] == {"mover colour": pytest.approx(1 / 3, abs=1e-3), "direction": 1.0}
    assert r["chance_within_group"]["mover colour"] == pytest.approx(1 / 3, abs=1e-3)
    assert len(r["confusion"]) == 6
    flipped = mirror_labels(TASK)[labels]
    iv = intervention_report(flipped, labels, TASK)
    assert iv["direction_flipped"] == 1.0 and iv["called_still"] is None
    assert iv["groups"]["direction"] == 0.0 and iv["groups"]["mover colour"] == 1.0
    with pytest.raises(ValueError, match="6 classes"):
        accuracy_report(torch.full((3,), 9), torch.zeros(3, dtype=torch.long), TASK)


def test_training_refuses_a_head_that_does_not_fit_the_task():
    from slowfast_lab.config import ConfigError, get_config

    bad = TrainConfig(model="slowfast_tiny", task={"kind": "scenes"}, train_clips=64)
    with pytest.raises(ConfigError, match="num_classes=6"):
        check_train_config(bad)
    good = TrainConfig(model=get_config("slowfast_tiny", num_classes=6), task={"kind": "scenes"})
    check_train_config(good)
    with pytest.raises(ConfigError, match="tasks are"):
        check_train_config(TrainConfig(task={"kind": "bogus"}))
