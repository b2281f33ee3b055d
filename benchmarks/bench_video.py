"""How long does one SlowFast clip take to read? Seek-and-decode vs decode-everything vs PyTorchVideo.

    .venv/bin/python benchmarks/bench_video.py [--repeats 5] [--threads 2]

Makes a 10 s 1280x720 25 fps H.264 video in a temp dir (moving texture; a keyframe every 2 s, as
in typical camera / web videos, and a second copy with x264's default of one keyframe per 250
frames), then times getting the 32 Fast frames of one 4x16 clip (raw frames 100..162, stride 2):

    ours            slowfast_lab.read_frames: seek to the keyframe before frame 100, decode
                    forward, convert only the 32 needed frames to RGB, stop after frame 162
    ours (cold)     the same plus `probe` (one demux pass over the file; normally cached)
    ours, AVI copy  the same video encoded into AVI, whose timestamps are in decode order: the
                    frame table comes from decoding the file once (cold: includes that pass)
    decode-all      decode every frame to RGB with PyAV, then index 32 of them
    PyTorchVideo    EncodedVideo (PyAV backend) .get_clip(4.0 s, 6.56 s), then every 2nd frame

Reports medians over --repeats runs: ms per clip, clip frames per second (32 / time), speed-up vs
decode-all, and the full-decode throughput (frames/s) for reference.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import types
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from slowfast_lab.sampling import sample_indices  # noqa: E402
from slowfast_lab.video import _DECODED_TABLES, _probe_cached, read_frames  # noqa: E402

W, H, FPS, SECONDS = 1280, 720, 25, 10
START = 100  # raw frame: 4 s in, so neither method starts at a lucky keyframe 0


def make_video(path: Path, gop: int) -> Path:
    """10 s of a drifting colour texture (not trivially compressible), encoded frame by frame."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (H // 8 + 2, W // 8 + 2, 3), dtype=np.uint8)
    texture = np.kron(small, np.ones((8, 8, 1), np.uint8))  # blocky, so x264 has real work
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.time_base = Fraction(1, FPS)
        for i in range(FPS * SECONDS):
            img = texture[(i % 16) : (i % 16) + H, (2 * i) % 16 : (2 * i) % 16 + W]
            img = np.ascontiguousarray(img)
            img[:40, : 40 + 4 * i] = 255  # a growing bar: every frame differs
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return path


def ours(path: Path, idx: list[int]) -> np.ndarray:
    return read_frames(path, idx)


def ours_cold(path: Path, idx: list[int]) -> np.ndarray:
    _probe_cached.cache_clear()
    _DECODED_TABLES.clear()
    return read_frames(path, idx)


def decode_all(path: Path, idx: list[int]) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    return np.stack([frames[i] for i in idx])


def import_encoded_video():
    """PyTorchVideo's EncodedVideo without torchvision (not installable on this CPU platform).

    pytorchvideo imports torchvision at import time. A stand-in `torchvision` module is enough
    for pytorchvideo.models, but `pytorchvideo.data/__init__` also imports every dataset class,
    and those need `torchvision.datasets.folder`; so, when the plain import fails, the package
    is registered without running its __init__ and only the EncodedVideo modules are loaded.
    """
    if "torchvision" not in sys.modules and importlib.util.find_spec("torchvision") is None:
        tv, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
        ops.RoIAlign = type("RoIAlign", (torch.nn.Module,), {})
        tv.ops = ops
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, ops
    try:
        from pytorchvideo.data.encoded_video import EncodedVideo

        return EncodedVideo, "plain import"
    except ImportError as err:
        first_error = f"{type(err).__name__}: {err}"
    for name in [m for m in sys.modules if m.startswith("pytorchvideo.data")]:
        del sys.modules[name]
    spec = importlib.util.find_spec("pytorchvideo")
    if spec is None:
        raise ImportError("pytorchvideo is not installed")
    data = types.ModuleType("pytorchvideo.data")
    data.__path__ = [os.path.join(os.path.dirname(spec.origin), "data")]
    sys.modules["pytorchvideo.data"] = data
    from pytorchvideo.data.encoded_video import EncodedVideo

    return EncodedVideo, f"package __init__ skipped ({first_error})"


def make_ptv(EncodedVideo):
    def ptv(path: Path, idx: list[int]) -> np.ndarray:
        video = EncodedVideo.from_path(str(path), decode_audio=False, decoder="pyav")
        start = Fraction(idx[0], FPS)
        end = Fraction(idx[-1] + 2, FPS)  # end is exclusive: the 64-frame window
        clip = video.get_clip(start, end)["video"]  # float [3, 64, H, W] in 0..255
        video.close()
        return clip[:, ::2].permute(1, 2, 3, 0).to(torch.uint8).numpy()

    return ptv


def timed(fn, *args, repeats: int) -> tuple[float, np.ndarray]:
    out = fn(*args)  # warm-up (file cache, lazy imports); also the result we check
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (PyTorchVideo)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _, idx = sample_indices(FPS * SECONDS, T=4, tau=16, alpha=8, start=START)
    methods = {"ours": ours, "ours (cold: + probe)": ours_cold, "decode-all + index": decode_all}
    methods["ours, AVI copy"] = lambda path, idx: ours(remuxed[path], idx)
    methods["ours (cold), AVI copy: + decode pass"] = lambda path, idx: ours_cold(
        remuxed[path], idx
    )
    remuxed: dict[Path, Path] = {}
    try:
        EncodedVideo, how = import_encoded_video()
        methods["PyTorchVideo EncodedVideo"] = make_ptv(EncodedVideo)
        print(f"PyTorchVideo EncodedVideo imported ({how})")
    except Exception as err:  # report why, keep the other rows
        print(f"PyTorchVideo EncodedVideo unavailable: {type(err).__name__}: {err}")

    print(f"clip: 32 Fast frames {idx[0]}..{idx[-1]} (stride 2) of {W}x{H} {FPS} fps, 10 s; "
          f"median of {args.repeats}; PyAV {av.__version__}, {os.cpu_count()} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for gop in (50, 250):
            path = make_video(Path(tmp) / f"bench_gop{gop}.mp4", gop)
            remuxed[path] = make_video(path.with_suffix(".avi"), gop)  # same frames, in AVI
            rows, reference = [], None
            for name, fn in methods.items():
                seconds, frames = timed(fn, path, idx, repeats=args.repeats)
                if reference is None:
                    reference = frames
                same = frames.shape == reference.shape and (
                    np.abs(frames.astype(int) - reference).mean() < 1.0
                )
                rows.append((name, seconds, same))
            base = dict((n, s) for n, s, _ in rows)["decode-all + index"]
            print(f"\nkeyframe every {gop} frames ({path.stat().st_size / 1e6:.1f} MB); full "
                  f"decode to RGB: {FPS * SECONDS / base:.0f} frames/s")  # fmt: skip
            print("| method | ms per clip | clip frames/s | vs decode-all | same frames |")
            print("|---|---|---|---|---|")
            for name, seconds, same in rows:
                print(f"| {name} | {seconds * 1e3:.0f} | {32 / seconds:.0f} | "
                      f"{base / seconds:.2f}x | {'yes' if same else 'NO'} |")  # fmt: skip


if __name__ == "__main__":
    main()
