"""`predict` against PyTorchVideo's tutorial pipeline: clips/s of SlowFast 8x8 R50 at 224 on the CPU,
on the same video, with the same model and weights, in the same run.

    .venv/bin/python benchmarks/bench_predict.py [--video data_samples/bigbuckbunny_256p.mp4]
        [--clips 10] [--batch 5] [--size 224] [--threads 2]

Both pipelines score the same `--clips` windows (the paper's uniform test clips of 8x8: 64 raw
frames each; one centre crop of `--size` on a short side of `--size`):

    ours   `predict.predict_video`: one decoding pass per batch of windows that decodes only
           the 32 Fast frames of each window (the Slow ones are every 4th of them), scaled down
           while decoding; `--batch` views in one forward pass.
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
The 1-minute load average is printed before and after: the machine may be shared.
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
    args = p.parse_args(argv)
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
    pred = predict_video(
        predictor, args.video, "test", num_clips=args.clips, crops=1, size=args.size,
        batch=args.batch, device="cpu", progress=False,
    )  # fmt: skip
    ours = (pred.extra["decode_s"], pred.extra["model_s"])
    ptv_decode, ptv_model, ptv_probs = ptv_tutorial(
        model, args.video, starts, info.fps, span, args.size, cfg.alpha
    )
    load_after = os.getloadavg()[0]

    rows = [
        (f"ours: predict, batch {args.batch}", *ours),
        ("PyTorchVideo tutorial, 1 clip/pass", ptv_decode, ptv_model),
    ]
    print(f"{Path(args.video).name}: {info.num_frames} frames {info.width}x{info.height} at "
          f"{info.fps:g} fps; slowfast_8x8_r50 (random weights) at {args.size}, {args.clips} clips "
          f"x 1 crop; torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} cores")  # fmt: skip
    print(f"{'pipeline':<36} {'clips':>5} {'decode s':>9} {'model s':>8} {'clips/s':>8}")
    rates = []
    for name, d, m in rows:
        rates.append(args.clips / (d + m))
        print(f"{name:<36} {args.clips:>5} {d:>9.2f} {m:>8.2f} {rates[-1]:>8.3f}")
    print(f"ratio ours / PTV: {rates[0] / rates[1]:.2f}x clips/s "
          f"(decode {rows[1][1] / max(rows[0][1], 1e-9):.1f}x faster, model "
          f"{rows[1][2] / max(rows[0][2], 1e-9):.2f}x)")  # fmt: skip
    agree = (pred.probs[:, 0].argmax(1) == ptv_probs.argmax(1)).float().mean()
    print(f"top-1 agreement between the pipelines per clip: {agree:.2f} (random weights)")
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after")


if __name__ == "__main__":
    main()
