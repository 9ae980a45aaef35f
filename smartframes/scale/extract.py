"""Extract features for a whole dataset into a store: resumable, shareable, with a progress bar.

A watched child process decodes the candidate frames (:class:`~smartframes.io.decoder.DecodeWorker`)
while this process runs the backbones, so decoding overlaps inference and a file that hangs or
crashes the decoder costs one video, recorded as failed with the reason. Each video is claimed in
the store just before it is handed to the decoder, so several ``extract`` processes can share one
store. With ``engine="ray"``, Ray actors do the per-video work instead (:mod:`.cluster`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..data.dataset import load_dataset, split_counts
from ..data.segments import load_segments
from ..device import check_device, resolve_device
from ..errors import SmartframesError
from ..features.extractor import FeatureExtractor, assemble, decode_settings, without_pixels
from ..features.store import FeatureStore, VideoFeatures, owner_name
from ..io.decoder import DECODE_TIMEOUT, DecodeWorker
from ..io.files import DiskError
from ..io.video import Limits, VideoError
from ..spec import BATCH_SIZE, FeatureSpec

RENEW_EVERY = 30.0  # seconds between renewals of the claim on a video being extracted


@dataclass
class ExtractSummary:
    """What one ``extract`` run did."""

    done: int  # videos extracted in this run
    failed: int  # videos that failed in this run
    skipped: int  # videos already finished before this run
    frames: int  # candidate frames processed in this run
    seconds: float
    partial: int  # videos stored with some candidate frames lost to damage
    store_done: int  # finished videos in the store after the run
    store_failed: int
    taken: int = 0  # videos another process was extracting, left to it
    splits: str = ""  # how many of the dataset's videos each split holds
    annotated: int = 0  # videos of the store with temporal annotations

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.done} extracted, {self.failed} failed, {self.skipped} already done; "
            f"{self.frames} frames in {self.seconds:.1f} s ({self.frames_per_second:.1f} frames/s); "
            f"store: {self.store_done} done, {self.store_failed} failed"
            + (f"; {self.partial} stored with lost frames" if self.partial else "")
            + (f"; {self.taken} left to another process" if self.taken else "")
            + (f"; splits: {self.splits}" if self.splits else "")
            + (f"; {self.annotated} with segments" if self.annotated else "")
        )


ENGINES = ("local", "ray")


def extract_dataset(
    source,
    store_dir,
    spec: FeatureSpec = FeatureSpec(),
    *,
    device: str | None = None,
    batch_size: int = BATCH_SIZE,
    retry_failed: bool = False,
    progress: bool = True,
    limits: Limits = Limits(),
    decode_timeout: float = DECODE_TIMEOUT,
    engine: str = "local",
    address: str | None = None,
    actors: int | None = None,
    segments=None,
) -> ExtractSummary:
    """Catalog a dataset into a store and extract every unfinished video.

    Args:
        source: dataset folder or CSV (see :func:`smartframes.dataset.load_dataset`), or the items
            of one already read (e.g. :func:`smartframes.formats.load_format`'s).
        store_dir: store directory; created, or resumed if it exists with the same spec.
        spec: what to compute per frame.
        device: ``cpu`` or ``cuda`` (None: CUDA when available).
        batch_size: frames per forward pass.
        retry_failed: try again the videos that failed before.
        progress: show a progress bar on stderr.
        limits: videos over these are refused (recorded as failed) before decoding.
        decode_timeout: seconds without decoding progress after which a video is abandoned (on
            either engine).
        engine: ``local`` (this machine: a watched decoding child feeding the backbones here) or
            ``ray`` (Ray actors do the same per-video work; this process claims and writes).
        address: with ``ray``, a running cluster's address (default: start a local instance).
        actors: with ``ray``, how many model copies (default: all the cluster's CPUs, 2 each, or
            one per GPU with ``device="cuda"``).
        segments: temporal annotations of the videos, kept in the store for evaluation: a file
            :func:`smartframes.data.segments.read_segments` reads, or what it returns.

    Raises:
        DatasetError, StoreError: bad dataset or a store built with another spec.
    """
    if engine not in ENGINES:
        raise SmartframesError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    device = str(resolve_device(device))
    check_device(spec, device, here=engine == "local")
    items = load_dataset(source) if isinstance(source, (str, os.PathLike)) else list(source)
    annotated = None if segments is None else load_segments(segments, [it.path for it in items])
    with FeatureStore.create_or_open(store_dir, spec) as store:
        store.add_videos(items)
        if annotated is not None:
            store.set_segments(annotated)
        wanted = {str(Path(it.path).resolve()) for it in items}
        todo = [r for r in store.todo(retry_failed) if r.path in wanted]
        skipped = sum(1 for r in store.records(status="done") if r.path in wanted)
        run = _Run(store, todo, retry_failed, progress)
        if engine == "ray":
            from .cluster import ray_map

            work = ExtractVideo(spec, device, batch_size, limits)
            gpus = 1 if device.startswith("cuda") else 0
            run.record(ray_map(work, run.claims(), address=address, actors=actors, gpus_per_actor=gpus,
                               heartbeat=run.keep_claims, stall_timeout=decode_timeout))
        else:
            with DecodeWorker(decode_settings(spec, batch_size, limits), timeout=decode_timeout) as worker:
                if todo:
                    worker.start()  # its interpreter starts while the models load
                extractor = FeatureExtractor(spec, device=device, batch_size=batch_size)
                run.record(_local(extractor, worker, run))
        summary = run.summary
        summary.skipped = skipped
        summary.splits = split_counts(items)
        summary.store_done, summary.store_failed = store.count("done"), store.count("failed")
        summary.annotated = store.count_annotated()
        return summary


class ExtractVideo:
    """The per-video work, as one picklable callable: a video's path -> its features. What a Ray
    actor runs; the local engine does the same with decoding moved to a watched child.
    ``progress_at`` (``time.monotonic()`` of the last batch, None between videos) lets the actor's
    host abandon a video that makes no progress."""

    def __init__(self, spec: FeatureSpec, device: str, batch_size: int, limits: Limits):
        self.spec, self.device, self.batch_size, self.limits = spec, device, batch_size, limits
        self.extractor = None
        self.progress_at: float | None = None

    def __call__(self, path) -> VideoFeatures:
        if self.extractor is None:  # loading the models is not the video's time
            self.extractor = FeatureExtractor(self.spec, device=self.device, batch_size=self.batch_size)
        self.progress_at = time.monotonic()
        try:
            began, parts = time.perf_counter(), []
            for batch in self.extractor.batches(path, limits=self.limits):
                parts.append((without_pixels(batch), self.extractor.run_batch(batch)))
                self.progress_at = time.monotonic()
            feats = assemble(parts, self.spec, path)
            feats.seconds = time.perf_counter() - began
            return feats
        finally:
            self.progress_at = None

    def __getstate__(self):
        return {**self.__dict__, "extractor": None, "progress_at": None}


class _Run:
    """The bookkeeping both engines share: claims, the store, the summary, the progress bar."""

    def __init__(self, store: FeatureStore, todo, retry_failed: bool, progress: bool):
        self.store, self.todo, self.retry_failed = store, todo, retry_failed
        self.owner = owner_name()
        self.paths = {r.id: r.path for r in todo}
        self.claimed: list[str] = []  # taken by this run, not finished
        self.summary = ExtractSummary(0, 0, 0, 0, 0.0, 0, 0, 0)
        self.start = time.perf_counter()
        self.renewed = time.monotonic()
        self.bar = tqdm(total=len(todo), unit="video", disable=not progress, dynamic_ncols=True, desc="extract")

    def claims(self):
        """``(video id, path)`` of each video this run gets to extract, claimed as it is taken."""
        for rec in self.todo:
            if self.store.claim(rec.id, self.owner, self.retry_failed):
                self.claimed.append(rec.id)
                yield rec.id, rec.path
            else:
                self.summary.taken += 1
                self.bar.update(1)

    def keep_claims(self) -> None:
        """Work goes on: renew the claims on the videos taken and not finished, now and then."""
        if time.monotonic() - self.renewed > RENEW_EVERY:
            for vid in self.claimed:
                self.store.renew(vid, self.owner)
            self.renewed = time.monotonic()

    def record(self, results) -> None:
        """Store each ``(video id, "ok", features)`` or ``(video id, "error", reason)``."""
        try:
            for vid, status, value in results:
                if status == "ok":
                    self.store.put(vid, value, value.seconds)
                    self.summary.done += 1
                    self.summary.frames += len(value.indices)
                    self.summary.partial += value.lost > 0
                else:
                    self.store.fail(vid, value)
                    self.summary.failed += 1
                    self.bar.write(f"failed: {self.paths[vid]}: {value}")
                self.claimed.remove(vid)  # after the write: a write that fails hands the video back
                self.bar.update(1)
                self.bar.set_postfix(frames_per_s=f"{self.summary.frames / max(time.perf_counter() - self.start, 1e-9):.1f}",
                                     refresh=False)
        finally:
            for vid in self.claimed:  # interrupted: hand back what this run took but did not finish
                try:
                    self.store.release(vid, self.owner)
                except DiskError:  # a full disk: the claim lapses when this process is gone
                    break
            self.bar.close()
            self.summary.seconds = time.perf_counter() - self.start


def _local(extractor: FeatureExtractor, worker: DecodeWorker, run: _Run):
    """The local engine: batches decoded by the watched child, features computed here; yields
    ``(video id, "ok", features)`` or ``(video id, "error", reason)`` per video."""
    parts: dict[str, list] = {}
    began: dict[str, float] = {}
    for event in worker.run(run.claims()):
        vid = event.key
        if event.kind == "batch":
            began.setdefault(vid, time.perf_counter())
            parts.setdefault(vid, []).append((without_pixels(event.batch), extractor.run_batch(event.batch)))
            run.keep_claims()
        elif event.kind == "end":
            start = began.pop(vid, time.perf_counter())
            try:
                feats = assemble(parts.pop(vid, []), extractor.spec, run.paths[vid])
            except VideoError as e:
                yield vid, "error", e.reason
            else:
                feats.seconds = time.perf_counter() - start
                yield vid, "ok", feats
        else:
            parts.pop(vid, None)
            began.pop(vid, None)
            yield vid, "error", event.reason
