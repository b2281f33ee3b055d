"""Each lateral connection does the paper's shape transformation."""

from __future__ import annotations

import torch

from slowfast_lab.fusion import (
    NoLateral,
    TimeStridedConv,
    TimeStridedSample,
    TimeToChannelConcat,
    TimeToChannelSum,
    time_to_channel,
)

ALPHA, T, C_FAST, C_SLOW = 4, 3, 2, 8


def fast_feature() -> torch.Tensor:
    """[1, beta C, alpha T, 2, 2] whose value is 100*channel + frame, to track where things go."""
    c = torch.arange(C_FAST).view(1, C_FAST, 1, 1, 1) * 100
    t = torch.arange(ALPHA * T).view(1, 1, ALPHA * T, 1, 1)
    return (c + t).float().expand(1, C_FAST, ALPHA * T, 2, 2).contiguous()


def test_time_to_channel_moves_frames_into_channels() -> None:
    out = time_to_channel(fast_feature(), ALPHA)  # {alpha T, S^2, beta C} -> {T, S^2, alpha beta C}
    assert out.shape == (1, ALPHA * C_FAST, T, 2, 2)
    for c in range(C_FAST):
        for k in range(ALPHA):
            for t in range(T):
                assert out[0, c * ALPHA + k, t, 0, 0] == 100 * c + t * ALPHA + k


def test_time_strided_sample_takes_every_alpha_th_frame() -> None:
    out = TimeStridedSample(ALPHA).transform(fast_feature())
    assert out.shape == (1, C_FAST, T, 2, 2)
    assert out[0, 0, :, 0, 0].tolist() == [0.0, 4.0, 8.0]


def test_time_strided_conv_shape() -> None:
    lateral = TimeStridedConv(C_FAST, ALPHA, kernel=5, ratio=2)
    assert lateral.transform(fast_feature()).shape == (1, 2 * C_FAST, T, 2, 2)  # 2 beta C outputs


def test_concat_puts_slow_first_and_sum_adds() -> None:
    slow = torch.randn(1, C_SLOW, T, 2, 2)
    fused = TimeToChannelConcat(ALPHA).forward(slow, fast_feature())
    assert fused.shape == (1, C_SLOW + ALPHA * C_FAST, T, 2, 2)
    torch.testing.assert_close(fused[:, :C_SLOW], slow)
    summed = TimeToChannelSum(C_FAST, C_SLOW, ALPHA)  # alpha beta C == C: no projection needed
    assert summed.proj is None
    torch.testing.assert_close(
        summed(slow, fast_feature()), slow + time_to_channel(fast_feature(), ALPHA)
    )
    assert TimeToChannelSum(C_FAST, 6, ALPHA).proj.weight.shape == (6, ALPHA * C_FAST, 1, 1, 1)


def test_no_lateral_passes_slow_through() -> None:
    slow = torch.randn(1, C_SLOW, T, 2, 2)
    assert NoLateral()(slow, fast_feature()) is slow
