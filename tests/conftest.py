"""Shared fixtures: synthetic clips and datasets written on the fly, a made-up feature store, and the
real clips in ../shared (tests that need them skip when it is absent).

Every test runs in its own ``tmp_path`` as working directory, with ``TMPDIR`` pointing inside
pytest's temporary tree, and Hypothesis keeps no example database and its caches there too:
nothing is written elsewhere."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from smartframes.data.dataset import DatasetItem
from smartframes.features.store import FeatureStore, VideoFeatures, video_id
from smartframes.io.video import VideoInfo, write_video
from smartframes.spec import FeatureSpec

settings.register_profile("smartframes-tests", database=None)
settings.load_profile("smartframes-tests")

# resolved: the dataset readers store real paths, and ../shared may be a link
REAL_CLIPS = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-clips").resolve()
UCF101_9 = REAL_CLIPS.parent / "ucf101-9"
ABSENT = "../shared/data/real-clips is not present (a fresh clone)"


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    set_hypothesis_home_dir(config._tmp_path_factory.mktemp("hypothesis"))  # before collection reads constants


@pytest.fixture(autouse=True)
def _writes_stay_under_pytest_tmp(tmp_path, tmp_path_factory, monkeypatch):
    scratch = tmp_path_factory.mktemp("tempfile")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))


def _real_clip_rows() -> list[dict]:
    labels = REAL_CLIPS / "labels.csv"
    if not labels.is_file():
        return []
    with open(labels, newline="") as fh:
        return list(csv.DictReader(fh))


def pytest_generate_tests(metafunc):
    """A test that takes ``real_clip_row`` runs once per row of ../shared/data/real-clips/labels.csv."""
    if "real_clip_row" in metafunc.fixturenames:
        rows = _real_clip_rows() or [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT))]
        metafunc.parametrize("real_clip_row", rows, ids=lambda r: r["path"] if r else "absent")


@pytest.fixture(scope="session")
def real_clips() -> Path:
    if not (REAL_CLIPS / "labels.csv").is_file():
        pytest.skip(ABSENT)
    return REAL_CLIPS


@pytest.fixture(scope="session")
def ucf101_9() -> Path:
    """../shared/data/ucf101-9: real UCF101 clips of nine classes with the official split 1."""
    if not (UCF101_9 / "labels.csv").is_file():
        pytest.skip("../shared/data/ucf101-9 is not present (a fresh clone)")
    return UCF101_9


@pytest.fixture(scope="session")
def real_clip_labels(real_clips) -> list[dict]:
    """The rows of ``labels.csv`` of the real clips."""
    return _real_clip_rows()


@pytest.fixture(scope="session")
def optional_real_clips() -> Path | None:
    """The real clips' folder, or None where ../shared is absent (for tests that only add them)."""
    return REAL_CLIPS if (REAL_CLIPS / "labels.csv").is_file() else None


def _index_frames(n: int, height: int = 48, width: int = 64) -> np.ndarray:
    levels = 10 + 8 * (np.arange(n) % 30)
    return np.broadcast_to(levels[:, None, None, None], (n, height, width, 3)).astype(np.uint8).copy()


def _frame_index(frame: np.ndarray) -> int:
    return int(round((float(frame.mean()) - 10) / 8))


@pytest.fixture(scope="session")
def index_frames():
    """``index_frames(n, height=48, width=64)``: frames whose frame i is flat grey level 10 + 8 * (i % 30)."""
    return _index_frames


@pytest.fixture(scope="session")
def frame_index():
    """``frame_index(frame)``: the inverse of ``index_frames`` (modulo 30)."""
    return _frame_index


@pytest.fixture
def indexed_clip(tmp_path) -> Path:
    """A 30-frame H.264 clip (B-frames on) whose frame i has grey level 10 + 8 i."""
    path = tmp_path / "indexed.mp4"
    write_video(path, _index_frames(30), fps=25)
    return path


@pytest.fixture(scope="session")
def small_spec_args() -> tuple[str, ...]:
    """The command-line form of ``small_spec``."""
    return ("--light-resolution", "96", "--expensive-resolution", "96", "--max-candidates", "6")


@pytest.fixture(scope="session")
def small_spec() -> FeatureSpec:
    """A fast feature spec for tests: 96-pixel inputs, at most 6 candidates per video."""
    return FeatureSpec(light_resolution=96, expensive_resolution=96, max_candidates=6)


def _write_class_folder(root: Path, classes=("red", "blue"), per_class: int = 3, frames: int = 12) -> Path:
    rng = np.random.default_rng(0)
    colours = {"red": (200, 30, 30), "blue": (30, 30, 200), "green": (30, 200, 30)}
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            clip = np.full((frames, 64, 80, 3), 40, np.uint8)
            for t in range(frames):
                x = int(rng.integers(0, 56))
                clip[t, 20:44, x : x + 24] = colours.get(c, (128, 128, 128))
            write_video(root / c / f"{k}.mp4", clip, fps=12)
    return root


@pytest.fixture(scope="session")
def write_class_folder():
    """``write_class_folder(root, classes=("red", "blue"), per_class=3, frames=12)``: a dataset folder
    ``root/<class>/<k>.mp4`` of small 80x64 coloured clips with moving squares; returns ``root``."""
    return _write_class_folder


TOY_SPEC = FeatureSpec(light_resolution=96, expensive_resolution=96)


def _make_toy_store(root: Path, classes: int = 3, per_class: int = 30, T: int = 20, seed: int = 0,
                    stats: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    other = np.random.default_rng(seed + 1)  # frame statistics, drawn apart so the features stay as they were
    visual_dirs = rng.normal(size=(classes, 1280)).astype(np.float32)
    glove_dirs = rng.normal(size=(classes, 50)).astype(np.float32)
    exp_dirs = rng.normal(size=(classes, 1280)).astype(np.float32)
    marker = rng.normal(size=1280).astype(np.float32)  # "something is happening" in useful frames
    items, feats, masks = [], {}, {}
    for c in range(classes):
        for k in range(per_class):
            path = str(root / "videos" / f"c{c}_{k}.mp4")
            split = "train" if k < per_class * 0.6 else "val" if k < per_class * 0.75 else "test"
            items.append(DatasetItem(path, f"class{c}", split, path))
            useful = np.zeros(T, bool)
            start = rng.integers(0, T - 4)
            useful[start : start + 4] = True
            visual = rng.normal(size=(T, 1280)).astype(np.float32)
            visual[useful] += 1.5 * visual_dirs[c] + 1.5 * marker
            glove = rng.normal(size=(T, 50)).astype(np.float32) * 0.5
            glove[useful] += glove_dirs[c]
            expensive = rng.normal(size=(T, 1280)).astype(np.float32)
            expensive[useful] += 0.8 * exp_dirs[c]
            info = VideoInfo(path, T, 10.0, T / 10, 64, 64, 0, "h264")
            quality = np.c_[other.uniform(0.2, 0.8, T), other.uniform(0.1, 0.3, T), other.uniform(0.001, 0.01, T),
                            other.uniform(0.05, 0.5, T)].astype(np.float32)
            confidence = np.c_[other.uniform(0, 1, T), other.uniform(0, 6, T)].astype(np.float32)
            feats[path] = VideoFeatures(visual, glove, expensive, np.arange(T), np.arange(T) / 10, info, 0,
                                        quality=quality if stats else None, confidence=confidence if stats else None)
            masks[path] = useful
    store = FeatureStore.create_or_open(root / "store", TOY_SPEC)
    store.add_videos(items)
    ids = {}
    for path, f in feats.items():
        vid = video_id(path)
        store.put(vid, f, 0.0)
        ids[vid] = masks[path]
    store.close()
    return ids


@pytest.fixture(scope="session")
def make_toy_store():
    """``make_toy_store(root, classes=3, per_class=30, T=20, seed=0, stats=True)``: a store
    ``root/store`` of made-up features (96-pixel spec, classes ``class0``...): each video has 4
    useful frames carrying its class signal, the rest noise; ``stats=False`` leaves out the frame
    statistics, as in stores written before they were kept. Returns {video id: useful-frame mask}."""
    return _make_toy_store


def _text(path: Path, lines, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode())


def _ucf101_tree(root: Path, clip: bytes, classes, lists: str = "ucfTrainTestlist", videos: str = "UCF-101"):
    train = [f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi" for c in classes for g in (8, 9, 10) for k in (1, 2, 3)]
    test = [f"{c}/v_{c}_g01_c{k:02d}.avi" for c in classes for k in (1, 2)]
    index = {c: i for i, c in enumerate(classes, start=1)}
    _text(root / lists / "classInd.txt", [f"{i} {c}" for c, i in index.items()] + [""], "\r\n")
    _text(root / lists / "trainlist01.txt", [f"{v} {index[v.split('/')[0]]}" for v in train] + [""], "\r\n")
    _text(root / lists / "testlist01.txt", test + [""], "\r\n")
    absent = train[-1]
    for v in train + test:
        if v != absent:
            (root / videos / v).parent.mkdir(parents=True, exist_ok=True)
            (root / videos / v).write_bytes(clip)
    key = lambda v: PurePosixPath(videos, v).as_posix()  # noqa: E731
    return [key(v) for v in train], [key(v) for v in test], absent


@pytest.fixture(scope="session")
def ucf101_tree():
    """``ucf101_tree(root, clip_bytes, classes, lists="ucfTrainTestlist", videos="UCF-101")``: the
    official UCF101 layout (split 1, CRLF lists) with 9 train and 2 test copies of the clip per
    class, the last train video absent. Returns (train keys, test keys, the absent list entry)."""
    return _ucf101_tree


@pytest.fixture(scope="session")
def noise_clip(tmp_path_factory) -> Path:
    """A 2-second 80x64 clip of random pixels, for the documentation's snippets (``clip.mp4``)."""
    path = tmp_path_factory.mktemp("noise") / "clip.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (40, 64, 80, 3), dtype=np.uint8)
    write_video(path, frames, fps=20)
    return path
