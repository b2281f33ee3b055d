"""Fine-tuning from video files vs training on clips rendered in memory: accuracy, clips/s, and
how much of each step waits for data, with 0, 1 and 2 DataLoader workers.

    .venv/bin/python benchmarks/bench_finetune.py [--clips-per-class 12] [--epochs 4] [--batch 10]

Writes MotionShapes clips 0..N-1 of split --seed as mp4 files (all 10 classes, 48x48, H.264 4:4:4
crf 12; `synthetic.write_folder`) into a temp dir, then trains `slowfast_tiny` from the same
initial weights on the same N clips, the same steps, batch, lr and schedule:

    train (memory)       `train.train`: the clips rendered into memory (`make_dataset`), batches
                         sliced from a tensor (no decoding, no augmentation)
    finetune, W workers  `finetune.finetune` on the mp4 folder, every clip decoded by PyAV in
                         `__getitem__` (W = 0: in the training process), random start in the
                         video, crop 48 of a short side in --jitter, no flips (they swap cw / ccw)
    finetune, pretrained the same with --workers-pretrained workers, from the shipped checkpoint
                         (head replaced, res2 frozen). NB the checkpoint was trained on MotionShapes
                         itself (other clips): this row shows the mechanism, not transfer.

Accuracy: every model on the same fresh split (seed --test-seed, rendered in memory, the fine-tuned
models' heads reordered from sorted folder names to MotionShapes' class order). clips/s: training
clips per second of loop time (data + compute, no evaluation). wait: the share of loop time spent
waiting for the next batch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from slowfast_lab.finetune import FinetuneConfig, finetune  # noqa: E402
from slowfast_lab.paths import checkpoints  # noqa: E402
from slowfast_lab.synthetic import CLASS_NAMES, TaskConfig, write_folder  # noqa: E402
from slowfast_lab.train import TrainConfig, evaluate, machine_load, train  # noqa: E402


def to_motionshapes_order(model, classes: list[str]):
    """Reorder the head's rows from `classes` (sorted folder names) to MotionShapes' labels."""
    perm = torch.tensor([classes.index(name) for name in CLASS_NAMES])
    fc = model.head.fc
    with torch.no_grad():
        fc.weight.copy_(fc.weight[perm].clone())
        fc.bias.copy_(fc.bias[perm].clone())
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips-per-class", type=int, default=12)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=5, help="the split written (not a training seed "
                   "of the shipped checkpoint, which used split 0)")  # fmt: skip
    p.add_argument("--test-seed", type=int, default=1000)
    p.add_argument("--test-clips", type=int, default=200)
    p.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--workers-pretrained", type=int, default=2)
    p.add_argument("--jitter", type=int, nargs=2, default=[48, 56])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    task = TaskConfig()  # 48x48, T=4, tau=8, alpha=4: slowfast_tiny's
    n = 10 * args.clips_per_class
    steps = args.epochs * (n // args.batch)
    warmup = min(50, steps // 10)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_folder(tmp, CLASS_NAMES, args.clips_per_class, seed=args.seed, task=task)
        print(f"wrote {n} mp4 clips in {time.perf_counter() - t0:.1f} s "
              f"({sum(f.stat().st_size for f in Path(tmp).rglob('*.mp4')) / n / 1024:.1f} kB each)")  # fmt: skip
        test = lambda m: evaluate(m, args.test_seed, args.test_clips, task, progress=False)  # noqa: E731

        t0 = time.perf_counter()
        cfg = TrainConfig(
            model="slowfast_tiny", seed=args.seed, train_clips=n, val_clips=0, test_clips=0,
            steps=steps, batch_size=args.batch, lr=args.lr, warmup_steps=warmup,
            threads=args.threads, progress=False,
        )  # fmt: skip
        result = train(cfg)
        rec = result.record
        rows.append(("train (memory), from scratch", test(result.model)["accuracy"],
                     rec["train_clips_per_s"], 0.0, time.perf_counter() - t0))  # fmt: skip

        runs = [(w, None, "none") for w in args.workers]
        runs.append((args.workers_pretrained, str(checkpoints() / "motionshapes_slowfast_tiny.pt"),
                     "res2"))  # fmt: skip
        for workers, weights, frozen in runs:
            t0 = time.perf_counter()
            fcfg = FinetuneConfig(
                tmp, preset="slowfast_tiny", weights=weights, freeze=frozen, epochs=args.epochs,
                batch_size=args.batch, lr=args.lr, warmup_steps=warmup, workers=workers,
                val_fraction=0.0, seed=args.seed, size=48, jitter=tuple(args.jitter),
                hflip=False, threads=args.threads, progress=False,
            )  # fmt: skip
            res = finetune(fcfg, command="bench")
            r = res.record
            assert r["steps"] == steps, (r["steps"], steps)
            model = to_motionshapes_order(res.model, r["classes"])
            what = "pretrained, res2 frozen" if weights else "from scratch"
            rows.append((f"finetune mp4, {workers} workers, {what}", test(model)["accuracy"],
                         r["clips_per_s"], r["data_wait_share"], time.perf_counter() - t0))  # fmt: skip

    print(f"\n{n} clips (split {args.seed}), {steps} steps of batch {args.batch}, lr {args.lr:g}, "
          f"warm-up {warmup}, {args.threads} thread(s); test: split {args.test_seed}, "
          f"{args.test_clips} clips; machine {machine_load()}, pid {os.getpid()}")  # fmt: skip
    print(f"{'run':<50} {'test acc':>8} {'clips/s':>8} {'wait':>6} {'wall s':>7}")
    for name, acc, cps, wait, wall in rows:
        print(f"{name:<50} {100 * acc:7.1f}% {cps:8.1f} {100 * wait:5.1f}% {wall:7.1f}")


if __name__ == "__main__":
    main()
