"""Bad input gets a clear, documented error: no hang, no memory blow-up, no silent overwrite.

Documented errors: ConfigError (config / task fields), ShapeError (model input), VideoError (video
path or window), ValueError / TypeError naming the parameter (sampling, training settings),
FileExistsError (an output that would be overwritten), TrainingError / TrainingInterrupted.
The property-based tests draw many inputs and accept only those.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import signal
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import slowfast_lab as sfl
from slowfast_lab import synthetic as ms
from slowfast_lab import train as tr
from slowfast_lab.__main__ import main

VIDEO = Path(__file__).resolve().parents[1] / "data_samples" / "numbered_300f_30fps.mp4"
FAST = settings(max_examples=50, deadline=None)

TINY = tr.TrainConfig(
    model="slowfast_tiny",
    task={"size": 32},
    train_clips=16,
    val_clips=0,
    test_clips=0,
    steps=6,
    batch_size=4,
    warmup_steps=1,
    threads=1,
    progress=False,
)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SLOWFAST_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


# ------------------------------------------------------------------------------------------------
# No hangs, no memory blow-ups
# ------------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_batch_larger_than_the_data_is_refused_not_an_endless_loop():
    with pytest.raises(ValueError, match=r"train_clips=1 is smaller than batch_size=2"):
        tr.train(dataclasses.replace(TINY, train_clips=1, batch_size=2))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("blocks", [(1, 1, 1, 10**9), (1, 1, 1, 10**6)])
def test_huge_block_counts_are_refused_before_counting_or_building(blocks):
    with pytest.raises(sfl.ConfigError, match=r"stage_blocks=.*each in 1\.\.256"):
        sfl.complexity("slowfast_tiny", stage_blocks=blocks)
    with pytest.raises(sfl.ConfigError, match="stage_blocks"):
        sfl.build_model("slowfast_tiny", stage_blocks=blocks)


@pytest.mark.timeout(60)
def test_a_model_too_large_for_memory_is_refused_before_allocating():
    with pytest.raises(sfl.ConfigError, match=r"G parameters .* Reduce width"):
        sfl.build_model("slowfast_4x16_r50", width=1024, stage_blocks=(64, 64, 64, 64))


@pytest.mark.timeout(60)
def test_a_huge_window_says_too_short_without_allocating():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(sfl.VideoError, match=r"too few frames.*video has 300"):
        sfl.load_clip(VIDEO, T=3_000_000)
    with pytest.raises(ValueError, match=r"needs raw frames 0\.\.47999998 but the video has 300"):
        sfl.sample_indices(300, T=3_000_000)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"peak memory grew by {grown_mb:.0f} MB"


# ------------------------------------------------------------------------------------------------
# Sampling parameters and paths
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"T": 4.0}, TypeError, r"T=4\.0 must be an integer .*e\.g\. T=4"),
        ({"T": "4"}, TypeError, r"T='4' must be an integer"),
        ({"T": None}, TypeError, r"T=None must be an integer"),
        ({"T": True}, TypeError, r"T=True must be an integer"),
        ({"tau": 16.5}, TypeError, r"tau=16\.5 must be an integer"),
        ({"alpha": None}, TypeError, r"alpha=None must be an integer"),
        ({"start": 1.0}, TypeError, r"start=1\.0 must be an integer"),
        ({"start": "0"}, TypeError, r"start='0' must be an integer"),
        ({"start": -1}, ValueError, r"start=-1 must be >= 0"),
        ({"short_side": 0}, ValueError, r"short_side=0 must be 1\.\.8192"),
        ({"short_side": -5}, ValueError, r"short_side=-5 must be 1\.\.8192"),
        ({"short_side": 2.5}, TypeError, r"short_side=2\.5 must be an integer"),
    ],
)
def test_load_clip_names_the_bad_parameter(kwargs, error, words):
    with pytest.raises(error, match=words):
        sfl.load_clip(VIDEO, **{"T": 2, "tau": 4, "alpha": 2, **kwargs})


@pytest.mark.parametrize("path", [None, str(VIDEO).encode(), 3, ""])
@pytest.mark.parametrize("load", [sfl.load_clip, sfl.load_uniform_clips, sfl.load_train_clip])
def test_a_path_that_is_not_str_or_pathlike_is_a_video_error(load, path):
    with pytest.raises(sfl.VideoError, match=r"path=.*give a str or pathlib\.Path"):
        load(path)


def test_uniform_clips_check_their_count():
    with pytest.raises(ValueError, match=r"num_clips=0 must be 1\.\.10000"):
        sfl.load_uniform_clips(VIDEO, num_clips=0)
    with pytest.raises(TypeError, match=r"num_clips=2\.0 must be an integer"):
        sfl.load_uniform_clips(VIDEO, num_clips=2.0)


# Plain values a user might pass by mistake, and valid ones around them.
ANY_VALUE = st.one_of(
    st.integers(-3, 70),
    st.sampled_from([0, 10**7, 3_000_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["4", "", None, True, False, b"4", (4,), [4]]),
)


@FAST
@given(n=ANY_VALUE, T=ANY_VALUE, tau=ANY_VALUE, alpha=ANY_VALUE, start=ANY_VALUE,
       packing=st.sampled_from(["paper", "pyslowfast", "bogus"]))  # fmt: skip
def test_sample_indices_fail_only_with_documented_errors(n, T, tau, alpha, start, packing):
    try:
        slow, fast = sfl.sample_indices(n, T, tau, alpha, start, packing=packing)
    except (ValueError, TypeError) as err:
        assert str(err)  # says something
        return
    assert len(slow) == T and len(fast) == alpha * T and fast[-1] < n and slow[0] == start


@settings(max_examples=30, deadline=None)
@given(T=ANY_VALUE, tau=ANY_VALUE, alpha=ANY_VALUE, start=ANY_VALUE,
       short_side=st.one_of(st.none(), ANY_VALUE))  # fmt: skip
def test_load_clip_fails_only_with_documented_errors(T, tau, alpha, start, short_side):
    try:
        clip = sfl.load_clip(VIDEO, T, tau, alpha, start, short_side=short_side)
    except (sfl.VideoError, ValueError, TypeError) as err:
        assert str(err)
        return
    assert clip.fast.shape[0] == alpha * T and clip.slow_indices[0] == start


# ------------------------------------------------------------------------------------------------
# Config overrides (property-based)
# ------------------------------------------------------------------------------------------------

FIELDS = [f.name for f in dataclasses.fields(sfl.SlowFastConfig)]
FIELD_VALUE = st.one_of(
    ANY_VALUE,
    st.sampled_from(["t_conv", "none", "slow", "fast", "slowfast", 50, 101, 0.5]),
    st.lists(st.integers(-2, 300), min_size=0, max_size=5).map(tuple),
    st.lists(st.sampled_from([1, 2.5, "a", None]), min_size=4, max_size=4).map(tuple),
)


@FAST
@given(
    preset=st.sampled_from(["slowfast_tiny", "slow_tiny", "fast_tiny", "slowfast_4x16_r50"]),
    overrides=st.dictionaries(st.sampled_from([*FIELDS, "bogus"]), FIELD_VALUE, max_size=3),
    crop=st.one_of(st.integers(-5, 600), st.sampled_from([None, 2.0, "256", 10**9])),
)
def test_config_overrides_fail_only_with_config_errors(preset, overrides, crop):
    try:
        cfg = sfl.get_config(preset, **overrides)
    except sfl.ConfigError as err:
        assert str(err)
        return
    try:
        c = sfl.complexity(cfg, crop_size=crop)
    except (ValueError, TypeError) as err:
        assert "crop_size" in str(err)
        return
    assert c.params > 0 and c.macs > 0


# ------------------------------------------------------------------------------------------------
# Model input
# ------------------------------------------------------------------------------------------------

MODELS = {
    name: sfl.build_model(name, T=2, tau=4, alpha=2) for name in ("slowfast_tiny", "slow_tiny")
}


def _fit(model, slow: torch.Tensor):
    if model.config.pathways == "slow":
        return (slow,)
    fast = slow.repeat_interleave(model.config.alpha, dim=2) if slow.dim() == 5 else slow
    return slow, fast


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_wrong_float_dtype_on_cpu_is_a_shape_error(dtype):
    model = MODELS["slowfast_tiny"].eval()
    with pytest.raises(sfl.ShapeError, match=rf"dtype {dtype} but the model's weights are"):
        model(*_fit(model, torch.randn(1, 3, 2, 32, 32, dtype=dtype)))


def test_meta_tensor_is_a_shape_error():
    model = MODELS["slow_tiny"].eval()
    with pytest.raises(sfl.ShapeError, match="meta tensor"):
        model(torch.empty(1, 3, 2, 32, 32, device="meta"))


def test_one_value_per_channel_in_train_mode_is_a_shape_error():
    model = sfl.build_model("slow_tiny", T=1, tau=1, alpha=1).train()
    with pytest.raises(sfl.ShapeError, match=r"one value per channel .* model\.eval\(\)"):
        model(torch.randn(1, 3, 1, 32, 32))
    model.eval()(torch.randn(1, 3, 1, 32, 32))  # fine in eval mode


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_input_is_refused_before_it_reaches_batch_norm(bad):
    model = sfl.build_model("slow_tiny", T=2, tau=4, alpha=2).train()
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    x = torch.randn(2, 3, 2, 32, 32)
    x[1, 0, 0, 5, 5] = bad
    with pytest.raises(sfl.ShapeError, match=r"1 NaN/Inf value"):
        model(x)
    for k, v in before.items():
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0, msg=k)


DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.uint8,
          torch.bool]  # fmt: skip


@FAST
@given(
    name=st.sampled_from(sorted(MODELS)),
    shape=st.lists(st.integers(0, 40), min_size=3, max_size=6),
    dtype=st.sampled_from(DTYPES),
    train=st.booleans(),
    nan=st.booleans(),
    second=st.sampled_from(["fit", "none", "same", "extra"]),
)
def test_model_input_fails_only_with_shape_errors(name, shape, dtype, train, nan, second):
    model = MODELS[name].train(train)
    x = torch.zeros(shape).to(dtype) if dtype.is_floating_point else torch.zeros(shape, dtype=dtype)
    if nan and dtype.is_floating_point and x.numel():
        x.view(-1)[0] = float("nan")
    inputs = {"fit": _fit(model, x), "none": (x,), "same": (x, x), "extra": (x, x, x)}[second]
    try:
        with torch.no_grad():
            logits = model(*inputs)
    except sfl.ShapeError as err:
        assert str(err)
        return
    except TypeError as err:  # more arguments than forward takes: Python's own message
        assert second == "extra" and "positional argument" in str(err)
        return
    assert logits.shape == (shape[0], model.config.num_classes)
    assert torch.isfinite(logits).all()


# ------------------------------------------------------------------------------------------------
# Training: NaN, overwrite, resume, Ctrl-C
# ------------------------------------------------------------------------------------------------


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _poison_batch_at(monkeypatch, call: int, how: str = "nan"):
    """From the `call`-th `data.batch` on: NaN in the clips, or a Ctrl-C (SIGINT) once."""
    real = ms.MotionShapesData.batch
    calls = {"n": 0}

    def batch(self, index):
        calls["n"] += 1
        slow, fast, labels = real(self, index)
        if calls["n"] == call and how == "sigint":
            signal.raise_signal(signal.SIGINT)
        if calls["n"] >= call and how == "nan":
            fast = fast.clone()
            fast[0, 0, 0, 0, 0] = float("nan")
        return slow, fast, labels

    monkeypatch.setattr(ms.MotionShapesData, "batch", batch)


def test_nan_batch_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = dataclasses.replace(TINY, out=str(tmp_path / "run.pt"))
    _poison_batch_at(monkeypatch, call=4)  # steps 0..2 are fine, step 3 gets NaN
    with pytest.raises(
        tr.TrainingError, match=r"step 3: .*NaN/Inf.*step 2\) is in .*run\.pt\.partial"
    ):
        tr.train(cfg, checkpoint_every=2)
    assert not (tmp_path / "run.pt").exists() and not (tmp_path / "run.json").exists()
    state = torch.load(tmp_path / "run.pt.partial", weights_only=True)
    assert state["step"] == 2
    assert all(torch.isfinite(v.float()).all() for v in state["model"].values())


def test_nan_loss_stops_training_before_the_update(tmp_path, monkeypatch):
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def loss(*args, **kwargs):
        calls["n"] += 1
        value = real(*args, **kwargs)
        return value * float("nan") if calls["n"] == 2 else value

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", loss)
    with pytest.raises(tr.TrainingError, match=r"step 1: the loss is nan: training diverged"):
        tr.train(dataclasses.replace(TINY, out=str(tmp_path / "run.pt")))


def test_existing_outputs_are_not_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "important.pt"
    out.write_bytes(b"precious")
    args = ["train", "--model", "fast_tiny", "--steps", "1", "--batch-size", "4", "--train-clips",
            "8", "--val-clips", "0", "--test-clips", "0", "--task", "size=32", "--quiet",
            "--threads", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "important.pt already exists" in err and "--force" in err and "Traceback" not in err
    assert out.read_bytes() == b"precious"
    # A record beside a new checkpoint is protected too.
    (tmp_path / "fresh.json").write_text("{}")
    assert main([*args[:-1], str(tmp_path / "fresh.pt")]) == 2
    assert "fresh.json already exists" in capsys.readouterr().err
    assert (tmp_path / "fresh.json").read_text() == "{}"
    assert main([*args, "--force"]) == 0
    assert sfl.weights.load_model(out).config.pathways == "fast"
    assert json.loads((tmp_path / "important.json").read_text())["checkpoint"] == str(out)


@pytest.mark.parametrize("name", ["run.json", "notes.txt", "model"])
def test_out_must_be_a_checkpoint_name_distinct_from_the_record(tmp_path, name):
    with pytest.raises(ValueError, match=r"must end in \.pt or \.pth"):
        tr.train(dataclasses.replace(TINY, out=str(tmp_path / name)))
    cfg = dataclasses.replace(TINY, out=str(tmp_path / "a.pt"), record=str(tmp_path / "a.pt"))
    with pytest.raises(ValueError, match="must differ"):
        tr.train(cfg)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_saves_resumable_state_and_resume_gives_the_same_weights(tmp_path, monkeypatch):
    """Dropout on (0.2), so the resumed run must also restore the random state."""
    cfg = dataclasses.replace(TINY, out=str(tmp_path / "run.pt"))
    reference = tr.train(dataclasses.replace(TINY, out=None)).model

    with monkeypatch.context() as m:
        _poison_batch_at(m, call=3, how="sigint")  # Ctrl-C during step 2
        with pytest.raises(tr.TrainingInterrupted, match=r"after step 3 of 6.*--resume") as info:
            tr.train(cfg, checkpoint_every=0)
    assert info.value.step == 3 and info.value.partial == str(tmp_path / "run.pt.partial")
    assert not (tmp_path / "run.pt").exists()  # nothing under the final name
    assert not list(tmp_path.glob("*.tmp"))

    with pytest.raises(FileExistsError, match="--resume to continue it"):
        tr.train(cfg, overwrite=False)  # a fresh run would silently drop the partial state
    resumed = tr.train(cfg, resume=True)
    assert resumed.record["resumed_from_step"] == 3
    for k, v in _state(reference).items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0, msg=k)
    assert (tmp_path / "run.pt").is_file() and not (tmp_path / "run.pt.partial").exists()
    assert [s for s, _ in resumed.record["loss_curve"]] == [0, 5]


def test_periodic_checkpoints_resume_after_a_crash(tmp_path, monkeypatch):
    model = sfl.get_config("slowfast_tiny", dropout=0.0)
    cfg = dataclasses.replace(TINY, out=str(tmp_path / "run.pt"), model=model)
    reference = tr.train(dataclasses.replace(cfg, out=None)).model
    with monkeypatch.context() as m:
        _poison_batch_at(m, call=6)  # a crash at step 5: the state of step 4 is on disk
        with pytest.raises(tr.TrainingError):
            tr.train(cfg, checkpoint_every=2)
    resumed = tr.train(cfg, resume=True, checkpoint_every=2)
    assert resumed.record["resumed_from_step"] == 4
    for k, v in _state(reference).items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0, msg=k)


def test_resume_refuses_other_settings_or_no_state(tmp_path, monkeypatch):
    cfg = dataclasses.replace(TINY, out=str(tmp_path / "run.pt"))
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        tr.train(cfg, resume=True)
    with monkeypatch.context() as m:
        _poison_batch_at(m, call=2, how="sigint")
        with pytest.raises(tr.TrainingInterrupted):
            tr.train(cfg)
    with pytest.raises(ValueError, match=r"other settings \(lr: 0\.003 -> 0\.1\)"):
        tr.train(dataclasses.replace(cfg, lr=0.1), resume=True)
    # A run of 2 processes (torchrun) resumed by one: other BN statistics, other weights.
    partial = tmp_path / "run.pt.partial"
    state = torch.load(partial, weights_only=True)
    assert state["world_size"] == 1
    torch.save({**state, "world_size": 2}, partial)
    with pytest.raises(ValueError, match=r"2 process\(es\) \(torchrun --nproc_per_node 2\), this "
                       r"one has 1: resume with torchrun --nproc_per_node 2"):  # fmt: skip
        tr.train(cfg, resume=True)


def test_cli_ctrl_c_prints_where_the_state_is_and_resume_finishes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run.pt"
    args = ["train", "--model", "fast_tiny", "--steps", "4", "--batch-size", "4", "--train-clips",
            "8", "--val-clips", "0", "--test-clips", "0", "--task", "size=32", "--quiet",
            "--threads", "1", "--out", str(out)]  # fmt: skip
    with monkeypatch.context() as m:
        _poison_batch_at(m, call=2, how="sigint")
        assert main(args) == 130
    err = capsys.readouterr().err
    assert "interrupted after step 2 of 4" in err and "run.pt.partial" in err
    assert "--resume" in err and "Traceback" not in err and not out.exists()
    assert main([*args, "--resume"]) == 0
    assert out.is_file() and not Path(f"{out}.partial").exists()


# ------------------------------------------------------------------------------------------------
# The command line: user mistakes exit 2 with one line on stderr
# ------------------------------------------------------------------------------------------------

CHECKPOINT = Path(__file__).resolve().parents[1] / "data_samples" / "checkpoints"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["train", "--train-clips", "1", "--batch-size", "2"], "train_clips=1 is smaller"),
        (["train", "--task", "bogus=1"], "unknown task field(s) ['bogus']"),
        (["train", "--task", "size=abc"], "task field size='abc' must be a number"),
        (["train", "--set", "bogus=1"], "unknown config field(s) ['bogus']"),
        (["train", "--set", "novalue"], "--set expects FIELD=VALUE"),
        (["train", "--set", "stage_blocks=1,1,1,1000000000"], "each in 1..256"),
        (["train", "--steps", "0"], "steps=0 must be an integer >= 1"),
        (["train", "--steps", "-5"], "steps=-5 must be an integer >= 1"),
        (["train", "--lr", "nan"], "lr=nan must be a positive number"),
        (["train", "--checkpoint-every", "-1"], "--checkpoint-every -1 must be >= 0"),
        (
            ["evaluate", str(CHECKPOINT / "motionshapes_fast_only_tiny.pt"), "--clips", "0"],
            "--clips 0 must be >= 1",
        ),  # fmt: skip
        (["evaluate", "missing.pt"], "missing.pt does not exist"),
        (["complexity", "--set", "dropout=2"], "dropout=2 must be a number in [0, 1)"),
    ],
)
def test_cli_user_mistakes_exit_2_with_a_message(args, words, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_cli_compare_only_matching_nothing_writes_nothing(tmp_path, capsys):
    results = tmp_path / "table"
    for suffix in (".md", ".json", ".png"):
        results.with_suffix(suffix).write_text("shipped")
    args = ["compare", "--only", "no such row", "--results", str(results), "--out-dir",
            str(tmp_path / "runs")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "matches no row" in err and "Slow-only" in err
    assert all(results.with_suffix(s).read_text() == "shipped" for s in (".md", ".json", ".png"))
    assert not (tmp_path / "runs").exists()


def test_shared_training_step_checks_loss_weights_and_ctrl_c(tmp_path):
    """train and finetune share `_Steps`: a NaN loss stops before the update, a resumable state
    is only written with finite weights, a Ctrl-C stops after the step with its state saved."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    written: list[int] = []
    steps = tr._Steps(model, opt, 1, 0, torch.device("cpu"), "x.partial", written.append, 0.1, 5)
    x = torch.ones(4, 3)

    def losses(scale: float = 1.0):
        for half in x.chunk(2):
            yield model(half).sum() * scale

    before = _state(model)
    expected = float(model(x).sum().detach()) / 2  # the mean over the 2 shards of their losses
    value, stop = steps.step(losses(), lr=0.05, shards=2, what="step 0")
    assert opt.param_groups[0]["lr"] == 0.05 and not stop
    assert value == pytest.approx(expected, rel=1e-6)
    assert not torch.equal(model.weight, before["weight"])  # the update was taken
    steps.after(1, stop, checkpoint_every=1)
    assert written == [1] and steps.saved == 1
    steps.after(5, False, checkpoint_every=1)  # the last step: the checkpoint replaces it
    assert written == [1]
    updated = _state(model)
    with pytest.raises(tr.TrainingError, match=r"step 2: the loss is nan.*step 1\) is in x\.part"):
        steps.step(losses(float("nan")), lr=0.05, shards=2, what="step 2")
    for k, v in updated.items():
        assert torch.equal(model.state_dict()[k], v), k  # no update from the NaN loss
    with torch.no_grad():
        model.weight[0, 0] = float("inf")
    with pytest.raises(tr.TrainingError, match=r"step 2: the weights hold NaN/Inf.*step 1\)"):
        steps.after(3, False, checkpoint_every=3)
    assert written == [1]  # nothing written from broken weights
    with torch.no_grad():
        model.weight[0, 0] = 0.0
    with pytest.raises(tr.TrainingInterrupted, match=r"after step 4 of 5.*step 4\)") as info:
        steps.after(4, True, checkpoint_every=0)  # a Ctrl-C seen by some process: save, stop
    assert written == [1, 4] and info.value.step == 4 and info.value.partial == "x.partial"
    steps.current = 4
    with pytest.raises(tr.TrainingInterrupted, match=r"during step 4; .*step 4\)"):
        with steps.interruptible():
            raise KeyboardInterrupt  # a second Ctrl-C: at once, the saved state stays


def test_resume_with_given_clips_refuses_other_clips(tmp_path, monkeypatch):
    """train(data=...) on clips of one's own: a resume must get the same clips, not just as many."""
    task = TINY.task_config()
    data = ms.make_dataset(TINY.seed, 16, task, progress=False)
    other = ms.make_dataset(TINY.seed + 7, 16, task, progress=False)
    cfg = dataclasses.replace(TINY, out=str(tmp_path / "run.pt"))
    with monkeypatch.context() as m:
        _poison_batch_at(m, call=2, how="sigint")
        with pytest.raises(tr.TrainingInterrupted):
            tr.train(cfg, data=data)
    saved = torch.load(tmp_path / "run.pt.partial", weights_only=True)["data"]
    assert saved == tr.data_fingerprint(data) and saved["clips"] == 16
    assert tr.data_fingerprint(other) != saved
    with pytest.raises(ValueError, match="belongs to a run on other given clips"):
        tr.train(cfg, data=other, resume=True)
    assert tr.train(cfg, data=data, resume=True).record["resumed_from_step"] == 2
