"""Shared fixtures: synthetic clips written on the fly, and the real clips in ../shared."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from smartframes.video import write_video

REAL_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-clips"


def real_clip_rows() -> list[dict]:
    """Rows of ../shared/data/real-clips/labels.csv, or [] when ../shared is absent."""
    labels = REAL_CLIPS / "labels.csv"
    if not labels.is_file():
        return []
    with open(labels, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def real_clips() -> Path:
    if not (REAL_CLIPS / "labels.csv").is_file():
        pytest.skip("../shared/data/real-clips is not present (a fresh clone)")
    return REAL_CLIPS


def index_frames(n: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames whose brightness encodes their index: frame i is flat grey level 10 + 8 * (i % 30)."""
    levels = 10 + 8 * (np.arange(n) % 30)
    return np.broadcast_to(levels[:, None, None, None], (n, height, width, 3)).astype(np.uint8).copy()


def frame_index(frame: np.ndarray) -> int:
    """Inverse of :func:`index_frames` (modulo 30)."""
    return int(round((float(frame.mean()) - 10) / 8))


@pytest.fixture
def indexed_clip(tmp_path) -> Path:
    """A 30-frame H.264 clip (B-frames on) whose frame i has grey level 10 + 8 i."""
    path = tmp_path / "indexed.mp4"
    write_video(path, index_frames(30), fps=25)
    return path


SMALL_SPEC_ARGS = ["--light-resolution", "96", "--expensive-resolution", "96", "--max-candidates", "6"]


def small_spec():
    """A fast feature spec for tests: 96-pixel inputs, at most 6 candidates per video."""
    from smartframes.features import FeatureSpec

    return FeatureSpec(light_resolution=96, expensive_resolution=96, max_candidates=6)


def write_class_folder(root: Path, classes=("red", "blue"), per_class: int = 3, frames: int = 12) -> Path:
    """A dataset folder ``root/<class>/<k>.mp4`` of small coloured clips with moving squares."""
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
