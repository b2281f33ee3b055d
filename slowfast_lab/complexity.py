"""Exact parameter and multiply-add counts, computed from a config alone (no model is built).

Counted as the paper counts them (PySlowFast uses fvcore): multiply-adds of conv and fc layers for
one view, where one fused multiply-add is one "FLOP"; BN, pooling, ReLU and additions are left out.
So `macs / 1e9` is the paper's "GFLOPs" column. Parameters are those of the built torch model
(conv and fc weights, fc bias, BN gamma and beta).

The counts walk the same architecture table (`config.pathway_spec`) the model is built from, and a
test checks them against counting a real forward with torch.utils.flop_counter.

A detection model (head="detect") is counted for `boxes` person boxes: its fc runs once per box.
RoIAlign is bilinear sampling and pooling, left out like the other pooling layers (fvcore does not
count it either). A dilated res5 (res5_dilation=2) keeps its map at 1/16 of the frame: 4x the
multiply-adds of res5's convs at stride 2, the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import SlowFastConfig, fusion_points, get_config, lateral_channels, pathway_spec

PARTS = ("slow", "fast", "lateral", "head")
MAX_CROP = 16384  # counting is analytic, so any size is fast; beyond this it is surely a mistake


@dataclass(frozen=True)
class Complexity:
    """Cost of one view of `crop_size`^2 pixels. `macs` = multiply-adds (the paper's GFLOPs x 1e9)."""

    config: SlowFastConfig
    crop_size: int
    params: int
    macs: int
    by_part: dict[str, int] = field(default_factory=dict)  # multiply-adds per part
    params_by_part: dict[str, int] = field(default_factory=dict)

    @property
    def gflops(self) -> float:
        """Billions of multiply-adds: the unit of the paper's tables."""
        return self.macs / 1e9

    @property
    def fast_share(self) -> float:
        """Fraction of the multiply-adds spent in the Fast pathway (about 20% for 4x16 R50)."""
        return self.by_part["fast"] / self.macs if self.macs else 0.0

    def summary(self) -> str:
        parts = ", ".join(f"{k} {format_macs(v)}" for k, v in self.by_part.items())
        return f"{format_macs(self.macs)} multiply-adds ({parts}), {self.params / 1e6:.2f}M params"


def format_macs(macs: int) -> str:
    """36100000000 -> '36.1 G', 52000000 -> '52.0 M'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if macs >= scale:
            return f"{macs / scale:.1f} {unit}"
    return str(macs)


class _Tally:
    """Adds up multiply-adds and parameters per part."""

    def __init__(self) -> None:
        self.macs = dict.fromkeys(PARTS, 0)
        self.params = dict.fromkeys(PARTS, 0)

    def conv(
        self,
        part: str,
        c_in: int,
        c_out: int,
        kernel: tuple[int, int, int],
        out: tuple[int, int, int],
    ) -> None:
        k = kernel[0] * kernel[1] * kernel[2]
        self.macs[part] += c_out * out[0] * out[1] * out[2] * c_in * k
        self.params[part] += c_out * c_in * k

    def bn(self, part: str, channels: int) -> None:
        self.params[part] += 2 * channels


def _down(size: int, kernel: int, stride: int) -> int:
    """Output length of a conv / pool with padding kernel // 2."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def _pathway_sizes(
    frames: int, crop: int, strides: tuple[int, ...] = (1, 2, 2, 2)
) -> list[tuple[int, int]]:
    """(frames, spatial size) after pool1, res2, res3, res4, res5 (each stage's spatial stride;
    a dilated 3x3 conv pads by its dilation, so it changes no size)."""
    s = _down(_down(crop, 7, 2), 3, 2)  # conv1 stride 2, pool1 stride 2
    sizes = [(frames, s)]
    for stride in strides:
        s = _down(s, 3, stride)
        sizes.append((frames, s))
    return sizes


def _count_pathway(
    tally: _Tally, cfg: SlowFastConfig, name: str, frames: int, crop: int, lateral_in: list[int]
) -> None:
    spec = pathway_spec(cfg, name)
    conv1_size = _down(crop, 7, 2)
    tally.conv(
        name,
        3,
        spec.stem_channels,
        (spec.stem_temporal_kernel, 7, 7),
        (frames, conv1_size, conv1_size),
    )
    tally.bn(name, spec.stem_channels)
    sizes = _pathway_sizes(frames, crop, tuple(st.spatial_stride for st in spec.stages))
    c_in = spec.stem_channels
    for i, stage in enumerate(spec.stages):
        t, s = sizes[i + 1]
        block_in = c_in + lateral_in[i]
        for j in range(stage.blocks):
            kt = stage.kernel_of_block(j)
            stride = stage.spatial_stride if j == 0 else 1
            s_in = sizes[i][1] if j == 0 else s  # the 1x1 conv runs before the stride
            tally.conv(name, block_in, stage.inner, (kt, 1, 1), (t, s_in, s_in))
            tally.conv(name, stage.inner, stage.inner, (1, 3, 3), (t, s, s))
            tally.conv(name, stage.inner, stage.out, (1, 1, 1), (t, s, s))
            tally.bn(name, stage.inner)
            tally.bn(name, stage.inner)
            tally.bn(name, stage.out)
            if block_in != stage.out or stride != 1:
                tally.conv(name, block_in, stage.out, (1, 1, 1), (t, s, s))
                tally.bn(name, stage.out)
            block_in = stage.out
        c_in = stage.out


def _count_laterals(tally: _Tally, cfg: SlowFastConfig, crop: int) -> None:
    sizes = _pathway_sizes(cfg.T, crop)
    for i, (_, c_slow, c_fast) in enumerate(fusion_points(cfg)):
        t, s = sizes[i]
        if cfg.fusion == "t_conv":
            c_out = lateral_channels(cfg, c_fast)
            tally.conv("lateral", c_fast, c_out, (cfg.fusion_kernel, 1, 1), (t, s, s))
            tally.bn("lateral", c_out)
        elif cfg.fusion == "ttoc_sum" and cfg.alpha * c_fast != c_slow:
            tally.conv("lateral", cfg.alpha * c_fast, c_slow, (1, 1, 1), (t, s, s))


def complexity(
    name: str | SlowFastConfig = "slowfast_4x16_r50",
    crop_size: int = 256,
    boxes: int = 1,
    **overrides,
) -> Complexity:
    """Parameters and multiply-adds of one crop_size^2 view, per part (slow, fast, lateral, head);
    for a detection model with `boxes` person boxes in the view (the head's fc runs per box).

    >>> round(complexity("slowfast_4x16_r50").gflops, 1)
    36.1
    """
    cfg = get_config(name, **overrides)
    if isinstance(boxes, bool) or not hasattr(type(boxes), "__index__") or boxes < 0:
        raise ValueError(f"boxes={boxes!r} must be a whole number >= 0 (person boxes per view)")
    if isinstance(crop_size, bool) or not hasattr(type(crop_size), "__index__"):
        raise TypeError(f"crop_size={crop_size!r} must be an integer number of pixels, e.g. 256")
    if not 32 <= crop_size <= MAX_CROP:
        raise ValueError(
            f"crop_size={crop_size} must be in 32..{MAX_CROP}: the network downsamples by 32 "
            "(the paper counts at 256)"
        )
    tally = _Tally()
    head_in = 0
    if cfg.has_slow:
        lateral_in = [lateral_channels(cfg, c_fast) for _, _, c_fast in fusion_points(cfg)]
        _count_pathway(tally, cfg, "slow", cfg.T, crop_size, lateral_in)
        head_in += pathway_spec(cfg, "slow").out_channels
    if cfg.has_fast:
        _count_pathway(tally, cfg, "fast", cfg.fast_frames, crop_size, [0, 0, 0, 0])
        head_in += pathway_spec(cfg, "fast").out_channels
    if cfg.pathways == "slowfast":
        _count_laterals(tally, cfg, crop_size)
    per_view = boxes if cfg.head == "detect" else 1
    tally.macs["head"] += per_view * head_in * cfg.num_classes
    tally.params["head"] += head_in * cfg.num_classes + cfg.num_classes
    return Complexity(
        config=cfg,
        crop_size=crop_size,
        params=sum(tally.params.values()),
        macs=sum(tally.macs.values()),
        by_part=dict(tally.macs),
        params_by_part=dict(tally.params),
    )
