"""SlowFast configuration: one dataclass, the paper's named presets, and the architecture table.

The table (`pathway_spec`) is the paper's Table 1 written as data: the model (`model.py`) builds
its layers from it and the complexity counter (`complexity.py`) counts them from it, so the two can
never disagree about the architecture.

Notation follows the paper: the Slow pathway sees T frames, one every tau raw frames; the Fast
pathway sees alpha*T frames, one every tau/alpha raw frames, with beta = 1/beta_inv of the Slow
pathway's channels. Feature shapes are {T, S^2, C} (Slow) and {alpha T, S^2, beta C} (Fast).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

FUSIONS = ("t_conv", "t_sample", "ttoc_sum", "ttoc_concat", "none")
PATHWAYS = ("slowfast", "slow", "fast")
# What the network ends in: one softmax over classes (Kinetics), one sigmoid per class for the whole
# clip (Charades: several actions at once), or one sigmoid per class for each person box (AVA).
HEADS = ("classify", "multilabel", "detect")
STAGE_NAMES = ("res2", "res3", "res4", "res5")
# Blocks per residual stage for the ResNet depths of the paper.
DEPTH_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
# Upper bounds that keep a model (and `complexity`, which loops over blocks) buildable: far above
# the paper's values (blocks <= 23, width 64, T <= 32, tau <= 16, alpha <= 8, crop 256), far below
# sizes that would take minutes to count or exhaust memory to build.
LIMITS = {
    "T": 1024, "tau": 1024, "alpha": 64, "beta_inv": 1024, "width": 1024, "num_classes": 100_000,
    "fusion_ratio": 64, "crop": 4096, "fusion_kernel": 63, "blocks_per_stage": 256,
    "res5_dilation": 8, "roi_resolution": 64,
}  # fmt: skip


class ConfigError(ValueError):
    """A SlowFastConfig field (or a combination of fields) that cannot make a model."""


@dataclass(frozen=True)
class SlowFastConfig:
    """Everything that defines a SlowFast / Slow-only / Fast-only network.

    Attributes:
        pathways: "slowfast" (both), "slow" (Slow-only) or "fast" (Fast-only).
        depth: ResNet depth, 50 or 101 (bottleneck blocks (3,4,6,3) or (3,4,23,3)).
        T: frames the Slow pathway sees.
        tau: Slow temporal stride in raw frames (the raw clip is T*tau frames long).
        alpha: frame-rate ratio Fast/Slow; the Fast pathway sees alpha*T frames.
        beta_inv: channel ratio Slow/Fast; beta = 1/beta_inv.
        fusion: lateral connection type, one of FUSIONS.
        fusion_kernel: temporal kernel K of the T-conv lateral (5 for 4x16, 7 for 8x8 R50).
        fusion_ratio: the T-conv lateral outputs fusion_ratio * beta*C channels (2 in the paper).
        crop: training crop size; `predict` pools over crop/32 windows like PySlowFast's eval head.
        num_classes: classifier outputs (400 for Kinetics-400).
        dropout: dropout before the classifier.
        width: Slow stem channels (64 in the paper); stage widths are 1x, 2x, 4x, 8x this.
        stage_blocks: blocks per stage res2..res5; None means the depth's standard layout.
        temporal_blocks: per stage, how many leading blocks get the temporal kernel (the rest get 1);
            None means all. (3, 4, 6, 3) at depth 101 is PySlowFast's "R101_50_50" layout.
        head: "classify" (softmax over classes), "multilabel" (the same head, one sigmoid per class:
            Charades) or "detect" (RoIAlign per person box, one sigmoid per class: AVA).
        res5_dilation: 1, or d > 1 for res5 with spatial stride 1 and dilation d in its 3x3 convs
            (the paper's AVA model uses 2): the last map stays at 1/16 of the frame, not 1/32.
        roi_resolution: the detection head's RoIAlign output, roi_resolution^2 per box (7).
        roi_aligned: RoIAlign with the half-pixel offset (PySlowFast's default); False is the
            legacy RoIAlign that PySlowFast's converted Caffe2 AVA models and PyTorchVideo use.
    """

    pathways: str = "slowfast"
    depth: int = 50
    T: int = 4
    tau: int = 16
    alpha: int = 8
    beta_inv: int = 8
    fusion: str = "t_conv"
    fusion_kernel: int = 5
    fusion_ratio: int = 2
    crop: int = 224
    num_classes: int = 400
    dropout: float = 0.5
    width: int = 64
    stage_blocks: tuple[int, int, int, int] | None = None
    temporal_blocks: tuple[int, int, int, int] | None = None
    head: str = "classify"
    res5_dilation: int = 1
    roi_resolution: int = 7
    roi_aligned: bool = True

    def __post_init__(self) -> None:
        for name in ("stage_blocks", "temporal_blocks"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _int_tuple(name, value))
        validate(self)

    # Derived quantities, named as in the paper.
    @property
    def beta(self) -> float:
        return 1.0 / self.beta_inv

    @property
    def fast_frames(self) -> int:
        """alpha*T: frames the Fast pathway sees."""
        return self.alpha * self.T

    @property
    def fast_stride(self) -> int:
        """tau/alpha: the Fast pathway's temporal stride in raw frames."""
        return self.tau // self.alpha

    @property
    def raw_frames(self) -> int:
        """T*tau: the raw clip length both pathways cover."""
        return self.T * self.tau

    @property
    def blocks(self) -> tuple[int, int, int, int]:
        return self.stage_blocks or DEPTH_BLOCKS[self.depth]

    @property
    def output_stride(self) -> int:
        """Frame pixels per pixel of the res5 map: 32, or 16 with a dilated res5."""
        return 16 if self.res5_dilation > 1 else 32

    @property
    def has_slow(self) -> bool:
        return self.pathways in ("slowfast", "slow")

    @property
    def has_fast(self) -> bool:
        return self.pathways in ("slowfast", "fast")

    def replace(self, **overrides) -> SlowFastConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **overrides)


def _int_tuple(name: str, value) -> tuple[int, ...]:
    """(3, 4, 6, 3) from any sequence of whole numbers; ConfigError for anything else."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{name}={value!r} must be a sequence of 4 integers, e.g. (3, 4, 6, 3)")
    items = list(value)
    if not all(_is_int(v) for v in items):
        raise ConfigError(f"{name}={value!r} must hold integers only, e.g. (3, 4, 6, 3)")
    return tuple(int(v) for v in items)


def _is_int(value) -> bool:
    """True for int and numpy integers, False for bool, float, str and everything else."""
    return not isinstance(value, bool) and hasattr(type(value), "__index__")


def validate(cfg: SlowFastConfig) -> None:
    """Raise ConfigError naming the field and a value that would work.

    Integer fields must be ints in [1, LIMITS[name]] (bool and float are refused); the limits keep
    model building and counting fast and far above any configuration of the paper.
    """
    for name in ("pathways", "fusion", "head"):
        if not isinstance(getattr(cfg, name), str):
            raise ConfigError(f"{name}={getattr(cfg, name)!r} must be a string")
    if cfg.pathways not in PATHWAYS:
        raise ConfigError(f"pathways={cfg.pathways!r} is not one of {PATHWAYS}")
    if cfg.fusion not in FUSIONS:
        raise ConfigError(f"fusion={cfg.fusion!r} is not one of {FUSIONS}")
    if cfg.head not in HEADS:
        raise ConfigError(
            f"head={cfg.head!r} is not one of {HEADS} (classify: Kinetics, multilabel: Charades, "
            "detect: AVA person boxes)"
        )
    if not isinstance(cfg.roi_aligned, bool):
        raise ConfigError(f"roi_aligned={cfg.roi_aligned!r} must be True or False")
    for name, example in (
        ("res5_dilation", "1, or 2 for the paper's AVA model"),
        ("roi_resolution", 7),
    ):
        value = getattr(cfg, name)
        if not _is_int(value) or not 1 <= value <= LIMITS[name]:
            raise ConfigError(
                f"{name}={value!r} must be a positive integer, at most {LIMITS[name]} ({example})"
            )
    if not _is_int(cfg.depth) or cfg.depth not in DEPTH_BLOCKS:
        raise ConfigError(
            f"depth={cfg.depth} is not supported: use 50 or 101 (other layouts: stage_blocks=...)"
        )
    most = LIMITS["blocks_per_stage"]
    if cfg.stage_blocks is not None and (
        len(cfg.stage_blocks) != 4 or min(cfg.stage_blocks) < 1 or max(cfg.stage_blocks) > most
    ):
        raise ConfigError(
            f"stage_blocks={cfg.stage_blocks} must give 4 block counts (res2..res5), each in "
            f"1..{most} (R50: (3, 4, 6, 3), R101: (3, 4, 23, 3))"
        )
    if cfg.temporal_blocks is not None and (
        len(cfg.temporal_blocks) != 4 or min(cfg.temporal_blocks) < 0
    ):
        raise ConfigError(
            f"temporal_blocks={cfg.temporal_blocks} must give 4 counts >= 0 (res2..res5)"
        )
    for name in (
        "T", "tau", "alpha", "beta_inv", "width", "num_classes", "fusion_ratio", "crop",
        "fusion_kernel",
    ):  # fmt: skip
        value = getattr(cfg, name)
        if not _is_int(value) or not 1 <= value <= LIMITS[name]:
            raise ConfigError(
                f"{name}={value!r} must be a positive integer, at most {LIMITS[name]} "
                f"(the paper's 4x16 R50 uses {getattr(_PAPER, name)})"
            )
    if cfg.tau % cfg.alpha != 0:
        divisors = [a for a in range(1, cfg.tau + 1) if cfg.tau % a == 0]
        raise ConfigError(
            f"alpha={cfg.alpha} does not divide tau={cfg.tau}: the Fast pathway samples every "
            f"tau/alpha raw frames, which must be a whole number. With tau={cfg.tau}, use alpha in "
            f"{divisors}"
        )
    if cfg.fusion_kernel < 1 or cfg.fusion_kernel % 2 == 0:
        raise ConfigError(
            f"fusion_kernel={cfg.fusion_kernel} must be odd and positive (5 or 7 in the paper) so "
            "that the T-conv lateral keeps T frames"
        )
    if (
        isinstance(cfg.dropout, bool)
        or not isinstance(cfg.dropout, (int, float))
        or not 0.0 <= cfg.dropout < 1.0
    ):
        raise ConfigError(f"dropout={cfg.dropout!r} must be a number in [0, 1) (0.5 in the paper)")
    if cfg.has_fast and cfg.width // cfg.beta_inv < 1:
        raise ConfigError(
            f"beta_inv={cfg.beta_inv} leaves the Fast pathway with no channels "
            f"(width {cfg.width} // {cfg.beta_inv} = 0): use beta_inv <= {cfg.width}"
        )


# ------------------------------------------------------------------------------------------------
# The architecture table (paper Table 1)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    """One residual stage of one pathway: `blocks` bottlenecks [Tx1^2, inner; 1x3^2, inner; 1x1^2, out].

    The first `temporal_blocks` blocks use `temporal_kernel` in their first 1x1 conv, the rest 1.
    The first block carries the spatial stride (on its 3x3 conv and its projection shortcut).
    A dilated res5 (the detection models) has stride 1 and dilation > 1 in every 3x3 conv.
    """

    name: str
    blocks: int
    inner: int
    out: int
    temporal_kernel: int
    temporal_blocks: int
    spatial_stride: int
    dilation: int = 1  # of the 3x3 conv (padding = dilation keeps the size)

    def kernel_of_block(self, j: int) -> int:
        return self.temporal_kernel if j < self.temporal_blocks else 1


@dataclass(frozen=True)
class PathwaySpec:
    """A pathway as data: its stem conv (temporal kernel x 7^2, `stem_channels`) and four stages."""

    name: str  # "slow" or "fast"
    stem_channels: int
    stem_temporal_kernel: int
    stages: tuple[StageSpec, ...] = field(default_factory=tuple)

    @property
    def out_channels(self) -> int:
        return self.stages[-1].out


# Temporal kernel of the stem and of each stage's first 1x1 conv, per pathway (paper Table 1):
# the Slow pathway uses temporal convolutions only in res4 and res5 ("non-degenerate" kernels),
# the Fast pathway everywhere.
TEMPORAL_KERNELS = {"slow": (1, 1, 1, 3, 3), "fast": (5, 3, 3, 3, 3)}


def pathway_spec(cfg: SlowFastConfig, name: str) -> PathwaySpec:
    """The stem and stages of the "slow" or "fast" pathway for a config.

    Slow widths are width x (1; 1,4; 2,8; 4,16; 8,32) for (stem; res2..res5 inner,out);
    Fast widths are those divided by beta_inv (integer division, as PySlowFast). Strides are
    1, 2, 2, 2 for res2..res5, except res5 with res5_dilation > 1: stride 1, dilated 3x3 convs
    (PySlowFast SPATIAL_STRIDES [1, 2, 2, 1], SPATIAL_DILATIONS [1, 1, 1, 2]).
    """
    if name not in ("slow", "fast"):
        raise ValueError(f"pathway name must be 'slow' or 'fast', not {name!r}")
    div = 1 if name == "slow" else cfg.beta_inv
    kernels = TEMPORAL_KERNELS[name]
    temporal_blocks = cfg.temporal_blocks or cfg.blocks
    stages = tuple(
        StageSpec(
            name=stage_name,
            blocks=cfg.blocks[i],
            inner=cfg.width * 2**i // div,
            out=cfg.width * 4 * 2**i // div,
            temporal_kernel=kernels[i + 1],
            temporal_blocks=min(temporal_blocks[i], cfg.blocks[i]),
            spatial_stride=1 if i == 0 or (i == 3 and cfg.res5_dilation > 1) else 2,
            dilation=cfg.res5_dilation if i == 3 else 1,
        )
        for i, stage_name in enumerate(STAGE_NAMES)
    )
    return PathwaySpec(name, cfg.width // div, kernels[0], stages)


def lateral_channels(cfg: SlowFastConfig, fast_channels: int) -> int:
    """Channels a lateral connection concatenates onto the Slow pathway (0 for sum / none).

    t_conv: fusion_ratio * beta C (2 beta C in the paper); t_sample: beta C;
    ttoc_concat: alpha * beta C; ttoc_sum and none add no channels.
    """
    if cfg.pathways != "slowfast":
        return 0
    return {
        "t_conv": cfg.fusion_ratio * fast_channels,
        "t_sample": fast_channels,
        "ttoc_concat": cfg.alpha * fast_channels,
        "ttoc_sum": 0,
        "none": 0,
    }[cfg.fusion]


def fusion_points(cfg: SlowFastConfig) -> list[tuple[str, int, int]]:
    """(name, slow channels, fast channels) at each lateral: fuse1..fuse4 after pool1, res2..res4."""
    slow, fast = pathway_spec(cfg, "slow"), pathway_spec(cfg, "fast")
    points = [("fuse1", slow.stem_channels, fast.stem_channels)]
    for i in range(3):
        points.append((f"fuse{i + 2}", slow.stages[i].out, fast.stages[i].out))
    return points


# ------------------------------------------------------------------------------------------------
# Presets
# ------------------------------------------------------------------------------------------------

_PAPER = SlowFastConfig()  # the defaults: SlowFast 4x16 R50, quoted in error messages

_TINY = dict(  # shared by the three tiny presets below
    T=4, tau=8, alpha=4, beta_inv=4, width=16, stage_blocks=(1, 1, 1, 1), crop=64,
    num_classes=10, dropout=0.2, fusion_kernel=5,
)  # fmt: skip

PRESETS: dict[str, SlowFastConfig] = {
    # The paper's Kinetics-400 models (PySlowFast configs of the same names).
    "slowfast_4x16_r50": SlowFastConfig(T=4, tau=16, alpha=8, beta_inv=8, fusion_kernel=5),
    "slowfast_8x8_r50": SlowFastConfig(T=8, tau=8, alpha=4, beta_inv=8, fusion_kernel=7),
    "slowfast_8x8_r101": SlowFastConfig(T=8, tau=8, alpha=4, depth=101, fusion_kernel=5),
    "slowfast_16x8_r101_50_50": SlowFastConfig(
        T=16, tau=8, alpha=4, depth=101, fusion_kernel=5, temporal_blocks=(3, 4, 6, 3)
    ),
    # Kinetics-600: the 8x8 R50 network with 600 outputs (PySlowFast's public K600 SlowFast files are
    # R101 with non-local blocks, which this library does not build).
    "slowfast_8x8_r50_k600": SlowFastConfig(
        T=8, tau=8, alpha=4, beta_inv=8, fusion_kernel=7, num_classes=600
    ),
    # The paper's AVA detector as PyTorchVideo's hub `slowfast_r50_detection` builds it (PySlowFast
    # AVA/c2/SLOWFAST_32x2_R50: 32 Fast frames at stride 2 = 8x8): res5 stride 1 + dilation 2,
    # RoIAlign 7x7 at 1/16 without the half-pixel offset (ALIGNED: False), 80 AVA actions.
    "slowfast_8x8_r50_ava": SlowFastConfig(
        T=8,
        tau=8,
        alpha=4,
        beta_inv=8,
        fusion_kernel=7,
        num_classes=80,
        head="detect",
        res5_dilation=2,
        roi_resolution=7,
        roi_aligned=False,
    ),
    "slow_4x16_r50": SlowFastConfig(pathways="slow", T=4, tau=16, alpha=8),
    "slow_8x8_r50": SlowFastConfig(pathways="slow", T=8, tau=8, alpha=4),
    "fast_4x16_r50": SlowFastConfig(pathways="fast", T=4, tau=16, alpha=8),
    # Small CPU-sized models for the lessons (MotionShapes, 64x64 clips): one block per stage,
    # width 16, beta 1/4. See README for their cost.
    "slowfast_tiny": SlowFastConfig(**_TINY),
    "slow_tiny": SlowFastConfig(pathways="slow", **_TINY),
    "fast_tiny": SlowFastConfig(pathways="fast", **_TINY),
}


def get_config(name: str | SlowFastConfig = "slowfast_4x16_r50", **overrides) -> SlowFastConfig:
    """A preset (by name) or a config, with any SlowFastConfig fields overridden.

    >>> get_config("slowfast_8x8_r50", beta_inv=16).beta
    0.0625
    """
    if isinstance(name, SlowFastConfig):
        base = name
    elif name in PRESETS:
        base = PRESETS[name]
    else:
        raise ConfigError(f"unknown preset {name!r}; presets are: {', '.join(PRESETS)}")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(SlowFastConfig)}
    if unknown:
        fields = ", ".join(f.name for f in dataclasses.fields(SlowFastConfig))
        raise ConfigError(f"unknown config field(s) {sorted(unknown)}; fields are: {fields}")
    return base.replace(**overrides) if overrides else base
