"""Pathway interventions: the input functions, lateral cuts, reports, and the shipped models."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab import interventions as iv
from slowfast_lab import synthetic as ms

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data_samples" / "checkpoints"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SLOWFAST_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _pair(n: int = 2, t: int = 4, alpha: int = 4, size: int = 32):
    g = torch.Generator().manual_seed(0)
    slow = torch.randn(n, 3, t, size, size, generator=g)
    fast = torch.randn(n, 3, alpha * t, size, size, generator=g)
    return slow, fast


def test_input_interventions_change_only_their_pathway():
    slow, fast = _pair()
    s, f = iv.reverse_fast(slow, fast)
    assert s is slow and torch.equal(f[:, :, 0], fast[:, :, -1])
    assert torch.equal(iv.reverse_fast(s, f)[1], fast)  # twice: the clip again
    s, f = iv.freeze_fast(slow, fast)
    assert s is slow and f.shape == fast.shape
    assert all(torch.equal(f[:, :, k], fast[:, :, 0]) for k in range(fast.shape[2]))
    with pytest.raises(ValueError, match="frame=16"):
        iv.freeze_fast(slow, fast, frame=16)
    s, f = iv.shuffle_fast(slow, fast, seed=3)
    assert s is slow and not torch.equal(f, fast)
    assert torch.equal(f, iv.shuffle_fast(slow, fast, seed=3)[1])  # seeded
    # A permutation of the frames: every frame appears exactly once.
    matches = [[torch.equal(f[:, :, i], fast[:, :, j]) for j in range(16)] for i in range(16)]
    assert all(sum(row) == 1 for row in matches) and all(
        sum(col) == 1 for col in zip(*matches, strict=True)
    )
    s, f = iv.zero_slow(slow, fast)
    assert f is fast and not s.any()
    s, f = iv.zero_fast(slow, fast)
    assert s is slow and not f.any()
    with pytest.raises(ValueError, match="slow and fast"):
        iv.reverse_fast(slow[0], fast[0])


def _zeroed_lateral(model, name: str):
    """A copy of `model` whose lateral `name` transforms the Fast feature into zeros."""
    other = copy.deepcopy(model)
    lateral = getattr(other, name)
    transform = lateral.transform
    lateral.transform = lambda fast: torch.zeros_like(transform(fast))
    return other


@pytest.mark.parametrize("fusion", ["t_conv", "ttoc_sum"])
@pytest.mark.parametrize("name", ["fuse1", "fuse3"])
def test_cut_lateral_equals_a_lateral_that_adds_zeros(fusion, name):
    torch.manual_seed(0)
    model = sfl.build_model("slowfast_tiny", fusion=fusion).eval()
    for m in model.modules():  # non-trivial BN statistics and residual branches
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.weight.data.uniform_(0.5, 1.5)
    slow, fast = _pair()
    with torch.no_grad():
        plain = model(slow, fast)
        with iv.cut_laterals(model, name):
            cut = model(slow, fast)
        expected = _zeroed_lateral(model, name)(slow, fast)
        after = model(slow, fast)
    torch.testing.assert_close(cut, expected)
    assert not torch.allclose(cut, plain)
    torch.testing.assert_close(after, plain)  # the hook is gone after the block


def test_cut_all_and_bad_requests():
    model = sfl.build_model("slowfast_tiny").eval()
    slow, fast = _pair()
    zero = iv.zero_fast(slow, fast)[1]
    with torch.no_grad():
        linked = model.stage_outputs(slow, fast)["res5"]["slow"]
        assert not torch.allclose(linked, model.stage_outputs(slow, zero)["res5"]["slow"])
        with iv.cut_laterals(model):  # all four: the Slow pathway no longer sees the Fast input
            cut = model.stage_outputs(slow, fast)["res5"]["slow"]
            torch.testing.assert_close(cut, model.stage_outputs(slow, zero)["res5"]["slow"])
    with pytest.raises(ValueError, match="fuse5"):
        with iv.cut_laterals(model, "fuse5"):
            pass
    with pytest.raises(ValueError, match="SlowFast model"):
        with iv.cut_laterals(sfl.build_model("slow_tiny")):
            pass
    with pytest.raises(ValueError, match="unknown intervention 'mirror'"):
        iv.run_intervention(model, "mirror", clips=6)


def test_mirror_labels_and_report():
    names = ms.CLASS_NAMES
    mirror = iv.mirror_labels()
    assert int(mirror[names.index("L-still")]) == -1
    assert names[int(mirror[names.index("L-cw")])] == "L-ccw"
    assert names[int(mirror[names.index("pacman-checks-ccw")])] == "pacman-checks-cw"
    spinning = (mirror >= 0).nonzero().flatten()
    assert (mirror[mirror[spinning]] == spinning).all()
    l_cw, l_ccw, l_still = (names.index(n) for n in ("L-cw", "L-ccw", "L-still"))
    labels = torch.tensor([l_cw, l_cw, l_ccw, l_ccw])
    preds = torch.tensor([l_ccw, l_cw, l_still, l_cw])  # flip, right, called still, flip
    r = iv.intervention_report(preds, labels)
    assert r["direction_flipped"] == 0.5 and r["called_still"] == 0.25
    assert r["accuracy"] == 0.25


def test_table_rows_on_a_small_model():
    model = sfl.build_model("slowfast_tiny").eval()
    task = ms.TaskConfig(size=32)
    rows = iv.intervention_table(model, seed=3, clips=10, task=task)
    assert [r["intervention"] for r in rows] == list(iv.INTERVENTIONS)
    k = ms.NUM_CLASSES
    assert all(len(r["confusion"]) == k and sum(map(sum, r["confusion"])) == 10 for r in rows)
    slow_only = sfl.build_model("slow_tiny").eval()
    names = [r["intervention"] for r in iv.intervention_table(slow_only, 3, 10, task=task)]
    assert names == ["none", "zero_slow"]  # nothing else reaches a Slow-only model
    assert "| reverse_fast |" in iv.table_markdown(rows)


def _checkpoint(name: str):
    path = CHECKPOINTS / name
    return sfl.weights.load_model(path)


def test_shipped_motionshapes_slowfast_gets_motion_from_fast():
    model = _checkpoint("motionshapes_slowfast_tiny.pt")
    reversed_ = iv.run_intervention(model, "reverse_fast", seed=4242, clips=60)
    assert reversed_["direction_flipped"] >= 0.9  # cw <-> ccw: the direction is read from Fast
    assert reversed_["groups"]["appearance"] >= 0.9  # still squares do not care
    frozen = iv.run_intervention(model, "freeze_fast", seed=4242, clips=60)
    assert frozen["called_still"] >= 0.9  # spinners look still
    names = ms.CLASS_NAMES
    l_cw, l_still = names.index("L-cw"), names.index("L-still")
    assert frozen["confusion"][l_cw][l_still] >= 0.8 * sum(frozen["confusion"][l_cw])
