"""Video decoding: exact frame indices across codecs, probing, and a VideoError for every broken file.

All videos are made here (tmp dirs) with `slowfast_lab.video.write_video`; frames carry their own
index (`numbered_frames`), so "the frame returned is frame i" is checked on the pixels.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import av
import numpy as np
import pytest

import slowfast_lab as sfl
from slowfast_lab.video import (
    VideoError,
    frame_number,
    iter_frames,
    numbered_frames,
    probe,
    read_frames,
    write_video,
)

N = 150  # frames in the numbered videos (6 s at 25 fps)
GOP = 25  # a keyframe every second, like most real videos


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:
        return False


CODECS = [  # (id, codec, extension, quality)
    ("mp4-h264", "libx264", "mp4", 18),
    ("mp4-mpeg4", "mpeg4", "mp4", 2),
    ("webm-vp9", "libvpx-vp9", "webm", 20),
]


@pytest.fixture(scope="module", params=CODECS, ids=[c[0] for c in CODECS])
def numbered(request, tmp_path_factory):
    _, codec, ext, quality = request.param
    if not _has_encoder(codec):
        pytest.skip(
            f"this PyAV/FFmpeg build has no {codec} encoder; cannot make a .{ext} test file"
        )
    path = tmp_path_factory.mktemp("v") / f"numbered.{ext}"
    write_video(path, numbered_frames(N, 96, 160), 25, codec, gop=GOP, quality=quality)
    return path


def _numbers(frames: np.ndarray) -> list[int]:
    return [frame_number(f) for f in frames]


# ------------------------------------------------------------------------------------------------
# Exact frames
# ------------------------------------------------------------------------------------------------


def test_sequential_decode_gives_every_frame_in_order(numbered):
    assert _numbers(np.stack(list(iter_frames(numbered)))) == list(range(N))


def test_requested_indices_are_exactly_the_frames_returned(numbered):
    rng = np.random.default_rng(1)
    for _ in range(12):
        idx = rng.choice(N, size=int(rng.integers(1, 40)), replace=True).tolist()  # any order
        assert _numbers(read_frames(numbered, idx)) == idx


def test_load_clip_frames_match_its_indices(numbered):
    clip = sfl.load_clip(numbered, T=4, tau=16, alpha=8, start=70)
    assert clip.slow_indices == [70, 86, 102, 118]
    assert _numbers(clip.slow) == clip.slow_indices
    assert _numbers(clip.fast) == clip.fast_indices == list(range(70, 133, 2))
    assert clip.slow.dtype == np.uint8 and clip.fast.shape == (32, 96, 160, 3)
    assert clip.fps == pytest.approx(25)


def test_late_clip_decodes_from_the_nearest_keyframe_not_from_the_start(numbered):
    stats = {}
    frames = read_frames(numbered, list(range(110, 142, 2)), stats=stats)
    assert _numbers(frames) == list(range(110, 142, 2))
    # The keyframe before 110 is 100: about 42 frames, never the 142 a decode-from-0 would need.
    assert stats["decoded"] < 60, stats
    assert stats["converted"] == 16  # only the frames asked for become RGB arrays


def test_probe_counts_frames_from_the_stream(numbered):
    info = probe(numbered)
    assert info.num_frames == N
    assert info.fps == pytest.approx(25)
    assert info.duration == pytest.approx(N / 25, abs=0.05)
    assert (info.width, info.height) == (160, 96)
    assert info.keyframes[0] == 0 and all(k % GOP == 0 for k in info.keyframes)
    if numbered.suffix == ".webm":  # WebM has no frame count in its header: we counted
        assert info.header_frames is None and "no frame count" in info.summary()


def test_short_side_scaling_while_decoding(numbered):
    frames = read_frames(numbered, [3, 4], short_side=48)
    assert frames.shape == (2, 48, 80, 3)


def test_rgb_channel_order(numbered):
    frame = read_frames(numbered, [N - 1])[0]
    bar = frame[-3:, 10:-10].reshape(-1, 3).mean(0)  # numbered_frames draws a red bar
    assert bar[0] > 150 and bar[1] < 80 and bar[2] < 80


# ------------------------------------------------------------------------------------------------
# Unusual sources: rotation, odd sizes, grayscale, 10-bit, variable frame rate
# ------------------------------------------------------------------------------------------------


def test_rotation_metadata_is_applied(tmp_path):
    img = np.zeros((4, 48, 64, 3), np.uint8)
    img[:, :8, :8] = 255  # white marker in the top-left corner
    path = write_video(tmp_path / "rot.mp4", img, rotation=90)  # display: 90 deg counter-clockwise
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    frame = read_frames(path, [0])[0]
    assert frame.shape == (64, 48, 3)
    # a counter-clockwise turn moves the top-left corner to the bottom-left
    assert frame[-6:, :6].mean() > 200 and frame[:6, :6].mean() < 50


def test_odd_size_4_4_4_source(tmp_path):
    path = write_video(tmp_path / "odd.mp4", numbered_frames(30, 97, 131), pix_fmt="yuv444p")
    frames = read_frames(path, [0, 29, 7])
    assert frames.shape == (3, 97, 131, 3) and _numbers(frames) == [0, 29, 7]


def test_grayscale_source_becomes_rgb(tmp_path):
    if not _has_encoder("ffv1"):
        pytest.skip("no ffv1 encoder to make a grayscale file")
    path = write_video(tmp_path / "gray.mkv", numbered_frames(20), codec="ffv1", pix_fmt="gray")
    assert probe(path).pix_fmt == "gray"
    frames = read_frames(path, [5, 19])
    assert frames.dtype == np.uint8 and frames.shape[-1] == 3
    assert np.array_equal(frames[..., 0], frames[..., 1]) and _numbers(frames) == [5, 19]


def test_ten_bit_source_becomes_8_bit_rgb(tmp_path):
    path = tmp_path / "p10.mp4"
    try:
        write_video(path, numbered_frames(30), pix_fmt="yuv420p10le", quality=10)
    except av.error.FFmpegError as err:
        pytest.skip(f"this libx264 cannot encode 10-bit: {err}")
    assert "10" in probe(path).pix_fmt
    frames = read_frames(path, [12, 3])
    assert frames.dtype == np.uint8 and _numbers(frames) == [12, 3]


def test_variable_frame_rate_frames_are_numbered_by_position(tmp_path):
    path = tmp_path / "vfr.mkv"
    gaps = [40, 40, 80, 20, 120, 40] * 10  # ms between frames
    frames = numbered_frames(len(gaps))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 128, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.codec_context.gop_size = 12
        pts = 0
        for img, gap in zip(frames, gaps, strict=True):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
            pts += gap
        out.mux(stream.encode())
    info = probe(path)
    assert info.num_frames == len(gaps) and info.variable_frame_rate
    idx = [58, 1, 30, 31, 44]
    assert _numbers(read_frames(path, idx)) == idx


# ------------------------------------------------------------------------------------------------
# Broken files: always a VideoError naming the file, never a raw PyAV exception
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_mp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.mp4"
    return write_video(path, numbered_frames(N, 96, 160), 25, gop=GOP, quality=18)


def _error(path, *fragments, call=probe):
    with pytest.raises(VideoError) as info:
        call(path)
    message = str(info.value)
    assert str(path.name) in message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, ValueError)
    return message


def test_missing_file(tmp_path):
    _error(tmp_path / "nope.mp4", "no such file")


def test_directory(tmp_path):
    (tmp_path / "clips.mp4").mkdir()
    _error(tmp_path / "clips.mp4", "directory")


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    _error(tmp_path / "empty.mp4", "empty", call=lambda p: sfl.load_clip(p))


def test_text_renamed_to_mp4(tmp_path):
    path = tmp_path / "page.mp4"
    path.write_text("<!DOCTYPE html><html><body>403 Forbidden</body></html>\n")
    _error(path, "text file", "403 Forbidden", call=lambda p: sfl.load_clip(p))


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _error(path, "re-encode")


def test_truncated_mp4_without_index(tmp_path, good_mp4):
    data = good_mp4.read_bytes()  # ffmpeg writes the 'moov' index at the end: cut it off
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    _error(path, "truncated MP4", "'moov'", call=lambda p: sfl.load_clip(p))


def test_damaged_mp4_index(tmp_path, good_mp4):
    data = bytearray(good_mp4.read_bytes())
    moov = data.rfind(b"moov") - 4
    data[moov : moov + 8] = b"\xff" * 8  # the index box's header
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    _error(path, "damaged MP4", f"byte {moov}")


def test_truncated_webm_reports_the_frames_it_has(tmp_path):
    src = write_video(tmp_path / "full.webm", numbered_frames(N, 96, 160), codec="libvpx-vp9")
    data = src.read_bytes()
    path = tmp_path / "cut.webm"
    path.write_bytes(data[: len(data) // 2])
    info = probe(path)
    assert 0 < info.num_frames < N
    start = info.num_frames - 10
    # what is there decodes exactly; a window past the cut is a clear error
    assert _numbers(read_frames(path, [0, start])) == [0, start]
    _error(path, "too few frames", "pad=True", call=lambda p: sfl.load_clip(p, start=start))


def test_audio_only_file(tmp_path):
    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        samples = np.zeros((1, 16000), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    _error(path, "no video stream", "audio", call=lambda p: sfl.load_clip(p))


def test_corrupt_frames_never_raise_raw_pyav_errors(tmp_path, good_mp4):
    data = good_mp4.read_bytes()
    mdat = data.find(b"mdat") + 4
    end = mdat + int.from_bytes(data[mdat - 8 : mdat - 4], "big") - 8
    rng = np.random.default_rng(0)
    for trial in range(6):  # garbage over compressed frames, here and there in the 'mdat' box
        bad = bytearray(data)
        at = mdat + (end - mdat) * (trial + 1) // 8
        bad[at : at + 400] = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
        path = tmp_path / f"corrupt{trial}.mp4"
        path.write_bytes(bytes(bad))
        try:  # a clip (the decoder concealed the damage) or a VideoError; nothing else escapes
            clip = sfl.load_clip(path, T=4, tau=8, alpha=4, start=40)
            assert clip.fast.shape == (16, 96, 160, 3)
        except VideoError as err:
            assert path.name in str(err)


def test_index_out_of_range(good_mp4):
    with pytest.raises(VideoError, match="out of range"):
        read_frames(good_mp4, [N])


# ------------------------------------------------------------------------------------------------
# Short videos: an error by default, repeat-last-frame padding with a warning on request
# ------------------------------------------------------------------------------------------------


def test_short_video_is_an_error_that_says_what_would_work(tmp_path):
    path = write_video(tmp_path / "short.mp4", numbered_frames(40))
    message = _error(path, "too few frames", call=lambda p: sfl.load_clip(p, T=4, tau=16))
    assert "0..62" in message and "40" in message and "pad=True" in message


def test_short_video_padding_repeats_the_last_frame_and_warns(tmp_path):
    path = write_video(tmp_path / "short.mp4", numbered_frames(40))
    with pytest.warns(UserWarning, match="repeated"):
        clip = sfl.load_clip(path, T=4, tau=16, alpha=8, pad=True)
    assert clip.fast_indices[:20] == list(range(0, 40, 2)) and clip.fast_indices[20:] == [39] * 12
    assert clip.padded == 12
    assert _numbers(clip.fast) == clip.fast_indices
    assert _numbers(clip.slow) == [0, 16, 32, 39]


def test_a_clip_that_fits_does_not_warn(good_mp4):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sfl.load_clip(good_mp4, pad=True)
