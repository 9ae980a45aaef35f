"""Decoding candidate frames in batches, in this process or in a watched child process.

:func:`candidate_batches` is the one way frames reach the backbones: probe, refuse videos over the
:class:`~smartframes.video.Limits`, pick the candidates, decode them (scaled by FFmpeg) and group
them into batches.

:class:`DecodeWorker` runs it for a stream of videos in a child process that works ahead of the
caller (decoding overlaps inference) and is watched: a video whose decoder makes no progress for
``timeout`` seconds, or takes the process down (a crash inside FFmpeg), is reported as failed with
the reason, the child is replaced, and the stream goes on with the next video. Only the videos
handed over are decoded, so memory stays at a few batches.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import Hashable, Iterable, Iterator, Literal, Sequence

import numpy as np

from ..candidates import CandidateRule
from .video import Limits, OpenVideo, Size, VideoError, VideoInfo, worth_seeking


@dataclass(frozen=True)
class Batch:
    """Up to ``batch_size`` consecutive candidate frames of one video."""

    info: VideoInfo
    indices: list[int]
    times: list[float]
    images: tuple[np.ndarray, ...]  # one uint8 (B, H, W, 3) per requested size, in their order
    seek: bool  # reached by seeking: frame indices come from timestamps (see worth_seeking)


def candidate_batches(video, rule: CandidateRule, sizes: Sequence[Size], batch_size: int, *,
                      limits: Limits = Limits(), allow_partial: bool = True, keep: bool = False) -> Iterator[Batch]:
    """Decode a video's candidate frames at each of ``sizes``, ``batch_size`` frames at a time.

    Args:
        video: a video file, or an :class:`~smartframes.io.video.OpenVideo` (left open, so that the
            frames chosen among the candidates can be read from it afterwards).
        sizes: the sizes to scale each candidate to; empty for none (indices and times only).
        keep: keep the candidates' decoded pictures in ``video`` for :meth:`OpenVideo.read`
            (where :func:`~smartframes.io.video.keeps_pictures` allows).

    Raises:
        VideoError: unreadable, over the limits, no frames, or (without ``allow_partial``) damaged.
    """
    if not isinstance(video, OpenVideo):
        with OpenVideo(video) as opened:
            yield from candidate_batches(opened, rule, sizes, batch_size, limits=limits, allow_partial=allow_partial)
        return
    info = video.info
    limits.check(info)
    wanted = rule.indices(info.frame_count, info.fps)
    if len(wanted) == 0:
        raise VideoError(video.path, "no frames")
    seek = worth_seeking(info.frame_count, info.fps, len(wanted))
    idx, times, rows = [], [], [[] for _ in sizes]
    for i, t, images in video.frames(wanted, sizes, allow_partial=allow_partial, seek=seek, keep=keep):
        idx.append(i)
        times.append(t)
        for k, img in enumerate(images):
            rows[k].append(img)
        if len(idx) == batch_size:
            yield Batch(info, idx, times, tuple(np.stack(r) for r in rows), seek)
            idx, times, rows = [], [], [[] for _ in sizes]
    if idx:
        yield Batch(info, idx, times, tuple(np.stack(r) for r in rows), seek)


DECODE_TIMEOUT = 120.0
"""Seconds without decoding progress after which a video is abandoned (``extract --decode-timeout``)."""


@dataclass(frozen=True)
class DecodeSettings:
    """What the child decodes for each video."""

    rule: CandidateRule
    sizes: tuple
    batch_size: int
    limits: Limits = Limits()


EventKind = Literal["batch", "end", "error"]


@dataclass(frozen=True)
class Event:
    """One message of :meth:`DecodeWorker.run`: ``kind`` is ``"batch"`` (``batch`` set), ``"end"``
    (the video's last batch was sent) or ``"error"`` (``reason`` set; the video is abandoned)."""

    kind: EventKind
    key: Hashable
    batch: Batch | None = None
    reason: str | None = None


def _exit_with_parent() -> None:
    """End this child when its parent dies (SIGKILL included), instead of waiting on it forever."""
    parent = mp.parent_process()
    if parent is not None:
        threading.Thread(target=lambda: (parent.join(), os._exit(0)), daemon=True).start()


def _child(settings: DecodeSettings, jobs, out) -> None:
    """The child's loop: decode each ``(key, path)`` job and send its batches, then ``end``, down
    the ``out`` pipe (whose only writer it is, so the parent reads EOF if it dies mid-message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it kills the child
    _exit_with_parent()
    while True:
        job = jobs.get()
        if job is None:
            return
        key, path = job
        try:
            for batch in candidate_batches(path, settings.rule, settings.sizes, settings.batch_size,
                                           limits=settings.limits):
                out.send(("batch", key, batch))
            out.send(("end", key, None))
        except VideoError as e:
            out.send(("error", key, e.reason))
        except Exception as e:  # a hostile file must cost one video, not the run
            out.send(("error", key, f"unexpected {type(e).__name__}: {e}"))


_EOF = object()  # what the pipe reader hands on when the child's end is closed


def _pump(pipe, inbox: queue.Queue) -> None:
    """Hand each whole message from the child's pipe to ``inbox``, then :data:`_EOF`."""
    try:
        while True:
            inbox.put(pipe.recv())
    except (EOFError, OSError):
        inbox.put(_EOF)


class DecodeWorker:
    """Decode a stream of videos in a watched child process.

    Args:
        settings: candidate rule, sizes, batch size and limits.
        timeout: seconds without any progress (a batch, or the end of a video) after which the
            current video is abandoned and the child replaced.
        ahead: videos handed to the child before the caller has consumed the current one.
    """

    def __init__(self, settings: DecodeSettings, timeout: float = DECODE_TIMEOUT, ahead: int = 2):
        self.settings = settings
        self.timeout = timeout
        self.ahead = max(1, ahead)
        # fork where there is one (as torch's DataLoader does): a spawned child re-imports the
        # caller's script, which runs it again when the script has no `if __name__ == "__main__"`
        self._ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self._proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Stop the child (it is started again by the next :meth:`run`)."""
        self._stop()

    def start(self) -> None:
        """Start the child now rather than with the first video (no-op when it runs)."""
        if self._proc is None:
            self._start()

    def _start(self):
        self._jobs = self._ctx.Queue()
        self._out, writer = self._ctx.Pipe(duplex=False)
        self._proc = self._ctx.Process(target=_child, args=(self.settings, self._jobs, writer), daemon=True)
        self._proc.start()
        writer.close()  # the child's copy is the only one left: its death reads as EOF here
        # a thread reads the pipe, so that a child stopped halfway through sending a batch cannot
        # block this process: recv() waits for a whole message, with no timeout
        self._inbox: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=_pump, args=(self._out, self._inbox), daemon=True)
        self._reader.start()

    def _stop(self, kill: bool = False) -> None:
        if self._proc is None:
            return
        if kill or not self._proc.is_alive():
            self._proc.kill()
        else:
            self._jobs.put(None)
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._reader.join(timeout=10)  # the child is gone: its pipe reads EOF
        self._jobs.cancel_join_thread()
        self._jobs.close()
        if not self._reader.is_alive():
            self._out.close()
        self._proc = None

    def run(self, videos: Iterable[tuple[Hashable, str | os.PathLike]]) -> Iterator[Event]:
        """Yield the events of each ``(key, path)`` in order. ``videos`` is consumed lazily: a video
        is taken from it only when the child has room for more work. The child stays up for the
        next call; a run left before its end (an exception, an interrupt) kills it."""
        source = iter(videos)
        pending: list[tuple] = []  # handed to the current child, not finished, in order
        exhausted = finished = False
        try:
            while True:
                while not exhausted and len(pending) < self.ahead:
                    try:
                        job = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    job = (job[0], os.fspath(job[1]))
                    self.start()
                    pending.append(job)
                    self._jobs.put(job)
                if not pending:
                    finished = True
                    return
                message = self._next_message()
                if isinstance(message, str):
                    yield self._abandon(pending, message)
                    continue
                kind, key, payload = message
                if kind == "batch":
                    yield Event("batch", key, batch=payload)
                    continue
                pending.pop(0)
                yield Event(kind, key, reason=payload)
        finally:
            if not finished:
                self._stop(kill=True)

    def _next_message(self):
        """The child's next message, or why none will come: it stalled, or it died (what it sent
        before dying is read first, so the video it died on is the one blamed)."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                message = self._inbox.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                message = None
            if message is _EOF:  # after every message the child sent before it died
                self._proc.join(timeout=5)
                return f"decoder process died (exit code {self._proc.exitcode}); abandoned"
            if message is not None:
                return message
            if time.monotonic() >= deadline:
                return f"decoder stalled: no progress for {self.timeout:g} s; abandoned"

    def _abandon(self, pending: list, reason: str) -> Event:
        """Replace a stalled or dead child: fail its current video, hand the others to a new one."""
        self._stop(kill=True)
        key, _ = pending.pop(0)
        self._start()
        for job in pending:
            self._jobs.put(job)
        return Event("error", key, reason=reason)
