"""PyTorchVideo as a numerical reference, and the official file formats written from its weights.

The conversions here are written independently of `slowfast_lab.weights` (straight from the
documented key layouts in REFERENCE.md and PySlowFast's Caffe2 blob names), so a naming mistake in
the library cannot cancel out against the same mistake in the test.

PyTorchVideo imports `torchvision.ops.RoIAlign` at import time (for detection heads only); there is
no CPU torchvision on this platform, so `import_pytorchvideo` registers a tiny stand-in first.
"""

from __future__ import annotations

import pickle
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn


def import_pytorchvideo() -> types.ModuleType:
    """pytorchvideo.models, importable without torchvision (a stand-in module is registered)."""
    if "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401  (a real one, where installed)
        except ImportError:
            tv, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")

            class RoIAlign(nn.Module):  # only detection heads use it; none are built here
                pass

            ops.RoIAlign = RoIAlign
            tv.ops = ops
            sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, ops
    import pytorchvideo.models.resnet
    import pytorchvideo.models.slowfast

    return pytorchvideo.models


@dataclass(frozen=True)
class Spec:
    """A PyTorchVideo model matching one of our presets, at a small crop to keep tests quick."""

    preset: str
    T: int  # Slow frames
    alpha: int  # 0 for a Slow-only ResNet
    fusion_kernel: int = 5
    crop: int = 64
    num_classes: int = 400

    @property
    def pathways(self) -> int:
        return 2 if self.alpha else 1

    def build_ptv(self) -> nn.Module:
        """The PyTorchVideo network; its head pools with fixed kernels that fit `crop` exactly."""
        models = import_pytorchvideo()
        s = self.crop // 32
        if self.alpha:
            return models.slowfast.create_slowfast(
                slowfast_fusion_conv_kernel_size=(self.fusion_kernel, 1, 1),
                slowfast_fusion_conv_stride=(self.alpha, 1, 1),
                head_pool_kernel_sizes=((self.T, s, s), (self.alpha * self.T, s, s)),
                model_num_class=self.num_classes,
            )
        return models.resnet.create_resnet(  # PyTorchVideo's slow_r50
            stem_conv_kernel_size=(1, 7, 7),
            head_pool_kernel_size=(self.T, s, s),
            model_depth=50,
            model_num_class=self.num_classes,
        )

    @staticmethod
    def ptv_forward(ptv: nn.Module, inputs: list[torch.Tensor]) -> torch.Tensor:
        """PyTorchVideo's SlowFast takes a fresh list (it rewrites it in place); a ResNet a tensor."""
        return ptv(list(inputs)) if len(inputs) == 2 else ptv(inputs[0])

    def inputs(self, seed: int = 0) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        frames = [self.T] + ([self.alpha * self.T] if self.alpha else [])
        return [torch.randn(1, 3, t, self.crop, self.crop, generator=g) for t in frames]


@torch.no_grad()
def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights AND random BN statistics and affine parameters, so every tensor matters."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
        elif isinstance(m, nn.BatchNorm3d):
            c = m.num_features
            m.weight.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.copy_(torch.randn(c, generator=g) * 0.2)
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
        elif isinstance(m, nn.Linear):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features**0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model.eval()


# ------------------------------------------------------------------------------------------------
# PyTorchVideo keys -> PySlowFast keys (REFERENCE.md: "The keys map one-to-one")
# ------------------------------------------------------------------------------------------------

_PTV_TO_PYSLOWFAST = [
    # (PyTorchVideo regex, PySlowFast template); {stage} is the PyTorchVideo block index + 1
    (r"blocks\.0\.(?:multipathway_blocks\.(?P<p>\d)\.)?conv\.", "s1.pathway{p}_stem.conv."),
    (r"blocks\.0\.(?:multipathway_blocks\.(?P<p>\d)\.)?norm\.", "s1.pathway{p}_stem.bn."),
    (r"blocks\.(?P<b>\d)\.multipathway_fusion\.conv_fast_to_slow\.", "s{stage}_fuse.conv_f2s."),
    (r"blocks\.(?P<b>\d)\.multipathway_fusion\.norm\.", "s{stage}_fuse.bn."),
    (
        r"blocks\.(?P<b>\d)\.(?:multipathway_blocks\.(?P<p>\d)\.)?res_blocks\.(?P<j>\d+)\.branch1_conv\.",
        "s{stage}.pathway{p}_res{j}.branch1.",
    ),
    (
        r"blocks\.(?P<b>\d)\.(?:multipathway_blocks\.(?P<p>\d)\.)?res_blocks\.(?P<j>\d+)\.branch1_norm\.",
        "s{stage}.pathway{p}_res{j}.branch1_bn.",
    ),
    (
        r"blocks\.(?P<b>\d)\.(?:multipathway_blocks\.(?P<p>\d)\.)?res_blocks\.(?P<j>\d+)\.branch2\.conv_(?P<x>[abc])\.",
        "s{stage}.pathway{p}_res{j}.branch2.{x}.",
    ),
    (
        r"blocks\.(?P<b>\d)\.(?:multipathway_blocks\.(?P<p>\d)\.)?res_blocks\.(?P<j>\d+)\.branch2\.norm_(?P<x>[abc])\.",
        "s{stage}.pathway{p}_res{j}.branch2.{x}_bn.",
    ),
    (r"blocks\.[56]\.proj\.", "head.projection."),
]


def ptv_to_pyslowfast(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        for pattern, template in _PTV_TO_PYSLOWFAST:
            m = re.match(pattern, key)
            if m:
                g = m.groupdict()
                stage = int(g["b"]) + 1 if g.get("b") else 0
                new = template.format(stage=stage, p=g.get("p") or 0, j=g.get("j"), x=g.get("x"))
                out[new + key[m.end() :]] = value
                break
        else:
            raise KeyError(f"no PySlowFast name for PyTorchVideo key {key}")
    return out


# ------------------------------------------------------------------------------------------------
# PySlowFast keys -> Caffe2 blob names (PySlowFast's documented c2 names, written the other way)
# ------------------------------------------------------------------------------------------------

_CONV_SUFFIX = {"weight": "w", "bias": "b"}
_BN_SUFFIX = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}


def pyslowfast_to_caffe2(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Blob names: conv1_w, res_conv1_bn_s, res2_0_branch2a_w, ..., Fast with a t_ prefix,
    laterals t_pool1_subsample* / t_res{k}_{last}_branch2c_bn_subsample*, pred_w / pred_b."""
    last_block = {}  # stage -> index of its last Fast block (Caffe2 names laterals after it)
    for key in state:
        m = re.match(r"s(\d)\.pathway1_res(\d+)\.", key)
        if m:
            last_block[m[1]] = max(last_block.get(m[1], 0), int(m[2]))
    blobs = {}
    for key, value in state.items():
        layer, param = key.rsplit(".", 1)
        if param == "num_batches_tracked":
            continue
        m_path = re.search(r"pathway(\d)", layer)
        t = "t_" if m_path and m_path[1] == "1" else ""
        if m := re.fullmatch(r"s1\.pathway\d_stem\.conv", layer):
            name, bn = f"{t}conv1", False
        elif m := re.fullmatch(r"s1\.pathway\d_stem\.bn", layer):
            name, bn = f"{t}res_conv1_bn", True
        elif m := re.fullmatch(r"s(\d)\.pathway\d_res(\d+)\.branch2\.([abc])(_bn)?", layer):
            name, bn = f"{t}res{m[1]}_{m[2]}_branch2{m[3]}{m[4] or ''}", bool(m[4])
        elif m := re.fullmatch(r"s(\d)\.pathway\d_res(\d+)\.branch1(_bn)?", layer):
            name, bn = f"{t}res{m[1]}_{m[2]}_branch1{m[3] or ''}", bool(m[3])
        elif m := re.fullmatch(r"s(\d)_fuse\.(conv_f2s|bn)", layer):
            after = "pool1" if m[1] == "1" else f"res{m[1]}_{last_block[m[1]]}_branch2c_bn"
            bn = m[2] == "bn"
            name = f"t_{after}_subsample" + ("_bn" if bn else "")
        elif layer == "head.projection":
            name, bn = "pred", False
        else:
            raise KeyError(f"no Caffe2 blob name for PySlowFast key {key}")
        suffix = (_BN_SUFFIX if bn else _CONV_SUFFIX)[param]
        blobs[f"{name}_{suffix}"] = value.detach().cpu().numpy().astype(np.float32)
    return blobs


def write_formats(ptv: nn.Module, folder: Path) -> dict[str, Path]:
    """The PyTorchVideo model's weights as a PyTorchVideo .pyth, a PySlowFast .pyth and a Caffe2
    .pkl (with the optimizer bookkeeping blobs real model-zoo files carry)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in ptv.state_dict().items()}
    paths = {
        "pytorchvideo": folder / "ptv.pyth",
        "pyslowfast": folder / "pyslowfast.pyth",
        "caffe2": folder / "caffe2.pkl",
    }
    torch.save({"model_state": state}, paths["pytorchvideo"])
    pyslowfast = ptv_to_pyslowfast(state)
    torch.save({"model_state": pyslowfast, "epoch": 196, "cfg": "MODEL: ..."}, paths["pyslowfast"])
    blobs = pyslowfast_to_caffe2(pyslowfast)
    blobs["conv1_w_momentum"] = np.zeros_like(blobs["conv1_w"])
    blobs["lr"] = np.array([0.1], dtype=np.float32)
    blobs["model_iter"] = np.array([1000], dtype=np.int64)
    with open(paths["caffe2"], "wb") as f:
        pickle.dump({"blobs": blobs}, f, protocol=2)
    return paths
