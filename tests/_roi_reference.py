"""An independent RoIAlign for the tests: torchvision's C++ kernel written out as Python loops
(per box, per bin, per sample), to check `slowfast_lab.detection.roi_align` and to stand in for
torchvision.ops.RoIAlign inside PyTorchVideo's detector."""

from __future__ import annotations

import math

import torch


def bilinear(fmap: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """torchvision's bilinear_interpolate: fmap [C, H, W] at (y, x) -> [C]."""
    _, height, width = fmap.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return fmap.new_zeros(fmap.shape[0])  # more than a pixel outside: no contribution
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_high = y_low = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_high = x_low = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * fmap[:, y_low, x_low]
        + hy * lx * fmap[:, y_low, x_high]
        + ly * hx * fmap[:, y_high, x_low]
        + ly * lx * fmap[:, y_high, x_high]
    )


def reference_roi_align(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: int | tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
) -> torch.Tensor:
    """torchvision.ops.roi_align, as its C++ kernel loops: per box, per bin, per sample."""
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    out = features.new_zeros(rois.shape[0], features.shape[1], oh, ow)
    offset = 0.5 if aligned else 0.0
    for k, (b, *coords) in enumerate(rois.double().tolist()):
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in coords)
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:  # legacy: force malformed boxes to 1x1
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / oh, roi_w / ow
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / oh)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / ow)
        count = max(grid_h * grid_w, 1)
        fmap = features[int(b)]
        for ph in range(oh):
            for pw in range(ow):
                total = fmap.new_zeros(fmap.shape[0])
                for iy in range(grid_h):
                    y = y1 + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        x = x1 + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        total = total + bilinear(fmap, y, x)
                out[k, :, ph, pw] = total / count
    return out
