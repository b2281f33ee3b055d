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
from .results import compare, comparison_markdown, runs_for, scenes_markdown
from .synthetic import TaskConfig
from .train import (
    TrainConfig,
    TrainingError,
    check_train_config,
    command_line,
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

    p = sub.add_parser("evaluate", help="accuracy of a MotionShapes checkpoint on a fresh split")
    p.add_argument("checkpoint")
    p.add_argument("--seed", type=int, default=1000, help="test split (not a training seed)")
    p.add_argument("--clips", type=int, default=500)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_evaluate)

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
    # Other modules add their commands here (weights, train, evaluate, bench, book).
    return parser


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
    c = complexity(args.preset, crop_size=args.crop, **_parse_overrides(args.set))
    print(f"{args.preset} at {args.crop}^2: {c.summary()}; Fast share {c.fast_share:.1%}")
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
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm under torchrun on GPUs")
    p.add_argument(
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="keep the default contiguous memory format (channels_last_3d is faster on CPUs)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _train_config(args: argparse.Namespace, **extra):
    task = _parse_overrides(args.task, "--task")  # checked (names, numbers) by check_train_config
    model = _parse_overrides(args.set)
    if "kind" in task and "num_classes" not in model:  # the head follows the task's classes
        model["num_classes"] = len(TaskConfig(kind=task["kind"]).classes)
    return TrainConfig(
        model=get_config(args.model, **model), task=task, seed=args.seed,
        steps=args.steps, batch_size=args.batch_size, train_clips=args.train_clips,
        val_clips=args.val_clips, test_seed=args.test_seed, test_clips=args.test_clips,
        threads=args.threads, lr=args.lr, sync_bn=args.sync_bn, progress=not args.quiet,
        channels_last=args.channels_last, **extra,
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


def _evaluate(args: argparse.Namespace) -> int:
    if args.clips < 1:
        raise ValueError(f"--clips {args.clips} must be >= 1 (500 gives about +-2% accuracy)")
    r = evaluate_checkpoint(args.checkpoint, args.seed, args.clips, progress=not args.json)
    if args.json:
        print(json.dumps(r))
    else:
        groups = ", ".join(f"{g} {100 * a:.1f}%" for g, a in r["groups"].items())
        print(f"{args.checkpoint}: accuracy {100 * r['accuracy']:.1f}% ({groups}) on seed "
              f"{args.seed}, {args.clips} clips")  # fmt: skip
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
