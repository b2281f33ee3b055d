"""MotionShapes: determinism, the class design (aliasing for Slow, visible motion for Fast), caching."""

from __future__ import annotations

import numpy as np
import pytest

from slowfast_lab import synthetic as ms

TASK = ms.TaskConfig(size=32, noise=0.0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SLOWFAST_LAB_CACHE", str(tmp_path))
    ms._MEMORY.clear()


def test_class_table_has_three_groups_with_one_varying_factor():
    groups = ms.group_labels()
    assert list(groups) == list(ms.GROUPS)
    assert all("appearance" in g or "motion" in g for g in groups)
    assert sorted(i for m in groups.values() for i in m) == list(range(ms.NUM_CLASSES))
    for g, members in groups.items():
        specs = [ms.CLASSES[i] for i in members]
        assert len({s.shape for s in specs}) == 1  # the coarse shape only names the group
        varying = {f for f in ("texture", "motion") if len({getattr(s, f) for s in specs}) > 1}
        assert varying == {"appearance": {"texture"}, "motion": {"motion"}}.get(g, varying)
        if g == "appearance+motion":
            assert varying == {"texture", "motion"}
    assert len(set(ms.CLASS_NAMES)) == ms.NUM_CLASSES


def test_render_is_deterministic_and_subsets_match():
    a = ms.render_clip(3, 7, ms.TaskConfig(size=32))
    b = ms.render_clip(3, 7, ms.TaskConfig(size=32))
    assert a.frames.dtype == np.uint8 and a.frames.shape == (32, 32, 32, 3)
    assert a.mask.shape == (32, 32, 32) and a.mask.any(axis=(1, 2)).all()
    np.testing.assert_array_equal(a.frames, b.frames)
    sub = ms.render_clip(3, 7, ms.TaskConfig(size=32), [0, 2, 30])
    np.testing.assert_array_equal(sub.frames, a.frames[[0, 2, 30]])
    other = ms.render_clip(4, 7, ms.TaskConfig(size=32))
    assert not np.array_equal(a.frames, other.frames)  # another seed is another split


def _object_without_drift(label: int, frames: list[int]) -> np.ndarray:
    """Object masks of a clip of class `label` with the drift switched off."""
    index = label  # labels cycle with the index
    params = ms.clip_params(0, index, TASK)
    params["drift"] = [0.0, 0.0]
    original = ms.clip_params
    try:
        ms.clip_params = lambda *a, **k: params
        return ms.render_clip(0, index, TASK, frames).mask
    finally:
        ms.clip_params = original


@pytest.mark.parametrize("name", ["L-cw", "L-ccw", "pacman-stripes-cw", "pacman-checks-ccw"])
def test_spin_aliases_to_a_still_picture_for_slow_but_not_for_fast(name):
    label = ms.CLASS_NAMES.index(name)
    slow_idx, fast_idx = ms.pathway_indices(TASK)
    slow = _object_without_drift(label, slow_idx)
    assert all(np.array_equal(slow[0], m) for m in slow[1:])  # every Slow frame: the same pose
    fast = _object_without_drift(label, fast_idx[:4])
    # Each Fast step turns the object by 90 degrees, which changes its silhouette (no symmetry).
    assert all((fast[k] ^ fast[k + 1]).sum() > 20 for k in range(3))


def test_cw_and_ccw_differ_for_fast():
    cw = ms.CLASS_NAMES.index("L-cw")
    ccw = ms.CLASS_NAMES.index("L-ccw")
    params_cw = ms.clip_params(0, cw, TASK)
    params_ccw = dict(params_cw, label=ccw)
    original = ms.clip_params
    _, fast_idx = ms.pathway_indices(TASK)
    try:
        ms.clip_params = lambda *a, **k: params_cw
        a = ms.render_clip(0, cw, TASK, fast_idx).mask
        ms.clip_params = lambda *a, **k: params_ccw
        b = ms.render_clip(0, ccw, TASK, fast_idx).mask
    finally:
        ms.clip_params = original
    np.testing.assert_array_equal(a[0], b[0])  # same start pose
    assert (a[1] ^ b[1]).sum() > 20  # +90 vs -90 degrees: different pictures


def test_dataset_shapes_balance_and_cache(tmp_path):
    data = ms.make_dataset(5, 20, TASK, progress=False)
    assert data.fast.shape == (20, 16, 32, 32, 3) and data.slow.shape == (20, 4, 32, 32, 3)
    assert np.bincount(data.labels.numpy(), minlength=10).tolist() == [2] * 10
    slow, fast, labels = data.batch(slice(0, 3))
    assert slow.shape == (3, 3, 4, 32, 32) and fast.shape == (3, 3, 16, 32, 32)
    assert slow.dtype == fast.dtype and slow.is_floating_point()
    clip = ms.render_clip(5, 1, TASK)
    np.testing.assert_array_equal(data.fast[1].numpy(), clip.frames[::2])
    assert list(ms.cache_dir().glob("*.npz"))
    ms._MEMORY.clear()
    again = ms.make_dataset(5, 20, TASK, progress=False)  # from the disk cache
    assert (again.fast == data.fast).all() and (again.labels == data.labels).all()


def test_task_follows_model_config_and_rejects_bad_values():
    from slowfast_lab import get_config

    task = ms.TaskConfig.for_model(get_config("slowfast_tiny"), size=40)
    assert (task.T, task.tau, task.alpha, task.size) == (4, 8, 4, 40)
    with pytest.raises(ValueError, match="alpha"):
        ms.TaskConfig(tau=8, alpha=3)
    with pytest.raises(ValueError, match="32"):
        ms.TaskConfig(size=16)


def test_distractor_mask_is_where_the_discs_are_drawn():
    task = ms.TaskConfig(noise=0.0, distractors=3)
    clip = ms.render_clip(7, 4, task, frame_indices=[0, 3, 17])
    discs = ms.distractor_mask(clip)
    assert discs.shape == clip.mask.shape and discs.any()
    assert not (discs & clip.mask).any()  # the object is drawn in front of the discs
    flicker = np.asarray(clip.params["flicker"], np.float32)
    for f, raw in enumerate(clip.frame_indices):
        # without pixel noise a disc pixel is its disc's colour plus the frame's flicker
        colours = {
            tuple(np.clip(np.round((np.float32(c) + flicker[raw]) * 255), 0, 255))
            for c in (np.asarray(d["color"], np.float32) for d in clip.params["discs"])
        }
        seen = {tuple(px) for px in clip.frames[f][discs[f]]}
        assert seen <= colours
