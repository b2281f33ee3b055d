"""Our checkpoint format, safe loading, and the errors `load_weights` gives when a file does not fit.

Architecture-mismatch files are written with zero-size storage (`torch.zeros(()).expand(shape)`),
so even an R101 "checkpoint" costs a few hundred kB: the checks read shapes before any copy.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab.weights import (
    CheckpointError,
    SafeUnpickler,
    checkpoint_info,
    fitting_presets,
    load_model,
    read_checkpoint,
    safe_unpickle,
    save_checkpoint,
)


def tiny_input(model: sfl.VideoNet, seed: int = 0) -> tuple[torch.Tensor, ...]:
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    frames = {"slowfast": (cfg.T, cfg.fast_frames), "slow": (cfg.T,), "fast": (cfg.fast_frames,)}
    return tuple(torch.randn(1, 3, t, 64, 64, generator=g) for t in frames[cfg.pathways])


def shape_only_file(path: Path, preset: str, **overrides) -> Path:
    """A checkpoint of `preset` in our format whose tensors take no space (shapes are what count)."""
    with torch.device("meta"):
        model = sfl.build_model(preset, **overrides)
    state = {
        k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in model.state_dict().items()
    }
    torch.save({"model_state": state}, path)
    return path


# ------------------------------------------------------------------------------------------------
# Our format
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["slowfast_tiny", "slow_tiny", "fast_tiny"])
def test_checkpoint_round_trip_gives_the_same_logits(preset: str, tmp_path: Path) -> None:
    model = sfl.build_model(preset, fusion_kernel=3).eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)):
        bn.running_mean.uniform_(-0.2, 0.2)  # non-default statistics must survive the trip
        bn.weight.data.uniform_(0.5, 1.5)
    path = save_checkpoint(model, tmp_path / "sub" / "model.pt", meta={"seed": 3})
    assert not list(tmp_path.glob("sub/*.tmp"))  # written atomically
    payload = read_checkpoint(path)
    assert payload["config"]["fusion_kernel"] == 3

    loaded = load_model(path)
    assert loaded.config == model.config and not loaded.training
    assert loaded.checkpoint_meta == {"seed": 3}
    x = tiny_input(model)
    with torch.no_grad():
        torch.testing.assert_close(loaded(*x), model(*x), rtol=0, atol=0)

    again = sfl.build_model(preset, fusion_kernel=3)
    sfl.load_weights(again, path)  # load_weights reads our format too
    assert again.checkpoint_meta["format"] == "ours"
    assert again.checkpoint_meta["seed"] == 3  # the meta travels too (task settings, classes)
    bare = sfl.load_weights(sfl.build_model(preset, fusion_kernel=3), path, load_head=False)
    assert "seed" not in bare.checkpoint_meta  # the meta describes a head that was not loaded
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(*x), model(*x), rtol=0, atol=0)


def test_read_checkpoint_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pt")
    torch.save({"model_state": {}}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a slowfast_lab checkpoint"):
        read_checkpoint(tmp_path / "plain.pt")


def test_load_head_false_keeps_the_models_classifier(tmp_path: Path) -> None:
    source = sfl.build_model("slowfast_tiny", num_classes=10)
    path = save_checkpoint(source, tmp_path / "ten.pt")
    target = sfl.build_model("slowfast_tiny", num_classes=3)
    head = target.head.fc.weight.detach().clone()
    with pytest.raises(CheckpointError, match="load_head=False"):
        sfl.load_weights(target, path)
    sfl.load_weights(target, path, load_head=False)
    assert torch.equal(target.head.fc.weight, head)
    assert torch.equal(target.slow.res5[0].a.conv.weight, source.slow.res5[0].a.conv.weight)


# ------------------------------------------------------------------------------------------------
# Mismatches say what differs and which preset fits
# ------------------------------------------------------------------------------------------------


def test_r101_into_r50_names_the_r101_preset(tmp_path: Path) -> None:
    path = shape_only_file(tmp_path / "r101.pt", "slowfast_8x8_r101")
    assert path.stat().st_size < 2_000_000
    with pytest.raises(CheckpointError) as err:
        sfl.load_weights(sfl.build_model("slowfast_8x8_r50"), path)
    message = str(err.value)
    assert "r101.pt" in message and "depth 101" in message
    assert "have no place in the model" in message  # the extra res4 blocks
    assert "build_model('slowfast_8x8_r101', num_classes=400)" in message


def test_fusion_kernel_5_into_7_names_the_4x16_preset(tmp_path: Path) -> None:
    path = shape_only_file(tmp_path / "k5.pt", "slowfast_4x16_r50", num_classes=7)
    with pytest.raises(CheckpointError) as err:
        sfl.load_weights(sfl.build_model("slowfast_8x8_r50", num_classes=7), path)
    message = str(err.value)
    assert "fuse1.conv.weight is [16, 8, 5, 1, 1] in the file but [16, 8, 7, 1, 1]" in message
    assert "fusion_kernel=5" in message and "fusion_kernel=7" in message
    assert "build_model('slowfast_4x16_r50', num_classes=7)" in message


def test_the_50_50_layout_is_told_apart(tmp_path: Path) -> None:
    path = shape_only_file(tmp_path / "r101_50_50.pt", "slowfast_16x8_r101_50_50")
    with pytest.raises(CheckpointError, match="slowfast_16x8_r101_50_50"):
        sfl.load_weights(sfl.build_model("slowfast_8x8_r101"), path)


def test_slowfast_file_into_slow_only_model(tmp_path: Path) -> None:
    path = shape_only_file(tmp_path / "sf.pt", "slowfast_8x8_r50")
    with pytest.raises(CheckpointError) as err:
        sfl.load_weights(sfl.build_model("slow_8x8_r50"), path)
    message = str(err.value)
    assert "pathways='slow'" in message and "SlowFast" in message
    assert "fast.stem.conv.conv.weight" in message or "fuse" in message
    assert "slowfast_8x8_r50" in message


def test_slow_only_file_fits_both_slow_only_presets(tmp_path: Path) -> None:
    path = shape_only_file(tmp_path / "slow.pt", "slow_8x8_r50")
    info = checkpoint_info(path)
    assert info["fits_presets"] == ["slow_4x16_r50", "slow_8x8_r50"]  # alpha/tau have no weights
    with pytest.raises(CheckpointError, match="'slow_4x16_r50' or 'slow_8x8_r50'"):
        sfl.load_weights(sfl.build_model("slowfast_4x16_r50"), path)


def test_fast_only_file_is_recognised(tmp_path: Path) -> None:
    path = shape_only_file(tmp_path / "fast.pt", "fast_4x16_r50")
    assert checkpoint_info(path)["fits_presets"] == ["fast_4x16_r50"]


def test_every_preset_is_recognised_from_its_own_weights(tmp_path: Path) -> None:
    for name in sfl.PRESETS:
        with torch.device("meta"):
            state = sfl.build_model(name).state_dict()
        assert name in fitting_presets(state), name


def test_unknown_key_names_are_an_error(tmp_path: Path) -> None:
    torch.save({"model_state": {"backbone.layer1.weight": torch.zeros(1)}}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match="unknown key names.*backbone.layer1"):
        sfl.load_weights(sfl.build_model("slowfast_tiny"), tmp_path / "x.pth")


def test_missing_file_and_garbage_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="weights download"):
        sfl.load_weights(sfl.build_model("slowfast_tiny"), tmp_path / "missing.pkl")
    (tmp_path / "garbage.pkl").write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pkl"):
        sfl.load_weights(sfl.build_model("slowfast_tiny"), tmp_path / "garbage.pkl")


def test_pickle_without_blobs_says_so(tmp_path: Path) -> None:
    path = tmp_path / "SLOWFAST_8x8_R50.pkl"
    path.write_bytes(pickle.dumps({"model_state": 1, "cfg": "x"}, protocol=2))
    with pytest.raises(CheckpointError, match=r"no 'blobs' entry.*conv1_w"):
        sfl.load_weights(sfl.build_model("slowfast_8x8_r50"), path)


def test_truncated_pickle_is_an_error(tmp_path: Path) -> None:
    data = pickle.dumps({"blobs": {"conv1_w": np.ones((8, 3, 1, 7, 7), np.float32)}}, protocol=2)
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pkl"):
        sfl.load_weights(sfl.build_model("slowfast_tiny"), path)


# ------------------------------------------------------------------------------------------------
# Safe loading
# ------------------------------------------------------------------------------------------------


class RunsACommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"blobs": {"conv1_w": RunsACommand(marker)}}, protocol=2))
    with pytest.raises(CheckpointError, match=r"refusing to load (posix|os)\.system"):
        sfl.load_weights(sfl.build_model("slowfast_tiny"), path)
    assert not marker.exists()


def test_malicious_torch_file_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pyth"
    torch.save({"model_state": {"s1.x": RunsACommand(marker)}}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        sfl.load_weights(sfl.build_model("slowfast_tiny"), path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_safe_unpickler_admits_numpy_and_plain_containers(protocol: int) -> None:
    blobs = OrderedDict(
        conv1_w=np.arange(24, dtype=np.float32).reshape(2, 3, 1, 2, 2),
        model_iter=np.int64(7),
        lr=np.array([0.1]),
        names=["a", ("b", 1)],
    )
    obj = safe_unpickle(pickle.dumps({"blobs": blobs, "meta": {"x": 1.5}}, protocol=protocol))
    assert list(obj["blobs"]) == list(blobs)
    np.testing.assert_array_equal(obj["blobs"]["conv1_w"], blobs["conv1_w"])
    assert obj["blobs"]["conv1_w"].dtype == np.float32
    assert obj["blobs"]["model_iter"] == 7 and obj["blobs"]["names"] == ["a", ("b", 1)]


@pytest.mark.parametrize(
    "module, name", [("builtins", "eval"), ("subprocess", "Popen"), ("numpy", "load")]
)
def test_safe_unpickler_refuses_other_globals(module: str, name: str) -> None:
    import io

    data = f"c{module}\n{name}\n.".encode()  # protocol 0: GLOBAL module name, STOP
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to load {module}.{name}"):
        SafeUnpickler(io.BytesIO(data)).load()
