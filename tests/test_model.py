"""The model follows the paper's Table 1 and PySlowFast's defaults, and rejects unfit input clearly."""

from __future__ import annotations

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab.config import ConfigError, pathway_spec
from slowfast_lab.model import STAGES, Bottleneck, dummy_inputs, model_inputs


def clip(cfg: sfl.SlowFastConfig, n: int = 2, size: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    slow = torch.randn(n, 3, cfg.T, size, size, generator=g)
    fast = torch.randn(n, 3, cfg.fast_frames, size, size, generator=g)
    return {"slowfast": (slow, fast), "slow": (slow,), "fast": (fast,)}[cfg.pathways]


@pytest.mark.parametrize("preset", ["slowfast_tiny", "slow_tiny", "fast_tiny"])
@pytest.mark.parametrize("size", [32, 64, 80])
def test_logits_shape_in_train_and_eval(preset: str, size: int) -> None:
    model = sfl.build_model(preset, num_classes=7)
    inputs = clip(model.config, size=size)
    assert model(*inputs).shape == (2, 7)
    model.eval()
    assert model(*inputs).shape == (2, 7)


def test_any_number_of_frames() -> None:
    model = sfl.build_model("slowfast_tiny", T=3, tau=12, alpha=4)
    assert model(*clip(model.config)).shape == (2, model.config.num_classes)


def test_slow_input_widths_after_laterals_r50() -> None:
    """REFERENCE: Slow stage inputs are 64+16, 256+64, 512+128, 1024+256 for R50, beta 1/8."""
    model = sfl.build_model("slowfast_4x16_r50")
    widths = [
        getattr(model.slow, s)[0].a.conv.in_channels for s in ("res2", "res3", "res4", "res5")
    ]
    assert widths == [80, 320, 640, 1280]
    assert model.fuse1.conv.weight.shape == (16, 8, 5, 1, 1)
    assert model.fuse1.conv.stride == (8, 1, 1)
    assert sfl.build_model("slowfast_8x8_r50").fuse1.conv.weight.shape == (16, 8, 7, 1, 1)
    assert model.head.fc.in_features == 2304


def test_temporal_kernels_follow_table1() -> None:
    model = sfl.build_model("slowfast_4x16_r50")
    assert model.slow.stem.conv.conv.kernel_size == (1, 7, 7)
    assert model.fast.stem.conv.conv.kernel_size == (5, 7, 7)
    slow_k = [
        getattr(model.slow, s)[0].a.conv.kernel_size[0] for s in ("res2", "res3", "res4", "res5")
    ]
    fast_k = [
        getattr(model.fast, s)[0].a.conv.kernel_size[0] for s in ("res2", "res3", "res4", "res5")
    ]
    assert slow_k == [1, 1, 3, 3]
    assert fast_k == [3, 3, 3, 3]
    # No convolution anywhere strides time.
    assert all(
        m.stride[0] == 1
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Conv3d) and not n.startswith("fuse")
    )


def test_r101_50_50_layout() -> None:
    res4 = pathway_spec(sfl.get_config("slowfast_16x8_r101_50_50"), "slow").stages[2]
    assert res4.blocks == 23
    assert [res4.kernel_of_block(j) for j in range(23)] == [3] * 6 + [1] * 17


def test_no_temporal_downsampling_and_shapes() -> None:
    model = sfl.build_model("slowfast_tiny")
    cfg = model.config
    outs = model.stage_outputs(*clip(cfg, size=64))
    assert list(outs) == ["pool1", "res2", "res3", "res4", "res5"]
    for stage, spatial in zip(outs, (16, 16, 8, 4, 2), strict=True):
        s, f = outs[stage]["slow"], outs[stage]["fast"]
        assert s.shape[2] == cfg.T and f.shape[2] == cfg.alpha * cfg.T
        assert s.shape[3] == f.shape[3] == spatial
        # {T, S^2, C} and {alpha T, S^2, beta C}
        assert f.shape[1] * cfg.beta_inv == s.shape[1]


def test_features_are_2304_for_r50() -> None:
    model = sfl.build_model("slowfast_4x16_r50", num_classes=5).eval()
    assert model.features(*clip(model.config, n=1, size=64)).shape == (1, 2304)


def test_init_follows_pyslowfast() -> None:
    model = sfl.build_model("slowfast_tiny")
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck)]
    assert blocks and all(torch.all(b.c.bn.weight == 0) for b in blocks)
    assert torch.all(blocks[0].a.bn.weight == 1)
    assert model.head.fc.weight.std().item() == pytest.approx(0.01, rel=0.2)
    assert torch.all(model.head.fc.bias == 0)


def test_predict_is_pyslowfast_eval_output() -> None:
    model = sfl.build_model("slowfast_tiny").eval()
    inputs = clip(model.config, size=model.config.crop)
    probs = model.predict(*inputs)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))
    # At the training crop the pooling window covers the whole map: softmax of the logits.
    with torch.no_grad():
        torch.testing.assert_close(probs, model(*inputs).softmax(1), atol=1e-6, rtol=1e-5)
    # At a larger crop, several positions are averaged: still a distribution.
    torch.testing.assert_close(model.predict(*clip(model.config, size=96)).sum(1), torch.ones(2))


def test_both_pathways_get_gradients() -> None:
    model = sfl.build_model("slowfast_tiny")
    slow, fast = (x.requires_grad_() for x in clip(model.config))
    model(slow, fast).sum().backward()
    assert slow.grad.abs().sum() > 0 and fast.grad.abs().sum() > 0


def test_laterals_are_unidirectional() -> None:
    """Changing the Slow input never changes the Fast pathway's features."""
    model = sfl.build_model("slowfast_tiny").eval()
    slow, fast = clip(model.config)
    with torch.no_grad():
        a = model.stage_outputs(slow, fast)
        b = model.stage_outputs(torch.randn_like(slow), fast)
    torch.testing.assert_close(a["res5"]["fast"], b["res5"]["fast"])
    assert not torch.allclose(a["res5"]["slow"], b["res5"]["slow"])


@pytest.mark.parametrize("fusion", ["t_conv", "t_sample", "ttoc_sum", "ttoc_concat", "none"])
@pytest.mark.parametrize("beta_inv", [2, 4, 8])
def test_every_fusion_and_beta_builds_and_runs(fusion: str, beta_inv: int) -> None:
    model = sfl.build_model("slowfast_tiny", fusion=fusion, beta_inv=beta_inv)
    assert model.config.fusion == fusion
    assert model(*clip(model.config, n=1, size=32)).shape == (1, model.config.num_classes)


def test_no_lateral_means_no_fast_influence_before_head() -> None:
    model = sfl.build_model("slowfast_tiny", fusion="none").eval()
    slow, fast = clip(model.config)
    with torch.no_grad():
        a = model.stage_outputs(slow, fast)["res5"]["slow"]
        b = model.stage_outputs(slow, torch.randn_like(fast))["res5"]["slow"]
    torch.testing.assert_close(a, b)


# ---- bad input: a clear error before any conv runs -----------------------------------------


def test_fast_frames_must_be_alpha_times_slow() -> None:
    model = sfl.build_model("slowfast_tiny")
    slow, fast = clip(model.config)
    with pytest.raises(sfl.ShapeError, match=r"alpha \* T = 4 x 4 = 16 frames"):
        model(slow, fast[:, :, :15])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda s, f: (s[0], f[0]), "5 dimensions.*add a batch dimension"),
        (lambda s, f: (s.permute(0, 2, 3, 4, 1), f), "3 colour channels"),
        (lambda s, f: (s[..., :16, :16], f[..., :16, :16]), "at least 32x32"),
        (lambda s, f: (s.to(torch.uint8), f), "dtype torch.uint8"),
        (lambda s, f: (s, f[..., :40]), "same frame size"),
        (lambda s, f: (s[:1], f), "batch sizes differ"),
        (lambda s, f: (s,), "takes two inputs"),
    ],
)
def test_unfit_inputs_are_named(make, match) -> None:
    model = sfl.build_model("slowfast_tiny")
    with pytest.raises(sfl.ShapeError, match=match):
        model(*make(*clip(model.config)))


def test_single_pathway_models_take_one_input() -> None:
    slow_only = sfl.build_model("slow_tiny")
    with pytest.raises(sfl.ShapeError, match="one input"):
        slow_only(*clip(sfl.get_config("slowfast_tiny")))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"alpha": 3}, r"alpha=3 does not divide tau=8.*use alpha in \[1, 2, 4, 8\]"),
        ({"beta_inv": 32}, "beta_inv=32 leaves the Fast pathway with no channels"),
        ({"fusion": "sum"}, "fusion='sum' is not one of"),
        ({"depth": 34}, "depth=34 is not supported"),
        ({"fusion_kernel": 4}, "fusion_kernel=4 must be odd"),
        ({"T": 0}, "T=0 must be a positive integer"),
        ({"colour": 1}, r"unknown config field\(s\) \['colour'\]"),
    ],
)
def test_bad_config_names_the_field(overrides, match) -> None:
    with pytest.raises(ConfigError, match=match):
        sfl.build_model("slowfast_tiny", **overrides)


def test_unknown_preset_lists_presets() -> None:
    with pytest.raises(ConfigError, match="slowfast_4x16_r50"):
        sfl.build_model("slowfast_r50")


def test_overrides_reach_the_config() -> None:
    model = sfl.build_model(
        "slowfast_4x16_r50", num_classes=400, alpha=8, beta_inv=8, fusion="t_conv"
    )
    assert (model.config.alpha, model.config.beta_inv, model.config.fusion) == (8, 8, "t_conv")
    assert model.config.fast_frames == 32 and model.config.fast_stride == 2


# ---- one helper for a model's inputs; forward reads down to the head ---------------------------


@pytest.mark.parametrize("preset", ["slowfast_tiny", "slow_tiny", "fast_tiny"])
def test_dummy_inputs_fit_the_model(preset: str) -> None:
    model = sfl.build_model(preset, num_classes=5)
    cfg = model.config
    frames = {
        "slowfast": (cfg.T, cfg.alpha * cfg.T),
        "slow": (cfg.T,),
        "fast": (cfg.alpha * cfg.T,),
    }
    for source in (model, cfg, preset):
        inputs = dummy_inputs(source, crop=32, batch=3)
        assert tuple(x.shape[2] for x in inputs) == frames[cfg.pathways]
        assert all(x.shape[0] == 3 and x.shape[-2:] == (32, 32) for x in inputs)
    assert model(*dummy_inputs(model, crop=32, batch=2)).shape == (2, 5)
    a, b = dummy_inputs(model, 32, seed=1), dummy_inputs(model, 32, seed=1)
    assert all(torch.equal(x, y) and x.abs().sum() > 0 for x, y in zip(a, b, strict=True))
    assert all(x.abs().sum() == 0 for x in dummy_inputs(model, 32))


def test_model_inputs_route_by_pathways() -> None:
    slow, fast = torch.zeros(1), torch.ones(1)
    for preset, want in (("slowfast_tiny", (slow, fast)), ("slow_tiny", (slow,)),
                         ("fast_tiny", (fast,))):  # fmt: skip
        got = model_inputs(sfl.build_model(preset), slow, fast)
        assert len(got) == len(want) and all(g is w for g, w in zip(got, want, strict=True))


def test_backbone_and_features_match_the_forward() -> None:
    model = sfl.build_model("slowfast_tiny", num_classes=7).eval()
    inputs = dummy_inputs(model, 32, batch=2, seed=0)
    with torch.no_grad():
        s, f = model.backbone(*inputs)
        torch.testing.assert_close(model.head(s, f), model(*inputs))
        torch.testing.assert_close(model.features(*inputs), model.head.features(s, f))
    assert not model.head._forward_pre_hooks  # the hook is removed again
    assert STAGES == ("stem", "res2", "res3", "res4", "res5")
