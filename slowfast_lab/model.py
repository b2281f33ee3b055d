"""The SlowFast network (Feichtenhofer et al., ICCV 2019), and its Slow-only and Fast-only halves.

Read `SlowFast.forward` top to bottom: it is the paper's Table 1, down to the head.

    slow  [N, 3, T, H, W]  --stem--> fuse1 <--stem--  fast [N, 3, alpha T, H, W]
                           --res2--> fuse2 <--res2--
                           --res3--> fuse3 <--res3--
                           --res4--> fuse4 <--res4--
                           --res5-->  head <--res5--  -> logits [N, num_classes]

Feature shapes are {T, S^2, C} in the Slow pathway and {alpha T, S^2, beta C} in the Fast one.
No layer downsamples time, so both pathways keep their frame counts until the head's global pool.

The head is the classifier of the paper (`config.head` "classify", or "multilabel": the same layers
read with a sigmoid per class) or, for action detection, `detection.RoIHead`: then the model takes
person boxes, `model(slow, fast, boxes=boxes)`, and gives one row of logits per box.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import (
    STAGE_NAMES,
    ConfigError,
    PathwaySpec,
    SlowFastConfig,
    StageSpec,
    fusion_points,
    get_config,
    lateral_channels,
    pathway_spec,
)
from .detection import RoIHead, check_boxes
from .fusion import build_lateral

# The stage names of every pathway, in order (pool1 is the stem's output).
STAGES = ("stem", *STAGE_NAMES)


class ShapeError(ValueError):
    """Input tensors that do not fit the model; the message says what would."""


class _HeadReached(Exception):
    """Raised by `VideoNet.backbone`'s hook to stop a forward pass at the head."""


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class ConvBN(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d -> optional ReLU. Padding keeps sizes (dilation * (k // 2))."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        relu: bool = True,
        dilation: tuple[int, int, int] = (1, 1, 1),
    ):
        super().__init__()
        padding = tuple(d * (k // 2) for k, d in zip(kernel, dilation, strict=True))
        self.conv = nn.Conv3d(
            c_in, c_out, kernel, stride, padding=padding, dilation=dilation, bias=False
        )
        self.bn = nn.BatchNorm3d(c_out, eps=1e-5, momentum=0.1)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return (
            F.relu(x, inplace=True) if self.relu else x
        )  # in place: BN output is not needed again


class Bottleneck(nn.Module):
    """Residual bottleneck: [Tk x 1^2, inner] -> [1 x 3^2, inner] -> [1 x 1^2, out], plus shortcut.

    The spatial stride sits on the 3x3 conv (and on the projection shortcut); time is never strided.
    A dilated 3x3 conv (res5 of the detection models) sees a 5x5 window at stride 1 instead.
    {t, S^2, c_in} -> {t, (S/stride)^2, out}.
    """

    def __init__(
        self,
        c_in: int,
        inner: int,
        out: int,
        temporal_kernel: int,
        spatial_stride: int,
        dilation: int = 1,
    ):
        super().__init__()
        s, d = spatial_stride, dilation
        self.a = ConvBN(c_in, inner, (temporal_kernel, 1, 1))
        self.b = ConvBN(inner, inner, (1, 3, 3), stride=(1, s, s), dilation=(1, d, d))
        self.c = ConvBN(inner, out, (1, 1, 1), relu=False)
        # A projection shortcut only where the width or the resolution changes.
        needs_projection = c_in != out or s != 1
        self.shortcut = (
            ConvBN(c_in, out, (1, 1, 1), (1, s, s), relu=False) if needs_projection else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(identity + self.c(self.b(self.a(x))), inplace=True)


class Stage(nn.Sequential):
    """A residual stage (res2..res5): `spec.blocks` bottlenecks; the first one strides and widens."""

    def __init__(self, c_in: int, spec: StageSpec):
        super().__init__(
            *(
                Bottleneck(
                    c_in if j == 0 else spec.out,
                    spec.inner,
                    spec.out,
                    spec.kernel_of_block(j),
                    spec.spatial_stride if j == 0 else 1,
                    spec.dilation,
                )
                for j in range(spec.blocks)
            )
        )
        self.spec = spec


class Stem(nn.Module):
    """conv1 [Tk x 7^2, C, stride 1,2^2] -> pool1 [1 x 3^2 max, stride 1,2^2]: {t, S^2} -> {t, (S/4)^2}."""

    def __init__(self, channels: int, temporal_kernel: int):
        super().__init__()
        self.conv = ConvBN(3, channels, (temporal_kernel, 7, 7), stride=(1, 2, 2))
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class Pathway(nn.Module):
    """One pathway (Slow or Fast): stem, res2, res3, res4, res5, built from its PathwaySpec.

    `lateral_in` gives, per stage, the channels that lateral connections concatenate onto this
    pathway's input (non-zero only for the Slow pathway of a SlowFast model).
    """

    def __init__(self, spec: PathwaySpec, lateral_in: tuple[int, int, int, int] = (0, 0, 0, 0)):
        super().__init__()
        self.spec = spec
        self.stem = Stem(spec.stem_channels, spec.stem_temporal_kernel)
        c_in = [spec.stem_channels] + [st.out for st in spec.stages[:-1]]
        self.res2 = Stage(c_in[0] + lateral_in[0], spec.stages[0])
        self.res3 = Stage(c_in[1] + lateral_in[1], spec.stages[1])
        self.res4 = Stage(c_in[2] + lateral_in[2], spec.stages[2])
        self.res5 = Stage(c_in[3] + lateral_in[3], spec.stages[3])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A pathway alone (Slow-only / Fast-only): [N, 3, t, H, W] -> [N, C_out, t, H/32, W/32]."""
        return self.res5(self.res4(self.res3(self.res2(self.stem(x)))))


class Head(nn.Module):
    """Global average pool per pathway, concatenate (Slow first), dropout, fully connected.

    slow {T, (S/32)^2, C_s} and fast {alpha T, (S/32)^2, C_f} -> features [N, C_s + C_f] -> logits.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    @staticmethod
    def features(*pathway_outputs: torch.Tensor) -> torch.Tensor:
        """[N, C_s + C_f]: each pathway averaged over time and space, concatenated in order."""
        return torch.cat([x.mean(dim=(2, 3, 4)) for x in pathway_outputs], dim=1)

    def forward(
        self, *pathway_outputs: torch.Tensor, boxes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits [N, num_classes]; `boxes` must be None (the models check it before)."""
        return self.fc(self.dropout(self.features(*pathway_outputs)))

    def position_probs(
        self, pathway_outputs: tuple[torch.Tensor, ...], window: int, multilabel: bool = False
    ) -> torch.Tensor:
        """PySlowFast's eval head: average-pool each pathway over all its frames and a window x window
        spatial patch (stride 1), apply fc at every position, softmax (a sigmoid per class when
        `multilabel`), and average the positions.
        """
        pooled = []
        for x in pathway_outputs:
            k = (x.shape[2], min(window, x.shape[3]), min(window, x.shape[4]))
            pooled.append(F.avg_pool3d(x, k, stride=1))
        x = torch.cat(pooled, dim=1).permute(0, 2, 3, 4, 1)  # [N, t, h, w, C]
        logits = self.fc(x)
        probs = logits.sigmoid() if multilabel else logits.softmax(dim=-1)
        return probs.mean(dim=(1, 2, 3))


def build_head(config: SlowFastConfig, in_channels: int) -> Head | RoIHead:
    """The classifier (classify / multilabel: the same layers) or the RoI head (detect)."""
    if config.head == "detect":
        return RoIHead(
            in_channels,
            config.num_classes,
            config.dropout,
            resolution=config.roi_resolution,
            spatial_scale=1.0 / config.output_stride,
            aligned=config.roi_aligned,
        )
    return Head(in_channels, config.num_classes, config.dropout)


def loss_for(config: SlowFastConfig) -> nn.Module:
    """The training loss a head's logits go with: cross-entropy over classes for "classify"
    (targets: class indices [N]); binary cross-entropy with logits, one sigmoid per class, for
    "multilabel" and "detect" (targets: 0/1 floats [N or K, num_classes])."""
    return nn.CrossEntropyLoss() if config.head == "classify" else nn.BCEWithLogitsLoss()


# ------------------------------------------------------------------------------------------------
# The three networks
# ------------------------------------------------------------------------------------------------


class VideoNet(nn.Module):
    """What the SlowFast, Slow-only and Fast-only networks share: config, init, checks, helpers."""

    config: SlowFastConfig
    head: Head | RoIHead

    def check_inputs(self, *inputs: torch.Tensor, boxes: torch.Tensor | None = None) -> None:
        raise NotImplementedError

    def backbone(
        self, *inputs: torch.Tensor, boxes: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """The pathways' res5 outputs as the head receives them (one per pathway, Slow first).

        Runs `forward` and stops it at the head (a pre-hook records the head's inputs), so the
        network is written once, in `forward`. A detection model needs its `boxes` here too.
        """
        received: list[tuple[torch.Tensor, ...]] = []

        def stop_at_head(_head: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            received.append(args)
            raise _HeadReached

        handle = self.head.register_forward_pre_hook(stop_at_head)
        try:
            self(*inputs, boxes=boxes)
        except _HeadReached:
            pass
        finally:
            handle.remove()
        return received[0]

    def features(self, *inputs: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled feature vector the classifier reads: [N, 2304] for SlowFast R50 ([K, 2304],
        one per box, for a detection model)."""
        outputs = self.backbone(*inputs, boxes=boxes)
        if self.config.head == "detect":
            return self.head.features(*outputs, boxes=boxes)
        return self.head.features(*outputs)

    @torch.no_grad()
    def predict(self, *inputs: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        """PySlowFast's test-time output: class probabilities [N, num_classes], softmax (a sigmoid
        per class for "multilabel") averaged over positions of a (crop/32)^2 pooling window (one
        position at the training crop size). A detection model: a sigmoid per box and class,
        [K, num_classes]."""
        if self.config.head == "detect":
            return self(*inputs, boxes=boxes).sigmoid()
        window = max(1, self.config.crop // self.config.output_stride)
        multilabel = self.config.head == "multilabel"
        return self.head.position_probs(self.backbone(*inputs), window, multilabel)

    def stage_outputs(
        self, *inputs: torch.Tensor, boxes: torch.Tensor | None = None
    ) -> dict[str, dict[str, torch.Tensor]]:
        """Every stage's output per pathway, e.g. {"pool1": {"slow": .., "fast": ..}, "res2": ..}.

        Recorded with forward hooks on the named modules during one real forward pass.
        """
        names = {stage: "pool1" if stage == "stem" else stage for stage in STAGES}
        outputs: dict[str, dict[str, torch.Tensor]] = {v: {} for v in names.values()}
        handles = []
        for pathway in ("slow", "fast"):
            module = getattr(self, pathway, None)
            if module is None:
                continue
            for attr, stage in names.items():

                def hook(_m, _i, out, stage=stage, pathway=pathway):
                    outputs[stage][pathway] = out

                handles.append(getattr(module, attr).register_forward_hook(hook))
        try:
            self(*inputs, boxes=boxes)
        finally:
            for h in handles:
                h.remove()
        return outputs

    def _check_boxes(self, boxes: torch.Tensor | None, batch: int) -> None:
        """A detection model needs boxes for its clips; the others take none."""
        if self.config.head != "detect":
            if boxes is not None:
                raise ShapeError(
                    f"this model has a {self.config.head!r} head, which takes no boxes: call it "
                    "without boxes=, or build a detector with head='detect'"
                )
            return
        if boxes is None:
            raise ShapeError(
                "a detection model (head='detect') needs person boxes: model(..., boxes=boxes) "
                "with boxes [K, 5] rows (batch index, x1, y1, x2, y2) in input pixels"
            )
        check_boxes(boxes, batch, self.head.fc.weight.device)

    def _check_clip(self, x: torch.Tensor, name: str, frames: int | None = None) -> None:
        if not isinstance(x, torch.Tensor):
            raise ShapeError(
                f"{name} must be a torch.Tensor [N, 3, T, H, W], got {type(x).__name__}"
            )
        if x.dim() != 5:
            hint = " (add a batch dimension: x[None])" if x.dim() == 4 else ""
            raise ShapeError(
                f"{name} must have 5 dimensions [N, 3, T, H, W], got shape {list(x.shape)}{hint}"
            )
        if x.shape[1] != 3:
            hint = " (channels last? use x.permute(0, 4, 1, 2, 3))" if x.shape[-1] == 3 else ""
            raise ShapeError(
                f"{name} must have 3 colour channels in dim 1 [N, 3, T, H, W], got shape "
                f"{list(x.shape)}{hint}"
            )
        if x.shape[3] < 32 or x.shape[4] < 32:
            raise ShapeError(
                f"{name} is {x.shape[3]}x{x.shape[4]} pixels; the network downsamples space by 32, "
                "so use at least 32x32 (224x224 or 256x256 for Kinetics models)"
            )
        if not x.is_floating_point():
            raise ShapeError(
                f"{name} has dtype {x.dtype}; the model needs float input normalised like its "
                "training data (see slowfast_lab.sampling.to_model_input)"
            )
        if frames is not None and x.shape[2] != frames:
            raise ShapeError(f"{name} has {x.shape[2]} frames, expected {frames}")
        if x.shape[0] < 1 or x.shape[2] < 1:
            raise ShapeError(f"{name} has shape {list(x.shape)}: need at least 1 clip of 1 frame")
        self._check_values(x, name)

    def _check_values(self, x: torch.Tensor, name: str) -> None:
        """Device, dtype and batch-norm checks, then NaN/Inf: all before any conv runs, so the
        error says what to change instead of a message from deep inside torch."""
        weight = self.head.fc.weight
        if x.is_meta and not weight.is_meta:
            raise ShapeError(
                f"{name} is a meta tensor (shape only, no data); the model needs real values: "
                "create it with torch.randn(..., device='cpu') or load a clip"
            )
        if x.device != weight.device:
            raise ShapeError(
                f"{name} is on {x.device} but the model is on {weight.device}: use "
                f"{name}.to({str(weight.device)!r}) (or model.to({str(x.device)!r}))"
            )
        autocast = torch.is_autocast_enabled(x.device.type)
        if x.dtype != weight.dtype and not autocast:
            hint = (
                " (float16/bfloat16 on the CPU: use float32, or autocast: "
                "torch.autocast('cpu', torch.bfloat16))"
                if x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16)
                else ""
            )
            raise ShapeError(
                f"{name} has dtype {x.dtype} but the model's weights are {weight.dtype}: use "
                f"{name}.to({weight.dtype}){hint}"
            )
        if self.training:
            # BatchNorm in train mode needs 2+ values per channel; the fewest are after res5.
            stride = self.config.output_stride
            h, w = -(-x.shape[3] // stride), -(-x.shape[4] // stride)
            if x.shape[0] * x.shape[2] * h * w < 2:
                raise ShapeError(
                    f"{name} {list(x.shape)} leaves batch norm one value per channel after res5 "
                    f"(batch {x.shape[0]} x {x.shape[2]} frame(s) x {h}x{w}): in train mode use a "
                    "batch of 2 or more, more frames or larger frames; or call model.eval()"
                )
        if x.is_meta or torch.compiler.is_compiling() or torch.jit.is_tracing():
            return
        # One sum (about 0.4% of a forward on the CPU, measured) catches NaN and Inf, which
        # would otherwise turn every logit into NaN and, in train mode, the BN running statistics.
        if not torch.isfinite(x.sum()):
            bad = int((~torch.isfinite(x)).sum())
            if bad:
                raise ShapeError(
                    f"{name} holds {bad} NaN/Inf value(s) of {x.numel()}: check the data (e.g. "
                    "torch.isfinite(x).all()) before the model; NaN input gives NaN logits"
                )
            raise ShapeError(f"{name} has values so large that they overflow float; normalise it")

    def init_weights(self) -> None:
        """PySlowFast init: conv Kaiming-normal (fan_out); BN gamma 1, beta 0, except the last BN of
        every residual branch (gamma 0, so each block starts as identity); fc N(0, 0.01), bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.c.bn.weight)


class SlowFast(VideoNet):
    """The two-pathway network: `model(slow, fast)` with slow [N,3,T,H,W], fast [N,3,alpha T,H,W]."""

    def __init__(self, config: SlowFastConfig):
        super().__init__()
        if config.pathways != "slowfast":
            raise ValueError(f"SlowFast needs pathways='slowfast', got {config.pathways!r}")
        self.config = config
        fast_spec = pathway_spec(config, "fast")
        points = fusion_points(config)
        laterals = [build_lateral(config, c_slow, c_fast) for _, c_slow, c_fast in points]
        self.fuse1, self.fuse2, self.fuse3, self.fuse4 = laterals
        # Concatenating laterals widen the input of the Slow stage that follows them.
        extra = tuple(lateral_channels(config, c_fast) for _, _, c_fast in points)
        self.slow = Pathway(pathway_spec(config, "slow"), extra)
        self.fast = Pathway(fast_spec)
        self.head = build_head(config, self.slow.spec.out_channels + fast_spec.out_channels)
        self.init_weights()

    def forward(
        self,
        slow: torch.Tensor,
        fast: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits [N, num_classes] (train and eval mode, any crop and frame count that fit alpha):
        both pathways side by side, the Fast -> Slow laterals after pool1, res2, res3, res4, then
        the head. A detection model takes boxes [K, 5] and gives logits [K, num_classes]."""
        self.check_inputs(slow, fast, boxes=boxes)
        s, f = self.slow.stem(slow), self.fast.stem(fast)  # {T, (S/4)^2, C}, {aT, (S/4)^2, bC}
        s = self.fuse1(s, f)
        s, f = self.slow.res2(s), self.fast.res2(f)  # {T, (S/4)^2, 4C}, {aT, (S/4)^2, 4bC}
        s = self.fuse2(s, f)
        s, f = self.slow.res3(s), self.fast.res3(f)  # {T, (S/8)^2, 8C}, {aT, (S/8)^2, 8bC}
        s = self.fuse3(s, f)
        s, f = self.slow.res4(s), self.fast.res4(f)  # {T, (S/16)^2, 16C}, {aT, (S/16)^2, 16bC}
        s = self.fuse4(s, f)
        s, f = self.slow.res5(s), self.fast.res5(f)  # {T, (S/32)^2, 32C}, {aT, (S/32)^2, 32bC}
        # (S/16 with a dilated res5: stride 1, dilation 2, the detection models)
        return self.head(s, f, boxes=boxes)  # pool each (per box), concatenate, dropout, fc

    def check_inputs(
        self,
        slow: torch.Tensor,
        fast: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
    ) -> None:
        cfg = self.config
        if fast is None:
            raise ShapeError(
                "SlowFast takes two inputs: model(slow, fast) with slow [N,3,T,H,W] and fast "
                f"[N,3,alpha*T,H,W] (alpha={cfg.alpha}); see slowfast_lab.sampling.to_model_input"
            )
        self._check_clip(slow, "slow")
        self._check_clip(fast, "fast")
        t_slow, t_fast = slow.shape[2], fast.shape[2]
        if t_fast != cfg.alpha * t_slow:
            raise ShapeError(
                f"fast has {t_fast} frames but slow has {t_slow}: the Fast pathway needs alpha * T = "
                f"{cfg.alpha} x {t_slow} = {cfg.alpha * t_slow} frames (alpha={cfg.alpha}). "
                f"Sample them with slowfast_lab.sample_indices(..., T={t_slow}, alpha={cfg.alpha})"
            )
        if slow.shape[0] != fast.shape[0]:
            raise ShapeError(
                f"slow and fast batch sizes differ: {slow.shape[0]} vs {fast.shape[0]}"
            )
        if slow.shape[3:] != fast.shape[3:]:
            raise ShapeError(
                f"slow and fast must have the same frame size, got {tuple(slow.shape[3:])} and "
                f"{tuple(fast.shape[3:])}"
            )
        self._check_boxes(boxes, slow.shape[0])


class SlowOnly(VideoNet):
    """The Slow pathway alone (paper's "Slow-only"): `model(slow)`, slow [N, 3, T, H, W]."""

    def __init__(self, config: SlowFastConfig):
        super().__init__()
        self.config = config
        self.slow = Pathway(pathway_spec(config, "slow"))
        self.head = build_head(config, self.slow.spec.out_channels)
        self.init_weights()

    def forward(
        self, slow: torch.Tensor, *extra: torch.Tensor, boxes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits [N, num_classes] ([K, num_classes] per box): the Slow pathway, then the head."""
        self.check_inputs(slow, *extra, boxes=boxes)
        return self.head(self.slow(slow), boxes=boxes)

    def check_inputs(
        self, slow: torch.Tensor, *extra: torch.Tensor, boxes: torch.Tensor | None = None
    ) -> None:
        if extra:
            raise ShapeError("a Slow-only model takes one input: model(slow), slow [N,3,T,H,W]")
        self._check_clip(slow, "slow")
        self._check_boxes(boxes, slow.shape[0])


class FastOnly(VideoNet):
    """The Fast pathway alone (thin, high frame rate): `model(fast)`, fast [N, 3, alpha T, H, W]."""

    def __init__(self, config: SlowFastConfig):
        super().__init__()
        self.config = config
        self.fast = Pathway(pathway_spec(config, "fast"))
        self.head = build_head(config, self.fast.spec.out_channels)
        self.init_weights()

    def forward(
        self, fast: torch.Tensor, *extra: torch.Tensor, boxes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits [N, num_classes] ([K, num_classes] per box): the Fast pathway, then the head."""
        self.check_inputs(fast, *extra, boxes=boxes)
        return self.head(self.fast(fast), boxes=boxes)

    def check_inputs(
        self, fast: torch.Tensor, *extra: torch.Tensor, boxes: torch.Tensor | None = None
    ) -> None:
        if extra:
            raise ShapeError(
                "a Fast-only model takes one input: model(fast), fast [N,3,alpha*T,H,W]"
            )
        self._check_clip(fast, "fast")
        self._check_boxes(boxes, fast.shape[0])


def build_model(name: str | SlowFastConfig = "slowfast_4x16_r50", **overrides) -> VideoNet:
    """Build a network from a preset name (or a config), overriding any SlowFastConfig field.

    >>> model = build_model("slowfast_4x16_r50", num_classes=400, alpha=8, beta_inv=8, fusion="t_conv")
    >>> model.config.fast_frames
    32
    """
    cfg = get_config(name, **overrides)
    _check_size(cfg)
    network = {"slowfast": SlowFast, "slow": SlowOnly, "fast": FastOnly}[cfg.pathways]
    return network(cfg)


MAX_PARAMS = 2_000_000_000  # 8 GB of float32 weights; R101 has 63 M


def _check_size(cfg: SlowFastConfig) -> None:
    """Refuse configs whose weights alone would not fit in memory, before allocating any."""
    from .complexity import complexity  # analytic, from the config alone

    params = complexity(cfg, crop_size=32).params
    if params > MAX_PARAMS:
        raise ConfigError(
            f"this config has {params / 1e9:.1f} G parameters ({4 * params / 2**30:.0f} GiB of "
            f"float32 weights); build_model stops at {MAX_PARAMS / 1e9:.0f} G. Reduce width "
            f"({cfg.width}), stage_blocks ({cfg.blocks}) or num_classes ({cfg.num_classes})"
        )


# ------------------------------------------------------------------------------------------------
# Inputs for a model
# ------------------------------------------------------------------------------------------------


def model_inputs(
    model: VideoNet | SlowFastConfig, slow: torch.Tensor, fast: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """The arguments `model(...)` takes, from both pathway clips: (slow, fast) for SlowFast,
    (slow,) for Slow-only, (fast,) for Fast-only. slow [N,3,T,H,W], fast [N,3,alpha T,H,W]."""
    cfg = model if isinstance(model, SlowFastConfig) else model.config
    return {"slowfast": (slow, fast), "slow": (slow,), "fast": (fast,)}[cfg.pathways]


def dummy_inputs(
    model: VideoNet | SlowFastConfig | str,
    crop: int,
    batch: int = 1,
    T: int | None = None,
    device: torch.device | str | None = None,
    seed: int | None = None,
    channels_last: bool = False,
) -> tuple[torch.Tensor, ...]:
    """Clips shaped for a model, a config or a preset name, as `model_inputs` orders them:
    slow [batch, 3, T, crop, crop], fast [batch, 3, alpha T, crop, crop]. Zeros, or N(0, 1) drawn
    from a generator seeded with `seed` (the same numbers on every device). On the model's device
    when a model is given and `device` is not; channels_last_3d memory format when asked."""
    if isinstance(model, nn.Module):
        cfg = model.config
        if device is None:
            device = next(model.parameters()).device
    else:
        cfg = get_config(model)
    T = T or cfg.T
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    clips = []
    for t in {"slowfast": (T, cfg.alpha * T), "slow": (T,), "fast": (cfg.alpha * T,)}[cfg.pathways]:
        shape = (batch, 3, t, crop, crop)
        x = torch.zeros(shape) if g is None else torch.randn(shape, generator=g)
        x = x.to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        clips.append(x)
    return tuple(clips)
