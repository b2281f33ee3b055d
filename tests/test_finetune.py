"""finetune: from a shipped checkpoint (head replaced, res2 frozen) on a folder of mp4 clips, the
record, the checkpoint's round trip through load_model and predict, and the command line."""

from __future__ import annotations

import json

import pytest
import torch
from _video_folders import CLASSES, motionshapes_folder

from slowfast_lab.__main__ import main
from slowfast_lab.finetune import FinetuneConfig, evaluate_folder, finetune, frozen_modules
from slowfast_lab.model import build_model
from slowfast_lab.paths import data_samples
from slowfast_lab.predict import load_predictor, predict_video
from slowfast_lab.weights import load_model, save_checkpoint

WEIGHTS = data_samples() / "checkpoints" / "motionshapes_slowfast_tiny.pt"


@pytest.fixture(scope="session")
def folder(tmp_path_factory):
    return motionshapes_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("finetune") / "ft.pt"
    cfg = FinetuneConfig(
        str(folder), weights=str(WEIGHTS), freeze="res2", epochs=2, batch_size=9, lr=1e-3,
        val_fraction=0.25, size=48, hflip=False, threads=1, out=str(out), progress=False,
    )  # fmt: skip
    return cfg, finetune(cfg, command="test")


def test_record(run) -> None:
    cfg, result = run
    rec = json.loads(open(result.record["record_path"]).read())
    assert rec["kind"] == "finetune" and rec["command"] == "test"
    assert rec["classes"] == list(CLASSES)
    assert rec["data"]["train"] == {c: 6 for c in CLASSES}
    assert rec["steps"] == 4 and len(rec["loss_curve"]) == 4  # 18 clips / 9, 2 epochs
    assert len(rec["val_accuracy"]) == 2 and all(0 <= a <= 1 for a in rec["val_accuracy"])
    assert rec["val"]["clips"] == 6 and len(rec["val"]["confusion"]) == 3
    assert rec["data_wait_s"] > 0 and rec["compute_s"] > 0 and rec["clips_per_s"] > 0
    assert 0 < rec["data_wait_share"] < 1
    assert rec["config"]["freeze"] == "res2" and rec["frozen_parameters"] > 0


def test_frozen_part_kept_and_head_new(run) -> None:
    _, result = run
    pretrained = load_model(WEIGHTS)
    tuned = result.model
    for name in ("slow", "fast"):
        for stage in ("stem", "res2"):  # weights and BN running statistics untouched
            a = getattr(getattr(pretrained, name), stage).state_dict()
            b = getattr(getattr(tuned, name), stage).state_dict()
            assert all(torch.equal(a[k].float(), b[k].float()) for k in a), (name, stage)
        a = getattr(pretrained, name).res3.state_dict()
        b = getattr(tuned, name).res3.state_dict()
        assert any(not torch.equal(a[k].float(), b[k].float()) for k in a)  # res3 learnt
    for lateral in ("fuse1", "fuse2"):
        a, b = getattr(pretrained, lateral).state_dict(), getattr(tuned, lateral).state_dict()
        assert all(torch.equal(a[k].float(), b[k].float()) for k in a)
    assert tuned.head.fc.out_features == 3


def test_checkpoint_round_trip(run, folder) -> None:
    cfg, result = run
    model = load_model(cfg.out)
    assert model.config.num_classes == 3
    assert model.checkpoint_meta["classes"] == list(CLASSES)
    assert model.checkpoint_meta["input_size"] == 48
    state = result.model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    video = sorted((folder / "L-cw").iterdir())[0]
    pred = predict_video(load_predictor(cfg.out), video, "test", num_clips=1, crops=1,
                         progress=False)  # fmt: skip
    assert pred.predictor.classes == CLASSES
    assert pred.top(1)[0]["class"] in CLASSES
    again = evaluate_folder(cfg.out)  # the same val split, sampling and crop as the run's
    assert again["clips"] == 6 and again["accuracy"] == result.record["val"]["accuracy"]
    assert again["confusion"] == result.record["val"]["confusion"]


def test_predict_feeds_the_fast_input_the_run_trained_with(run, tmp_path) -> None:
    cfg, _ = run
    assert load_predictor(cfg.out).fast_input == "rgb"
    model = load_model(cfg.out)
    meta = {**model.checkpoint_meta}
    meta["config"] = {**meta["config"], "fast_input": "gray"}
    save_checkpoint(model, tmp_path / "gray.pt", meta)
    assert load_predictor(tmp_path / "gray.pt").fast_input == "gray"


def test_refuses_to_overwrite(run) -> None:
    cfg, _ = run
    with pytest.raises(FileExistsError, match="already exists.*--force"):
        finetune(cfg)


def test_frozen_modules() -> None:
    model = build_model("slowfast_tiny", num_classes=3)
    assert frozen_modules(model, "none") == []
    stem = frozen_modules(model, "stem")
    assert stem == [model.slow.stem, model.fast.stem, model.fuse1]
    every = frozen_modules(model, "res5")
    assert model.slow.res5 in every and model.fuse4 in every and model.head not in every
    slow_only = build_model("slow_tiny", num_classes=3)
    assert frozen_modules(slow_only, "res2") == [slow_only.slow.stem, slow_only.slow.res2]
    with pytest.raises(ValueError, match="freeze='res6'"):
        frozen_modules(model, "res6")


def test_cli(folder, tmp_path, capsys) -> None:
    out = tmp_path / "cli.pt"
    args = ["finetune", str(folder), "--preset", "slowfast_tiny", "--weights", str(WEIGHTS),
            "--freeze", "res4", "--epochs", "1", "--batch-size", "12", "--lr", "1e-3",
            "--workers", "1", "--val-fraction", "0.25", "--size", "48", "--no-flip",
            "--threads", "1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["checkpoint"] == str(out) and len(printed["val_accuracy"]) == 1
    assert out.with_suffix(".json").is_file()
    assert main(["evaluate", str(out), "--json"]) == 0  # a fine-tuned checkpoint: its videos
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["clips"] == 6 and evaluated["split"] == "val"
    assert evaluated["accuracy"] == printed["val_accuracy"][-1]
    assert main(args) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["finetune", str(tmp_path / "empty"), "--out", str(tmp_path / "x.pt")]) == 2
    assert f"{tmp_path / 'empty'}: no class folders" in capsys.readouterr().err
    assert main(["finetune", str(folder), "--weights", str(tmp_path / "no.pt")]) == 2
    assert "no.pt not found" in capsys.readouterr().err
