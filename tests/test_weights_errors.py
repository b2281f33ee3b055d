"""Every bad weights file is a CheckpointError that names the file and says what would work.

Damaged, foreign, malicious and absurd files, through every entry point that reads one
(`sfl.load_weights`, `weights.load_model`, `checkpoint_info`, the `evaluate` and `weights info`
commands), plus property-based tests that cut and flip the bytes of small real checkpoints.
Memory is watched with tracemalloc (numpy reports its allocations there) and, across the
property-based runs, with the process's peak resident size.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import pickle
import resource
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slowfast_lab as sfl
from slowfast_lab.__main__ import main
from slowfast_lab.weights import (
    FORMAT,
    CheckpointError,
    SafeUnpickler,
    checkpoint_info,
    load_model,
    read_checkpoint,
    read_weights,
    save_checkpoint,
)

MB = 1 << 20


class Call:
    """Pickles as `func(*args)` (and BUILD `state` when given): how hostile pickles are made."""

    def __init__(self, func, args: tuple, state: object = None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


_reconstruct = np.zeros(1).__reduce__()[0]


def write_pickle(path: Path, obj: object) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=2))
    return path


@functools.cache
def small_model(preset: str = "slowfast_tiny") -> sfl.VideoNet:
    return sfl.build_model(preset, width=8, num_classes=3)


def saved(path: Path) -> Path:
    return save_checkpoint(small_model(), path, meta={"seed": 1})


def peak_numpy_bytes(func) -> int:
    """Peak bytes traced while `func()` runs (numpy allocations included), errors ignored."""
    tracemalloc.start()
    try:
        func()
    except Exception:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def refuse(path: Path, match: str, *, entry=None) -> CheckpointError:
    """`entry(path)` (default: load_weights into a small model) raises a CheckpointError that
    names the file and matches `match`; returns it."""
    entry = entry or (lambda p: sfl.load_weights(small_model(), p))
    with pytest.raises(CheckpointError, match=match) as err:
        entry(path)
    assert path.name in str(err.value)
    return err.value


# ------------------------------------------------------------------------------------------------
# Files that claim far more memory than they hold: refused before anything is allocated
# ------------------------------------------------------------------------------------------------

CLAIM = 1 << 26  # 64 M float32 = 256 MB claimed by a file of a few hundred bytes


@pytest.mark.parametrize(
    "name, blob",
    [
        ("ndarray_call", Call(np.ndarray, ((CLAIM,), "f4"))),  # numpy.ndarray(shape, dtype)
        ("reconstruct", Call(_reconstruct, (np.ndarray, (4 * CLAIM,), b"b"))),
        # numpy allocates an object array of the state's shape before filling it from the list
        (
            "object_state",
            Call(
                _reconstruct,
                (np.ndarray, (0,), b"b"),
                (1, (CLAIM,), np.dtype(object), False, []),
            ),
        ),
    ],
)
def test_a_tiny_pickle_claiming_gigabytes_is_refused_before_allocating(
    tmp_path: Path, name: str, blob: Call
) -> None:
    path = write_pickle(tmp_path / f"{name}.pkl", {"blobs": {"conv1_w": blob}})
    assert path.stat().st_size < 300
    assert peak_numpy_bytes(lambda: read_weights(path)) < 8 * MB
    refuse(path, "refusing|claims|not a weights|dtype")


def test_the_111_byte_file_of_the_issue(tmp_path: Path) -> None:
    """Made only of allowed names; 1.34 GB with the old loader, refused now (nothing traced)."""
    blob = Call(np.ndarray, ((335_544_320,), "f4"))
    path = write_pickle(tmp_path / "bomb.pkl", {"blobs": {"conv1_w": blob}})
    assert path.stat().st_size < 120
    assert peak_numpy_bytes(lambda: read_weights(path)) < 8 * MB
    refuse(path, r"numpy\.ndarray\(\.\.\.\) called directly")


def test_a_state_whose_data_does_not_match_its_shape(tmp_path: Path) -> None:
    blob = Call(_reconstruct, (np.ndarray, (0,), b"b"), (1, (CLAIM,), np.dtype("f4"), False, b"x"))
    path = write_pickle(tmp_path / "short.pkl", {"blobs": {"conv1_w": blob}})
    assert peak_numpy_bytes(lambda: read_weights(path)) < 8 * MB
    refuse(path, "claims .* bytes")


def test_a_config_claiming_millions_of_blocks_is_refused_before_building(tmp_path: Path) -> None:
    payload = torch.load(saved(tmp_path / "a.pt"), weights_only=True)
    payload["config"]["stage_blocks"] = (10**6, 1, 1, 1)
    torch.save(payload, tmp_path / "blocks.pt")
    refuse(
        tmp_path / "blocks.pt",
        r"stage_blocks=\(1000000, 1, 1, 1\).*each in 1..256|claims 2000006 residual blocks",
        entry=load_model,
    )


def test_a_config_with_absurd_numbers_is_refused_before_validating(tmp_path: Path) -> None:
    payload = torch.load(saved(tmp_path / "a.pt"), weights_only=True)
    payload["config"]["tau"] = 10**12  # validation would count tau's divisors one by one
    torch.save(payload, tmp_path / "tau.pt")
    refuse(tmp_path / "tau.pt", "implausible value.*tau", entry=load_model)


def test_a_config_claiming_a_huge_width_is_refused_before_building(tmp_path: Path) -> None:
    payload = torch.load(saved(tmp_path / "a.pt"), weights_only=True)
    payload["config"]["width"] = 4096
    torch.save(payload, tmp_path / "wide.pt")
    refuse(
        tmp_path / "wide.pt",
        r"width=4096 must be .* at most 1024|describes a model of [\d,]+ weights",
        entry=load_model,
    )


# ------------------------------------------------------------------------------------------------
# Damaged and foreign files
# ------------------------------------------------------------------------------------------------


def test_empty_and_random_files(tmp_path: Path) -> None:
    (tmp_path / "empty.pyth").write_bytes(b"")
    (tmp_path / "random.pkl").write_bytes(np.random.default_rng(0).bytes(4096))
    for entry in (lambda p: sfl.load_weights(small_model(), p), load_model, checkpoint_info):
        refuse(tmp_path / "empty.pyth", "(?i)is empty.*download it again", entry=entry)
        refuse(tmp_path / "random.pkl", "random.pkl", entry=entry)


def test_truncated_and_bit_flipped_zip(tmp_path: Path) -> None:
    data = saved(tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    for entry in (lambda p: sfl.load_weights(small_model(), p), load_model):
        refuse(tmp_path / "cut.pt", "truncated or corrupt.*again", entry=entry)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # inside a tensor's bytes: only the zip checksum tells
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    refuse(tmp_path / "flipped.pt", "fails its checksum")
    refuse(tmp_path / "flipped.pt", "fails its checksum", entry=load_model)


def test_a_zip_that_is_not_a_torch_checkpoint(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "photos.pt", "w") as z:
        z.writestr("readme.txt", "holiday photos")
    err = refuse(tmp_path / "photos.pt", "not a torch checkpoint .*readme.txt")
    assert "torch.save" in str(err)
    refuse(tmp_path / "photos.pt", "not a torch checkpoint", entry=load_model)


def test_a_recompressed_torch_zip_is_refused_not_misread(tmp_path: Path) -> None:
    """torch reads deflated entries as garbage (zeros here) without a word."""
    good = zipfile.ZipFile(saved(tmp_path / "good.pt"))
    with zipfile.ZipFile(tmp_path / "deflated.pt", "w", zipfile.ZIP_DEFLATED) as z:
        for name in good.namelist():
            z.writestr(name, good.read(name))
    refuse(tmp_path / "deflated.pt", "is compressed.*torch.save")


def test_caffe2_blobs_of_the_wrong_kind(tmp_path: Path) -> None:
    w = np.ones((8, 3, 1, 7, 7), np.float32)
    refuse(write_pickle(tmp_path / "list.pkl", {"blobs": [w]}), "'blobs' is list")
    refuse(write_pickle(tmp_path / "ints.pkl", {"blobs": {0: w}}), "non-text keys")
    objects = np.array([w, "rm -rf"], dtype=object)
    refuse(write_pickle(tmp_path / "objects.pkl", {"blobs": {"conv1_w": objects}}), "dtype")
    text = np.array(["conv"])
    refuse(write_pickle(tmp_path / "text.pkl", {"blobs": {"conv1_w": text}}), "not numbers")
    refuse(write_pickle(tmp_path / "blobless.pkl", [1, 2]), "no 'blobs' entry")


def test_caffe2_big_endian_arrays_are_read_right(tmp_path: Path) -> None:
    w = np.linspace(-1, 1, 8 * 3 * 49, dtype=">f4").reshape(8, 3, 1, 7, 7)
    path = write_pickle(tmp_path / "be.pkl", {"blobs": {"conv1_w": w}})
    got = read_weights(path).state["slow.stem.conv.conv.weight"]
    assert np.dtype("f4").byteorder == "="  # numpy's own float32 was left as it was
    torch.testing.assert_close(got, torch.from_numpy(w.astype("<f4")), rtol=0, atol=0)


def python2_pickle(blobs: dict[str, np.ndarray]) -> bytes:
    """A protocol-2 pickle as Python 2's cPickle wrote the model zoo: byte strings are str
    (BINSTRING), numpy under numpy.core; read back with encoding latin1."""

    def text(b: bytes) -> bytes:
        return (
            b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + len(b).to_bytes(4, "little") + b
        )

    out = b"\x80\x02}(" + text(b"blobs") + b"}("
    for name, a in blobs.items():
        dims = b"".join(b"J" + int(n).to_bytes(4, "little") for n in a.shape)
        out += text(name.encode())
        out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + text(b"b")
        out += b"\x87R(K\x01(" + dims + b"tcnumpy\ndtype\n" + text(a.dtype.str[1:].encode())
        out += b"K\x00K\x01\x87R(K\x03" + text(a.dtype.str[:1].encode())
        out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89" + text(a.tobytes()) + b"tb"
    return out + b"u" + b"u."


def test_python2_model_zoo_pickles_still_load(tmp_path: Path) -> None:
    w = np.linspace(-1, 1, 8 * 3 * 49, dtype="<f4").reshape(8, 3, 1, 7, 7)
    rm = np.arange(8, dtype="<f8")
    data = python2_pickle({"conv1_w": w, "res_conv1_bn_rm": rm})
    assert pickle.loads(data, encoding="latin1")["blobs"]["conv1_w"].shape == w.shape
    (tmp_path / "zoo.pkl").write_bytes(data)
    state = read_weights(tmp_path / "zoo.pkl").state
    torch.testing.assert_close(state["slow.stem.conv.conv.weight"], torch.from_numpy(w))
    torch.testing.assert_close(state["slow.stem.conv.bn.running_mean"], torch.from_numpy(rm))


class RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_malicious_files_through_load_model_and_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    marker = tmp_path / "pwned"
    payload = {"format": FORMAT, "config": {}, "model_state": {"x": RunsACommand(marker)}}
    torch.save(payload, tmp_path / "evil.pt")
    err = refuse(tmp_path / "evil.pt", "refused to run its code", entry=load_model)
    assert "Unpickl" not in str(err) and "weights_only" in str(err)
    assert main(["evaluate", str(tmp_path / "evil.pt"), "--clips", "2"]) == 2
    out = capsys.readouterr().err
    assert out.startswith("error:") and "evil.pt" in out and "Traceback" not in out
    write_pickle(tmp_path / "evil.pkl", {"blobs": {"conv1_w": RunsACommand(marker)}})
    refuse(tmp_path / "evil.pkl", "not a slowfast_lab checkpoint.*load_weights", entry=load_model)
    assert main(["weights", "info", str(tmp_path / "evil.pkl")]) == 2
    assert "refusing to load" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize(
    "data, match",
    [
        (b"cnumpy\nndarray\n(K\x05tR.", "called directly"),  # GLOBAL, (5,), REDUCE
        (b"\x80\x02cnumpy\nndarray\nK\x05\x85\x81.", "NEWOBJ"),  # ndarray.__new__(ndarray, 5)
        (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.", "zlib"),
        (b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00O8\x85R.", "dtype 'O8'"),
    ],
)
def test_safe_unpickler_checks_calls_not_just_names(data: bytes, match: str) -> None:
    with pytest.raises(pickle.UnpicklingError, match=match):
        SafeUnpickler(io.BytesIO(data)).load()


def test_a_dtype_state_cannot_change_sizes_or_flags() -> None:
    hacked = Call(np.dtype, ("f4", False, True), (3, "<", None, None, None, 1 << 30, -1, 63))
    with pytest.raises(pickle.UnpicklingError, match="numpy dtype state"):
        SafeUnpickler(io.BytesIO(pickle.dumps(hacked, protocol=2))).load()


# ------------------------------------------------------------------------------------------------
# Our own checkpoints: config fields, NaN / Inf
# ------------------------------------------------------------------------------------------------


def test_missing_and_unknown_config_fields(tmp_path: Path) -> None:
    payload = torch.load(saved(tmp_path / "a.pt"), weights_only=True)
    fields = {f.name for f in dataclasses.fields(sfl.SlowFastConfig)}
    assert set(payload["config"]) == fields
    newer = {**payload, "config": {**payload["config"], "attention": "nonlocal"}}
    torch.save(newer, tmp_path / "newer.pt")
    refuse(tmp_path / "newer.pt", "field.*attention.*does not know.*Upgrade", entry=load_model)
    older = {**payload, "config": {k: v for k, v in payload["config"].items() if k != "alpha"}}
    torch.save(older, tmp_path / "older.pt")
    err = refuse(tmp_path / "older.pt", "lacks field.*alpha", entry=load_model)
    assert "load_weights" in str(err)
    bad = {**payload, "config": {**payload["config"], "fusion": "bogus"}}
    torch.save(bad, tmp_path / "bad.pt")
    refuse(tmp_path / "bad.pt", "cannot build a model.*fusion", entry=load_model)
    del payload["model_state"]
    torch.save(payload, tmp_path / "nostate.pt")
    refuse(tmp_path / "nostate.pt", "damaged", entry=read_checkpoint)


def test_weights_that_do_not_fit_their_own_config(tmp_path: Path) -> None:
    payload = torch.load(saved(tmp_path / "a.pt"), weights_only=True)
    payload["config"]["num_classes"] = 5  # the head in the file has 3 outputs
    torch.save(payload, tmp_path / "edited.pt")
    refuse(tmp_path / "edited.pt", r"head.fc.weight is \[3, .*\] in the file", entry=load_model)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_them(tmp_path: Path, value: float) -> None:
    model = sfl.build_model("slowfast_tiny", width=8, num_classes=3)
    with torch.no_grad():
        model.fast.res3[0].b.conv.weight[0, 0, 0, 0, 0] = value
        model.slow.stem.conv.bn.running_var[1] = value
    path = save_checkpoint(model, tmp_path / "diverged.pt")
    for entry in (lambda p: sfl.load_weights(small_model(), p), load_model):
        err = refuse(path, "2 entries hold NaN or Inf", entry=entry)
        assert "fast.res3.0.b.conv.weight" in str(err) and "earlier checkpoint" in str(err)


def test_good_files_still_load(tmp_path: Path) -> None:
    path = saved(tmp_path / "good.pt")
    loaded = load_model(path)
    for a, b in zip(loaded.state_dict().values(), small_model().state_dict().values(), strict=True):
        assert torch.equal(a, b)
    legacy = tmp_path / "legacy.pyth"
    state = {"model_state": {f"module.{k}": v for k, v in small_model().state_dict().items()}}
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    sfl.load_weights(sfl.build_model("slowfast_tiny", width=8, num_classes=3), legacy)


# ------------------------------------------------------------------------------------------------
# Property-based: cut or flip the bytes of small real checkpoints of each format
# ------------------------------------------------------------------------------------------------


@functools.cache
def originals(folder: str) -> dict[str, bytes]:
    """Our zip checkpoint, a legacy torch file and a Caffe2-style pickle of the same model."""
    folder_path = Path(folder)
    model = small_model()
    ours = saved(folder_path / "ours.pt").read_bytes()
    legacy = folder_path / "legacy.pyth"
    torch.save({"model_state": model.state_dict()}, legacy, _use_new_zipfile_serialization=False)
    blobs = {"conv1_w": model.slow.stem.conv.conv.weight.detach().numpy()}
    blobs["res_conv1_bn_rm"] = model.slow.stem.conv.bn.running_mean.numpy()
    caffe2 = pickle.dumps({"blobs": blobs}, protocol=2)
    return {"ours.pt": ours, "legacy.pyth": legacy.read_bytes(), "caffe2.pkl": caffe2}


def damage(data: bytes, cut: int | None, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data if cut is None else data[: cut % (len(data) + 1)])
    for pos, value in flips:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


PEAK_RSS_LIMIT = 600 * MB  # the largest file here is 1 MB; an absurd claim would be gigabytes


def peak_rss() -> int:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb if sys.platform == "darwin" else kb * 1024


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["ours.pt", "legacy.pyth", "caffe2.pkl"]),
    cut=st.none() | st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
)
def test_damaged_checkpoints_fail_only_with_checkpoint_error(
    tmp_path_factory: pytest.TempPathFactory, kind: str, cut: int | None, flips: list
) -> None:
    folder = tmp_path_factory.getbasetemp() / "fuzz"
    folder.mkdir(exist_ok=True)
    data = damage(originals(str(folder))[kind], cut, flips)
    path = folder / f"damaged-{kind}"
    path.write_bytes(data)
    rss_before = peak_rss()
    entries = [lambda p: sfl.load_weights(small_model(), p), checkpoint_info]
    if kind == "ours.pt":
        entries.append(load_model)
    for entry in entries:
        try:
            entry(path)  # a flip the formats cannot detect (no checksum) may still load
        except CheckpointError as err:
            assert path.name in str(err)
        # anything else (RuntimeError, KeyError, UnpicklingError, MemoryError ...) fails here
    assert peak_rss() - rss_before < PEAK_RSS_LIMIT
