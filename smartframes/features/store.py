"""The feature store: a SQLite catalog plus one safetensors file per video.

Layout of a store directory::

    catalog.sqlite             videos, labels, splits, probe facts, status, errors; the spec
    features/<id>.safetensors  visual (T,1280), glove (T,50), expensive (T,1280), indices, times

A feature file is written to a temporary name, flushed and renamed (and the directory flushed),
then the catalog row is marked done, so a killed run leaves either a finished video or an
unfinished one (and at most a stale temporary file, removed on the next open).

Several processes may extract into one store at once: each takes a video by *claiming* its row
(``pending`` -> ``running``, with its owner ``host:pid``) in one SQL statement, so no video is
extracted twice. A claim whose owner died on this host, or that nobody renewed for
:data:`CLAIM_LEASE` seconds, goes back to ``pending`` when a store is opened.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load, save

from ..data.segments import Segment, from_json, to_json, video_name
from ..errors import SmartframesError
from ..io.files import atomic_write, disk_error
from ..io.video import VideoInfo, worth_seeking
from ..spec import FeatureSpec

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    label TEXT,
    split TEXT,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | running | done | failed
    error TEXT,
    frame_count INTEGER,
    fps REAL,
    duration REAL,
    width INTEGER,
    height INTEGER,
    candidates TEXT,                          -- JSON list of stored frame indices
    lost INTEGER,
    seconds REAL,
    updated REAL,
    owner TEXT,                               -- host:pid of the process that claimed it last
    claimed REAL,                             -- when that claim was made or renewed
    attempts INTEGER NOT NULL DEFAULT 0,      -- claims so far
    labels TEXT,                              -- JSON list of every label of a multi-label video
    seek INTEGER,                             -- 1: candidates reached by seeking (frame numbers from timestamps)
    segments TEXT,                            -- JSON [[start, end, label], ...] in seconds: where the action is
    sha256 TEXT                               -- of the feature file as written; checked on every read
);
"""
ADDED_COLUMNS = {"owner": "TEXT", "claimed": "REAL", "attempts": "INTEGER NOT NULL DEFAULT 0", "labels": "TEXT",
                 "seek": "INTEGER", "segments": "TEXT", "sha256": "TEXT"}
CLAIM_LEASE = 3600.0  # seconds a claim from another host lives without renewal
CATALOG_WAIT = 60.0  # seconds a command waits for another holding the catalog locked


@dataclass
class VideoFeatures:
    """Features of one video's candidate frames, rows in time order: what the store keeps per video."""

    visual: np.ndarray  # (T, 1280) float32, light backbone embedding
    glove: np.ndarray  # (T, 50) float32, mean GloVe vector of the top-k ImageNet class names
    expensive: np.ndarray | None  # (T, 1280) float32, expensive backbone embedding
    indices: np.ndarray  # (T,) int64 frame indices
    times: np.ndarray  # (T,) float64 seconds
    info: VideoInfo
    lost: int  # candidate frames that could not be decoded
    seek: bool = False  # the candidates were reached by seeking (see smartframes.io.video.worth_seeking)
    seconds: float = 0.0  # time spent decoding and computing them
    quality: np.ndarray | None = None  # (T, 4) frame statistics (smartframes.selection.methods.QUALITY_COLUMNS)
    confidence: np.ndarray | None = None  # (T, 2) light model's ImageNet [max probability, entropy]

    @property
    def light(self) -> np.ndarray:
        """The selector's input X, (T, 1330)."""
        return np.concatenate([self.visual, self.glove], axis=1)


class StoreError(SmartframesError):
    """A store that cannot be opened or does not match what was asked of it."""


@dataclass(frozen=True)
class VideoRecord:
    """One catalog row."""

    id: str
    path: str
    label: str | None
    split: str | None
    status: str
    error: str | None
    frame_count: int | None
    fps: float | None
    duration: float | None
    width: int | None
    height: int | None
    candidates: list[int] | None
    lost: int | None
    seconds: float | None
    owner: str | None = None
    attempts: int = 0
    labels: list[str] | None = None  # every label of a multi-label video, ``label`` first
    seek: bool = False  # its candidates were reached by seeking: read its frames the same way
    segments: list[Segment] | None = None  # where its action happens (temporal annotations), if known


def video_id(path: str | os.PathLike) -> str:
    """Stable id of a video: the first 16 hex digits of the SHA-1 of its resolved path."""
    return hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:16]


def owner_name() -> str:
    """This process as a claim owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FeatureStore:
    """A directory of per-video features with its catalog.

    Use :meth:`create_or_open` to start or resume extraction and :meth:`open` to read.
    """

    def __init__(self, root: str | os.PathLike, spec: FeatureSpec):
        self.root = Path(root)
        self.spec = spec
        self.features_dir = self.root / "features"
        self._db = _connect(self.root / "catalog.sqlite")
        self._frozen: set[str] | None = None  # with freeze(): the videos finished then

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, root: str | os.PathLike) -> "FeatureStore":
        """Open an existing store for reading (and for resuming)."""
        root = Path(root)
        catalog = root / "catalog.sqlite"
        if not catalog.is_file():
            raise StoreError(f"{root}: not a feature store (no catalog.sqlite); create one with `smartframes extract`")
        db = _connect(catalog)
        row = db.execute("SELECT value FROM meta WHERE key='spec'").fetchone()
        db.close()
        if row is None:
            raise StoreError(f"{catalog}: catalog has no feature spec; the store is damaged")
        try:
            spec = FeatureSpec.from_dict(json.loads(row[0]))
        except (ValueError, TypeError, SmartframesError) as e:
            raise StoreError(f"{catalog}: unreadable feature spec ({e})") from None
        return cls(root, spec)

    @classmethod
    def create_or_open(cls, root: str | os.PathLike, spec: FeatureSpec) -> "FeatureStore":
        """Create a store with ``spec``, or open an existing one whose spec equals ``spec``.

        Raises:
            StoreError: the directory holds a store with a different spec, or is not writable.
        """
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: exists and is not a directory")
        try:
            (root / "features").mkdir(parents=True, exist_ok=True)
            db = _connect(root / "catalog.sqlite")
        except OSError as e:
            raise StoreError(f"{root}: cannot create store ({e.strerror})") from None
        # idempotent: a run killed half-way through creating the store left tables but no spec
        db.execute("INSERT OR IGNORE INTO meta VALUES ('spec', ?), ('created', ?)",
                   (spec.to_json(), time.strftime("%Y-%m-%dT%H:%M:%S")))
        db.close()
        store = cls.open(root)
        if store.spec != spec:
            changes = "; ".join(store.spec.diff(spec))
            store.close()
            raise StoreError(
                f"{root}: store was built with a different feature spec ({changes}); "
                "use a new --store directory or the store's settings"
            )
        store.features_dir.mkdir(exist_ok=True)
        store.remove_stale_temporaries()
        store.release_stale_claims()
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- catalog -------------------------------------------------------------------------------

    def add_videos(self, items) -> int:
        """Catalog videos as pending (those already catalogued keep their status; their labels and
        split are updated). ``items`` have ``path``, ``label``, ``split`` and optionally ``labels``.
        Returns how many are new."""
        before = self.count()
        with _transaction(self._db):
            for it in items:
                vid = video_id(it.path)
                labels = json.dumps(list(it.labels)) if getattr(it, "labels", None) else None
                self._db.execute(
                    "INSERT INTO videos (id, path, label, split, status, updated, labels) "
                    "VALUES (?, ?, ?, ?, 'pending', ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET label=excluded.label, split=excluded.split, labels=excluded.labels",
                    (vid, str(Path(it.path).resolve()), it.label, it.split, time.time(), labels),
                )
        return self.count() - before

    def set_segments(self, segments: dict[str, list[Segment]]) -> int:
        """Keep the temporal annotations (:func:`smartframes.data.segments.read_segments`) of the
        catalogued videos they name; later commands find them here. Returns how many videos got segments."""
        rows = self._db.execute("SELECT id, path FROM videos").fetchall()
        found = [(to_json(segments[video_name(r["path"])]), r["id"]) for r in rows if video_name(r["path"]) in segments]
        with _transaction(self._db):
            self._db.executemany("UPDATE videos SET segments=? WHERE id=?", found)
        return len(found)

    def count_annotated(self) -> int:
        """How many videos have temporal annotations."""
        return self._db.execute("SELECT COUNT(*) FROM videos WHERE segments IS NOT NULL").fetchone()[0]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM videos WHERE status=?", (status,)).fetchone()[0]

    def freeze(self) -> tuple[int, int]:
        """From now on, read as finished only the videos finished at this moment, whatever an
        ``extract`` still writing the store adds: a reader's consistent snapshot (a finished
        video's file is never rewritten). Returns (finished videos, videos not finished yet)."""
        rows = self._db.execute("SELECT id, status FROM videos").fetchall()  # one statement: one instant
        self._frozen = {r["id"] for r in rows if r["status"] == "done"}
        return len(self._frozen), sum(r["status"] in ("pending", "running") for r in rows)

    def records(self, *, status: str | None = None, split: str | None = None) -> list[VideoRecord]:
        """Catalog rows, ordered by path; filter by status and/or split (after :meth:`freeze`,
        ``done`` means finished when it was called)."""
        query, args = "SELECT * FROM videos WHERE 1=1", []
        if status is not None:
            query += " AND status=?"
            args.append(status)
        if split is not None:
            query += " AND split=?"
            args.append(split)
        rows = self._db.execute(query + " ORDER BY path", args).fetchall()
        if status == "done" and self._frozen is not None:
            rows = [r for r in rows if r["id"] in self._frozen]
        return [_record(r, self.spec) for r in rows]

    def record(self, vid: str) -> VideoRecord:
        row = self._db.execute("SELECT * FROM videos WHERE id=?", (vid,)).fetchone()
        if row is None:
            raise StoreError(f"{self.root}: no video with id {vid}")
        return _record(row, self.spec)

    def classes(self) -> list[str]:
        """Sorted labels of the catalogued videos."""
        rows = self._db.execute("SELECT DISTINCT label FROM videos WHERE label IS NOT NULL ORDER BY label")
        return [r[0] for r in rows]

    def todo(self, retry_failed: bool = False) -> list[VideoRecord]:
        """Videos still to extract: pending ones, and failed ones when ``retry_failed``."""
        wanted = ("pending", "failed") if retry_failed else ("pending",)
        return [r for r in self.records() if r.status in wanted]

    # -- claims --------------------------------------------------------------------------------

    def claim(self, vid: str, owner: str, retry_failed: bool = False) -> bool:
        """Take a video for extraction; False when it is done, failed (without ``retry_failed``)
        or another process holds it."""
        statuses = "('pending', 'failed')" if retry_failed else "('pending')"
        with _disk_errors(self._db):
            cur = self._db.execute(
                f"UPDATE videos SET status='running', owner=?, claimed=?, attempts=attempts+1 "
                f"WHERE id=? AND status IN {statuses}", (owner, time.time(), vid))
        return cur.rowcount == 1

    def renew(self, vid: str, owner: str) -> None:
        """Renew a claim, so a long video is not taken for abandoned."""
        with _disk_errors(self._db):
            self._db.execute("UPDATE videos SET claimed=? WHERE id=? AND owner=? AND status='running'",
                             (time.time(), vid, owner))

    def release(self, vid: str, owner: str) -> None:
        """Give a claimed video back unfinished (an interrupted run)."""
        with _disk_errors(self._db):
            self._db.execute("UPDATE videos SET status='pending' WHERE id=? AND owner=? AND status='running'",
                             (vid, owner))

    def release_stale_claims(self, lease: float = CLAIM_LEASE) -> int:
        """Put back to ``pending`` the claims of processes that died on this host, and claims from
        anywhere not renewed for ``lease`` seconds. Returns how many."""
        host = socket.gethostname()
        stale = []
        for vid, owner, claimed in self._db.execute("SELECT id, owner, claimed FROM videos WHERE status='running'"):
            owner_host, _, pid = (owner or "").rpartition(":")
            dead_here = owner_host == host and (not pid.isdigit() or not _pid_alive(int(pid)))
            if dead_here or claimed is None or time.time() - claimed > lease:
                stale.append((vid, owner, claimed))
        with _transaction(self._db):
            for vid, owner, claimed in stale:  # unless the claim was renewed or retaken meanwhile
                self._db.execute("UPDATE videos SET status='pending' WHERE id=? AND status='running' "
                                 "AND owner IS ? AND claimed IS ?", (vid, owner, claimed))
        return len(stale)

    # -- writing -------------------------------------------------------------------------------

    def feature_path(self, vid: str) -> Path:
        return self.features_dir / f"{vid}.safetensors"

    def put(self, vid: str, feats: VideoFeatures, seconds: float) -> None:
        """Write one video's features atomically and mark it done."""
        tensors = {
            "visual": np.ascontiguousarray(feats.visual, np.float32),
            "glove": np.ascontiguousarray(feats.glove, np.float32),
            "indices": np.ascontiguousarray(feats.indices, np.int64),
            "times": np.ascontiguousarray(feats.times, np.float64),
        }
        for name in ("expensive", "quality", "confidence"):
            if getattr(feats, name) is not None:
                tensors[name] = np.ascontiguousarray(getattr(feats, name), np.float32)
        temporary = self.features_dir / _temporary_name(vid, socket.gethostname(), os.getpid())
        # serialised here and written to our own temporary: safetensors' save_file writes through a
        # temporary of its own (.tmpXXXXXX) that a killed process would leave behind
        data = save(tensors, metadata={"spec": self.spec.to_json()})
        with atomic_write(self.feature_path(vid), temporary) as tmp:
            tmp.write_bytes(data)
        info = feats.info
        with _transaction(self._db):
            self._db.execute(
                "UPDATE videos SET status='done', error=NULL, frame_count=?, fps=?, duration=?, width=?, "
                "height=?, candidates=?, lost=?, seconds=?, updated=?, seek=?, sha256=? WHERE id=?",
                (info.frame_count, info.fps, info.duration, info.width, info.height,
                 json.dumps(feats.indices.tolist()), feats.lost, seconds, time.time(), int(feats.seek),
                 hashlib.sha256(data).hexdigest(), vid),
            )

    def fail(self, vid: str, error: str) -> None:
        """Record that a video could not be extracted, with the reason."""
        with _disk_errors(self._db):
            self._db.execute("UPDATE videos SET status='failed', error=?, updated=? WHERE id=? AND status != 'done'",
                             (error, time.time(), vid))

    def remove_stale_temporaries(self) -> int:
        """Delete temporary feature files left by processes of this host that no longer run."""
        removed, host = 0, socket.gethostname()
        for tmp in self.features_dir.glob(".tmp-*.safetensors"):
            owner = _temporary_owner(tmp.name)
            if owner is not None and owner[0] == host and not _pid_alive(owner[1]):
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    # -- reading -------------------------------------------------------------------------------

    def load(self, vid: str) -> dict[str, np.ndarray]:
        """Arrays of one finished video: ``visual``, ``glove``, ``indices``, ``times``, ``expensive``
        when the spec has an expensive backbone, and ``quality`` and ``confidence`` (stores written before frame
        statistics were kept lack them)."""
        path = self.feature_path(vid)
        if not path.is_file():
            raise StoreError(f"{path}: feature file missing; re-run `smartframes extract` on this store")
        data = path.read_bytes()
        row = self._db.execute("SELECT sha256 FROM videos WHERE id=?", (vid,)).fetchone()
        if row is not None and row["sha256"] is not None and hashlib.sha256(data).hexdigest() != row["sha256"]:
            self.mark_corrupted(vid, "feature file corrupted (checksum mismatch)")
            raise StoreError(f"{path}: feature file changed since it was written (checksum mismatch); the video is "
                             "marked failed: `smartframes extract --retry-failed` on this store computes it again")
        try:
            return load(data)
        except Exception as e:  # safetensors raises several types for damaged files
            raise StoreError(f"{path}: unreadable feature file ({e})") from None

    def mark_corrupted(self, vid: str, reason: str) -> None:
        """Send a finished video whose feature file is damaged or gone back to be extracted again
        (as a failed one, which ``extract --retry-failed`` takes), with ``reason``."""
        with _disk_errors(self._db):
            self._db.execute("UPDATE videos SET status='failed', error=?, updated=? WHERE id=? AND status='done'",
                             (reason, time.time(), vid))

    def verify(self) -> list[str]:
        """Check every finished video's feature file against its checksum; the ones missing or
        changed are marked failed (for ``extract --retry-failed``). Returns their ids."""
        bad = []
        for rec in self.records(status="done"):
            try:
                self.load(rec.id)  # marks a checksum mismatch itself
            except StoreError:
                self.mark_corrupted(rec.id, "feature file missing or unreadable")
                bad.append(rec.id)
        return bad


def _connect(path: Path) -> sqlite3.Connection:
    """Open a catalog in autocommit mode (transactions are explicit, see :func:`_transaction`),
    creating its tables and adding the columns that older catalogs lack."""
    deadline = time.monotonic() + CATALOG_WAIT
    while True:
        db = None
        try:
            db = sqlite3.connect(str(path), timeout=CATALOG_WAIT, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            have = {r["name"] for r in db.execute("PRAGMA table_info(videos)")}
            for name, kind in ADDED_COLUMNS.items():
                if name not in have:
                    db.execute(f"ALTER TABLE videos ADD COLUMN {name} {kind}")
            return db
        except sqlite3.OperationalError as e:
            # switching a new catalog to WAL takes an exclusive lock without waiting for it: two
            # commands opening one new store at once see "locked"; the loser tries again
            if db is not None:
                db.close()
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise StoreError(f"{path}: cannot open catalog ({e})") from None
            time.sleep(random.uniform(0.01, 0.1))
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: cannot open catalog ({e})") from None


@contextmanager
def _transaction(db: sqlite3.Connection):
    """One write transaction, taking the write lock at the start (waits for other writers). A
    catalog on a full disk raises :class:`~smartframes.io.files.DiskError` naming it."""
    with _disk_errors(db):
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


@contextmanager
def _disk_errors(db: sqlite3.Connection):
    """Catalog writes that fail for want of space (or by a device error) raise
    :class:`~smartframes.io.files.DiskError` naming the catalog."""
    try:
        yield
    except sqlite3.OperationalError as e:
        if "full" not in str(e) and "disk I/O" not in str(e):
            raise
        catalog = db.execute("PRAGMA database_list").fetchone()["file"]
        raise disk_error(catalog, OSError(errno.ENOSPC if "full" in str(e) else errno.EIO, str(e))) from e


def _temporary_name(vid: str, host: str, pid: int) -> str:
    """The temporary name of a feature file being written by process ``pid`` of ``host``."""
    return f".tmp-{vid}@{host}@{pid}.safetensors"


def _temporary_owner(name: str) -> tuple[str, int] | None:
    """``(host, pid)`` of the process that writes a temporary feature file, or None for a name
    that :func:`_temporary_name` did not make."""
    parts = name.removesuffix(".safetensors").split("@")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def _record(row: sqlite3.Row, spec: FeatureSpec) -> VideoRecord:
    candidates = json.loads(row["candidates"]) if row["candidates"] else None
    seek = row["seek"]
    if seek is None and candidates is not None:  # written before the column existed: as the decoder decided
        frame_count, fps = row["frame_count"], row["fps"]
        seek = worth_seeking(frame_count, fps, len(spec.candidate_rule.indices(frame_count, fps)))
    return VideoRecord(
        row["id"], row["path"], row["label"], row["split"], row["status"], row["error"], row["frame_count"],
        row["fps"], row["duration"], row["width"], row["height"], candidates, row["lost"], row["seconds"],
        row["owner"], row["attempts"], json.loads(row["labels"]) if row["labels"] else None, bool(seek),
        from_json(row["segments"]),
    )
