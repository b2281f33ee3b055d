"""finetune under torchrun (2 CPU processes, gloo) and its resumable state: the same weights as
one process on the same global batches, and an interrupted + resumed run equal to an
uninterrupted one."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _video_folders import motionshapes_folder

from slowfast_lab.__main__ import main
from slowfast_lab.datasets import VideoFolder
from slowfast_lab.finetune import FinetuneConfig, finetune, shard_batches
from slowfast_lab.model import build_model
from slowfast_lab.train import TrainingError, TrainingInterrupted, free_port
from slowfast_lab.weights import load_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def folder(tmp_path_factory):
    return motionshapes_folder(tmp_path_factory)


def small(folder: Path, **kw) -> FinetuneConfig:
    """18 training videos, batches of 6: 3 steps an epoch, 2 epochs; random crops and flips (seeded
    per item, so every process and every resume draws the same ones)."""
    base = dict(
        data=str(folder), epochs=2, batch_size=6, lr=1e-3, val_fraction=0.25, size=32,
        threads=1, progress=False,
    )  # fmt: skip
    return FinetuneConfig(**{**base, **kw})


def _comparable(state: dict) -> dict:
    """Everything but BN running statistics (DDP keeps rank 0's, from rank 0's shards)."""
    return {k: v for k, v in state.items() if "running_" not in k and "num_batches" not in k}


def test_shard_batches_cut_every_global_batch_into_disjoint_equal_parts() -> None:
    whole = shard_batches(20, 6, shuffle_seed=3)
    assert [len(b) for b in whole] == [6, 6, 6]  # full batches only: 2 videos left out
    assert len({i for b in whole for i in b}) == 18
    assert shard_batches(20, 6, shuffle_seed=3) == whole  # seeded
    assert shard_batches(20, 6, shuffle_seed=4) != whole  # another epoch, another order
    parts = [shard_batches(20, 6, 3, rank=r, world=2) for r in (0, 1)]
    for k, batch in enumerate(whole):
        assert parts[0][k] + parts[1][k] == batch  # contiguous halves, in order
        assert len(parts[0][k]) == len(parts[1][k]) == 3
    (short,) = shard_batches(4, 6, shuffle_seed=0)  # fewer videos than a batch: one batch
    assert sorted(short) == [0, 1, 2, 3]


def test_torchrun_two_processes_give_the_weights_of_one(folder, tmp_path) -> None:
    """`torchrun --nproc_per_node 2 -m slowfast_lab finetune` (gloo) == one process computing BN
    statistics per half-batch shard. SGD (as train's DDP test: Adam's first steps are about
    lr * sign(gradient), so rounding in the all-reduce could flip whole updates) and no dropout
    (both processes draw the same masks, from the same seed, where one process with shards=2
    draws a new mask for its second shard)."""
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "-m", "slowfast_lab", "finetune", str(folder), "--epochs", "2", "--batch-size", "6",
           "--lr", "0.05", "--optimizer", "sgd", "--dropout", "0", "--val-fraction", "0.25",
           "--size", "32", "--threads", "2", "--out", str(out), "--quiet"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    assert len(printed) == 1 and printed[0]["checkpoint"] == str(out)  # rank 0 only
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["world_size"] == 2 and record["steps"] == 6
    assert len(record["val_accuracy"]) == 2 and record["val"]["clips"] == 6
    assert not Path(f"{out}.partial").exists()

    cfg = small(folder, lr=0.05, optimizer="sgd", dropout=0.0)
    ddp = _comparable(load_model(out).state_dict())
    one = _comparable(finetune(dataclasses.replace(cfg, shards=2)).model.state_dict())
    plain = _comparable(finetune(cfg).model.state_dict())
    assert ddp.keys() == one.keys() and len(one) > 50
    torch.manual_seed(cfg.seed)  # finetune's initial weights (from scratch)
    start = build_model(cfg.preset, num_classes=3, dropout=0.0).state_dict()
    moved = 0
    for k, v in one.items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-4, atol=1e-5, msg=k)
        moved += not torch.allclose(v, start[k].to(v.dtype), atol=1e-4)
    assert moved > 20  # the comparison is of trained weights, not of the initial ones
    # One process on whole batches differs only by its BN statistics: close, not identical.
    drift = max((ddp[k] - plain[k]).abs().max().item() for k in ddp)
    assert 0 < drift < 0.1


def _torchrun(args: list[str], crash: str | None = None) -> subprocess.CompletedProcess:
    """`torchrun --nproc_per_node 2` of tests/_torchrun_crash.py (the CLI; `crash` "RANK:N": that
    rank raises on its N-th training item)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("SLOWFAST_LAB_TEST_CRASH", None)
    if crash:
        env["SLOWFAST_LAB_TEST_CRASH"] = crash
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           str(ROOT / "tests" / "_torchrun_crash.py"), *args]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_torchrun_crash_then_torchrun_resume_gives_the_uninterrupted_run(folder, tmp_path, capsys):
    """Under torchrun only rank 0 writes the partial state and every rank restores rank 0's
    random state: with dropout on (the preset's) and AdamW, a 2-process run that crashes in step 4
    and is resumed by a 2-process run ends with the weights and record of an uninterrupted one;
    a resume by one process is refused."""
    args = ["finetune", str(folder), "--epochs", "2", "--batch-size", "6", "--val-fraction",
            "0.25", "--size", "32", "--threads", "2", "--workers", "0", "--quiet",
            "--checkpoint-every", "3"]  # fmt: skip
    ref_out, out = tmp_path / "whole.pt", tmp_path / "crashed.pt"
    done = _torchrun([*args, "--out", str(ref_out)])
    assert done.returncode == 0, done.stderr[-3000:]
    # 3 items per process and step: rank 0's 11th item is in step 4 (index 3), after the state of
    # step 3 (the end of epoch 0) is on disk and epoch 0 is validated.
    done = _torchrun([*args, "--out", str(out)], crash="0:11")
    assert done.returncode != 0 and "test crash on rank 0" in done.stderr, done.stderr[-3000:]
    partial = Path(f"{out}.partial")
    state = torch.load(partial, weights_only=True)
    assert state["step"] == 3 and state["world_size"] == 2 and not out.exists()
    assert main([*args, "--out", str(out), "--resume"]) == 2  # one process: refused, kept
    assert "resume with torchrun --nproc_per_node 2" in capsys.readouterr().err
    assert partial.exists()
    done = _torchrun([*args, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert not partial.exists()
    reference, resumed = load_model(ref_out).state_dict(), load_model(out).state_dict()
    for k, v in reference.items():
        torch.testing.assert_close(resumed[k], v, rtol=0, atol=0, msg=k)
    rec, ref = (json.loads(p.with_suffix(".json").read_text()) for p in (out, ref_out))
    assert rec["resumed_from_step"] == 3 and rec["world_size"] == 2
    _same_run(rec, ref)


def _interrupt_item(monkeypatch, call: int, how: str) -> None:
    """On the `call`-th decoded training item: a Ctrl-C (SIGINT) or a crash."""
    real = VideoFolder.__getitem__
    calls = {"n": 0}

    def getitem(self, index):
        if self.train:
            calls["n"] += 1
            if calls["n"] == call:
                if how == "sigint":
                    signal.raise_signal(signal.SIGINT)
                else:
                    raise RuntimeError("the machine went away")
        return real(self, index)

    monkeypatch.setattr(VideoFolder, "__getitem__", getitem)


def _same_run(resumed: dict, reference: dict) -> None:
    for key in ("loss_curve", "val_accuracy", "steps", "classes"):
        assert json.loads(json.dumps(resumed[key])) == json.loads(json.dumps(reference[key])), key
    assert resumed["val"]["confusion"] == reference["val"]["confusion"]


def test_ctrl_c_then_resume_gives_the_uninterrupted_run(folder, tmp_path, monkeypatch) -> None:
    """Dropout on (the preset's 0.2) and random crops: the resumed run must restore the random
    state and the data order of the epoch it stopped in."""
    cfg = small(folder, out=str(tmp_path / "ft.pt"))
    reference = finetune(dataclasses.replace(cfg, out=None))
    with monkeypatch.context() as m:
        _interrupt_item(m, call=6 + 2, how="sigint")  # during step 1 (items 7..12)
        with pytest.raises(TrainingInterrupted, match=r"after step 2 of 6.*--resume") as info:
            finetune(cfg)
    assert info.value.step == 2 and info.value.partial == f"{cfg.out}.partial"
    assert not Path(cfg.out).exists() and not list(tmp_path.glob("*.tmp"))
    with pytest.raises(FileExistsError, match="--resume to continue it"):
        finetune(cfg)  # a fresh run would silently drop the partial state
    with pytest.raises(ValueError, match=r"other settings \(lr: 0\.001 -> 0\.01\)"):
        finetune(dataclasses.replace(cfg, lr=0.01), resume=True)
    partial = Path(f"{cfg.out}.partial")
    state = torch.load(partial, weights_only=True)
    assert state["world_size"] == 1
    torch.save({**state, "world_size": 2}, partial)  # as if written under torchrun
    with pytest.raises(
        ValueError, match=r"this one has 1: resume with torchrun --nproc_per_node 2"
    ):
        finetune(cfg, resume=True)
    torch.save(state, partial)
    resumed = finetune(dataclasses.replace(cfg, workers=1), resume=True)  # workers may change
    assert resumed.record["resumed_from_step"] == 2
    ref = reference.model.state_dict()
    for k, v in resumed.model.state_dict().items():
        torch.testing.assert_close(v, ref[k], rtol=0, atol=0, msg=k)
    _same_run(resumed.record, reference.record)
    assert Path(cfg.out).is_file() and not Path(f"{cfg.out}.partial").exists()


def test_crash_at_an_epoch_end_resumes_from_the_periodic_state(folder, tmp_path, monkeypatch):
    """checkpoint_every=3 saves after step 3, the last of epoch 0, before its validation; the
    crash comes in step 4: the resumed run validates epoch 0 first, then goes on."""
    cfg = small(folder, out=str(tmp_path / "ft.pt"))
    reference = finetune(dataclasses.replace(cfg, out=None))
    with monkeypatch.context() as m:
        _interrupt_item(m, call=3 * 6 + 4, how="crash")
        with pytest.raises(RuntimeError, match="went away"):
            finetune(cfg, checkpoint_every=3)
    assert torch.load(f"{cfg.out}.partial", weights_only=True)["step"] == 3
    resumed = finetune(cfg, resume=True, checkpoint_every=3)
    assert resumed.record["resumed_from_step"] == 3
    ref = reference.model.state_dict()
    for k, v in resumed.model.state_dict().items():
        torch.testing.assert_close(v, ref[k], rtol=0, atol=0, msg=k)
    _same_run(resumed.record, reference.record)


def test_resume_and_shard_errors(folder, tmp_path) -> None:
    cfg = small(folder, out=str(tmp_path / "ft.pt"))
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        finetune(cfg, resume=True)
    with pytest.raises(ValueError, match="resume needs the out path"):
        finetune(dataclasses.replace(cfg, out=None), resume=True)
    with pytest.raises(ValueError, match=r"batch_size=6 must divide into 4 equal shards"):
        finetune(dataclasses.replace(cfg, shards=4))
    with pytest.raises(ValueError, match=r"fewer than batch_size=24"):
        finetune(dataclasses.replace(cfg, shards=2, batch_size=24))
    with pytest.raises(ValueError, match=r"checkpoint_every=-1"):
        finetune(cfg, checkpoint_every=-1)


def test_nan_loss_stops_before_the_update(folder, tmp_path, monkeypatch) -> None:
    real = torch.nn.CrossEntropyLoss.forward
    calls = {"n": 0}

    def loss(self, *args):
        calls["n"] += 1
        value = real(self, *args)
        return value * float("nan") if calls["n"] == 3 else value

    monkeypatch.setattr(torch.nn.CrossEntropyLoss, "forward", loss)
    cfg = small(folder, out=str(tmp_path / "ft.pt"), epochs=1)
    with pytest.raises(TrainingError, match=r"step 2: the loss is nan.*step 2\) is in"):
        finetune(cfg, checkpoint_every=2)
    assert torch.load(f"{cfg.out}.partial", weights_only=True)["step"] == 2
