"""Attribution per pathway on a tiny model: shapes, known answers, sanity checks."""

from __future__ import annotations

import time

import pytest
import torch

from slowfast_lab import build_model
from slowfast_lab.attribution import (
    attribute,
    localisation_score,
    randomisation_test,
    spearman,
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model("slowfast_tiny").eval()
    for m in model.modules():  # give every residual branch a non-zero last BN (init sets 0)
        if isinstance(m, torch.nn.BatchNorm3d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    g = torch.Generator().manual_seed(1)
    slow = torch.randn(1, 3, 4, 48, 48, generator=g)
    fast = torch.randn(1, 3, 16, 48, 48, generator=g)
    return model, (slow, fast)


@pytest.mark.parametrize(
    "method", ["saliency", "integrated_gradients", "gradcam", "layer_gradcam", "occlusion"]
)
def test_maps_keyed_by_pathway_with_input_shapes(tiny, method) -> None:
    model, inputs = tiny
    kw = {"window": 16} if method == "occlusion" else {}
    r = attribute(
        model, {"slow": inputs[0], "fast": inputs[1]}, target=3, method=method, progress=False, **kw
    )
    assert set(r.maps) == {"slow", "fast"}
    assert r.maps["slow"].shape == (4, 48, 48) and r.maps["fast"].shape == (16, 48, 48)
    assert float(r.frame_mass("fast").sum()) == pytest.approx(1.0)


def test_ignored_channel_gets_zero_attribution(tiny) -> None:
    model, inputs = tiny
    model = __import__("copy").deepcopy(model)
    with torch.no_grad():
        model.fast.stem.conv.conv.weight[:, 2] = 0  # the Fast stem ignores the blue channel
    for method in ("saliency", "integrated_gradients"):
        r = attribute(model, inputs, target=0, method=method, progress=False)
        assert float(r.raw["fast"][2].abs().max()) == 0.0
        assert float(r.raw["fast"][0].abs().max()) > 0.0


def test_target_by_name_and_probability(tiny) -> None:
    model, inputs = tiny
    r = attribute(
        model, inputs, target="L-cw", output="probability", method="saliency", progress=False
    )
    assert r.target == 4 and r.target_name == "L-cw"
    with pytest.raises(ValueError, match="unknown class name"):
        attribute(model, inputs, target="nope", method="saliency", progress=False)


def test_tiny_model_ig_under_two_seconds(tiny) -> None:
    model, inputs = tiny
    attribute(model, inputs, target=0, method="integrated_gradients", progress=False)
    start = time.perf_counter()
    attribute(model, inputs, target=0, method="integrated_gradients", progress=False)
    elapsed = time.perf_counter() - start
    print(f"IG (32 steps) on the tiny model: {elapsed:.2f} s")
    assert elapsed < 6  # < 2 s on an idle 2-core CPU; CI cores are shared


def test_localisation_score_known_answer() -> None:
    mask = torch.zeros(2, 10, 10, dtype=torch.bool)
    mask[:, :5] = True  # half the pixels
    attr = mask.float() * 3.0
    s = localisation_score(attr, mask)
    assert s["inside"] == 1.0 and s["mask_share"] == 0.5 and s["ratio"] == 2.0
    assert localisation_score(torch.ones(2, 10, 10), mask)["ratio"] == pytest.approx(1.0)


def test_randomisation_changes_maps(tiny) -> None:
    model, inputs = tiny
    assert spearman(torch.arange(10.0), torch.arange(10.0)) == pytest.approx(1.0)
    rho = randomisation_test(model, inputs, target=0, method="gradcam")
    assert set(rho) == {"slow", "fast"}
    assert all(v < 0.9 for v in rho.values()), rho
