"""Extract features for a whole dataset into a store: resumable, shareable, with a progress bar.

A watched child process decodes the candidate frames (:class:`~smartframes.decoder.DecodeWorker`)
while this process runs the backbones, so decoding overlaps inference and a file that hangs or
crashes the decoder costs one video, recorded as failed with the reason. Videos are claimed in the
store one at a time, so several ``extract`` processes can share one store.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from tqdm import tqdm

from .dataset import load_dataset
from .decoder import DecodeWorker
from .features import FeatureExtractor, FeatureSpec, assemble
from .store import FeatureStore, owner_name
from .video import Limits, VideoError

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
        )


def extract_dataset(
    source,
    store_dir,
    spec: FeatureSpec = FeatureSpec(),
    *,
    device: str = "cpu",
    batch_size: int = 32,
    retry_failed: bool = False,
    progress: bool = True,
    limits: Limits = Limits(),
    decode_timeout: float = 120.0,
) -> ExtractSummary:
    """Catalog a dataset into a store and extract every unfinished video.

    Args:
        source: dataset folder or CSV (see :func:`smartframes.dataset.load_dataset`), or the items
            of one already read (e.g. :func:`smartframes.formats.load_format`'s).
        store_dir: store directory; created, or resumed if it exists with the same spec.
        spec: what to compute per frame.
        device: ``cpu`` or ``cuda``.
        batch_size: frames per forward pass.
        retry_failed: try again the videos that failed before.
        progress: show a progress bar on stderr.
        limits: videos over these are refused (recorded as failed) before decoding.
        decode_timeout: seconds without decoding progress after which a video is abandoned.

    Raises:
        DatasetError, StoreError: bad dataset or a store built with another spec.
    """
    items = load_dataset(source) if isinstance(source, (str, os.PathLike)) else list(source)
    with FeatureStore.create_or_open(store_dir, spec) as store:
        store.add_videos(items)
        wanted = {it.path for it in items}
        todo = [r for r in store.todo(retry_failed) if r.path in wanted]
        skipped = sum(1 for r in store.records(status="done") if r.path in wanted)
        with DecodeWorker(spec.decode_settings(batch_size, limits), timeout=decode_timeout) as worker:
            if todo:
                worker.start()  # before the models load: a forked child need not share their pages
            extractor = FeatureExtractor(spec, device=device, batch_size=batch_size)
            summary = _run(extractor, worker, store, todo, retry_failed, progress)
        summary.skipped = skipped
        summary.store_done, summary.store_failed = store.count("done"), store.count("failed")
        return summary


def _run(extractor: FeatureExtractor, worker: DecodeWorker, store: FeatureStore, todo, retry_failed: bool,
         progress: bool) -> ExtractSummary:
    summary = ExtractSummary(0, 0, 0, 0, 0.0, 0, 0, 0)
    owner = owner_name()
    records = {r.id: r for r in todo}
    claimed: list[str] = []  # in decoding order, not yet finished
    parts: dict[str, list] = {}
    began: dict[str, float] = {}
    renewed = time.monotonic()
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="video", disable=not progress, dynamic_ncols=True, desc="extract")

    def claims():
        for rec in todo:
            if store.claim(rec.id, owner, retry_failed):
                claimed.append(rec.id)
                yield rec.id, rec.path
            else:
                summary.taken += 1
                bar.update(1)

    try:
        for event in worker.run(claims()):
            vid = event.key
            if event.kind == "batch":
                began.setdefault(vid, time.perf_counter())
                parts.setdefault(vid, []).append((event.batch, extractor.run_batch(event.batch.images)))
                summary.frames += len(event.batch.indices)
                bar.set_postfix(frames_per_s=f"{summary.frames / max(time.perf_counter() - start, 1e-9):.1f}",
                                refresh=False)
                if time.monotonic() - renewed > RENEW_EVERY:
                    store.renew(vid, owner)
                    renewed = time.monotonic()
                continue
            claimed.remove(vid)
            path = records[vid].path
            if event.kind == "end":
                try:
                    feats = assemble(parts.pop(vid, []), extractor.spec, path)
                except VideoError as e:
                    _failed(store, summary, bar, vid, path, e.reason)
                else:
                    store.put(vid, feats, time.perf_counter() - began.pop(vid, time.perf_counter()))
                    summary.done += 1
                    summary.partial += feats.lost > 0
            else:
                parts.pop(vid, None)
                _failed(store, summary, bar, vid, path, event.reason)
            bar.update(1)
    finally:
        for vid in claimed:  # interrupted: hand back what this run took but did not finish
            store.release(vid, owner)
        bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _failed(store: FeatureStore, summary: ExtractSummary, bar, vid: str, path: str, reason: str) -> None:
    store.fail(vid, reason)
    summary.failed += 1
    bar.write(f"failed: {path}: {reason}")
