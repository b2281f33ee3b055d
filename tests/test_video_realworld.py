"""Frame-exact decoding of files as real-world tools make them (issue 16).

Each case is built here with PyAV (small files in a tmp dir). Frames carry their own index
(`numbered_frames`), so every frame `load_clip` / `load_uniform_clips` / `read_frames` returns is
checked against decoding the whole file in order with plain PyAV (`_reference`): the same frame,
or a `VideoError` that names the file and the frame.
"""

from __future__ import annotations

import re

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
)

N = 96  # frames per test video
H, W = 64, 128


def _require(codec: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV/FFmpeg build has no {codec} codec (av.codecs_available)")


def _encode(path, codec, frames=None, *, options=None, pix_fmt="yuv420p", gop=16, rotation=0,
            on_packet=None):  # fmt: skip
    """Encode numbered frames with PyAV; `on_packet(out, stream, packet)` may rewrite the mux."""
    _require(codec)
    frames = numbered_frames(N, H, W) if frames is None else frames
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25, options=dict(options or {}))
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        mux = on_packet or (lambda out, stream, packet: out.mux(packet))
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                mux(out, stream, packet)
        for packet in stream.encode():
            mux(out, stream, packet)
    return path


def _reference(path, stream_index: int | None = None) -> dict:
    """Decode every frame in order with plain PyAV: {"numbers": [...], "pts": [...]}, upright."""
    numbers, pts = [], []
    with av.open(str(path)) as container:
        stream = container.streams[stream_index] if stream_index is not None else None
        stream = stream or container.streams.video[0]
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue  # damaged packet: its frame is missing from the reference
            for frame in frames:
                rgb = frame.to_ndarray(format="rgb24")
                if frame.rotation:
                    rgb = np.rot90(rgb, k=(int(frame.rotation) % 360) // 90)
                numbers.append(frame_number(rgb))
                pts.append(frame.pts)
    return {"numbers": numbers, "pts": pts}


def _numbers(frames) -> list[int]:
    return [frame_number(f) for f in frames]


def _assert_exact(path, ref: dict) -> None:
    """Every access path gives exactly the reference frames (a valid file: no error allowed)."""
    n = len(ref["numbers"])
    assert probe(path).num_frames == n
    for start in [0, 5, n // 3, n // 2 + 1, n - 32]:  # load_clip: 16 frames, stride 2
        clip = sfl.load_clip(path, T=4, tau=8, alpha=4, start=start)
        assert _numbers(clip.fast) == [ref["numbers"][i] for i in clip.fast_indices], start
        assert _numbers(clip.slow) == [ref["numbers"][i] for i in clip.slow_indices], start
    clips = sfl.load_uniform_clips(path, num_clips=6, T=4, tau=8, alpha=4, short_side=None)
    for clip in clips:
        assert _numbers(clip.fast) == [ref["numbers"][i] for i in clip.fast_indices]
    rng = np.random.default_rng(0)
    idx = rng.choice(n, size=24, replace=True).tolist()
    assert _numbers(read_frames(path, idx)) == [ref["numbers"][i] for i in idx]


# ------------------------------------------------------------------------------------------------
# Valid files whose timestamps are not display order
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "codec, options",
    [("mpeg4", {"bf": "2", "qscale": "3"}), ("libx264", {"bf": "3", "crf": "18"})],
    ids=["mpeg4", "h264"],
)
def test_avi_with_b_frames(tmp_path, codec, options):
    # AVI stores decode-order times: sorting packets by them scrambles B-frames (UCF-101, HMDB-51)
    path = _encode(tmp_path / f"{codec}.avi", codec, options=options, gop=12)
    _assert_exact(path, _reference(path))


def test_avi_with_packed_b_frames(tmp_path):
    # DivX / Xvid "packed bitstream" (as in UCF-101): a P-frame and the B-frame shown before it
    # share one AVI chunk, and a tiny N-VOP chunk holds the B-frame's place in time.
    src = _encode(tmp_path / "plain.avi", "mpeg4", options={"bf": "1", "qscale": "3"}, gop=12)

    def divx(data: bytes) -> bytes:  # the user data that tells decoders "packed" ('p')
        return re.sub(rb"\x00\x00\x01\xb2Lavc[^\x00]*", b"\x00\x00\x01\xb2DivX503b1393p", data)

    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        packets = [(bytes(p), p.pts, p.is_keyframe) for p in container.demux(stream) if p.size]
        chunks, j = [], 0
        while j < len(packets):
            data, pts, key = packets[j]
            if j + 1 < len(packets) and packets[j + 1][1] < pts:  # next: a B-frame shown first
                chunks += [
                    (divx(data) + packets[j + 1][0], key),
                    (b"\x00\x00\x01\xb6\x50\x4f", False),
                ]
                j += 2
            else:
                chunks.append((divx(data), key))
                j += 1
        path = tmp_path / "packed.avi"
        with av.open(str(path), "w") as out:
            packed = out.add_stream_from_template(stream)
            packed.codec_context.extradata = divx(stream.codec_context.extradata)
            packed.codec_tag = "XVID"
            for n, (data, key) in enumerate(chunks):
                packet = av.Packet(data)
                packet.pts = packet.dts = n
                packet.time_base, packet.stream, packet.is_keyframe = stream.time_base, packed, key
                out.mux(packet)
    ref = _reference(path)
    assert ref["numbers"] == list(range(N))
    _assert_exact(path, ref)


def test_vp8_hidden_alt_ref_frames_are_not_counted(tmp_path):
    # libvpx makes alt-ref frames: decoded but never shown, muxed as their own packet with the
    # timestamp of the next shown frame. FFmpeg's libvpx wrapper does not emit them separately,
    # so hidden copies of keyframes are inserted: the decoder shows the same 96 frames.
    def with_hidden(out, stream, packet):
        if packet.is_keyframe and packet.pts:
            data = bytearray(bytes(packet))
            data[0] &= 0xEF  # clear VP8 show_frame
            hidden = av.Packet(bytes(data))
            hidden.pts, hidden.dts, hidden.time_base = packet.pts, packet.dts, packet.time_base
            hidden.stream = stream
            out.mux(hidden)
        out.mux(packet)

    options = {"auto-alt-ref": "1", "lag-in-frames": "16", "crf": "10", "b": "1M"}
    path = _encode(tmp_path / "alt.webm", "libvpx", options=options, on_packet=with_hidden)
    ref = _reference(path)
    assert ref["numbers"] == list(range(N))
    info = probe(path)
    assert info.num_frames == N and "hidden" in info.summary()
    _assert_exact(path, ref)


def test_mpeg_ts_open_gop(tmp_path):
    options = {"bf": "2", "flags": "-cgop", "qscale": "3"}
    path = _encode(tmp_path / "open.ts", "mpeg2video", options=options, gop=12)
    _assert_exact(path, _reference(path))


def test_h264_444_seeking_mid_file(tmp_path):
    path = _encode(tmp_path / "hi444.mp4", "libx264", options={"crf": "18"}, pix_fmt="yuv444p")
    ref = _reference(path)
    stats = {}
    frames = read_frames(path, list(range(50, 82, 2)), stats=stats)
    assert _numbers(frames) == [ref["numbers"][i] for i in range(50, 82, 2)]
    assert stats["seeks"] >= 1 and stats["decoded"] < 50  # it did seek (keyframe 48)
    _assert_exact(path, ref)


def test_seek_to_a_frame_wrongly_flagged_keyframe_is_verified(tmp_path):
    # A broken container index that flags every frame as a keyframe: a seek lands on a P-frame
    # and the decoder makes grey/garbage pictures from missing references, without an error.
    src = _encode(tmp_path / "src.mp4", "mpeg4", options={"bf": "2", "qscale": "3"}, gop=32)
    path = tmp_path / "allkeys.mp4"
    with av.open(str(src)) as container, av.open(str(path), "w") as out:
        stream = container.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in container.demux(stream):
            if packet.size:
                packet.is_keyframe, packet.stream = True, copy
                out.mux(packet)
    assert len(probe(path).keyframes) == N  # the case is what it claims
    ref = _reference(path)
    assert ref["numbers"] == list(range(N))
    _assert_exact(path, ref)
    stats = {}
    read_frames(path, list(range(70, 90, 2)), stats=stats)
    assert stats["decoded"] < 60, stats  # learnt keyframes: no decode from the start


def test_mp4_edit_list_from_b_frames(tmp_path):
    # B-frames delay display: MP4 writes an edit list and the first packets have negative dts
    path = _encode(tmp_path / "edit.mp4", "libx264", options={"bf": "3", "crf": "18"})
    with av.open(str(path)) as container:
        dts = [p.dts for p in container.demux(video=0) if p.size]
    assert min(dts) < 0  # the case is what it claims
    _assert_exact(path, _reference(path))


def test_rotation_with_b_frames(tmp_path):
    frames = numbered_frames(N, 128, 96)  # stored portrait, displayed landscape after 90 deg
    path = _encode(tmp_path / "rot.mp4", "libx264", frames=np.rot90(frames, k=-1, axes=(1, 2)),
                   options={"bf": "2"}, rotation=90)  # fmt: skip
    assert probe(path).rotation == 90
    ref = _reference(path)
    assert ref["numbers"] == list(range(N))
    _assert_exact(path, ref)


def test_the_default_video_stream_is_read_and_named(tmp_path):
    _require("libx264")
    path = tmp_path / "two.mkv"
    first, second = numbered_frames(N, H, W), numbered_frames(N, H, W)[::-1]
    with av.open(str(path), "w") as out:
        streams = [out.add_stream("libx264", rate=25) for _ in range(2)]
        for stream in streams:
            stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        streams[0].disposition = av.stream.Disposition(0)
        streams[1].disposition = av.stream.Disposition.default  # players show this one
        for a, b in zip(first, second, strict=True):
            for stream, image in zip(streams, (a, b), strict=True):
                out.mux(stream.encode(av.VideoFrame.from_ndarray(image.copy(), format="rgb24")))
        for stream in streams:
            out.mux(stream.encode())
    ref = _reference(path, stream_index=1)
    assert ref["numbers"] == list(range(N - 1, -1, -1))
    _assert_exact(path, ref)
    info = probe(path)
    assert (info.stream_index, info.video_streams) == (1, 2)
    assert "#1" in info.summary() and "default" in info.summary()


# ------------------------------------------------------------------------------------------------
# Damaged files: the clean frames, or a VideoError naming the file and the frame
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, codec, options",
    [("mid.mp4", "libx264", {"crf": "18"}), ("mid.avi", "mpeg4", {"bf": "2", "qscale": "3"})],
)
def test_damage_in_the_middle_is_an_error_not_pixels(tmp_path, name, codec, options):
    good = _encode(tmp_path / f"good_{name}", codec, options=options, gop=32)
    with av.open(str(good)) as container:
        where = [p.pos for p in container.demux(video=0) if p.size]
    data = bytearray(good.read_bytes())
    at = where[45] + 20  # inside the frame data of packet 45 (second GOP: frames 32..63)
    data[at : at + 300] = np.random.default_rng(0).integers(0, 256, 300, np.uint8).tobytes()
    path = tmp_path / name
    path.write_bytes(bytes(data))
    assert _reference(good)["numbers"] == list(range(N))  # undamaged: frame i shows i
    errors = 0
    for start in range(0, N - 31, 4):
        try:
            clip = sfl.load_clip(path, T=4, tau=8, alpha=4, start=start)
        except VideoError as err:
            errors += 1
            assert path.name in str(err) and "frame" in str(err), err
            continue
        # returned frames are undamaged: exactly the frame encoded there
        assert _numbers(clip.fast) == clip.fast_indices, start
    assert errors > 0  # clips over the damaged GOP are refused
    with pytest.raises(VideoError, match=rf"{name}: frame \d+ "):
        list(iter_frames(path))  # the sequential reader refuses the damaged frames too
    early = sfl.load_clip(path, T=4, tau=4, alpha=4, start=0)  # before the damage: fine
    assert _numbers(early.fast) == list(range(16))


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_file_cut_before_a_keyframe(tmp_path, codec):
    # A file whose first packets are P-frames (cut mid-GOP): the packets count 86 frames. The
    # h264 decoder skips them (64 frames out); mpeg4 makes grey pictures from missing references.
    src = _encode(tmp_path / "src.mp4", codec, options={"bf": "0"}, gop=32)
    path = tmp_path / "cut.mp4"
    with av.open(str(src)) as container, av.open(str(path), "w") as out:
        stream = container.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for n, packet in enumerate(p for p in container.demux(stream) if p.size):
            if n >= 10:
                packet.stream = copy
                out.mux(packet)
    ref = _reference(path)
    if codec == "libx264":  # the count is corrected while reading; the clips are re-planned
        clips = sfl.load_uniform_clips(path, num_clips=4, T=4, tau=8, alpha=4, short_side=None)
        for clip in clips:
            assert _numbers(clip.fast) == [ref["numbers"][i] for i in clip.fast_indices]
        assert probe(path).num_frames == len(ref["numbers"]) == N - 32
        _assert_exact(path, ref)
    else:  # frames 0..21 exist but cannot be right: an error, never grey pixels
        for load in (
            lambda: sfl.load_clip(path, T=4, tau=8, alpha=4, start=0),
            lambda: sfl.load_uniform_clips(path, num_clips=4, T=4, tau=8, alpha=4),
        ):
            with pytest.raises(VideoError, match=r"cut\.mp4: frame 0 "):
                load()
        clip = sfl.load_clip(path, T=4, tau=8, alpha=4, start=30)
        assert _numbers(clip.fast) == [ref["numbers"][i] for i in clip.fast_indices]
