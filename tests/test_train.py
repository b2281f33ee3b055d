"""Training loop, evaluation, DDP equivalence, comparison table, CLI, and the shipped checkpoints."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

import slowfast_lab as sfl
from slowfast_lab import synthetic as ms
from slowfast_lab import train as tr
from slowfast_lab.__main__ import main

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data_samples" / "checkpoints"

# A few steps of a small model on 32x32 clips: exercises the real code path in seconds.
TINY = tr.TrainConfig(
    model=sfl.get_config("slowfast_tiny", dropout=0.0),
    task={"size": 32},
    train_clips=32,
    val_clips=0,
    test_clips=20,
    steps=3,
    batch_size=8,
    warmup_steps=1,
    progress=False,
)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SLOWFAST_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_train_is_seeded_writes_checkpoint_and_record(tmp_path):
    cfg = dataclasses.replace(TINY, out=str(tmp_path / "sf.pt"))
    first = tr.train(cfg, command="pytest")
    assert first.record["test"]["clips"] == 20
    assert set(first.record["test"]["groups"]) == set(ms.GROUPS)
    assert (tmp_path / "sf.json").is_file()
    record = json.loads((tmp_path / "sf.json").read_text())
    assert record["command"] == "pytest" and record["config"]["seed"] == 0
    assert all(math.isfinite(loss) for _, loss in record["loss_curve"])

    again = tr.train(dataclasses.replace(TINY, out=None))
    for k, v in _state(first.model).items():
        torch.testing.assert_close(v, again.model.state_dict()[k], rtol=0, atol=0, msg=k)

    loaded = sfl.weights.load_model(tmp_path / "sf.pt")
    assert loaded.checkpoint_meta["seed"] == 0 and loaded.checkpoint_meta["task"]["size"] == 32
    # Evaluating the loaded checkpoint on its recorded test split gives the recorded numbers.
    test = first.record["test"]
    result = tr.evaluate(loaded, seed=test["seed"], clips=test["clips"], progress=False)
    assert result["accuracy"] == test["accuracy"] and result["groups"] == test["groups"]


def test_channels_last_trains_the_same_network():
    """channels_last_3d changes where the numbers sit in memory, not the network: the same seed
    gives the same weights up to float rounding, stored in the memory format asked for."""
    runs = {
        cl: tr.train(dataclasses.replace(TINY, channels_last=cl, test_clips=0)).model
        for cl in (True, False)
    }
    conv = runs[True].slow.stem.conv.conv.weight
    assert conv.is_contiguous(memory_format=torch.channels_last_3d) and not conv.is_contiguous()
    assert runs[False].slow.stem.conv.conv.weight.is_contiguous()
    fast, plain = _state(runs[True]), _state(runs[False])
    for name, value in plain.items():
        if value.is_floating_point():
            torch.testing.assert_close(fast[name], value, rtol=1e-3, atol=1e-4, msg=name)
    torch.manual_seed(TINY.seed)  # the initial weights of both runs
    start = _state(sfl.build_model(TINY.model))
    assert not torch.equal(start["slow.stem.conv.conv.weight"], plain["slow.stem.conv.conv.weight"])


def test_bf16_autocast_trains_float32_weights_close_to_fp32():
    """bf16 autocast: the forward pass in bfloat16, weights and their updates in float32. SGD:
    its step is the gradient itself (AdamW's first step is about lr * sign(gradient), which
    turns bf16 rounding noise in tiny gradient entries into full-size differences)."""
    runs = {
        bf16: tr.train(
            dataclasses.replace(TINY, bf16=bf16, test_clips=0, steps=1, optimizer="sgd")
        ).model
        for bf16 in (True, False)
    }
    assert all(p.dtype == torch.float32 for p in runs[True].parameters())
    low, plain = _state(runs[True]), _state(runs[False])
    name = "slow.stem.conv.conv.weight"
    torch.manual_seed(TINY.seed)
    start = _state(sfl.build_model(TINY.model))[name]
    step_low, step_plain = low[name] - start, plain[name] - start
    assert step_plain.abs().max() > 0
    cos = torch.nn.functional.cosine_similarity(step_low.flatten(), step_plain.flatten(), dim=0)
    assert cos > 0.9 and not torch.equal(low[name], plain[name])  # bf16 really ran


def test_accuracy_report_groups_and_confusion():
    labels = torch.arange(10).repeat(2)
    preds = labels.clone()
    preds[ms.CLASS_NAMES.index("L-cw")] = ms.CLASS_NAMES.index("L-ccw")  # one motion mistake
    r = tr.accuracy_report(preds, labels)
    assert r["accuracy"] == pytest.approx(19 / 20)
    assert r["groups"]["motion"] == pytest.approx(5 / 6, abs=1e-3)
    assert r["groups"]["appearance"] == 1.0 and r["groups"]["appearance+motion"] == 1.0
    assert sum(map(sum, r["confusion"])) == 20
    assert r["confusion"][ms.CLASS_NAMES.index("L-cw")][ms.CLASS_NAMES.index("L-ccw")] == 1


@pytest.mark.parametrize("preset", ["slow_tiny", "fast_tiny"])
def test_single_pathway_models_train(preset):
    result = tr.train(dataclasses.replace(TINY, model=preset, steps=1, test_clips=10))
    assert result.model.config.pathways == preset.split("_")[0]
    assert 0 <= result.record["test"]["accuracy"] <= 1


def test_two_processes_train_the_same_model_as_one():
    """DDP on 2 CPU processes (gloo) == one process computing BN per half-batch shard.

    Parameters match to float tolerance; BN running statistics differ (DDP keeps rank 0's). SGD, not
    Adam: Adam's first steps are about lr * sign(gradient), so float rounding on near-zero gradients
    (different summation order in the all-reduce) would flip whole updates."""
    cfg = dataclasses.replace(TINY, test_clips=0, steps=2, optimizer="sgd", lr=0.05)
    ms.make_dataset(cfg.seed, cfg.train_clips, cfg.task_config(), progress=False)  # cache once
    ddp = tr.spawn_local(cfg, nprocs=2)
    one = tr.train(dataclasses.replace(cfg, shards=2)).model.state_dict()
    plain = tr.train(cfg).model.state_dict()
    compared = 0
    for k, v in one.items():
        if "running_" in k or "num_batches" in k:
            continue
        torch.testing.assert_close(ddp[k], v, rtol=1e-4, atol=1e-5, msg=k)
        compared += 1
    assert compared > 50
    # Against one process on the whole batch only BN statistics differ: close, not identical.
    drift = max((ddp[k] - plain[k]).abs().max().item() for k in one if "running_" not in k)
    assert drift < 0.05


def test_cli_train_then_evaluate_json(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    args = ["train", "--model", "fast_tiny", "--steps", "1", "--batch-size", "4", "--train-clips",
            "8", "--val-clips", "0", "--test-clips", "10", "--task", "size=32", "--quiet",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--seed", "9", "--clips", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["groups"]) == {"appearance", "motion", "appearance+motion"}
    assert result["clips"] == 10 and 0 <= result["accuracy"] <= 1


# ------------------------------------------------------------------------------------------------
# The shipped checkpoints
# ------------------------------------------------------------------------------------------------


def _shipped(kind: str) -> Path:
    found = sorted(CHECKPOINTS.glob(f"*{kind}*.pt"))
    if not found:
        pytest.skip(f"no {kind} checkpoint shipped in {CHECKPOINTS}")
    return found[0]


@pytest.fixture(scope="module")
def shipped_results():
    """Each shipped checkpoint evaluated on a fresh split (not its training or recorded seed)."""
    kinds = ("slowfast", "slow_only", "fast_only")
    return {
        k: tr.evaluate_checkpoint(_shipped(k), seed=31337, clips=300, progress=False) for k in kinds
    }


def test_shipped_checkpoints_load_and_score_as_recorded(shipped_results):
    for kind, r in shipped_results.items():
        recorded = r["recorded_test"]
        assert recorded and recorded["seed"] != 31337
        assert (
            r["model"] == {"slowfast": "slowfast", "slow_only": "slow", "fast_only": "fast"}[kind]
        )
        # 300 clips: binomial standard error <= 2.9 points; allow about 2.5 of them.
        assert r["accuracy"] == pytest.approx(recorded["accuracy"], abs=0.07), kind
        for g in ms.GROUPS:
            assert r["groups"][g] == pytest.approx(recorded["groups"][g], abs=0.15), (kind, g)


def test_shipped_checkpoints_show_the_papers_findings(shipped_results):
    sf, slow, fast = (shipped_results[k] for k in ("slowfast", "slow_only", "fast_only"))
    assert sf["accuracy"] >= 0.9
    # Slow-only: good on appearance, near chance (1/3) on the aliased motion group.
    assert slow["groups"]["appearance"] >= 0.85 and slow["groups"]["motion"] <= 0.5
    # Fast-only: clearly worse than SlowFast on appearance.
    assert fast["groups"]["appearance"] <= sf["groups"]["appearance"] - 0.1


def test_shipped_checkpoints_load_with_load_weights():
    meta_cmds = (
        (CHECKPOINTS / "README.md").read_text() if (CHECKPOINTS / "README.md").is_file() else ""
    )
    for kind, preset in (
        ("slowfast", "slowfast_tiny"),
        ("slow_only", "slow_tiny"),
        ("fast_only", "fast_tiny"),
    ):
        path = _shipped(kind)
        payload = sfl.weights.read_checkpoint(path)
        assert payload["meta"]["command"].startswith("python -m slowfast_lab train")
        assert (
            payload["meta"]["command"] in meta_cmds
            and f"--seed {payload['meta']['seed']}" in payload["meta"]["command"]
        )
        model = sfl.build_model(
            preset, **{k: v for k, v in payload["config"].items() if k != "pathways"}
        )
        before = {k: v.clone() for k, v in model.state_dict().items()}
        sfl.load_weights(model, path)
        state = model.state_dict()
        assert any(not torch.equal(before[k], state[k]) for k in state)
        for k, v in payload["model_state"].items():
            torch.testing.assert_close(state[k], v.to(state[k].dtype), msg=k)


def test_process_group_gets_an_explicit_timeout(monkeypatch):
    """Under torchrun the others wait while rank 0 validates: the process group's timeout is
    train.PROCESS_GROUP_TIMEOUT (an hour), not torch's default (10 minutes for nccl)."""
    calls = []
    monkeypatch.setattr(tr.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(tr.dist, "init_process_group", lambda **kw: calls.append(kw))
    monkeypatch.setattr(tr.torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    rank, world, device, created = tr._setup_distributed()
    assert (rank, world, device.type, created) == (1, 2, "cpu", True)
    assert len(calls) == 1 and calls[0] == {"backend": "gloo", "timeout": tr.PROCESS_GROUP_TIMEOUT}
    assert tr.PROCESS_GROUP_TIMEOUT.total_seconds() == 3600
