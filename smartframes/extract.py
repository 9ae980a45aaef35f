"""Extract features for a whole dataset into a store: resumable, with a progress bar.

A background thread decodes candidate frames while the main thread runs the backbones, so
decoding overlaps inference. A video that cannot be read is recorded as failed with its reason
and the run goes on.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from tqdm import tqdm

from .dataset import load_dataset
from .features import FeatureExtractor, FeatureSpec, assemble
from .store import FeatureStore
from .video import VideoError


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

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.done} extracted, {self.failed} failed, {self.skipped} already done; "
            f"{self.frames} frames in {self.seconds:.1f} s ({self.frames_per_second:.1f} frames/s); "
            f"store: {self.store_done} done, {self.store_failed} failed"
            + (f"; {self.partial} stored with lost frames" if self.partial else "")
        )


_END = object()


def extract_dataset(
    source,
    store_dir,
    spec: FeatureSpec = FeatureSpec(),
    *,
    device: str = "cpu",
    batch_size: int = 32,
    retry_failed: bool = False,
    progress: bool = True,
) -> ExtractSummary:
    """Catalog a dataset into a store and extract every unfinished video.

    Args:
        source: dataset folder or CSV (see :func:`smartframes.dataset.load_dataset`).
        store_dir: store directory; created, or resumed if it exists with the same spec.
        spec: what to compute per frame.
        device: ``cpu`` or ``cuda``.
        batch_size: frames per forward pass.
        retry_failed: try again the videos that failed before.
        progress: show a progress bar on stderr.

    Raises:
        DatasetError, StoreError: bad dataset or a store built with another spec.
    """
    items = load_dataset(source)
    with FeatureStore.create_or_open(store_dir, spec) as store:
        store.add_videos(items)
        wanted = {it.path for it in items}
        todo = [r for r in store.todo(retry_failed) if r.path in wanted]
        skipped = sum(1 for r in store.records(status="done") if r.path in wanted)
        extractor = FeatureExtractor(spec, device=device, batch_size=batch_size)
        summary = _run(extractor, store, todo, progress)
        summary.skipped = skipped
        summary.store_done, summary.store_failed = store.count("done"), store.count("failed")
        return summary


def _produce(extractor: FeatureExtractor, todo, out: queue.Queue, stop: threading.Event) -> None:
    for rec in todo:
        if stop.is_set():
            return
        try:
            for info, idx, times, images in extractor.batches(rec.path):
                out.put(("batch", rec, (info, idx, times, images)))
                if stop.is_set():
                    return
            out.put(("end", rec, None))
        except VideoError as e:
            out.put(("error", rec, e.reason))
        except Exception as e:  # a decoder fault on a hostile file must not end the run
            out.put(("error", rec, f"unexpected {type(e).__name__}: {e}"))
    out.put((_END, None, None))


def _run(extractor: FeatureExtractor, store: FeatureStore, todo, progress: bool) -> ExtractSummary:
    summary = ExtractSummary(0, 0, 0, 0, 0.0, 0, 0, 0)
    q: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    producer = threading.Thread(target=_produce, args=(extractor, todo, q, stop), daemon=True)
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="video", disable=not progress, dynamic_ncols=True, desc="extract")
    parts: dict[str, list] = {}
    began: dict[str, float] = {}
    producer.start()
    try:
        while True:
            kind, rec, payload = q.get()
            if kind is _END:
                break
            if kind == "batch":
                began.setdefault(rec.id, time.perf_counter())
                info, idx, times, images = payload
                parts.setdefault(rec.id, []).append((info, idx, times, extractor.run_batch(images)))
                summary.frames += len(idx)
                elapsed = time.perf_counter() - start
                bar.set_postfix(frames_per_s=f"{summary.frames / max(elapsed, 1e-9):.1f}", refresh=False)
                continue
            if kind == "end":
                try:
                    feats = assemble(parts.pop(rec.id, []), extractor.spec, rec.path)
                except VideoError as e:
                    store.fail(rec.id, e.reason)
                    summary.failed += 1
                else:
                    store.put(rec.id, feats, time.perf_counter() - began.pop(rec.id, time.perf_counter()))
                    summary.done += 1
                    summary.partial += feats.lost > 0
            else:
                parts.pop(rec.id, None)
                store.fail(rec.id, payload)
                summary.failed += 1
                bar.write(f"failed: {rec.path}: {payload}")
            bar.update(1)
    finally:
        stop.set()
        bar.close()
        while producer.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                producer.join(timeout=0.1)
    summary.seconds = time.perf_counter() - start
    return summary

