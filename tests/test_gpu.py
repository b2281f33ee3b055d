"""CUDA: the same model gives the same logits on the GPU, and bf16 autocast stays close.

Skipped without CUDA (tests/conftest.py); CI has no GPU, a lent GPU machine runs them.
"""

from __future__ import annotations

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab.inference import inference_mode, optimize_for_inference

pytestmark = pytest.mark.gpu


def _inputs(cfg: sfl.SlowFastConfig, size: int = 112):
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(2, 3, cfg.T, size, size, generator=g),
        torch.randn(2, 3, cfg.fast_frames, size, size, generator=g),
    )


@pytest.mark.parametrize("preset", ["slowfast_tiny", "slowfast_8x8_r50"])
def test_cuda_matches_cpu(preset: str) -> None:
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model = sfl.build_model(preset, num_classes=10).eval()
    slow, fast = _inputs(model.config)
    with torch.no_grad():
        ref = model(slow, fast)
        out = model.cuda()(slow.cuda(), fast.cuda()).cpu()
    torch.testing.assert_close(out, ref, atol=1e-4 * ref.abs().max().item(), rtol=1e-4)


def test_bf16_channels_last_close_to_fp32() -> None:
    model = sfl.build_model("slowfast_8x8_r50", num_classes=10).eval().cuda()
    slow, fast = (x.cuda() for x in _inputs(model.config))
    with torch.no_grad():
        ref = model(slow, fast).float()
    optimize_for_inference(model)
    with inference_mode("cuda", bf16=True):
        out = model(
            slow.to(memory_format=torch.channels_last_3d),
            fast.to(memory_format=torch.channels_last_3d),
        ).float()
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max().item() <= 0.05 * ref.abs().max().item()
    assert (out.argmax(1) == ref.argmax(1)).all()


def test_training_step_on_cuda() -> None:
    model = sfl.build_model("slowfast_tiny").cuda()
    slow, fast = (x.cuda() for x in _inputs(model.config, size=64))
    loss = torch.nn.functional.cross_entropy(model(slow, fast), torch.tensor([1, 2]).cuda())
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
