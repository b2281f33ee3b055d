"""Inference speed-ups (slowfast_lab.inference): BN folding and channels_last keep the outputs."""

from __future__ import annotations

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab.inference import fold_batchnorm, inference_mode, optimize_for_inference
from slowfast_lab.model import dummy_inputs


def clip(cfg: sfl.SlowFastConfig):
    return dummy_inputs(cfg, crop=64, batch=2, seed=0)


def test_fold_batchnorm_and_channels_last_keep_outputs() -> None:
    model = sfl.build_model("slowfast_tiny").eval()
    # Random BN statistics and gammas, so folding has something to fold.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
    inputs = clip(model.config)
    with torch.no_grad():
        ref = model(*inputs)
        fold_batchnorm(model)
        torch.testing.assert_close(model(*inputs), ref, atol=1e-4, rtol=1e-4)
        optimize_for_inference(model)
        torch.testing.assert_close(model(*inputs), ref, atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
    with pytest.raises(RuntimeError, match="eval"):
        fold_batchnorm(sfl.build_model("slowfast_tiny").train())


def test_package_exports_the_inference_helpers() -> None:
    assert sfl.fold_batchnorm is fold_batchnorm
    assert sfl.optimize_for_inference is optimize_for_inference


def test_inference_mode_turns_off_autograd_and_casts_when_asked() -> None:
    model = sfl.build_model("slowfast_tiny").eval()
    inputs = clip(model.config)
    with inference_mode("cpu"):
        out = model(*inputs)
    assert not out.requires_grad and out.dtype == torch.float32
    with inference_mode("cpu", bf16=True):
        assert model(*inputs).dtype == torch.bfloat16
