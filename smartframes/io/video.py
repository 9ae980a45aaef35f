"""Video decoding and encoding. The only module that imports PyAV.

Every failure to read a file becomes a :class:`VideoError` naming the file and the reason.
Frame indices count decoded frames in presentation order, so they are exact for variable frame
rate and B-frame streams alike; timestamps come from the decoder, relative to the stream start.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..errors import SmartframesError

Size = int | tuple[int, int] | None
"""``None`` keeps the native size; an int is the short side (aspect kept); a pair is (width, height)."""

IMAGE_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")
"""Demuxers that open still images; a picture renamed to .avi must not pass as a video."""


class VideoError(SmartframesError):
    """A video file could not be read; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's first video stream."""

    path: str
    frame_count: int  # stated by the container, or counted from packets when it states none
    fps: float
    duration: float  # seconds
    width: int  # display width, after rotation
    height: int  # display height, after rotation
    rotation: int  # degrees counter-clockwise the frames are turned for display (0, 90, 180, 270)
    codec: str


@dataclass(frozen=True)
class Limits:
    """The largest video accepted, checked on what the container states before any frame is
    decoded, so a hostile or accidental giant is refused before it costs memory or hours."""

    max_pixels: int = 7680 * 4320  # 8K UHD
    max_frames: int = 2_000_000  # 9 hours at 60 fps
    max_duration: float = 12 * 3600.0  # seconds

    def check(self, info: VideoInfo) -> None:
        """Raise :class:`VideoError` naming the limit a video is over (and the flag that raises it)."""
        if info.width * info.height > self.max_pixels:
            raise VideoError(info.path, f"{info.width}x{info.height} is over the limit of {self.max_pixels} pixels "
                                        "per frame (--max-pixels)")
        if info.frame_count > self.max_frames:
            raise VideoError(info.path, f"{info.frame_count} frames is over the limit of {self.max_frames} "
                                        "(--max-frames)")
        if info.duration > self.max_duration:
            raise VideoError(info.path, f"{info.duration:.0f} s is over the limit of {self.max_duration:.0f} s "
                                        "(--max-duration)")


@dataclass
class Decoded:
    """Frames decoded from one video.

    ``frames[k]`` holds one uint8 array ``(T, H, W, 3)`` per requested size ``k``; ``indices[t]``
    and ``times[t]`` are the frame index and timestamp (seconds) of row ``t``. ``lost`` counts the
    requested frames that could not be decoded (only non-zero when partial decoding was allowed).
    """

    frames: list[np.ndarray]
    indices: np.ndarray  # (T,) int64
    times: np.ndarray  # (T,) float64
    lost: int
    info: VideoInfo


def _open(path: str | os.PathLike):
    p = Path(path)
    if not p.exists():
        raise VideoError(path, "no such file")
    if p.is_dir():
        raise VideoError(path, "is a directory, not a video file")
    if p.stat().st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise VideoError(path, f"not a readable video ({_ffmpeg_reason(e)})") from None
    fmt = container.format.name
    if any(tag in fmt for tag in IMAGE_FORMATS):
        container.close()
        raise VideoError(path, f"is a still image ({fmt}), not a video")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise VideoError(path, f"no video stream (streams: {', '.join(kinds)})")
    if container.streams.video[0].codec_context is None:
        container.close()
        raise VideoError(path, "no decoder for its video stream (unknown or damaged codec)")
    return container


def _ffmpeg_reason(e: Exception) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return text.split(";")[0].strip() or type(e).__name__


def _rotation(stream, first_frame=None) -> int:
    """Display rotation in degrees, one of 0/90/180/270 (counter-clockwise, FFmpeg convention)."""
    angle = 0.0
    if first_frame is not None and first_frame.rotation:
        angle = float(first_frame.rotation)
    else:
        tag = stream.metadata.get("rotate")
        if tag:
            try:
                angle = -float(tag)
            except ValueError:
                angle = 0.0
    return int(round(angle / 90.0)) % 4 * 90


def _count_packets(container, stream) -> int:
    count = 0
    for packet in container.demux(stream):
        if packet.size:
            count += 1
    container.seek(0)
    return count


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's frame count, fps, duration and display size without decoding it all.

    The frame count is the container's when it states one; otherwise (mkv, webm) the video
    packets are counted, which needs a demux pass but no decoding.

    Raises:
        VideoError: the file is missing, empty, not a video, or has no video stream.
    """
    with _open(path) as container:
        return _probe_open(path, container)


def _probe_open(path, container) -> VideoInfo:
    stream = container.streams.video[0]
    fps = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0.0)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1e6
    else:
        duration = 0.0
    count = int(stream.frames or 0)
    if count <= 0:
        try:
            count = _count_packets(container, stream)
        except av.error.FFmpegError as e:
            raise VideoError(path, f"corrupt data while counting frames ({_ffmpeg_reason(e)})") from None
    if fps <= 0 and duration > 0:
        fps = count / duration
    if duration <= 0 and fps > 0:
        duration = count / fps
    rotation = _rotation(stream)
    if rotation == 0:  # FFmpeg keeps the display matrix as frame side data; read one frame
        try:
            rotation = _rotation(stream, next(iter(container.decode(stream)), None))
        except av.error.FFmpegError:
            pass
    w, h = stream.codec_context.width, stream.codec_context.height
    if w <= 0 or h <= 0:
        raise VideoError(path, f"video stream states no frame size ({w}x{h})")
    if rotation in (90, 270):
        w, h = h, w
    return VideoInfo(str(path), count, fps, duration, w, h, rotation, stream.codec_context.name)


def target_size(width: int, height: int, size: Size) -> tuple[int, int]:
    """The (width, height) a frame of ``width x height`` is scaled to for a requested ``size``."""
    if size is None:
        return width, height
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        scale = size / min(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))
    w, h = size
    return int(w), int(h)


def _output_size(frame, rotation: int, size: Size) -> tuple[int, int]:
    """(width, height) of the stored (not yet rotated) picture that gives ``size`` once upright."""
    w, h = frame.width, frame.height
    display_w, display_h = (h, w) if rotation in (90, 270) else (w, h)
    out_w, out_h = target_size(display_w, display_h, size)
    return (out_h, out_w) if rotation in (90, 270) else (out_w, out_h)


def _to_rgb(frame, rotation: int, out: tuple[int, int], reformatter: VideoReformatter) -> np.ndarray:
    """Scale to ``out`` (width, height) with FFmpeg's bicubic scaler, convert to RGB and turn
    upright. One ``reformatter`` per output size keeps FFmpeg's scaler context from frame to frame
    (a new one per frame halves the frames/s). Returns (H, W, 3) uint8."""
    rgb = reformatter.reformat(frame, out[0], out[1], format="rgb24", interpolation="BICUBIC").to_ndarray()
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb


def scale_frames(frames: np.ndarray, size: Size) -> np.ndarray:
    """Already-decoded uint8 RGB frames ``(T, H, W, 3)`` scaled to ``size`` (as :func:`read_frames`
    takes it; None keeps them as they are) with the same FFmpeg bicubic scaler decoding uses.
    Returns uint8 ``(T, H', W', 3)``.

    Raises:
        SmartframesError: not a uint8 array of RGB frames.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or 0 in frames.shape:
        raise SmartframesError(f"frames must be uint8 RGB of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if size is None:
        return frames
    out_w, out_h = target_size(frames.shape[2], frames.shape[1], size)
    reformatter = VideoReformatter()
    return np.stack([reformatter.reformat(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24"),
                                          out_w, out_h, format="rgb24", interpolation="BICUBIC").to_ndarray()
                     for f in frames])


KEEP_BYTES = 512 * 2**20
"""How much memory the decoded pictures of one video's candidates may take to be kept after a pass
(see :func:`keeps_pictures`)."""


def keeps_pictures(info: VideoInfo, count: int) -> bool:
    """Whether a pass over ``count`` candidate frames of a video keeps their decoded pictures, so
    that the frames chosen among them are converted from memory afterwards, or drops them, so that
    the chosen ones are decoded again (only those, by seeking where the candidates were reached by
    seeking). The one place this is decided: keeping costs no time but about three bytes a pixel a
    candidate (YUV, before conversion to RGB), so it is done while that fits in :data:`KEEP_BYTES`
    (a 7 s 320x240 clip: 40 MB for every frame; 1080p: 86 frames)."""
    return count * info.width * info.height * 3 <= KEEP_BYTES


class OpenVideo:
    """A video file opened once, probed once, and decoded in passes over the same container.

    ``frames`` decodes the wanted frames in one pass; with ``keep`` it holds on to their decoded
    pictures (when :func:`keeps_pictures` allows), so that ``read`` converts the few chosen among
    them without decoding again. Use it as a context manager, or call ``close``.

    Raises:
        VideoError: the file is missing, empty, not a video, or has no video stream.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._container = _open(path)
        self._container.streams.video[0].thread_type = "AUTO"
        self._info: VideoInfo | None = None
        self._rewind = False  # the container has been read: seek back to the start before a pass
        self._kept: dict[int, tuple[float, object]] = {}  # frame index -> (time, decoded picture)
        self._rotation: int | None = None
        self._first = None  # the last pass's first picture: the output sizes follow it

    def __enter__(self) -> "OpenVideo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file and drop the kept pictures."""
        self._kept = {}
        self._container.close()

    @property
    def info(self) -> VideoInfo:
        """What the container says (see :func:`probe`), read on first use; ask before or after a
        pass, not during one."""
        if self._info is None:
            try:
                self._info = _probe_open(self.path, self._container)
            finally:
                self._rewind = True
        return self._info

    def _start(self) -> None:
        if self._rewind:
            try:
                self._container.seek(0)
            except av.error.FFmpegError:  # a stream that cannot seek: open it again
                self._container.close()
                self._container = _open(self.path)
                self._container.streams.video[0].thread_type = "AUTO"
        self._rewind = True

    def frames(
        self,
        indices: Sequence[int] | None = None,
        sizes: Sequence[Size] = (None,),
        *,
        allow_partial: bool = False,
        seek: bool = False,
        keep: bool = False,
    ) -> Iterator[tuple[int, float, list[np.ndarray]]]:
        """One pass: yield ``(index, time, [image per size])`` for the wanted frames, in index order.

        Only the wanted frames are converted to RGB; the others are decoded and dropped. Decoding
        stops after the last wanted index, so memory stays bounded by one frame per size (plus the
        kept pictures, with ``keep``).

        With ``seek``, a wanted frame more than :data:`SEEK_GAP_SECONDS` ahead is reached by seeking
        to the keyframe before it instead of decoding everything in between (long videos with sparse
        candidates). Indices then come from timestamps: exact for constant frame rate; an AVI, whose
        timestamps are not reliable, is decoded straight through.

        With ``keep``, the decoded pictures of the yielded frames stay in memory for :meth:`read`
        when :func:`keeps_pictures` says they fit (``indices`` must then be given).

        Raises:
            VideoError: corrupt data, or wanted frames past the end of the stream (only when
                ``allow_partial`` is false), or a negative index.
        """
        path = self.path
        wanted = None if indices is None else sorted(set(int(i) for i in indices))
        if wanted is not None and wanted and wanted[0] < 0:
            raise VideoError(path, f"negative frame index {wanted[0]}")
        keep = keep and wanted is not None and keeps_pictures(self.info, len(wanted))
        self._kept = {}
        self._start()
        container = self._container
        stream = container.streams.video[0]
        start = stream.start_time if stream.start_time is not None else 0
        tb = float(stream.time_base) if stream.time_base is not None else 0.0
        fps = float(stream.average_rate or stream.guessed_rate or 0.0) or 25.0
        # AVI stores decode order only; its pts are reordered guesses, so count frames instead.
        use_pts = container.format.name != "avi" and bool(tb)
        decoded = [0]  # frames the decoder gave, wanted or not
        if seek and wanted and use_pts:
            frames = _seeking(container, stream, wanted, start, tb, fps, decoded)
        else:
            frames = _counting(container, stream, wanted, decoded)
        outputs = None  # per size, fixed by the first frame: a stream that changes size mid-way is rescaled
        index = -1
        try:
            for index, frame in frames:
                if outputs is None:
                    self._first, self._rotation = frame, _rotation(stream, frame)
                    outputs = [_output_size(frame, self._rotation, s) for s in sizes]
                    scalers = [VideoReformatter() for _ in sizes]
                time = float((frame.pts - start) * tb if use_pts and frame.pts is not None else index / fps)
                if keep:
                    self._kept[index] = (time, frame)
                yield index, time, [_to_rgb(frame, self._rotation, out, sc) for out, sc in zip(outputs, scalers)]
        except av.error.FFmpegError as e:
            if not allow_partial:
                raise VideoError(
                    path, f"corrupt data after frame {index} ({_ffmpeg_reason(e)})"
                ) from None
        if decoded[0] == 0:
            raise VideoError(path, "no decodable frames")

    def read(self, indices: Sequence[int], size: Size = None, *, seek: bool = False) -> np.ndarray:
        """The frames ``indices`` (in the order given, repeats included) as uint8 RGB ``(n, H, W, 3)``
        at ``size``: converted from the pictures the last pass kept when it kept them all, else
        decoded in a new pass (with ``seek`` as the pass that numbered them).

        Raises:
            VideoError: a frame cannot be decoded.
        """
        wanted = sorted(set(int(i) for i in indices))
        if wanted and all(i in self._kept for i in wanted):
            out = _output_size(self._first, self._rotation, size)
            scaler = VideoReformatter()
            rows = {i: _to_rgb(self._kept[i][1], self._rotation, out, scaler) for i in wanted}
        else:
            rows = {i: images[0] for i, _, images in self.frames(wanted, (size,), seek=seek)}
        missing = [i for i in wanted if i not in rows]
        if missing:
            raise VideoError(self.path, f"frame {missing[0]} could not be decoded")
        return np.stack([rows[int(i)] for i in indices])


def iter_frames(
    path: str | os.PathLike,
    indices: Sequence[int] | None = None,
    sizes: Sequence[Size] = (None,),
    *,
    allow_partial: bool = False,
    seek: bool = False,
) -> Iterator[tuple[int, float, list[np.ndarray]]]:
    """Open a video, decode it once and yield ``(index, time, [image per size])`` for the wanted
    frames (see :meth:`OpenVideo.frames`).

    Raises:
        VideoError: unreadable file, corrupt data, or wanted frames past the end of the stream
            (the latter two only when ``allow_partial`` is false).
    """
    with OpenVideo(path) as video:
        yield from video.frames(indices, sizes, allow_partial=allow_partial, seek=seek)


SEEK_GAP_SECONDS = 5.0
"""With ``seek``, how far ahead (in seconds of video) a wanted frame must be to seek rather than
decode up to it: beyond a typical keyframe interval, seeking skips whole groups of pictures."""


def worth_seeking(frame_count: int, fps: float, wanted: int) -> bool:
    """Whether ``wanted`` frames spread over a video lie :data:`SEEK_GAP_SECONDS` apart on
    average: then they are decoded by seeking, and their indices come from timestamps. Asked once
    per video, by :func:`smartframes.io.decoder.candidate_batches`; the answer travels with the
    video's features (``seek`` in the store and in a selection), so that whoever reads its chosen
    frames later numbers them alike."""
    return wanted > 0 and frame_count / wanted >= SEEK_GAP_SECONDS * max(fps, 1e-9)


def _counting(container, stream, wanted: list[int] | None, decoded: list[int]):
    """``(index, frame)`` of the wanted frames, indices counted from the first decoded frame."""
    want = None if wanted is None else set(wanted)
    last = wanted[-1] if wanted else None
    for index, frame in enumerate(container.decode(stream)):
        decoded[0] += 1
        if want is None or index in want:
            yield index, frame
        if last is not None and index >= last:
            return


def _seeking(container, stream, wanted: list[int], start: int, tb: float, fps: float, decoded: list[int]):
    """``(index, frame)`` of the frame at or after each wanted index, seeking to the keyframe before
    a far one; indices from timestamps."""
    gap = max(1, int(SEEK_GAP_SECONDS * fps))
    frames, position = None, None  # decoder iterator and index of the last frame it gave
    for target in wanted:
        if position is not None and position >= target:
            continue  # the frame given for an earlier target already covers this one
        if frames is None or target - position > gap:
            container.seek(start + int(target / fps / tb), stream=stream, backward=True, any_frame=False)
            frames, position = container.decode(stream), None
        for frame in frames:
            decoded[0] += 1
            if frame.pts is None:
                continue
            position = round((frame.pts - start) * tb * fps)
            if position >= target:
                yield position, frame
                break
        else:
            return


def decode(
    path: str | os.PathLike,
    indices: Sequence[int] | None = None,
    sizes: Sequence[Size] = (None,),
    *,
    allow_partial: bool = False,
    seek: bool = False,
) -> Decoded:
    """Decode the wanted frames of a video at one or more sizes in a single pass.

    Args:
        path: the video file.
        indices: frame indices to keep (any order, duplicates ignored); ``None`` keeps all.
        sizes: one output size per entry (see :data:`Size`); each is scaled by FFmpeg.
        allow_partial: return what could be decoded from a truncated or corrupt file instead of
            raising; ``Decoded.lost`` then says how many wanted frames are missing.
        seek: reach far-apart frames by seeking (see :func:`iter_frames`).

    Returns:
        A :class:`Decoded` with the frames in increasing index order.

    Raises:
        VideoError: the file cannot be read, or (without ``allow_partial``) frames are lost.
    """
    rows: list[list[np.ndarray]] = [[] for _ in sizes]
    got_idx: list[int] = []
    got_time: list[float] = []
    with OpenVideo(path) as video:
        info = video.info
        for index, time, images in video.frames(indices, sizes, allow_partial=allow_partial, seek=seek):
            got_idx.append(index)
            got_time.append(time)
            for k, img in enumerate(images):
                rows[k].append(img)
    if indices is None:
        # Containers round their stated counts; a shortfall of a couple of frames is not loss.
        lost = max(0, info.frame_count - len(got_idx)) if info.frame_count - len(got_idx) > 2 else 0
    else:
        lost = len(set(int(i) for i in indices)) - len(got_idx)
    if lost and not allow_partial:
        where = f"{len(got_idx)} decodable frames"
        raise VideoError(path, f"truncated or corrupt: {lost} wanted frame(s) missing, {where}")
    if not got_idx:
        raise VideoError(path, "none of the wanted frames could be decoded")
    frames = [np.stack(r) for r in rows]
    return Decoded(frames, np.asarray(got_idx, np.int64), np.asarray(got_time), lost, info)


def read_frames(
    path: str | os.PathLike,
    indices: Sequence[int] | None = None,
    size: Size = None,
    *,
    allow_partial: bool = False,
    seek: bool = False,
) -> np.ndarray:
    """Decode frames of a video as uint8 RGB ``(T, H, W, 3)``.

    Args:
        path: the video file.
        indices: frame indices (0-based, presentation order); rows come back in the order
            given, repeats included. ``None`` for all frames.
        size: ``None`` native, an int short side, or ``(width, height)``; scaled by FFmpeg.
        allow_partial: return the readable frames of a damaged file instead of raising; the
            missing ones are left out.
        seek: reach far-apart frames by seeking (see :func:`iter_frames`).

    Raises:
        VideoError: see :func:`decode`.
    """
    decoded = decode(path, indices, (size,), allow_partial=allow_partial, seek=seek)
    frames = decoded.frames[0]
    if indices is None:
        return frames
    row = {int(i): r for r, i in enumerate(decoded.indices)}
    return frames[[row[int(i)] for i in indices if int(i) in row]]


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float = 25.0,
    *,
    codec: str = "libx264",
    crf: int = 18,
    rotation: int = 0,
    times: Sequence[float] | None = None,
    keyframe_interval: int | None = None,
) -> None:
    """Encode uint8 RGB frames ``(T, H, W, 3)`` to a video file (H.264 in mp4 by default); an
    iterable of ``(H, W, 3)`` frames writes a video too long to hold in memory.

    Encoding is single-threaded without lookahead and uses fixed options, so the same frames give the
    same bytes, every time.

    Args:
        path: output file; the container follows the suffix.
        frames: uint8 ``(T, H, W, 3)``, or an iterable of ``(H, W, 3)``; H and W must be even for yuv420p.
        fps: nominal frame rate.
        codec: FFmpeg encoder name.
        crf: constant rate factor for x264 (lower is better quality).
        rotation: display rotation to record in the container (degrees counter-clockwise).
        times: per-frame timestamps in seconds, for variable frame rate files.
        keyframe_interval: at most this many frames between keyframes (x264's default: 250).
    """
    from fractions import Fraction

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to write")
    first = np.asarray(first)
    if first.ndim != 3 or first.shape[-1] != 3 or first.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (H, W, 3) each, got {first.dtype} {first.shape}")
    h, w, _ = first.shape
    rate = Fraction(fps).limit_denominator(1001)
    time_base = Fraction(1, 90000) if times is not None else 1 / rate
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.thread_count = 1
        if codec == "libx264":
            # One thread and no lookahead: with x264's lookahead (its own thread, and macroblock-tree
            # rate control) the same frames encoded twice in one process came out different.
            params = "threads=1:sync-lookahead=0:rc-lookahead=0:mbtree=0"
            if keyframe_interval:
                params += f":keyint={keyframe_interval}"
            stream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": params}
        if rotation:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(itertools.chain([first], frames)):
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            frame.pts = round(times[i] / time_base) if times is not None else i
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
