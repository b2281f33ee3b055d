"""Inference speed-ups for a built network: BN folded into convs, channels_last_3d, bf16 autocast.

None of this changes what the network computes (up to float rounding); `bench` measures the gains.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from .fusion import TimeStridedConv
from .model import ConvBN, VideoNet


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm into the conv before it (in place; inference only).

    y = gamma (W x - mean) / sqrt(var + eps) + beta  ==  W' x + b'. Saves one pass over every
    activation. The model must be in eval mode; training it afterwards is not meaningful.
    """
    if model.training:
        raise RuntimeError("fold_batchnorm needs model.eval(): BN statistics must be frozen")
    for m in model.modules():
        if not isinstance(m, (ConvBN, TimeStridedConv)) or not isinstance(m.bn, nn.BatchNorm3d):
            continue
        conv, bn = m.conv, m.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv3d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            bias=True,
        ).to(conv.weight.device, conv.weight.dtype)
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1, 1))
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        m.conv, m.bn = fused, nn.Identity()
    return model


def optimize_for_inference(
    model: VideoNet, channels_last: bool = True, fold_bn: bool = True
) -> VideoNet:
    """eval(), BN folded into convs, channels_last_3d memory format: the cheap inference wins."""
    model.eval()
    if fold_bn:
        fold_batchnorm(model)
    if channels_last:
        model.to(memory_format=torch.channels_last_3d)
    return model


@contextlib.contextmanager
def inference_mode(device: torch.device | str, bf16: bool = False) -> Iterator[None]:
    """torch.inference_mode, plus bf16 autocast on `device` when asked."""
    device = torch.device(device)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    )
    with torch.inference_mode(), autocast:
        yield
