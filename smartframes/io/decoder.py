"""Decoding candidate frames in batches, in this process or in a watched child process.

:func:`candidate_batches` is the one way frames reach the backbones: probe, refuse videos over the
:class:`~smartframes.video.Limits`, pick the candidates, decode them (scaled by FFmpeg) and group
them into batches. :func:`read_ahead` runs it in a thread one or two batches ahead of the caller
(how ``select`` overlaps decoding with the light pass on one video).

:class:`DecodeWorker` runs it for a stream of videos in a child process that works ahead of the
caller (decoding overlaps inference) and is watched: a video whose decoder makes no progress for
``timeout`` seconds, or takes the process down (a crash inside FFmpeg), is reported as failed with
the reason, the child is replaced, and the stream goes on with the next video. Only the videos
handed over are decoded, so memory stays at a few batches.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Hashable, Iterable, Iterator, Literal, Sequence, TypeVar

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


Item = TypeVar("Item")


def read_ahead(items: Iterable[Item], depth: int = 2) -> Iterator[Item]:
    """``items`` in order, produced by a thread that works up to ``depth`` items ahead of the
    caller, so that decoding overlaps what the caller does with each batch (PyAV, FFmpeg and
    OpenVINO release the GIL). An exception of the producer is raised here, at the item where it
    happened; a caller that stops early stops the producer (and closes ``items``) before this
    generator finishes, so the video can be closed behind it."""
    box: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                box.put((True, item))
                if stop.is_set():
                    return
            box.put((False, None))
        except BaseException as e:  # handed to the caller, who raises it
            box.put((False, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            more, item = box.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting for room
            try:
                box.get(timeout=0.05)
            except queue.Empty:
                pass


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


CHILD = "smartframes.io.decoder:serve"
"""The ``module:function`` a decoding child runs, given its two pipes (see :func:`serve`)."""


def serve(jobs_fd: int, out_fd: int) -> None:
    """A decoding child's whole life: read its :class:`DecodeSettings`, then ``(key, path)`` jobs
    (``None`` to stop) from the ``jobs_fd`` pipe, and send each video's batches, then ``end``, down
    the ``out_fd`` pipe (whose only writer it is, so the parent reads EOF if it dies mid-message).
    The child ends at once when the jobs pipe closes: its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it kills the child
    jobs, out = Connection(jobs_fd, writable=False), Connection(out_fd, readable=False)
    settings = jobs.recv()
    out.send(("ready", None, None))  # starting counts as progress, not as the first video's time
    inbox: queue.Queue = queue.Queue()

    def read_jobs():
        try:
            while True:
                inbox.put(jobs.recv())
        except (EOFError, OSError):
            os._exit(0)

    threading.Thread(target=read_jobs, daemon=True).start()
    _decode_jobs(settings, inbox.get, out)


def _decode_jobs(settings: DecodeSettings, next_job, out) -> None:
    """Decode each job ``next_job()`` returns until ``None``, sending the events down ``out``."""
    while True:
        job = next_job()
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


def _launch(settings: DecodeSettings) -> tuple[subprocess.Popen, Connection, Connection]:
    """Start a decoding child in a new interpreter: its process, the pipe to send it jobs, the pipe
    its events come up. Not a fork: a child forked while another thread of this process holds an
    FFmpeg scaler with slice threads (PyAV keeps one per thread that converted a frame) hangs for
    good at its start, freeing that scaler."""
    jobs_r, jobs_w = os.pipe()
    out_r, out_w = os.pipe()
    module, function = CHILD.split(":")
    root = str(Path(__file__).resolve().parents[2])  # this smartframes, whatever the child's sys.path
    code = (f"import sys; sys.path.insert(0, {root!r}); from {module} import {function}; "
            f"{function}(int(sys.argv[1]), int(sys.argv[2]))")
    try:
        proc = subprocess.Popen([sys.executable, "-c", code, str(jobs_r), str(out_w)], pass_fds=(jobs_r, out_w),
                                stdin=subprocess.DEVNULL)
    finally:
        os.close(jobs_r)
        os.close(out_w)  # the child's copy is the only one left: its death reads as EOF here
    jobs = Connection(jobs_w, readable=False)
    jobs.send(settings)
    return proc, jobs, Connection(out_r, writable=False)


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
        self._proc: subprocess.Popen | None = None

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
        self._proc, self._jobs, self._out = _launch(self.settings)
        self._ready = False
        # a thread reads the pipe, so that a child stopped halfway through sending a batch cannot
        # block this process: recv() waits for a whole message, with no timeout
        self._inbox: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=_pump, args=(self._out, self._inbox), daemon=True)
        self._reader.start()

    def _send(self, job) -> None:
        try:
            self._jobs.send(job)
        except OSError:  # the child is dead: the next message read says so, and of which video
            pass

    def _stop(self, kill: bool = False) -> None:
        if self._proc is None:
            return
        if not kill and self._proc.poll() is None:
            try:
                self._jobs.send(None)
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._jobs.close()
        self._reader.join(timeout=10)  # the child is gone: its pipe reads EOF
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
                    self._send(job)
                if not pending:
                    finished = True
                    return
                message = self._next_message()
                if isinstance(message, str):
                    yield self._abandon(pending, message)
                    continue
                kind, key, payload = message
                if kind == "ready":
                    self._ready = True
                    continue
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
                try:
                    code = self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                started = "" if self._ready else " before it started (its error is above)"
                return f"decoder process died (exit code {code}){started}; abandoned"
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
            self._send(job)
        return Event("error", key, reason=reason)
