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


# ------------------------------------------------------------------------------------------------
# Scenes with actions (kind="scenes_multi"): labels per object box and per clip
# ------------------------------------------------------------------------------------------------

MULTI = ms.TaskConfig(kind="scenes_multi", size=48, noise=0.0, distractors=0)


def test_multi_task_names_its_actions_and_keyframe():
    assert MULTI.class_names == ms.ACTIONS and MULTI.multilabel and not TASK.multilabel
    assert MULTI.fast_view == "gray" and MULTI.keyframe == 16  # T tau = 32 raw frames
    assert MULTI.keyframe in ms.pathway_indices(MULTI)[1]
    assert ms._cache_key(0, 10, MULTI) != ms._cache_key(0, 10, TASK)


@pytest.mark.parametrize("index", range(4))
def test_multi_targets_follow_each_objects_actions(index):
    clip = ms.render_clip(7, index, MULTI)
    again = ms.render_clip(7, index, MULTI)
    np.testing.assert_array_equal(clip.frames, again.frames)  # seeded, deterministic
    assert clip.label == -1 and clip.targets.shape == (3, MULTI.raw_frames, len(ms.ACTIONS))
    motion = clip.targets[..., :3]
    assert (motion.sum(-1) == 1).all()  # exactly one of still / cw / ccw, every frame
    for o, ob in enumerate(clip.params["objects"]):
        names = [a for a, on in zip(ms.ACTIONS, clip.targets[o, 0], strict=True) if on]
        assert names == ob["actions"] and clip.actions[o] == " + ".join(names)
        assert ("changing colour" in names) == bool(ob["hue_turns"])
    np.testing.assert_array_equal(clip.clip_targets, clip.targets.any(axis=(0, 1)))
    assert clip.object_masks.sum(0).max() == 1 and clip.object_masks.any(axis=(2, 3)).all()
    with pytest.raises(ValueError, match="targets"):
        _ = clip.spec


def test_multi_splits_mix_actions_and_several_objects_act_at_once():
    counts = np.zeros(len(ms.ACTIONS))
    busy = 0
    for i in range(60):
        objects = ms.scene_multi_params(0, i, MULTI)["objects"]
        hot = np.array([[a in ob["actions"] for a in ms.ACTIONS] for ob in objects])
        counts += hot.sum(0)
        busy += sum(ob["action"] != "still" for ob in objects) >= 2
    assert (counts > 20).all()  # every action is common
    assert busy > 10  # clips where two or more squares circle


def test_changing_colour_keeps_the_luma_and_turns_the_hue():
    hues = np.linspace(0, 2 * np.pi, 9)
    c = ms.hue_colour(0.5, 0.2, hues)
    np.testing.assert_allclose(c @ np.array([0.299, 0.587, 0.114]), 0.5, atol=1e-6)
    assert (c >= 0).all() and (c <= 1).all()
    assert np.abs(c[0] - c[2]).max() > 0.15  # a quarter turn: a clearly different colour
    index = next(
        i
        for i in range(50)
        if any(o["hue_turns"] for o in ms.scene_multi_params(3, i, MULTI)["objects"])
    )
    clip = ms.render_clip(3, index, MULTI)
    o = next(k for k, ob in enumerate(clip.params["objects"]) if ob["hue_turns"])
    slow, _ = ms.pathway_indices(MULTI)
    rgb = np.stack([clip.frames[f][clip.object_masks[o, f]].mean(0) for f in slow])  # [T, 3]
    flicker = np.asarray(clip.params["flicker"])[slow] * 255
    luma = rgb @ np.array([0.299, 0.587, 0.114]) - flicker
    assert np.ptp(luma) < 2.0  # gray frames: the same square in every Slow frame
    assert np.abs(rgb[1:] - rgb[:-1]).max(1).min() > 20  # colour: every Slow frame differs


def test_multi_dataset_holds_keyframe_boxes_and_targets(tmp_path):
    data = ms.make_dataset(2, 4, MULTI, progress=False)
    assert data.labels.shape == (4, len(ms.ACTIONS)) and data.labels.dtype == torch.float32
    assert data.boxes.shape == (4, 3, 4) and data.targets.shape == (4, 3, len(ms.ACTIONS))
    clip = ms.render_clip(2, 1, MULTI)
    np.testing.assert_array_equal(data.boxes[1].numpy(), ms.roi_box(clip.boxes[:, MULTI.keyframe]))
    np.testing.assert_array_equal(data.targets[1].numpy(), clip.targets[:, MULTI.keyframe])
    np.testing.assert_array_equal(data.labels[1].numpy(), clip.clip_targets)
    slow, fast, rois, targets = data.detection_batch(slice(1, 3))
    assert slow.shape[0] == 2 and rois.shape == (6, 5) and targets.shape == (6, len(ms.ACTIONS))
    assert rois[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(rois[:3, 1:].numpy(), data.boxes[1].numpy())
    ms._MEMORY.clear()  # read back from the disk cache: the same arrays
    again = ms.make_dataset(2, 4, MULTI, progress=False)
    assert torch.equal(again.boxes, data.boxes) and torch.equal(again.targets, data.targets)
    with pytest.raises(ValueError, match="scenes_multi"):
        ms.make_dataset(2, 2, TASK, progress=False).detection_batch(slice(0, 1))
