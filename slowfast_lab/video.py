"""Video files in: probing and exact, seek-based frame decoding with PyAV.

A frame's *index* is its position in presentation (display) order: frame 0 is the first frame a
player shows. Everything in `slowfast_lab` that speaks of "raw frame i" means this index.

How a clip is read (`read_frames`):

    1. probe: demux every packet once (no decoding) and sort their presentation timestamps (pts).
       frame i  <->  i-th smallest pts. This gives the true frame count and the keyframes even when
       the header has none or a wrong one (WebM/VP9, Matroska, variable frame rate, cut files).
    2. seek:  jump to the last keyframe at or before the first frame we need
              (a decoder can only start at a keyframe: other frames are stored as differences).
    3. decode forward, converting only the frames we need to RGB, and stop after the last one.
       If the next needed frame lies past another keyframe, seek again instead of decoding the gap.

Every failure raises `VideoError` (a ValueError) whose message names the file, says what is wrong
and what would work; no raw PyAV exception reaches the caller.
"""

from __future__ import annotations

import bisect
import functools
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

PathLike = str | os.PathLike


class VideoError(ValueError):
    """An unreadable or unusable video. The message names the file and what would work."""


# ------------------------------------------------------------------------------------------------
# Probing
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, measured from its stream (see `probe`).

    `width` x `height` is the size frames are returned at (after applying rotation metadata).
    `header_frames` is what the container claims (None when it says nothing); `num_frames` is counted.
    `keyframes` are the indices of frames a decoder can start from. `notes` lists what differed from
    the header or needs care (missing frame count, variable frame rate, rotation, truncation).
    """

    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str
    pix_fmt: str
    rotation: int
    has_audio: bool
    header_frames: int | None
    keyframes: tuple[int, ...]
    variable_frame_rate: bool
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a lesson: `clip.mp4: 132 frames, 25 fps, 5.28 s, 456x256, h264 ...`."""
        text = (
            f"{Path(self.path).name}: {self.num_frames} frames, {self.fps:.4g} fps"
            f"{' (variable)' if self.variable_frame_rate else ''}, {self.duration:.2f} s, "
            f"{self.width}x{self.height}, {self.codec} {self.pix_fmt}, "
            f"{len(self.keyframes)} keyframes"
        )
        return text + (f"; {'; '.join(self.notes)}" if self.notes else "")


@dataclass(frozen=True)
class _Index:
    """The stream's frame table from one demux pass: frame i has presentation timestamp pts[i]."""

    pts: tuple[int, ...]  # sorted presentation timestamps, one per frame (empty if positional)
    keyframes: tuple[int, ...]  # frame indices of keyframes, ascending
    num_frames: int
    positional: bool  # no usable timestamps: frames are numbered in decoding order, no seeking
    read_error: str | None  # the demuxer stopped early (truncated or corrupt data)

    @functools.cached_property
    def frame_of_pts(self) -> dict[int, int]:
        return {p: i for i, p in enumerate(self.pts)}


def probe(path: PathLike) -> VideoInfo:
    """Open `path`, count its frames from the stream and decode its first frame.

    Cost: reads every packet header once (no decoding; a few ms per thousand frames) and decodes one
    frame. The result is cached per file (path, size, modification time).
    """
    path = _check_path(path)
    stat = os.stat(path)
    return _probe_cached(path, stat.st_size, stat.st_mtime_ns)[0]


@functools.lru_cache(maxsize=64)
def _probe_cached(path: str, size: int, mtime_ns: int) -> tuple[VideoInfo, _Index]:
    with _open(path) as container:
        stream = _video_stream(container, path)
        index = _scan(container, stream, path)
    with _open(path) as container:  # a fresh start: some inputs cannot seek back
        stream = _video_stream(container, path)
        first = _first_frame(container, stream, path)
        ctx = stream.codec_context
        header = stream.frames or None
        fps, vfr, fps_note = _frame_rate(stream, index)
        rotation = int(first.rotation or 0) % 360
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        notes = []
        if header is None:
            notes.append(f"the container gives no frame count; counted {index.num_frames}")
        elif header != index.num_frames:
            notes.append(f"the header says {header} frames; the stream holds {index.num_frames}")
        if fps_note:
            notes.append(fps_note)
        if rotation:
            notes.append(f"rotation metadata {rotation} deg: frames are returned upright")
        if index.read_error:
            notes.append(f"reading stopped early ({index.read_error}): truncated or corrupt")
        if index.positional:
            notes.append("no timestamps: frames are numbered in decoding order, no seeking")
        info = VideoInfo(
            path=path,
            num_frames=index.num_frames,
            fps=fps,
            duration=_duration(index, stream, fps),
            width=width,
            height=height,
            codec=ctx.name,
            pix_fmt=first.format.name,
            rotation=rotation,
            has_audio=bool(container.streams.audio),
            header_frames=header,
            keyframes=index.keyframes,
            variable_frame_rate=vfr,
            notes=tuple(notes),
        )
        return info, index


def _check_path(path: PathLike) -> str:
    """The absolute path as a string, after the checks that need no decoder."""
    p = Path(path).expanduser()
    if not p.exists():
        raise VideoError(f"{p}: no such file (working directory: {Path.cwd()})")
    if p.is_dir():
        raise VideoError(f"{p}: is a directory; give the path of a video file inside it")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: the file is empty (0 bytes); the download or copy probably failed")
    return str(p.resolve())


def _open(path: str) -> av.container.InputContainer:
    try:
        return av.open(path, mode="r", metadata_errors="ignore")
    except PermissionError as err:
        raise VideoError(f"{path}: cannot be read (permission denied)") from err
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise VideoError(f"{path}: {_why_unreadable(path, err)}") from err


def _why_unreadable(path: str, err: Exception) -> str:
    """Turn FFmpeg's open error into a diagnosis a learner can act on."""
    with open(path, "rb") as f:
        head = f.read(512)
    if _looks_like_text(head):
        start = head[:60].decode("utf-8", "replace").strip().replace("\n", " ")
        return (
            f"is not a video but a text file (it starts with {start!r}); often an HTML error "
            "page saved under a video name: download the file again"
        )
    mp4 = _mp4_problem(path)
    if mp4:
        return f"{mp4}; download or export it again, or re-encode a copy that plays"
    message = str(err)
    return (
        f"FFmpeg cannot read it as a video ({type(err).__name__}: {message}); the file is "
        "corrupt, truncated or not a video. Check that it plays in a media player, or re-encode "
        "it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"
    )


def _mp4_problem(path: str) -> str | None:
    """For MP4/MOV files (ISO boxes: size, type), say what is broken in the box layout, if anything.

    ffmpeg writes the 'moov' box (the index of every frame) at the end of the file, so a cut-off
    recording or download has its frames ('mdat') but no index, and cannot be opened.
    """
    size = os.path.getsize(path)
    seen = []
    with open(path, "rb") as f:
        if f.read(8)[4:8] != b"ftyp":
            return None
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            header = f.read(16)
            box, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if box == 1 and len(header) == 16:
                box = int.from_bytes(header[8:16], "big")
            elif box == 0:
                box = size - pos
            if not kind.isalnum() or box < 8:
                return f"is a damaged MP4: unreadable box structure at byte {pos}"
            name = kind.decode("ascii", "replace")
            if pos + box > size:
                return (
                    f"is a truncated MP4: its '{name}' box needs {box} bytes but the file ends "
                    f"{pos + box - size} bytes early"
                    + ("" if b"moov" in seen else ", before the 'moov' index of the frames")
                )
            seen.append(kind)
            pos += box
    if b"moov" not in seen:
        return "is a truncated MP4: it has no 'moov' box (the index of its frames)"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch >= 32 or ch in b"\t\n\r\f" for ch in head)


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.VideoStream:
    """The first real video stream (cover art in audio files is a 'video' stream too: skip it)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            if stream.codec_context is None:
                raise VideoError(
                    f"{path}: this FFmpeg build has no decoder for its video codec; re-encode "
                    "it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"
                )
            return stream
    others = ", ".join(
        f"{len(group)} {kind}"
        for kind, group in (
            ("audio", container.streams.audio),
            ("subtitle", container.streams.subtitles),
            ("cover-art image", container.streams.video),
        )
        if group
    )
    held = f" (it holds {others} stream(s))" if others else ""
    return _raise(f"{path}: has no video stream{held}; SlowFast needs a file with moving pictures")


def _raise(message: str):
    raise VideoError(message)


def _scan(container, stream, path: str) -> _Index:
    """Demux every packet of `stream` (no decoding) into the frame table."""
    packets: list[tuple[int | None, int | None, bool]] = []
    read_error = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue  # the end-of-stream marker, or a packet the container says to drop
            packets.append((packet.pts, packet.dts, packet.is_keyframe))
    except (av.error.FFmpegError, OSError) as err:
        read_error = f"{type(err).__name__}: {err}"
    if not packets:
        why = f" ({read_error})" if read_error else ""
        raise VideoError(
            f"{path}: its video stream holds no frames{why}; the file is empty, truncated or "
            "corrupt. Check that it plays in a media player"
        )
    all_pts = [p[0] for p in packets]
    positional = None in all_pts or len(set(all_pts)) != len(all_pts)
    if positional:  # raw streams (.h264, some .avi) carry no timestamps: number in decode order
        keys = tuple(i for i, p in enumerate(packets) if p[2])
        return _Index((), keys, len(packets), True, read_error)
    order = sorted(range(len(packets)), key=lambda i: all_pts[i])
    pts = tuple(all_pts[i] for i in order)
    rank_of = {i: rank for rank, i in enumerate(order)}
    keyframes = sorted(rank_of[i] for i, p in enumerate(packets) if p[2])
    return _Index(pts, tuple(keyframes), len(pts), False, read_error)


def _first_frame(container, stream, path: str) -> av.VideoFrame:
    """Decode the first frame (checks the stream is decodable; gives true size and rotation)."""
    for frame in _decode(container, stream, {}):
        return frame
    raise VideoError(
        f"{path}: has a {stream.codec_context.name} video stream but not one frame could be "
        "decoded; the file is corrupt or truncated. Check it in a media player or re-encode it"
    )


def _frame_rate(stream, index: _Index) -> tuple[float, bool, str | None]:
    """(fps, variable?, note): the stream's rate, checked against the measured timestamps."""
    rate = stream.average_rate or stream.guessed_rate
    header_fps = float(rate) if rate else 0.0
    if index.positional or index.num_frames < 2:
        return (header_fps or 25.0), False, (None if header_fps else "no frame rate: assumed 25")
    steps = np.diff(np.asarray(index.pts, dtype=np.int64))
    tb = float(stream.time_base)
    measured = (index.num_frames - 1) / ((index.pts[-1] - index.pts[0]) * tb)
    vfr = bool(steps.max() > 1.02 * steps.min() + 1)  # +1 tick: rounding of 1/1000 time bases
    if header_fps and abs(header_fps - measured) <= 0.01 * measured:
        return header_fps, vfr, ("variable frame rate" if vfr else None)
    note = f"measured {measured:.4g} fps from timestamps"
    note += f" (the header says {header_fps:.4g})" if header_fps else ""
    return measured, vfr, note + ("; variable frame rate" if vfr else "")


def _duration(index: _Index, stream, fps: float) -> float:
    if index.positional or index.num_frames < 2:
        return index.num_frames / fps
    return float((index.pts[-1] - index.pts[0]) * stream.time_base) + 1.0 / fps


# ------------------------------------------------------------------------------------------------
# Decoding
# ------------------------------------------------------------------------------------------------


def read_frames(
    path: PathLike,
    indices: Sequence[int],
    *,
    short_side: int | None = None,
    stats: dict | None = None,
) -> np.ndarray:
    """Decode exactly the frames `indices` (any order, repeats allowed) of `path`.

    Returns uint8 RGB [len(indices), H, W, 3] in the order asked, upright (rotation applied), any
    source pixel format (grayscale, 10-bit, 4:4:4) converted to 8-bit RGB. With `short_side`, frames
    are scaled (bilinear) while converting so that min(H, W) == short_side: far less memory for HD.

    Only what the indices need is decoded: seek to the keyframe before each run of wanted frames,
    decode forward, stop after the last one. Pass a dict as `stats` to see the work done:
    {"decoded": frames out of the decoder, "converted": frames turned into RGB, "seeks": ...,
    "packet_errors": packets the decoder rejected and skipped}.
    """
    path = _check_path(path)
    stat = os.stat(path)
    info, index = _probe_cached(path, stat.st_size, stat.st_mtime_ns)
    wanted = sorted(set(int(i) for i in indices))
    if not wanted:
        return np.zeros((0, *_out_size(info, short_side), 3), np.uint8)
    if wanted[0] < 0 or wanted[-1] >= info.num_frames:
        bad = [i for i in wanted if not 0 <= i < info.num_frames]
        raise VideoError(
            f"{path}: frame index {bad[0]} is out of range: the video has {info.num_frames} "
            f"frames (0..{info.num_frames - 1}, {info.duration:.2f} s at {info.fps:.4g} fps)"
        )
    counters = {"decoded": 0, "converted": 0, "seeks": 0, "packet_errors": 0}
    got: dict[int, np.ndarray] = {}
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"  # frame + slice threads: the decoder is the bottleneck
        convert = functools.partial(_to_rgb, info=info, short_side=short_side)
        if index.positional:
            _read_positional(container, stream, wanted, convert, got, counters)
        else:
            for run in _runs(index, wanted):
                _read_run(container, stream, index, run, convert, got, counters)
    if stats is not None:
        stats.update(counters)
    missing = [i for i in wanted if i not in got]
    if missing:
        at = missing[0] / info.fps
        raise VideoError(
            f"{path}: frame {missing[0]} (t={at:.2f} s) could not be decoded"
            f"{f' ({len(missing)} frames missing)' if len(missing) > 1 else ''}: the file is "
            "corrupt or truncated there; choose another start, or re-encode the file "
            "(`ffmpeg -i IN -c:v libx264 OUT.mp4` often repairs it)"
        )
    return np.stack([got[int(i)] for i in indices])


def iter_frames(
    path: PathLike, *, short_side: int | None = None, stats: dict | None = None
) -> Iterator[np.ndarray]:
    """Every frame of `path` in order, as uint8 RGB [H, W, 3] (upright). Decodes the whole file."""
    path = _check_path(path)
    info = probe(path)
    counters = {"decoded": 0, "converted": 0, "seeks": 0, "packet_errors": 0}
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        for frame in _decode(container, stream, counters):
            counters["converted"] += 1
            yield _to_rgb(frame, info, short_side)
    if stats is not None:
        stats.update(counters)


def _runs(index: _Index, wanted: list[int]) -> Iterator[list[int]]:
    """Split sorted `wanted` into runs decoded without a seek: a new run starts where a keyframe
    lies past the previous wanted frame, so seeking there skips decoding the gap."""
    run = [wanted[0]]
    for i in wanted[1:]:
        if _keyframe_before(index, i) > run[-1] + 1:
            yield run
            run = []
        run.append(i)
    yield run


def _read_run(container, stream, index: _Index, run: list[int], convert, got, counters) -> None:
    """Seek to the keyframe before run[0], decode forward and keep the frames in `run`.

    A broken container index can make a seek land after run[0]: then try one keyframe earlier.
    """
    frame_of_pts = index.frame_of_pts
    need = set(run)
    keys = index.keyframes
    k = bisect.bisect_right(keys, run[0]) - 1  # position in the keyframe list
    while True:
        # Seeking backward to a keyframe's pts lands on that keyframe (MP4, Matroska, WebM, AVI).
        _seek(container, stream, index.pts[keys[max(k, 0)] if keys else 0])
        counters["seeks"] += 1
        first = None
        for frame in _decode(container, stream, counters):
            i = frame_of_pts.get(frame.pts)
            if i is None:
                continue  # a frame outside the table (e.g. a leading frame of an open GOP)
            if first is None:
                first = i
                if i > run[0] and k > 0:
                    break  # landed too late: retry from the previous keyframe
            if i in need and i not in got:
                got[i] = convert(frame)
                counters["converted"] += 1
            if i >= run[-1]:
                return
        if first is None or first <= run[0] or k <= 0:
            return  # end of stream; frames not found are reported by the caller
        k -= 1


def _seek(container, stream, ts: int) -> None:
    """Seek so that decoding restarts at the last keyframe at or before timestamp `ts`."""
    try:
        container.seek(ts, backward=True, any_frame=False, stream=stream)
    except (av.error.FFmpegError, OSError):
        try:  # no keyframe before ts in the container's index: land anywhere near it
            container.seek(ts, backward=True, any_frame=True, stream=stream)
        except (av.error.FFmpegError, OSError):
            pass  # unseekable: decoding continues from where it is; the caller checks frames


def _read_positional(container, stream, wanted, convert, got, counters) -> None:
    """No timestamps: count frames from the start (no seeking), stop after the last wanted one."""
    need = set(wanted)
    for i, frame in enumerate(_decode(container, stream, counters)):
        if i in need:
            got[i] = convert(frame)
            counters["converted"] += 1
        if i >= wanted[-1]:
            return


def _keyframe_before(index: _Index, i: int) -> int:
    """The last keyframe index <= i (0 when the stream does not start with a keyframe)."""
    k = bisect.bisect_right(index.keyframes, i) - 1
    return index.keyframes[k] if k >= 0 else 0


def _decode(container, stream, counters: dict) -> Iterator[av.VideoFrame]:
    """Decode packet by packet: a damaged packet is counted and skipped, never raised."""
    try:
        packets = container.demux(stream)
        for packet in packets:
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                counters["packet_errors"] = counters.get("packet_errors", 0) + 1
                continue
            for frame in frames:
                counters["decoded"] = counters.get("decoded", 0) + 1
                yield frame
    except (av.error.FFmpegError, OSError):
        counters["packet_errors"] = counters.get("packet_errors", 0) + 1  # demuxer gave up: EOF


def _out_size(info: VideoInfo, short_side: int | None) -> tuple[int, int]:
    """(H, W) of returned frames (upright)."""
    if short_side is None:
        return info.height, info.width
    return _scaled(info.height, info.width, short_side)


def _scaled(h: int, w: int, short_side: int) -> tuple[int, int]:
    """Scale so the short side is `short_side` (long side floored, as PySlowFast does)."""
    if h <= w:
        return short_side, max(1, int(math.floor(w / h * short_side)))
    return max(1, int(math.floor(h / w * short_side))), short_side


def _to_rgb(frame: av.VideoFrame, info: VideoInfo, short_side: int | None) -> np.ndarray:
    """One decoded frame -> uint8 RGB [H, W, 3], upright, optionally scaled."""
    rotation = int(frame.rotation or 0) % 360
    if short_side is None:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        h, w = _scaled(frame.height, frame.width, short_side)
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="BILINEAR")
        rgb = rgb.to_ndarray()
    if rotation:
        # The display matrix asks for a counter-clockwise turn; np.rot90 turns counter-clockwise.
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb


# ------------------------------------------------------------------------------------------------
# Writing, and frames that carry their own index (tests, samples and the sampling lesson)
# ------------------------------------------------------------------------------------------------


def write_video(
    path: PathLike,
    frames: np.ndarray,
    fps: float = 25,
    codec: str = "libx264",
    *,
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    quality: int | None = None,
    rotation: int | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode uint8 RGB frames [N, H, W, 3] into `path` (container from the extension).

    `codec`: "libx264" (mp4/mkv), "mpeg4" (mp4/avi), "libvpx-vp9" (webm), "ffv1" (mkv, lossless),
    ... `gop`: frames between keyframes. `quality`: the codec's constant-quality number (crf or
    qscale; lower is better). `rotation`: display-matrix rotation (counter-clockwise degrees).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [N,H,W,3], got {frames.dtype} {frames.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = dict(options or {})
    if quality is not None:
        if codec == "mpeg4":
            opts.setdefault("qscale", str(quality))
        else:
            opts.setdefault("crf", str(quality))
    if codec == "libvpx-vp9":
        opts.setdefault("deadline", "realtime")
        opts.setdefault("cpu-used", "8")
        opts.setdefault("b", "0")  # constant quality (crf) mode
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, options=opts)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        if codec == "mpeg4" and quality is not None:
            stream.codec_context.qscale = quality  # mpeg4 reads qscale from the context
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


_FONT = {  # 3x5 pixel digits, row by row: readable after video compression when scaled up
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111",
}  # fmt: skip


def numbered_frames(num_frames: int, height: int = 128, width: int = 128, bits: int = 10):
    """uint8 RGB [num_frames, H, W, 3] frames that carry their own index, for exact-decoding checks.

    Top quarter: the index as `bits` black/white cells (most significant first; `frame_number`
    reads it back). Middle: the index in big digits. Bottom: a red bar that grows with the index.
    """
    if num_frames > 2**bits:
        raise ValueError(f"{num_frames} frames need more than bits={bits}")
    if width < bits * 4 or height < 32:
        raise ValueError(f"frames of {height}x{width} are too small for {bits} bit cells")
    frames = np.full((num_frames, height, width, 3), 40, np.uint8)
    band = height // 4
    cell = width // bits
    for n in range(num_frames):
        f = frames[n]
        for b in range(bits):
            on = (n >> (bits - 1 - b)) & 1
            f[:band, b * cell : (b + 1) * cell] = 255 if on else 0
        digits = str(n)
        scale = max(1, min((height // 2) // 6, (width - 4) // (4 * len(digits))))
        top = band + max(0, (height // 2 - 5 * scale) // 2)
        left = max(0, (width - 4 * scale * len(digits)) // 2)
        for d, ch in enumerate(digits):
            glyph = np.array([int(c) for c in _FONT[ch]], bool).reshape(5, 3)
            big = np.kron(glyph, np.ones((scale, scale), bool))
            y, x = top, left + d * 4 * scale
            f[y : y + big.shape[0], x : x + big.shape[1]][big] = 255
        bar = int(round(width * (n + 1) / max(num_frames, 1)))
        f[height - max(2, height // 16) :, :bar] = (220, 20, 20)
    return frames


def frame_number(frame: np.ndarray, bits: int = 10) -> int:
    """Read back the index that `numbered_frames` wrote into an RGB frame [H, W, 3]."""
    height, width = frame.shape[:2]
    band, cell = height // 4, width // bits
    luma = frame[:band, : bits * cell].mean(axis=2)
    n = 0
    for b in range(bits):
        # the cell's centre: edges blur under compression
        c = luma[band // 4 : band - band // 4, b * cell + cell // 4 : (b + 1) * cell - cell // 4]
        n = (n << 1) | int(c.mean() > 127)
    return n
