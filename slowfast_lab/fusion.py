"""Lateral connections: how the Fast pathway's features are fused into the Slow pathway.

The Fast feature {alpha T, S^2, beta C} must be brought to the Slow pathway's T frames before it can
be fused. The paper (Sec. 3.4, Table 5a) compares three ways, each fused by concatenation (or sum):

* time-to-channel (TtoC):   reshape {alpha T, S^2, beta C} -> {T, S^2, alpha beta C}
* time-strided sampling:    take one of every alpha frames: {T, S^2, beta C}
* time-strided convolution: 3D conv, kernel K x 1^2, stride alpha, 2 beta C outputs (+ BN, ReLU)

Connections are unidirectional (Fast -> Slow) and sit after pool1, res2, res3 and res4.
Every lateral is a module `forward(slow, fast) -> fused slow`; `transform(fast)` gives the lateral
tensor alone, which the lessons show as a shape transformation.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import SlowFastConfig


class Lateral(nn.Module):
    """Base class: fuse = concatenate [slow, transform(fast)] on channels (Slow first, as PySlowFast).

    All a lateral asks of the two pathways, so that either can be any spatiotemporal convnet: at each
    fusion point, slow [B, C, T, H, W] and fast [B, C_f, alpha T, H, W], with the same batch, H and W;
    `transform` maps fast to [B, C', T, H, W] and the next Slow stage reads C + C' channels (C after a
    sum). A Slow pathway that shrinks time (or space) breaks it at the points that follow.
    """

    kind = "base"

    def transform(self, fast: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        return torch.cat([slow, self.transform(fast)], dim=1)


class TimeStridedConv(Lateral):
    """T-conv: Conv3d beta C -> ratio * beta C, kernel (K,1,1), stride (alpha,1,1), then BN and ReLU.

    {alpha T, S^2, beta C} -> {T, S^2, 2 beta C}, concatenated onto the Slow feature.
    """

    kind = "t_conv"

    def __init__(self, fast_channels: int, alpha: int, kernel: int = 5, ratio: int = 2):
        super().__init__()
        self.alpha = alpha
        self.conv = nn.Conv3d(
            fast_channels,
            fast_channels * ratio,
            kernel_size=(kernel, 1, 1),
            stride=(alpha, 1, 1),
            padding=(kernel // 2, 0, 0),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(fast_channels * ratio, eps=1e-5, momentum=0.1)
        self.relu = nn.ReLU()

    def transform(self, fast: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(fast)))


class TimeStridedSample(Lateral):
    """T-sample: one of every alpha Fast frames. {alpha T, S^2, beta C} -> {T, S^2, beta C}."""

    kind = "t_sample"

    def __init__(self, alpha: int):
        super().__init__()
        self.alpha = alpha

    def transform(self, fast: torch.Tensor) -> torch.Tensor:
        return fast[:, :, :: self.alpha]


def time_to_channel(fast: torch.Tensor, alpha: int) -> torch.Tensor:
    """{alpha T, S^2, beta C} -> {T, S^2, alpha beta C}: each group of alpha frames becomes channels.

    [N, C, alpha*T, H, W] -> [N, C*alpha, T, H, W]; channel c*alpha + k holds frame t*alpha + k.
    """
    n, c, t_fast, h, w = fast.shape
    t = t_fast // alpha
    return fast.reshape(n, c, t, alpha, h, w).transpose(2, 3).reshape(n, c * alpha, t, h, w)


class TimeToChannelConcat(Lateral):
    """TtoC, concatenated: the alpha beta C channels are appended to the Slow feature."""

    kind = "ttoc_concat"

    def __init__(self, alpha: int):
        super().__init__()
        self.alpha = alpha

    def transform(self, fast: torch.Tensor) -> torch.Tensor:
        return time_to_channel(fast, self.alpha)


class TimeToChannelSum(Lateral):
    """TtoC, summed onto the Slow feature.

    A sum needs alpha beta C == C (true for the paper's alpha=8, beta=1/8). Where it is not, a
    1x1x1 projection (no bias) maps alpha beta C to C first, so every alpha/beta can be explored;
    `complexity` counts that projection.
    """

    kind = "ttoc_sum"

    def __init__(self, fast_channels: int, slow_channels: int, alpha: int):
        super().__init__()
        self.alpha = alpha
        stacked = fast_channels * alpha
        self.proj = (
            None
            if stacked == slow_channels
            else nn.Conv3d(stacked, slow_channels, kernel_size=1, bias=False)
        )

    def transform(self, fast: torch.Tensor) -> torch.Tensor:
        x = time_to_channel(fast, self.alpha)
        return x if self.proj is None else self.proj(x)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        return slow + self.transform(fast)


class NoLateral(Lateral):
    """No lateral connection: the two pathways only meet at the head."""

    kind = "none"

    def transform(self, fast: torch.Tensor) -> torch.Tensor:
        return fast[:, :0]  # nothing crosses over

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        return slow


def build_lateral(cfg: SlowFastConfig, slow_channels: int, fast_channels: int) -> Lateral:
    """The lateral module of type `cfg.fusion` for one fusion point."""
    if cfg.fusion == "t_conv":
        return TimeStridedConv(fast_channels, cfg.alpha, cfg.fusion_kernel, cfg.fusion_ratio)
    if cfg.fusion == "t_sample":
        return TimeStridedSample(cfg.alpha)
    if cfg.fusion == "ttoc_concat":
        return TimeToChannelConcat(cfg.alpha)
    if cfg.fusion == "ttoc_sum":
        return TimeToChannelSum(fast_channels, slow_channels, cfg.alpha)
    return NoLateral()
