"""Temporal sampling (paper and PySlowFast packing), clip selection, and the plain-torch transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import slowfast_lab as sfl
from slowfast_lab.sampling import (
    Clip,
    apply_view,
    center_crop,
    clip_span,
    crop_offsets,
    eval_view,
    eval_views,
    frames_to_tensor,
    normalize,
    random_view,
    short_side_scale,
    three_crop,
    time_difference,
    to_grayscale,
)
from slowfast_lab.video import frame_number, numbered_frames, write_video

# ------------------------------------------------------------------------------------------------
# sample_indices
# ------------------------------------------------------------------------------------------------


@st.composite
def sampling_args(draw):
    T = draw(st.integers(1, 16))
    stride = draw(st.integers(1, 8))  # tau / alpha
    alpha = draw(st.integers(1, 16))
    start = draw(st.integers(0, 500))
    num = draw(st.integers(1, 1200))
    return num, T, alpha * stride, alpha, start


@settings(max_examples=300, deadline=None)
@given(sampling_args())
def test_sample_indices_paper_definition(args):
    num, T, tau, alpha, start = args
    needed = start + (alpha * T - 1) * (tau // alpha) + 1
    if needed > num:
        with pytest.raises(ValueError, match=f"{start}..{needed - 1}"):
            sfl.sample_indices(num, T, tau, alpha, start)
        return
    slow, fast = sfl.sample_indices(num, T, tau, alpha, start)
    assert len(slow) == T and len(fast) == alpha * T
    assert slow[0] == fast[0] == start and fast[-1] < num
    assert set(np.diff(slow)) <= {tau}
    assert set(np.diff(fast)) <= {tau // alpha}
    assert set(slow) <= set(fast)  # every Slow frame is a Fast frame...
    assert [fast.index(s) for s in slow] == list(range(0, alpha * T, alpha))  # ...every alpha-th


@settings(max_examples=200, deadline=None)
@given(sampling_args())
def test_sample_indices_pyslowfast_packing(args):
    num, T, tau, alpha, start = args
    last = start + T * tau - 1 if alpha * T > 1 else start  # linspace spans the whole window
    if last >= num:
        with pytest.raises(ValueError):
            sfl.sample_indices(num, T, tau, alpha, start, packing="pyslowfast")
        return
    slow, fast = sfl.sample_indices(num, T, tau, alpha, start, packing="pyslowfast")
    assert len(slow) == T and len(fast) == alpha * T
    assert fast[0] == start and fast[-1] == last
    assert fast == sorted(fast) and set(slow) <= set(fast)
    step = (T * tau - 1) / max(alpha * T - 1, 1)
    assert all(-1e-3 < start + j * step - f < 1 + 1e-3 for j, f in enumerate(fast))  # floor


def test_pyslowfast_slow_positions_are_not_every_alpha_th():
    slow, fast = sfl.sample_indices(64, T=4, tau=16, alpha=8, packing="pyslowfast")
    assert [fast.index(s) for s in slow] == [0, 10, 20, 31]  # REFERENCE.md; the paper: 0, 8, 16, 24
    paper_slow, _ = sfl.sample_indices(64, T=4, tau=16, alpha=8)
    assert slow != paper_slow


@pytest.mark.parametrize("tau,alpha", [(16, 3), (8, 5), (6, 4)])
def test_non_integer_fast_stride_is_a_clear_error(tau, alpha):
    with pytest.raises(ValueError, match=r"alpha=\d+ must divide tau") as err:
        sfl.sample_indices(1000, T=4, tau=tau, alpha=alpha)
    assert "choose alpha in" in str(err.value)
    with pytest.raises(ValueError, match="must divide"):
        sfl.uniform_clip_starts(1000, 4, tau, alpha)


def test_bad_packing_name():
    with pytest.raises(ValueError, match="packing"):
        sfl.sample_indices(64, packing="mmaction")


# ------------------------------------------------------------------------------------------------
# Clip selection
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,num_clips", [(300, 10), (64, 10), (1000, 3), (300, 1), (20, 4)])
def test_uniform_clip_starts(n, num_clips):
    span = clip_span(4, 16, 8)
    starts = sfl.uniform_clip_starts(n, 4, 16, 8, num_clips)
    assert len(starts) == num_clips and starts == sorted(starts)
    last = max(n - span, 0)
    assert all(0 <= s <= last for s in starts)
    if num_clips > 1:
        assert starts[0] == 0 and starts[-1] == last  # first and last frame both covered
        gaps = np.diff(starts)
        assert gaps.max() - gaps.min() <= 1  # evenly spread
    else:
        assert starts == [last // 2]


def test_train_clip_start_is_uniform_over_valid_starts():
    gen = torch.Generator().manual_seed(0)
    n, span = 100, clip_span(4, 8, 4)
    starts = [sfl.train_clip_start(n, 4, 8, 4, generator=gen) for _ in range(2000)]
    assert min(starts) == 0 and max(starts) == n - span
    assert len(set(starts)) == n - span + 1
    again = torch.Generator().manual_seed(0)
    assert [sfl.train_clip_start(n, 4, 8, 4, generator=again) for _ in range(5)] == starts[:5]
    assert sfl.train_clip_start(10, 4, 16, 8) == 0  # too short: start at 0 (then pad or error)


# ------------------------------------------------------------------------------------------------
# Clips from a file
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def numbered(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "numbered.mp4"
    return write_video(path, numbered_frames(200, 96, 128), 30, gop=30, quality=18)


def _numbers(frames):
    return [frame_number(f) for f in frames]


@pytest.mark.parametrize("packing", ["paper", "pyslowfast"])
def test_load_clip_follows_sample_indices(numbered, packing):
    clip = sfl.load_clip(numbered, T=8, tau=8, alpha=4, start=33, packing=packing)
    slow, fast = sfl.sample_indices(200, T=8, tau=8, alpha=4, start=33, packing=packing)
    assert (clip.slow_indices, clip.fast_indices) == (slow, fast)
    assert _numbers(clip.slow) == slow and _numbers(clip.fast) == fast
    assert clip.fps == pytest.approx(30) and clip.times[1] == pytest.approx(fast[1] / 30)


def test_load_uniform_and_train_clips(numbered):
    clips = sfl.load_uniform_clips(numbered, num_clips=5, T=4, tau=8, alpha=4, short_side=48)
    starts = sfl.uniform_clip_starts(200, 4, 8, 4, 5)
    assert [c.fast_indices[0] for c in clips] == starts
    assert all(_numbers(c.fast) == c.fast_indices for c in clips)
    assert clips[0].fast.shape == (16, 48, 64, 3)
    gen = torch.Generator().manual_seed(3)
    clip = sfl.load_train_clip(numbered, T=4, tau=8, alpha=4, generator=gen)
    assert _numbers(clip.fast) == clip.fast_indices


# ------------------------------------------------------------------------------------------------
# Spatial transforms
# ------------------------------------------------------------------------------------------------


def _coords(h: int, w: int, t: int = 2) -> torch.Tensor:
    """[3, t, h, w]: channel 0 holds the row, channel 1 the column (to see where crops come from)."""
    rows = torch.arange(h).view(h, 1).expand(h, w).float()
    cols = torch.arange(w).view(1, w).expand(h, w).float()
    return torch.stack([rows, cols, rows * 0]).unsqueeze(1).expand(3, t, h, w).clone()


@pytest.mark.parametrize(
    "h,w,size", [(240, 320, 128), (320, 240, 128), (100, 100, 64), (90, 161, 45)]
)
def test_short_side_scale(h, w, size):
    y = short_side_scale(torch.rand(3, 2, h, w), size)
    assert min(y.shape[-2:]) == size
    assert y.shape[-2:] == (
        (size, math.floor(w / h * size)) if h <= w else (math.floor(h / w * size), size)
    )


def test_scaling_keeps_a_constant_image_constant():
    x = torch.full((3, 2, 50, 80), 0.3)
    assert torch.allclose(short_side_scale(x, 33), torch.tensor(0.3))


def test_center_crop_takes_the_middle():
    y = center_crop(_coords(100, 160), 64)
    assert y.shape[-2:] == (64, 64)
    assert y[0, 0, 0, 0] == 18 and y[1, 0, 0, 0] == 48  # ceil((100-64)/2), ceil((160-64)/2)


@pytest.mark.parametrize("h,w", [(100, 160), (160, 100)])
def test_three_crop_covers_the_long_side(h, w):
    crops = three_crop(_coords(h, w), 64)
    axis = 1 if w > h else 0  # channel holding the long-side coordinate
    firsts = [int(c[axis, 0, 0, 0]) for c in crops]
    lasts = [int(c[axis, 0, -1, -1]) for c in crops]
    assert firsts[0] == 0 and lasts[2] == max(h, w) - 1 and firsts[0] < firsts[1] < firsts[2]
    short = [int(c[1 - axis, 0, 0, 0]) for c in crops]
    assert len(set(short)) == 1  # all three centred on the short side


def test_crop_errors_say_what_fits():
    with pytest.raises(ValueError, match="scale the short side"):
        crop_offsets(100, 160, 128)
    with pytest.raises(ValueError, match="position"):
        crop_offsets(100, 160, 64, 3)


def test_random_view_respects_jitter_and_is_reproducible():
    views = [random_view(240, 320, 224, (256, 320), generator=torch.Generator().manual_seed(s))
             for s in range(200)]  # fmt: skip
    assert {v.scale for v in views} <= set(range(256, 321)) and len({v.scale for v in views}) > 20
    assert 0.3 < np.mean([v.flip for v in views]) < 0.7
    for v in views:
        h, w = (v.scale, math.floor(320 / 240 * v.scale))
        assert 0 <= v.top <= h - 224 and 0 <= v.left <= w - 224
    again = random_view(240, 320, 224, (256, 320), generator=torch.Generator().manual_seed(7))
    assert again == views[7]
    assert not any(random_view(240, 320, hflip=False).flip for _ in range(20))


def test_apply_view_flips_horizontally():
    x = _coords(64, 64)
    view = eval_view(64, 64, 64)
    flipped = apply_view(x, type(view)(view.scale, 0, 0, 64, flip=True))
    assert torch.equal(flipped[1, 0, 0], x[1, 0, 0].flip(0))


def test_normalize_uses_the_checkpoint_statistics():
    x = torch.full((3, 1, 2, 2), 0.45)
    assert torch.allclose(normalize(x), torch.zeros(1))
    assert torch.allclose(normalize(torch.ones(3, 1, 1, 1)), torch.tensor((1 - 0.45) / 0.225))


def test_grayscale_and_time_difference():
    x = torch.rand(3, 5, 8, 8)
    g = to_grayscale(x)
    assert torch.equal(g[0], g[1]) and torch.equal(g[1], g[2])
    assert torch.allclose(g[0], 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])
    d = time_difference(x)
    assert d.shape == x.shape and torch.equal(d[:, 0], torch.zeros_like(d[:, 0]))
    assert torch.allclose(d[:, 3], x[:, 3] - x[:, 2])
    assert torch.allclose(time_difference(torch.ones(3, 4, 2, 2)), torch.zeros(1))


# ------------------------------------------------------------------------------------------------
# to_model_input -> model
# ------------------------------------------------------------------------------------------------


def _clip(T=2, alpha=4, h=60, w=90) -> Clip:
    rng = np.random.default_rng(0)
    fast = rng.integers(0, 256, (alpha * T, h, w, 3), dtype=np.uint8)
    slow_pos = list(range(0, alpha * T, alpha))
    return Clip(slow=fast[slow_pos], fast=fast, slow_indices=[2 * p for p in slow_pos],
                fast_indices=list(range(0, 2 * alpha * T, 2)), fps=25.0, T=T, tau=2 * alpha,
                alpha=alpha)  # fmt: skip


@pytest.mark.parametrize("train", [False, True])
def test_to_model_input_shapes_and_aligned_pathways(train):
    clip = _clip()
    gen = torch.Generator().manual_seed(0)
    slow, fast = sfl.to_model_input(clip, size=48, train=train, jitter=(48, 64), generator=gen)
    assert slow.shape == (1, 3, 2, 48, 48) and fast.shape == (1, 3, 8, 48, 48)
    assert slow.dtype == fast.dtype == torch.float32
    # the same view on both pathways: Slow frames equal the Fast frames they were sampled from
    assert torch.allclose(slow[0], fast[0][:, ::4])


def test_to_model_input_normalised_range():
    slow, _ = sfl.to_model_input(_clip(), size=48)
    lo, hi = (0 - 0.45) / 0.225, (1 - 0.45) / 0.225
    assert slow.min() >= lo - 1e-5 and slow.max() <= hi + 1e-5
    assert slow.std() > 0.5  # random pixels: not collapsed


def test_to_model_input_fast_variants():
    clip = _clip()
    _, gray = sfl.to_model_input(clip, size=48, fast_input="gray")
    assert torch.equal(gray[0, 0], gray[0, 1])
    slow, diff = sfl.to_model_input(clip, size=48, fast_input="timediff")
    _, rgb = sfl.to_model_input(clip, size=48)
    assert torch.allclose(diff[0, :, 1:], rgb[0, :, 1:] - rgb[0, :, :-1], atol=1e-6)
    with pytest.raises(ValueError, match="fast_input"):
        sfl.to_model_input(clip, size=48, fast_input="flow")


def test_frames_to_tensor_layout():
    frames = np.zeros((3, 4, 5, 3), np.uint8)
    frames[1, 2, 3] = (255, 0, 51)
    x = frames_to_tensor(frames)
    assert x.shape == (3, 3, 4, 5) and x[0, 1, 2, 3] == 1 and x[2, 1, 2, 3] == pytest.approx(0.2)


def test_model_runs_on_a_real_decoded_clip(numbered):
    torch.manual_seed(0)
    model = sfl.build_model("slowfast_tiny", num_classes=3).eval()
    cfg = model.config
    clip = sfl.load_clip(numbered, T=cfg.T, tau=cfg.tau, alpha=cfg.alpha, start=10)
    slow, fast = sfl.to_model_input(clip, size=64)
    with torch.no_grad():
        logits = model(slow, fast)
    assert logits.shape == (1, 3) and torch.isfinite(logits).all()


def test_thirty_view_batch(numbered):
    clips = sfl.load_uniform_clips(numbered, num_clips=10, T=2, tau=8, alpha=4, short_side=64)
    slow, fast = eval_views(clips, size=64, num_crops=3)
    assert slow.shape == (30, 3, 2, 64, 64) and fast.shape == (30, 3, 8, 64, 64)
    # views 0..2 are the three crops of clip 0: different windows of the same frames
    assert not torch.equal(slow[0], slow[2]) and torch.equal(slow[1], slow[1])
