"""Action detection, as the paper does it for AVA: RoIAlign on the last feature map, per person box.

The paper's detector (Section 5 / 6, after Gu et al.'s AVA baseline) keeps the classification network
and changes only its end:

    res5 with spatial stride 1 and dilation 2     the map stays at 1/16 of the frame, not 1/32
    per pathway: average over time                {T, S^2, C} -> {S^2, C}
    RoIAlign on each person box                   -> {7^2, C} per box
    spatial max pool, concatenate pathways        -> [C_slow + C_fast] per box
    dropout, fully connected                      -> one logit per action (a sigmoid each: an actor
                                                     can sit AND talk AND listen at once)

`roi_align` follows torchvision.ops.roi_align exactly (torchvision is not available here); `RoIHead`
follows PySlowFast's ResNetRoIHead. Boxes are [K, 5] rows (batch index, x1, y1, x2, y2) in pixels
of the input frame, as in both projects.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_SAMPLES_PER_BIN = 4096  # along one axis; only a box far larger than any frame needs more


def roi_align(
    features: torch.Tensor,
    boxes: torch.Tensor,
    output_size: int | tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int = 0,
    aligned: bool = True,
) -> torch.Tensor:
    """Average of bilinear samples in each of output_size bins of each box (torchvision semantics).

    features [N, C, H, W]; boxes [K, 5] (batch index, x1, y1, x2, y2) in input pixels, mapped onto
    the feature map by `spatial_scale` (1/16 for a stride-16 map) -> [K, C, oh, ow].

    * aligned=True shifts the box by -0.5 feature pixels, so that sample coordinates are pixel
      centres (Detectron2 / PySlowFast's default); aligned=False is the legacy RoIAlign, which also
      widens boxes smaller than one feature pixel to one pixel.
    * sampling_ratio > 0 takes that many samples per bin along each axis; 0 takes
      ceil(box size / output size) of them, which differs from box to box.
    * A sample more than one pixel outside the map counts as 0; one within a pixel of the border
      reads the border. With sampling_ratio 0 an empty or inverted box gives zeros (no samples);
      with sampling_ratio > 0 it is still sampled, as in torchvision. K = 0: an empty result.

    Vectorised and differentiable in `features` (like torchvision, not in `boxes`): bilinear
    sampling and bin averaging are separable, so each box becomes two small interpolation
    matrices, A_y [oh, H] and A_x [ow, W], and its output is A_y @ features[b] @ A_x^T.
    """
    oh, ow = _pair(output_size)
    _check_roi_args(features, boxes, sampling_ratio, spatial_scale)
    n, c, h, w = features.shape
    k = boxes.shape[0]
    if k == 0:
        return features.new_zeros(k, c, oh, ow)
    # Coordinates and interpolation weights in float32 at least (as torchvision under autocast):
    # in bfloat16, input pixels 256-512 would round to steps of 2.
    dtype = torch.promote_types(features.dtype, torch.float32)
    out = features.new_zeros(k, c, oh, ow, dtype=dtype)
    feats = features.to(dtype)
    rois = boxes.detach().to(dtype)
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, i] * spatial_scale - offset for i in range(1, 5))
    a_y = _interpolation_matrix(y1, y2, oh, h, sampling_ratio, aligned)  # [K, oh, H]
    a_x = _interpolation_matrix(x1, x2, ow, w, sampling_ratio, aligned)  # [K, ow, W]
    index = rois[:, 0].long()
    for b in index.unique().tolist():  # the boxes of one clip at a time: no copy of its map per box
        sel = (index == b).nonzero().squeeze(1)
        rows = torch.einsum("kph,chw->kcpw", a_y[sel], feats[b])
        out = out.index_copy(0, sel, torch.einsum("kcpw,kqw->kcpq", rows, a_x[sel]))
    return out.to(features.dtype)


def _interpolation_matrix(
    start: torch.Tensor, end: torch.Tensor, bins: int, size: int, sampling_ratio: int, aligned: bool
) -> torch.Tensor:
    """[K, bins, size]: row p averages the bilinear weights of bin p's samples along one axis.

    Sample i of bin p sits at start + p * bin + (i + 0.5) * bin / grid, bin = length / bins.
    """
    length = end - start
    if not aligned:
        length = length.clamp(min=1.0)
    bin_size = length / bins
    if sampling_ratio > 0:
        grid = torch.full_like(length, sampling_ratio, dtype=torch.long)
    else:
        grid = torch.ceil(length / bins).long()
    grid = grid.clamp(min=0)  # an inverted box takes no samples
    most = int(grid.max()) if grid.numel() else 0
    if most > MAX_SAMPLES_PER_BIN:
        worst = int(grid.argmax())
        raise ValueError(
            f"boxes[{worst}] spans {float(length[worst]):.0f} feature pixels (one of the map's "
            f"{size}); boxes are (batch index, x1, y1, x2, y2) in pixels of the input frame. "
            "Check their scale (normalised [0, 1] boxes need multiplying by the frame size; "
            "pixels need no spatial_scale of their own)"
        )
    k = length.shape[0]
    most = max(most, 1)
    i = torch.arange(most, device=start.device, dtype=start.dtype)
    p = torch.arange(bins, device=start.device, dtype=start.dtype)
    # [K, bins, most] sample coordinates; samples beyond a box's own grid are masked out.
    grid_f = grid.to(start.dtype).clamp(min=1)[:, None, None]
    pos = (
        start[:, None, None]
        + p[None, :, None] * bin_size[:, None, None]
        + (i[None, None, :] + 0.5) * bin_size[:, None, None] / grid_f
    )
    used = i[None, None, :] < grid[:, None, None]
    inside = (pos >= -1.0) & (pos <= size) & used
    pos = pos.clamp(min=0.0)
    low = pos.floor().long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    pos = torch.where(at_edge, low.to(pos.dtype), pos)
    frac_high = pos - low.to(pos.dtype)
    weight = inside.to(pos.dtype) / grid_f
    matrix = torch.zeros(k, bins, size, dtype=start.dtype, device=start.device)
    matrix.scatter_add_(2, low, (1.0 - frac_high) * weight)
    matrix.scatter_add_(2, high, frac_high * weight)
    return matrix


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) and not isinstance(size, bool) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in pair):
        raise ValueError(f"output_size={size!r} must be an int or a pair of ints, e.g. 7 or (7, 7)")
    if min(pair) < 1:
        raise ValueError(f"output_size={size!r} must be positive, e.g. 7")
    return pair  # type: ignore[return-value]


def _check_roi_args(
    features: torch.Tensor, boxes: torch.Tensor, sampling_ratio: int, spatial_scale: float
) -> None:
    """ValueError naming the argument and what would work, before any indexing goes wrong."""
    if not isinstance(features, torch.Tensor) or features.dim() != 4:
        shape = list(features.shape) if isinstance(features, torch.Tensor) else type(features)
        raise ValueError(f"features must be a tensor [N, C, H, W], got {shape}")
    if not features.is_floating_point():
        raise ValueError(f"features must be floating point, got {features.dtype}")
    if (
        isinstance(sampling_ratio, bool)
        or not isinstance(sampling_ratio, int)
        or sampling_ratio < 0
    ):
        raise ValueError(
            f"sampling_ratio={sampling_ratio!r} must be an int >= 0 (0: adaptive, as PySlowFast)"
        )
    if not (isinstance(spatial_scale, (int, float)) and math.isfinite(spatial_scale)):
        raise ValueError(f"spatial_scale={spatial_scale!r} must be a finite number, e.g. 1/16")
    if spatial_scale <= 0:
        raise ValueError(f"spatial_scale={spatial_scale!r} must be positive, e.g. 1/16")
    check_boxes(boxes, features.shape[0], features.device)


def check_boxes(boxes: torch.Tensor, batch: int, device: torch.device) -> None:
    """ValueError unless `boxes` is a real [K, 5] tensor on `device` whose column 0 indexes one of
    `batch` clips and whose coordinates are finite."""
    if not isinstance(boxes, torch.Tensor):
        raise ValueError(
            f"boxes must be a tensor [K, 5] of (batch index, x1, y1, x2, y2), got "
            f"{type(boxes).__name__}"
        )
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        hint = (
            " (boxes of clip 0 only? prepend the batch index: "
            "torch.cat([torch.zeros(len(b), 1), b], dim=1))"
            if boxes.dim() == 2 and boxes.shape[1] == 4
            else ""
        )
        raise ValueError(
            f"boxes must have shape [K, 5] (batch index, x1, y1, x2, y2), got "
            f"{list(boxes.shape)}{hint}"
        )
    if boxes.device != device:
        raise ValueError(
            f"boxes are on {boxes.device} but the features on {device}: use "
            f"boxes.to({str(device)!r})"
        )
    if boxes.is_complex() or boxes.dtype == torch.bool:
        raise ValueError(f"boxes must be real numbers, got {boxes.dtype}")
    if boxes.shape[0] == 0:
        return
    if not bool(torch.isfinite(boxes).all()):
        raise ValueError("boxes hold NaN or Inf values; every box needs finite coordinates")
    index = boxes[:, 0]
    bad = (index != index.round()) | (index < 0) | (index >= batch)
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"boxes[{row}] has batch index {float(index[row]):g}, but the batch holds {batch} "
            f"clip(s): column 0 must be a whole number in 0..{batch - 1}"
        )


# ------------------------------------------------------------------------------------------------
# The detection head
# ------------------------------------------------------------------------------------------------


class RoIHead(nn.Module):
    """PySlowFast's ResNetRoIHead: per pathway, average over time, RoIAlign each box, max-pool
    the resolution^2 bins; concatenate the pathways (Slow first), dropout, fully connected.

    slow {T, S^2, C_s}, fast {alpha T, S^2, C_f}, boxes [K, 5] -> features [K, C_s + C_f]
    -> logits [K, num_classes] (raw: the sigmoid is the loss's or the metric's). The layer names
    match the classifier's (`fc`), so checkpoints name the projection the same way.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        dropout: float,
        resolution: int = 7,
        spatial_scale: float = 1 / 16,
        aligned: bool = True,
    ):
        super().__init__()
        self.resolution = resolution
        self.spatial_scale = spatial_scale
        self.aligned = aligned
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    def features(self, *pathway_outputs: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """[K, C_s + C_f]: each pathway's time-averaged map, RoIAligned per box, max-pooled."""
        pooled = []
        for x in pathway_outputs:
            regions = roi_align(
                x.mean(dim=2),  # {T, S^2, C} -> {S^2, C}: PySlowFast's AvgPool3d([T, 1, 1])
                boxes,
                self.resolution,
                self.spatial_scale,
                sampling_ratio=0,
                aligned=self.aligned,
            )  # [K, C, resolution, resolution]
            pooled.append(F.adaptive_max_pool2d(regions, 1).flatten(1))
        return torch.cat(pooled, dim=1)

    def forward(self, *pathway_outputs: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(*pathway_outputs, boxes=boxes)))
