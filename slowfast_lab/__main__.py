"""Command line: `python -m slowfast_lab COMMAND ...` (see `python -m slowfast_lab --help`)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from .bench import add_arguments
from .bench import main as bench_main
from .book import build_book
from .complexity import complexity
from .config import ConfigError, get_config
from .export import FORMATS, default_path, export_and_check
from .finetune import FREEZE, FinetuneConfig, evaluate_folder, finetune
from .model import build_model
from .predict import (
    MODES,
    load_predictor,
    predict_video,
    window_attributions,
    write_json,
    write_labelled_video,
)
from .results import compare, comparison_markdown, runs_for, scenes_markdown
from .synthetic import TaskConfig
from .train import (
    TrainConfig,
    TrainingError,
    check_train_config,
    command_line,
    dist_env,
    evaluate_checkpoint,
    train,
)
from .weights import OFFICIAL_FILES, DownloadError, checkpoint_info, download, official_file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m slowfast_lab", description="slowfast-lab: explore SlowFast networks"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("complexity", help="params and multiply-adds of a preset")
    p.add_argument("preset", nargs="?", default="slowfast_4x16_r50")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="config overrides")
    p.add_argument(
        "--boxes", type=int, default=1, help="person boxes per view (detection presets; default 1)"
    )
    p.set_defaults(func=_complexity)
    p = sub.add_parser("train", help="train a model on MotionShapes (also under torchrun)")
    _add_train_args(p)
    p.add_argument("--out", help="checkpoint path (a JSON record is written beside it)")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.add_argument("--force", action="store_true", help="replace an existing checkpoint / record")
    p.add_argument("--resume", action="store_true", help="continue from <out>.partial")
    p.add_argument("--checkpoint-every", type=int, default=100, metavar="N",
                   help="write the resumable state <out>.partial every N steps (0: only on Ctrl-C)")  # fmt: skip
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "finetune", help="fine-tune a pretrained network on your own videos (also under torchrun)"
    )
    p.add_argument("data", help="a folder DATA/CLASS/*.mp4 (or DATA/train/, DATA/val/), or a "
                   "CSV of path,label[,start,end]")  # fmt: skip
    p.add_argument("--preset", default="slowfast_tiny", help="the network (default slowfast_tiny)")
    p.add_argument("--weights", help="pretrained weights (ours or official), loaded without head")
    p.add_argument("--freeze", choices=FREEZE, default="none",
                   help="keep the network fixed up to this stage (default none)")  # fmt: skip
    d = FinetuneConfig(data="")
    for name in ("epochs", "batch_size", "workers", "threads", "seed", "size"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default=d.optimizer)
    p.add_argument("--dropout", type=float, help="before the new head (default: the preset's)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="per-class share held out for validation (without train/ and val/)")  # fmt: skip
    p.add_argument("--no-flip", dest="hflip", action="store_false",
                   help="no horizontal flips (when a mirror changes the class)")  # fmt: skip
    p.add_argument("--fast-input", choices=("rgb", "gray", "timediff"), default="rgb")
    p.add_argument("--pad", action="store_true", help="use videos shorter than one clip (padded)")
    p.add_argument("--skip-unreadable", action="store_true",
                   help="skip unusable videos with a warning instead of stopping")  # fmt: skip
    p.add_argument("--out", default="finetuned.pt",
                   help="checkpoint path (a JSON record is written beside it)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace an existing checkpoint / record")
    p.add_argument("--resume", action="store_true", help="continue from <out>.partial")
    p.add_argument("--checkpoint-every", type=int, default=100, metavar="N",
                   help="write the resumable state <out>.partial every N steps (0: only on Ctrl-C)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_finetune)

    p = sub.add_parser("evaluate", help="accuracy of a MotionShapes checkpoint on a fresh split")
    p.add_argument("checkpoint")
    p.add_argument("--seed", type=int, default=1000, help="test split (not a training seed)")
    p.add_argument("--clips", type=int, default=500)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--data", help="a fine-tuned checkpoint: its video folder / CSV (default: the "
                   "one it was fine-tuned on)")  # fmt: skip
    p.add_argument("--split", choices=("train", "val", "all"), default="val",
                   help="with a fine-tuned checkpoint: which split (default val)")  # fmt: skip
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "actions-table", help="table of multi-label / detection runs (scenes with actions)"
    )
    p.add_argument("records", nargs="+", help="the runs' JSON records (written beside --out)")
    p.add_argument("--results", default="data_samples/results/scenes_actions",
                   help="table path without suffix (.md, .json and .png)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace an existing table")
    p.set_defaults(func=_actions_table)

    p = sub.add_parser("compare", help="Slow-only / Fast-only / SlowFast laterals / beta table")
    _add_train_args(p)
    p.add_argument(
        "--out-dir", help="checkpoints and records per run (default runs/compare, runs/scenes)"
    )
    p.add_argument(
        "--results",
        help="table/figure path without suffix (default data_samples/results/"
        "motionshapes_comparison, or scenes_comparison with --task kind=scenes)",
    )
    p.add_argument("--seeds", nargs="*", type=int, help="train every row once per seed")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.add_argument("--only", nargs="*", help="row names (substrings) to run")
    p.add_argument("--no-resume", action="store_true", help="retrain runs that have a record")
    p.set_defaults(func=_compare)
    p = sub.add_parser("weights", help="official Kinetics-400 checkpoints: list, download, inspect")
    wsub = p.add_subparsers(dest="weights_command", required=True)
    w = wsub.add_parser("list", help="the official files we know and the preset each fits")
    w.set_defaults(func=_weights_list)
    w = wsub.add_parser("download", help="download an official file (progress bar, verified)")
    w.add_argument("name", help="e.g. SLOWFAST_8x8_R50.pkl (see `weights list`)")
    w.add_argument(
        "--to", default="weights", help="folder to write into (default: weights/); a file: --force"
    )
    w.add_argument("--base-url", help="a mirror instead of the official server")
    w.add_argument("--sha256", help="expected sha256, where you know it")
    w.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file that does not verify (only once the download checks out)",
    )
    w.set_defaults(func=_weights_download)
    w = wsub.add_parser("info", help="what a checkpoint file holds and which preset fits it")
    w.add_argument("path")
    w.set_defaults(func=_weights_info)

    p = sub.add_parser("bench", help="clips/s, train step time, MAC/s vs matmul peak")
    _add_bench_args(p)
    p.set_defaults(func=_bench)
    p = sub.add_parser("book", help="execute every lesson and write HTML copies (fast mode)")
    p.add_argument("--out", default="book", help="folder for the HTML pages (git-ignored book/)")
    p.add_argument(
        "--only", nargs="*", help="only lessons whose file name contains one of these (e.g. 01 06)"
    )
    p.set_defaults(func=_book)
    p = sub.add_parser("predict", help="top-k per window of your own video; labelled copy")
    p.add_argument("video")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--checkpoint", help="one of our checkpoints (e.g. data_samples/checkpoints/*.pt)"
    )
    src.add_argument("--weights", help="an official Kinetics-400 file for --preset")
    p.add_argument(
        "--preset", default="slowfast_8x8_r50", help="model of --weights (default 8x8 R50)"
    )
    p.add_argument("--random-weights", action="store_true",
                   help="no weights found: run an untrained network (labelled RANDOM)")  # fmt: skip
    p.add_argument("--mode", choices=MODES, default="auto",
                   help="test: the paper's uniform clips; sliding: windows over time; auto: test "
                   "up to 10 s")  # fmt: skip
    p.add_argument("--clips", type=int, default=10, help="clips of the test mode")
    p.add_argument(
        "--stride", type=int, help="raw frames between sliding windows (default: one span)"
    )
    p.add_argument(
        "--crops", type=int, choices=(1, 3), help="views per clip (default 3 in test mode)"
    )
    p.add_argument(
        "--size", type=int, help="short side and crop (default: 256, or the task's size)"
    )
    p.add_argument("--batch", type=int, default=6, help="views per forward")
    p.add_argument("--top", type=int, default=5, help="k of the top-k")
    p.add_argument("--device", help="cpu, cuda, ... (default: the GPU if there is one)")
    p.add_argument("--json", help="where to write the JSON record (default: <out>.json or "
                   "<video stem>.predict.json)")  # fmt: skip
    p.add_argument("--out", help="write a labelled copy of the video (mp4)")
    p.add_argument("--attribution", action="store_true",
                   help="with --out: Slow and Fast Grad-CAM maps beside each frame")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace existing --out / --json")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_predict)

    p = sub.add_parser("export", help="TorchScript / ONNX / torch.export file, checked")
    p.add_argument("checkpoint", help="our checkpoint, or an official file with --preset")
    p.add_argument("--format", choices=FORMATS, default="exported")
    p.add_argument("--preset", help="build this preset and load an official file into it")
    p.add_argument("--out", help="output path (default: beside the checkpoint)")
    p.add_argument("--crop", type=int, help="example clip size (default: the model's crop)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_export)
    # Other modules add their commands here (weights, train, evaluate, bench, book).
    return parser


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.attribution and not args.out:
        raise ValueError("--attribution draws onto the labelled video: give --out labelled.mp4 too")
    for name in ("clips", "batch", "top", "size", "stride"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} {value} must be >= 1")
    json_path = Path(args.json) if args.json else (
        Path(args.out).with_suffix(".json") if args.out else Path(Path(args.video).stem + ".predict.json")
    )  # fmt: skip
    for path in (json_path, Path(args.out) if args.out else None):  # refuse before any work
        if path is not None and path.exists() and not args.overwrite:
            raise FileExistsError(f"{path} exists: choose another path, or pass --overwrite")
    predictor = load_predictor(args.checkpoint, args.weights, args.preset, args.random_weights)
    pred = predict_video(
        predictor, args.video, args.mode, args.clips, args.stride, args.crops, args.size,
        args.batch, args.device, progress=not args.quiet,
    )  # fmt: skip
    print(pred)
    if args.out:
        maps = (
            window_attributions(predictor, pred, progress=not args.quiet)
            if args.attribution
            else None
        )
        out = write_labelled_video(pred, args.out, min(args.top, 5), maps, overwrite=args.overwrite,
                                   progress=not args.quiet)  # fmt: skip
        print(f"labelled video: {out}")
    write_json(pred.record(args.top), json_path, overwrite=args.overwrite)
    print(f"JSON record: {json_path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .weights import load_model, load_weights

    if args.preset:
        model = load_weights(build_model(args.preset), args.checkpoint)
    else:
        model = load_model(args.checkpoint)
    out = args.out or default_path(args.checkpoint, args.format)
    result = export_and_check(model, out, args.format, crop=args.crop, overwrite=args.overwrite)
    print(result.summary())
    return 0


def _book(args: argparse.Namespace) -> int:
    pages = build_book(args.out, only=args.only)
    return 1 if any(p.error for p in pages) else 0


def _parse_value(value: str):
    """'3' -> 3, '0.2' -> 0.2, '1,1,2,1' -> (1, 1, 2, 1); anything else stays a string."""
    for parse in (int, float):
        try:
            return parse(value)
        except ValueError:
            pass
    if "," in value:
        return tuple(_parse_value(v.strip()) for v in value.split(","))
    return value


def _parse_overrides(pairs: list[str], option: str = "--set") -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not key or not value:
            raise ConfigError(
                f"{option} expects FIELD=VALUE (e.g. {option} beta_inv=8), got {pair!r}"
            )
        out[key] = _parse_value(value)
    return out


def _complexity(args: argparse.Namespace) -> int:
    c = complexity(args.preset, crop_size=args.crop, boxes=args.boxes, **_parse_overrides(args.set))
    boxes = f", {args.boxes} box(es)" if c.config.head == "detect" else ""
    print(f"{args.preset} at {args.crop}^2{boxes}: {c.summary()}; Fast share {c.fast_share:.1%}")
    return 0


def _add_train_args(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument(
        "--model", default="slowfast_tiny", help="preset (slowfast_tiny, slow_tiny, fast_tiny)"
    )
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="config overrides")
    p.add_argument("--task", nargs="*", default=[], metavar="FIELD=VALUE", help="task overrides")
    for name in ("seed", "steps", "batch_size", "train_clips", "val_clips", "test_seed",
                 "test_clips", "threads"):  # fmt: skip
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default=d.optimizer)
    p.add_argument("--dropout", type=float, help="before the classifier (default: the preset's; "
                   "--set dropout=... wins)")  # fmt: skip
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm under torchrun on GPUs")
    p.add_argument(
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="keep the default contiguous memory format (channels_last_3d is faster on CPUs)",
    )
    p.add_argument(
        "--bf16", action="store_true", help="forward pass under bfloat16 autocast (faster on CPUs "
        "with bf16 instructions; weights stay float32)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _train_config(args: argparse.Namespace, **extra):
    task = _parse_overrides(args.task, "--task")  # checked (names, numbers) by check_train_config
    model = _parse_overrides(args.set)
    if args.dropout is not None and "dropout" not in model:  # checked by the ModelConfig
        model["dropout"] = args.dropout
    if "kind" in task and "num_classes" not in model:  # the head follows the task's classes
        model["num_classes"] = len(TaskConfig(kind=task["kind"]).classes)
    return TrainConfig(
        model=get_config(args.model, **model), task=task, seed=args.seed,
        steps=args.steps, batch_size=args.batch_size, train_clips=args.train_clips,
        val_clips=args.val_clips, test_seed=args.test_seed, test_clips=args.test_clips,
        threads=args.threads, lr=args.lr, optimizer=args.optimizer, sync_bn=args.sync_bn, progress=not args.quiet,
        channels_last=args.channels_last, bf16=args.bf16, **extra,
    )  # fmt: skip


def _train(args: argparse.Namespace) -> int:
    cfg = _train_config(args, out=args.out, half_checkpoint=args.half)
    if args.checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every {args.checkpoint_every} must be >= 0 (0: off)")
    result = train(
        cfg, command=command_line(), overwrite=args.force, resume=args.resume,
        checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    rec = result.record
    if "test" in rec:
        print(json.dumps({"train_time_s": rec["train_time_s"], **rec["test"]}))
    return 0


def _finetune(args: argparse.Namespace) -> int:
    cfg = FinetuneConfig(
        data=args.data, preset=args.preset, weights=args.weights, freeze=args.freeze,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, workers=args.workers,
        optimizer=args.optimizer, dropout=args.dropout,
        val_fraction=args.val_fraction, seed=args.seed, size=args.size, hflip=args.hflip,
        fast_input=args.fast_input, pad=args.pad, skip_unreadable=args.skip_unreadable,
        threads=args.threads, out=args.out, progress=not args.quiet,
    )  # fmt: skip
    if args.checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every {args.checkpoint_every} must be >= 0 (0: off)")
    rec = finetune(
        cfg, command=command_line(), overwrite=args.force, resume=args.resume,
        checkpoint_every=args.checkpoint_every,
    ).record  # fmt: skip
    if dist_env()[0]:
        return 0  # rank 0 prints (and writes) for the run
    keys = ("val_accuracy", "train_time_s", "clips_per_s", "data_wait_share", "checkpoint")
    print(json.dumps({k: rec.get(k) for k in keys}))
    return 0


def _is_finetuned(path: str) -> bool:
    from .weights import read_checkpoint

    try:
        return read_checkpoint(path).get("meta", {}).get("kind") == "finetune"
    except (ValueError, OSError):  # evaluate_checkpoint reports what is wrong with the file
        return False


def _evaluate(args: argparse.Namespace) -> int:
    if args.clips < 1:
        raise ValueError(f"--clips {args.clips} must be >= 1 (500 gives about +-2% accuracy)")
    if args.data or _is_finetuned(args.checkpoint):
        r = evaluate_folder(args.checkpoint, args.data, args.split)
        if args.json:
            print(json.dumps(r))
        else:
            per = ", ".join(
                f"{c} {100 * a:.1f}%" for c, a in r["per_class"].items() if a is not None
            )
            print(f"{args.checkpoint}: accuracy {100 * r['accuracy']:.1f}% ({per}) on the "
                  f"{args.split} split of {r['data']}, {r['clips']} videos")  # fmt: skip
        return 0
    r = evaluate_checkpoint(args.checkpoint, args.seed, args.clips, progress=not args.json)
    if args.json:
        print(json.dumps(r))
    elif "map" in r:  # multi-label / detection: mAPs
        aps = ", ".join(f"{a} {100 * v:.1f}" for a, v in r["per_action"].items() if v is not None)
        print(f"{args.checkpoint}: {r['metric']} {100 * r['map']:.1f} ({aps}) on seed "
              f"{args.seed}, {args.clips} clips; {r['protocol']}")  # fmt: skip
    else:
        groups = ", ".join(f"{g} {100 * a:.1f}%" for g, a in r["groups"].items())
        print(f"{args.checkpoint}: accuracy {100 * r['accuracy']:.1f}% ({groups}) on seed "
              f"{args.seed}, {args.clips} clips")  # fmt: skip
    return 0


def _actions_table(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .detect import actions_markdown, actions_rows
    from .results import actions_figure

    records = []
    for path in args.records:
        try:
            records.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a readable JSON training record ({err})") from None
    rows = actions_rows(records)
    out = Path(args.results)
    for suffix in (".md", ".json", ".png"):
        if out.with_suffix(suffix).exists() and not args.force:
            raise FileExistsError(f"{out.with_suffix(suffix)} exists: --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    text = actions_markdown(rows)
    out.with_suffix(".md").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    actions_figure(rows).savefig(out.with_suffix(".png"), dpi=100)
    print(text)
    return 0


def _compare(args: argparse.Namespace) -> int:
    base = _train_config(args, half_checkpoint=args.half)
    check_train_config(base)
    task = base.task_config()
    scenes = task.kind == "scenes"
    runs = all_runs = runs_for(task)
    if args.only:
        runs = tuple(r for r in runs if any(s.lower() in r[0].lower() for s in args.only))
        if not runs:  # refuse before anything is trained or written
            names = "; ".join(r[0] for r in all_runs)
            raise ValueError(f"--only {' '.join(args.only)} matches no row; rows are: {names}")
    out_dir = args.out_dir or ("runs/scenes" if scenes else "runs/compare")
    name = "scenes_comparison" if scenes else "motionshapes_comparison"
    results = args.results or f"data_samples/results/{name}"
    seeds = tuple(args.seeds) if args.seeds else None
    rows = compare(base, out_dir, results, runs, resume=not args.no_resume,
                   command=command_line(), seeds=seeds)  # fmt: skip
    print(scenes_markdown(rows) if scenes else comparison_markdown(rows))
    return 0


def _add_bench_args(p: argparse.ArgumentParser) -> None:
    add_arguments(p)


def _bench(args: argparse.Namespace) -> int:
    return bench_main(args)


def _weights_list(args: argparse.Namespace) -> int:
    for entry in OFFICIAL_FILES.values():
        print(f"{entry.name:26s} -> build_model({entry.preset!r})")
    return 0


def _weights_download(args: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always")
            path = download(
                args.name, args.to, base_url=args.base_url, sha256=args.sha256, force=args.force
            )
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note.message}", file=sys.stderr)
    print(f"{path}  (load into build_model({official_file(args.name).preset!r}))")
    return 0


def _weights_info(args: argparse.Namespace) -> int:
    try:
        info = checkpoint_info(args.path)
    except (ValueError, OSError) as err:  # CheckpointError, a missing file: the message says
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=1, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user mistake prints `error: ...` on stderr and returns 2, never a
    traceback. Caught: ValueError and its subclasses (ConfigError, ShapeError, VideoError,
    CheckpointError), FileNotFoundError, FileExistsError, TrainingError; Ctrl-C returns 130."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, FileExistsError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)  # our errors say what would work
        return 2
    except KeyboardInterrupt as err:  # TrainingInterrupted says where the resumable state is
        print(f"interrupted: {err or 'stopped by Ctrl-C'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
