"""Command line: `python -m slowfast_lab COMMAND ...` (see `python -m slowfast_lab --help`)."""

from __future__ import annotations

import argparse
import sys


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
    p = sub.add_parser("bench", help="clips/s, train step time, MAC/s vs matmul peak")
    _add_bench_args(p)
    p.set_defaults(func=_bench)
    # Other modules add their commands here (weights, train, evaluate, bench, book).
    return parser


def _parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not value:
            raise SystemExit(f"--set expects FIELD=VALUE, got {pair!r}")
        out[key] = int(value) if value.lstrip("-").isdigit() else value
    return out


def _complexity(args: argparse.Namespace) -> int:
    from .complexity import complexity

    c = complexity(args.preset, crop_size=args.crop, **_parse_overrides(args.set))
    print(f"{args.preset} at {args.crop}^2: {c.summary()}; Fast share {c.fast_share:.1%}")
    return 0


def _add_bench_args(p: argparse.ArgumentParser) -> None:
    from .bench import add_arguments

    add_arguments(p)


def _bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError) as err:  # our errors say what would work
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
