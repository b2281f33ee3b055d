"""`predict` against PyTorchVideo's tutorial pipeline: clips/s of SlowFast 8x8 R50 at 224 on the CPU,
on the same video, with the same model and weights, in the same run.

    .venv/bin/python benchmarks/bench_predict.py [--video data_samples/bigbuckbunny_256p.mp4]
        [--clips 10] [--batch 5] [--size 224] [--threads 2] [--rounds 3]
        [--out data_samples/results/predict_benchmark.txt]

Both pipelines score the same `--clips` windows (the paper's uniform test clips of 8x8: 64 raw
frames each; one centre crop of `--size` on a short side of `--size`):

    ours   `predict.predict_video`: one decoding pass per batch of windows that decodes only
           the 32 Fast frames of each window (the Slow ones are every 4th of them), scaled down
           while decoding; `--batch` views in one forward pass, and again with 1 view per
           pass (the tutorial's forward passes: the difference is then decoding alone).
    PTV    the PyTorchVideo tutorial ("Running a pre-trained PyTorchVideo classification model",
           slowfast_r50): per clip `EncodedVideo.from_path(video, decoder="pyav")` once, then
           `get_clip(start_s, end_s)` (every frame of the window as float), then the tutorial's
           transform: UniformTemporalSubsample(32), x / 255, NormalizeVideo(0.45, 0.225),
           ShortSideScale(size), CenterCropVideo(size), PackPathway(alpha=4); one clip per
           forward pass, as the tutorial does. UniformTemporalSubsample and ShortSideScale are
           PyTorchVideo's own functions (`pytorchvideo.transforms.functional`); torchvision is
           not installed here, so NormalizeVideo and CenterCropVideo (torchvision's) are the same
           arithmetic in plain torch, and PyTorchVideo's `data` / `transforms` packages are
           imported without their `__init__` (which imports torchvision's datasets).

The model: `build_model("slowfast_8x8_r50")` with random (seeded) weights, eval mode, under
torch.inference_mode for both (the tutorial's `create_slowfast` hub model is the same network:
tests/test_parity_pytorchvideo.py). Throughput does not depend on the weights' values, so no
download is needed. decode s: everything before the forward pass (decoding, conversion, resizing,
cropping, normalising); model s: the forward passes; clips/s: clips / (decode + model).
Every pipeline runs `--rounds` times, the order reversed every other round (a load that drifts
during the run favours neither side); the table holds the medians, and each round's clips/s.
The 1-minute load average is printed before and after: the machine may be shared. Random
weights: the pipelines' top-1 classes are not compared (they would say nothing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "tests"))  # the torchvision stand-in for importing pytorchvideo

from _ptv_reference import import_pytorchvideo  # noqa: E402

from slowfast_lab.model import build_model  # noqa: E402
from slowfast_lab.predict import Predictor, predict_video  # noqa: E402
from slowfast_lab.sampling import MEAN, STD, clip_span, uniform_clip_starts  # noqa: E402
from slowfast_lab.video import probe  # noqa: E402


def import_ptv_video_and_transforms():
    """PyTorchVideo's EncodedVideo and functional transforms without torchvision: its `data` and
    `transforms` packages are registered as bare packages, so their `__init__` (which imports
    torchvision datasets and transforms) does not run; the modules we use import only torch/av."""
    pytorchvideo = sys.modules.get("pytorchvideo") or __import__("pytorchvideo")
    for sub in ("data", "transforms"):
        name = f"pytorchvideo.{sub}"
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [os.path.join(os.path.dirname(pytorchvideo.__file__), sub)]
            sys.modules[name] = pkg
    import pytorchvideo.transforms.functional as ptv_f
    from pytorchvideo.data.encoded_video import EncodedVideo

    return EncodedVideo, ptv_f


def ptv_tutorial(
    model, video: str, starts: list[int], fps: float, span: int, size: int, alpha: int
):
    """The tutorial's loop, one clip at a time; returns (decode s, model s, probabilities)."""
    EncodedVideo, ptv_f = import_ptv_video_and_transforms()
    mean = torch.tensor(MEAN).view(3, 1, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1, 1)
    decode_s = model_s = 0.0
    probs = []
    t0 = time.perf_counter()
    encoded = EncodedVideo.from_path(video, decoder="pyav")
    decode_s += time.perf_counter() - t0
    for start in starts:
        t0 = time.perf_counter()
        clip = encoded.get_clip(start / fps, (start + span) / fps)["video"]  # [3, t, H, W] float
        x = ptv_f.uniform_temporal_subsample(clip, 32, temporal_dim=-3)
        x = (x / 255.0 - mean) / std  # Lambda(x / 255), NormalizeVideo(mean, std)
        x = ptv_f.short_side_scale(x, size)  # ShortSideScale(size)
        h, w = x.shape[-2:]
        top, left = (h - size) // 2, (w - size) // 2
        x = x[..., top : top + size, left : left + size]  # CenterCropVideo(size)
        slow_idx = torch.linspace(0, x.shape[1] - 1, x.shape[1] // alpha).long()
        slow, fast = torch.index_select(x, 1, slow_idx), x  # PackPathway
        t1 = time.perf_counter()
        with torch.inference_mode():
            probs.append(model.predict(slow[None], fast[None]))
        model_s += time.perf_counter() - t1
        decode_s += t1 - t0
    return decode_s, model_s, torch.cat(probs)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", default=str(ROOT / "data_samples" / "bigbuckbunny_256p.mp4"))
    p.add_argument("--clips", type=int, default=10, help="windows scored (the paper's test: 10)")
    p.add_argument("--batch", type=int, default=5, help="views per forward pass in predict")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3,
                   help="repeats of every pipeline, the order reversed every other round; medians")  # fmt: skip
    p.add_argument("--out", help="also write the printed report to this file (e.g. "
                   "data_samples/results/predict_benchmark.txt)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.clips < 1 or args.batch < 1:
        p.error("--rounds, --clips and --batch must be >= 1")
    if args.out and Path(args.out).exists() and not args.force:
        p.error(f"{args.out} exists: --force to replace it")
    torch.set_num_threads(args.threads)
    import_pytorchvideo()  # registers the torchvision stand-in first
    load_before = os.getloadavg()[0]

    torch.manual_seed(0)
    model = build_model("slowfast_8x8_r50").eval()  # random weights: same work as trained ones
    cfg = model.config
    info = probe(args.video)
    span = clip_span(cfg.T, cfg.tau, cfg.alpha)
    starts = uniform_clip_starts(info.num_frames, cfg.T, cfg.tau, cfg.alpha, args.clips)
    with torch.inference_mode():  # warm-up: first-call allocations count for neither pipeline
        model(torch.zeros(1, 3, cfg.T, args.size, args.size),
              torch.zeros(1, 3, cfg.T * cfg.alpha, args.size, args.size))  # fmt: skip
    predictor = Predictor(model, "slowfast_8x8_r50", (), args.size, True, "rgb", "random")

    def ours(batch: int) -> tuple[float, float]:
        pred = predict_video(
            predictor, args.video, "test", num_clips=args.clips, crops=1, size=args.size,
            batch=batch, device="cpu", progress=False,
        )  # fmt: skip
        return pred.extra["decode_s"], pred.extra["model_s"]

    def ptv() -> tuple[float, float]:
        return ptv_tutorial(model, args.video, starts, info.fps, span, args.size, cfg.alpha)[:2]

    pipelines = {
        f"ours: predict, batch {args.batch}": lambda: ours(args.batch),
        "ours: predict, batch 1": lambda: ours(1),
        "PyTorchVideo tutorial, 1 clip/pass": ptv,
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in pipelines}
    for r in range(args.rounds):  # alternate the order: drifting load favours neither side
        for name in list(pipelines)[:: 1 if r % 2 == 0 else -1]:
            times[name].append(pipelines[name]())
            print(f"round {r + 1}: {name}: decode {times[name][-1][0]:.2f} s, model "
                  f"{times[name][-1][1]:.2f} s", file=sys.stderr, flush=True)  # fmt: skip
    load_after = os.getloadavg()[0]

    def median(xs: list[float]) -> float:
        xs = sorted(xs)
        half = len(xs) // 2
        return xs[half] if len(xs) % 2 else (xs[half - 1] + xs[half]) / 2

    lines = [
        f"{Path(args.video).name}: {info.num_frames} frames {info.width}x{info.height} at "
        f"{info.fps:g} fps; slowfast_8x8_r50 (random weights) at {args.size}, {args.clips} clips "
        f"x 1 crop; torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} cores",
        f"medians of {args.rounds} round(s), the order reversed every other round; clips/s of "
        "each round in brackets",
        f"{'pipeline':<36} {'clips':>5} {'decode s':>9} {'model s':>8} {'clips/s':>8}",
    ]
    med = []
    for name, runs in times.items():
        per = [args.clips / (d + m) for d, m in runs]
        med.append((median([d for d, _ in runs]), median([m for _, m in runs]), median(per)))
        d, m, rate = med[-1]
        each = ", ".join(f"{x:.3f}" for x in per)
        lines.append(f"{name:<36} {args.clips:>5} {d:>9.2f} {m:>8.2f} {rate:>8.3f}  [{each}]")
    (od, om, orate), (_, m1, rate1), (pd, pm, prate) = med
    lines += [
        f"ours batch {args.batch} / PTV: {orate / prate:.2f}x clips/s (decode "
        f"{pd / max(od, 1e-9):.1f}x faster, model {pm / max(om, 1e-9):.2f}x)",
        f"ours batch 1 / PTV: {rate1 / prate:.2f}x clips/s (the same forward passes: model "
        f"{pm / max(m1, 1e-9):.2f}x)",
        f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        command = "benchmarks/bench_predict.py " + " ".join(sys.argv[1:] if argv is None else argv)
        Path(args.out).write_text(f"$ {command}\n{text}\n")


if __name__ == "__main__":
    main()
