"""The built-in benchmark: procedural action videos in which the choice of frames matters.

Each video shows an *action window* (20-50 % of its length by default) in which the class object
moves over a background scene; outside the window, idle frames of the same scene look alike across
classes. Distractor frames (motion blur, heavy noise, a large occluding patch, black, flash, a
cut-away to unrelated content) fall anywhere. Objects and scenes are crops of the photographs that
scikit-image ships, so ImageNet features and class-name words mean something.

*Static* classes show their object through the whole window. *Temporal* classes come in pairs that
share an object: ``<a>_then_<b>`` shows the shared object alone first and then ``b`` beside it;
``<c>_then_<a>`` shows ``c`` beside it first and then the object alone. The shared half looks the
same in both classes of a pair, so only one half of the window is useful, early for one class and
late for the other: a selector must spread its picks over the window.

Ground truth per frame (``OUT/ground_truth.json``): ``useful`` (a per-frame classifier can be right
here), ``shared`` (window frame that a temporal pair has in common), ``idle``, or a distractor kind.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import SmartframesError
from ..io.video import write_video

DISTRACTORS = ("blur", "noise", "occlusion", "black", "flash", "cutaway")


@dataclass(frozen=True)
class ClassDef:
    """One benchmark class: the photo crops it shows and, for temporal classes, the order."""

    name: str
    kind: str  # "static" | "temporal"
    main: str  # crop shown through the whole window
    extra: str | None = None  # temporal only: crop shown beside main in one half
    extra_first: bool = False  # temporal only: extra in the first half (else the second)


# Photo crops (image name, top, left, height, width), all from skimage.data (shipped, no download).
CROPS = {
    "cat": ("chelsea", 20, 110, 260, 260),
    "espresso": ("coffee", 20, 170, 330, 330),
    "rocket": ("rocket", 0, 230, 427, 200),
    "motorcycle": ("stereo_motorcycle", 60, 60, 420, 620),
    "astronaut": ("astronaut", 0, 140, 240, 220),
    "clock": ("clock", 0, 40, 300, 300),
    "cameraman": ("camera", 40, 170, 300, 250),
    "moon": ("moon", 0, 0, 512, 512),
    "coins": ("coins", 10, 10, 280, 360),
    "colorwheel": ("colorwheel", 0, 0, 370, 371),
    "galaxy": ("hubble_deep_field", 100, 300, 400, 400),
    "tissue": ("immunohistochemistry", 0, 0, 512, 512),
    "flag": ("astronaut", 0, 0, 230, 130),
    "text": ("text", 0, 0, 172, 220),
}
SCENES = ("brick", "grass", "gravel", "cell")  # backgrounds shared by every class
CUTAWAYS = ("retina", "logo", "page", "checkerboard", "microaneurysms")  # unrelated content

CLASSES = [
    ClassDef("cat", "static", "cat"),
    ClassDef("espresso", "static", "espresso"),
    ClassDef("rocket", "static", "rocket"),
    ClassDef("motorcycle", "static", "motorcycle"),
    ClassDef("cameraman_then_moon", "temporal", "cameraman", "moon", extra_first=False),
    ClassDef("coins_then_cameraman", "temporal", "cameraman", "coins", extra_first=True),
    ClassDef("astronaut", "static", "astronaut"),
    ClassDef("clock", "static", "clock"),
    ClassDef("colorwheel_then_galaxy", "temporal", "colorwheel", "galaxy", extra_first=False),
    ClassDef("tissue_then_colorwheel", "temporal", "colorwheel", "tissue", extra_first=True),
    ClassDef("flag_then_text", "temporal", "flag", "text", extra_first=False),
    ClassDef("coins_then_flag", "temporal", "flag", "coins", extra_first=True),
]


@dataclass(frozen=True)
class SynthConfig:
    """Size and difficulty of a generated benchmark."""

    classes: int = 10
    per_class: int = 60
    frames: int = 24
    size: int = 112
    fps: float = 12.0
    seed: int = 0
    window_min: float = 0.2  # action window length, fraction of the video
    window_max: float = 0.5
    distractor_rate: float = 0.25  # fraction of frames replaced by a distractor
    splits: tuple[float, float, float] = (0.5, 0.1, 0.4)  # train / val / test per class

    def __post_init__(self):
        if not 2 <= self.classes <= len(CLASSES):
            raise SmartframesError(f"--classes must be in 2..{len(CLASSES)}, got {self.classes}")
        if self.per_class < 3:
            raise SmartframesError(f"--per-class must be >= 3 (one video per split), got {self.per_class}")
        if self.frames < 8:
            raise SmartframesError(f"--frames must be >= 8, got {self.frames}")
        if self.size < 32 or self.size % 2:
            raise SmartframesError(f"--size must be an even number >= 32, got {self.size}")
        if not 0 < self.window_min <= self.window_max <= 1:
            raise SmartframesError(f"window lengths must satisfy 0 < min <= max <= 1, got {self.window_min}, {self.window_max}")
        if not 0 <= self.distractor_rate < 1:
            raise SmartframesError(f"--distractor-rate must be in [0, 1), got {self.distractor_rate}")


def class_defs(n: int) -> list[ClassDef]:
    """The first ``n`` benchmark classes, less a temporal class whose partner (the class sharing
    its object) would be left out: a pair is either whole or absent."""
    defs = CLASSES[:n]
    shared = {}
    for d in defs:
        if d.kind == "temporal":
            shared[d.main] = shared.get(d.main, 0) + 1
    return [d for d in defs if d.kind == "static" or shared[d.main] == 2]


@lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    img = np.asarray(img[0] if isinstance(img, tuple) else img)  # stereo pairs: the left view
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


@lru_cache(maxsize=None)
def _crop(name: str) -> np.ndarray:
    image, top, left, h, w = CROPS[name]
    return _photo(image)[top : top + h, left : left + w]


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area-average downscale (or nearest upscale) of (H, W, 3) uint8 to (h, w, 3) float32."""
    H, W = img.shape[:2]
    ys = (np.arange(h + 1) * H / h).astype(int)
    xs = (np.arange(w + 1) * W / w).astype(int)
    cs = np.zeros((H + 1, W + 1, 3), np.float64)
    cs[1:, 1:] = img.astype(np.float64).cumsum(0).cumsum(1)
    y0, y1 = ys[:-1, None], np.maximum(ys[1:], ys[:-1] + 1)[:, None]
    x0, x1 = xs[None, :-1], np.maximum(xs[1:], xs[:-1] + 1)[None, :]
    total = cs[y1, x1] - cs[y0, x1] - cs[y1, x0] + cs[y0, x0]
    return (total / ((y1 - y0) * (x1 - x0))[..., None]).astype(np.float32)


def _scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """A background (size + margin for camera drift) from a shared texture, tinted."""
    photo = _photo(SCENES[rng.integers(len(SCENES))])
    side = int(rng.integers(size * 2, min(photo.shape[:2]) + 1))
    top = int(rng.integers(0, photo.shape[0] - side + 1))
    left = int(rng.integers(0, photo.shape[1] - side + 1))
    scene = _resize(photo[top : top + side, left : left + side], size + 16, size + 16)
    tint = rng.uniform(0.7, 1.1, size=3).astype(np.float32)
    return scene * tint


def _paste(frame: np.ndarray, sprite: np.ndarray, cy: float, cx: float) -> None:
    h, w = sprite.shape[:2]
    H, W = frame.shape[:2]
    top, left = int(round(cy - h / 2)), int(round(cx - w / 2))
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + h, H), min(left + w, W)
    if t1 > t0 and l1 > l0:
        frame[t0:t1, l0:l1] = sprite[t0 - top : t1 - top, l0 - left : l1 - left]


def _distract(kind: str, frame: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    if kind == "blur":  # horizontal box blur a quarter of the frame wide
        width = size // 4
        padded = np.pad(frame, ((0, 0), ((width - 1) // 2, width // 2), (0, 0)), mode="edge")
        cs = np.concatenate([np.zeros_like(padded[:, :1]), padded.cumsum(axis=1)], axis=1)
        return (cs[:, width:] - cs[:, :-width]) / width
    if kind == "noise":
        return frame * 0.3 + rng.normal(128, 90, frame.shape).astype(np.float32) * 0.7
    if kind == "occlusion":
        out = frame.copy()
        h = int(size * rng.uniform(0.65, 0.85))
        top = int(rng.integers(0, size - h + 1))
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        out[top : top + h, :] = colour
        return out
    if kind == "black":
        return np.full_like(frame, rng.uniform(0, 12))
    if kind == "flash":
        return np.full_like(frame, rng.uniform(235, 255))
    photo = _photo(CUTAWAYS[rng.integers(len(CUTAWAYS))])
    side = int(rng.integers(min(photo.shape[:2]) // 2, min(photo.shape[:2]) + 1))
    top = int(rng.integers(0, photo.shape[0] - side + 1))
    left = int(rng.integers(0, photo.shape[1] - side + 1))
    return _resize(photo[top : top + side, left : left + side], size, size)


def render_video(cls: ClassDef, cfg: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray, list[str], tuple[int, int]]:
    """Draw one video of class ``cls``.

    Returns:
        ``(frames, events, window)``: uint8 ``(T, S, S, 3)``; per frame one of ``useful``,
        ``shared``, ``idle`` or a distractor kind; the window as ``(start, end)`` frame indices
        (end exclusive).
    """
    T, S = cfg.frames, cfg.size
    length = int(round(T * rng.uniform(cfg.window_min, cfg.window_max)))
    length = max(2, min(T, length))
    start = int(rng.integers(0, T - length + 1))
    end = start + length
    scene = _scene(rng, S)
    main = _crop(cls.main)
    scale = rng.uniform(0.5, 0.65)
    mh = int(S * scale)
    mw = max(8, int(mh * main.shape[1] / main.shape[0]))
    mw = min(mw, int(S * 0.8))
    main_sprite = _resize(main, mh, mw) * rng.uniform(0.85, 1.1)
    extra_sprite = None
    if cls.extra is not None:
        extra = _crop(cls.extra)
        eh = int(S * 0.4)
        ew = min(int(eh * extra.shape[1] / extra.shape[0]), int(S * 0.5))
        extra_sprite = _resize(extra, eh, ew)
    extra_y = rng.uniform(0.3, 0.7) * S
    y0, y1 = rng.uniform(0.4, 0.6, size=2) * S
    x0, x1 = (rng.uniform(0.3, 0.45), rng.uniform(0.55, 0.7)) if rng.random() < 0.5 else (rng.uniform(0.55, 0.7), rng.uniform(0.3, 0.45))
    x0, x1 = x0 * S, x1 * S
    drift = rng.uniform(-8, 8, size=2)
    half = start + length // 2
    frames = np.empty((T, S, S, 3), np.uint8)
    events = []
    for t in range(T):
        dy, dx = (8 + drift * t / max(T - 1, 1)).astype(int)
        frame = scene[dy : dy + S, dx : dx + S].copy()
        event = "idle"
        if start <= t < end:
            a = (t - start) / max(length - 1, 1)
            cy, cx = y0 + (y1 - y0) * a, x0 + (x1 - x0) * a
            with_extra = extra_sprite is not None and ((t < half) == cls.extra_first)
            if with_extra:  # main object to one side, the extra one beside it
                side = -1.0 if cls.extra_first else 1.0
                _paste(frame, main_sprite, cy, S / 2 - side * S * 0.2)
                _paste(frame, extra_sprite, extra_y, S / 2 + side * S * 0.25)
            else:
                _paste(frame, main_sprite, cy, cx)
            event = "useful" if cls.kind == "static" or with_extra else "shared"
        frames[t] = np.clip(frame + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
        events.append(event)
    n_distract = int(round(cfg.distractor_rate * T))
    for t in sorted(rng.choice(T, size=n_distract, replace=False).tolist()):
        kind = DISTRACTORS[rng.integers(len(DISTRACTORS))]
        frames[t] = np.clip(_distract(kind, frames[t].astype(np.float32), rng, S), 0, 255).astype(np.uint8)
        events[t] = kind
    return frames, events, (start, end)


def _plan(cfg: SynthConfig) -> list[dict]:
    defs = class_defs(cfg.classes)
    n_train = int(round(cfg.per_class * cfg.splits[0]))
    n_val = max(1, int(round(cfg.per_class * cfg.splits[1])))
    jobs = []
    for c, cls in enumerate(defs):
        for k in range(cfg.per_class):
            split = "train" if k < n_train else "val" if k < n_train + n_val else "test"
            jobs.append({"class": c, "k": k, "split": split, "path": f"videos/{cls.name}/{cls.name}_{k:04d}.mp4"})
    return jobs


def _make_one(args) -> dict:
    cfg, job, out = args
    cls = class_defs(cfg.classes)[job["class"]]
    rng = np.random.default_rng([cfg.seed, job["class"], job["k"]])
    frames, events, window = render_video(cls, cfg, rng)
    path = Path(out) / job["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    write_video(tmp, frames, fps=cfg.fps)
    os.replace(tmp, path)
    return {"path": job["path"], "label": cls.name, "split": job["split"], "kind": cls.kind,
            "window": list(window), "events": events}


def synthesize(out: str | os.PathLike, cfg: SynthConfig = SynthConfig(), *, workers: int | None = None,
               progress: bool = True) -> dict:
    """Write the benchmark: videos, ``labels.csv`` and ``ground_truth.json``.

    Deterministic for a given config: every video is drawn from its own generator seeded by
    ``(seed, class, index)`` and encoded with fixed single-threaded settings.

    Args:
        out: output directory (created).
        cfg: size and difficulty.
        workers: processes used for drawing and encoding (default: CPU count).
        progress: show a progress bar.

    Returns:
        ``{"videos": n, "seconds": s, "bytes": b}``.
    """
    from tqdm import tqdm

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SmartframesError(f"{out}: cannot create output directory ({e.strerror})") from None
    begin = time.perf_counter()
    jobs = _plan(cfg)
    workers = workers or os.cpu_count() or 1
    args = [(cfg, job, str(out)) for job in jobs]
    with tqdm(total=len(jobs), unit="video", desc="synth", disable=not progress, dynamic_ncols=True) as bar:
        if workers == 1:
            rows = []
            for a in args:
                rows.append(_make_one(a))
                bar.update(1)
        else:
            with ProcessPoolExecutor(workers) as pool:
                rows = []
                for row in pool.map(_make_one, args, chunksize=8):
                    rows.append(row)
                    bar.update(1)
    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split", "kind", "window_start", "window_end", "useful"])
        for r in rows:
            useful = "".join("1" if e == "useful" else "0" for e in r["events"])
            w.writerow([r["path"], r["label"], r["split"], r["kind"], r["window"][0], r["window"][1], useful])
    truth = {"config": asdict(cfg), "classes": [asdict(c) for c in class_defs(cfg.classes)],
             "videos": {r["path"]: {"events": r["events"], "window": r["window"]} for r in rows}}
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1))
    size = sum(f.stat().st_size for f in out.rglob("*.mp4"))
    return {"videos": len(rows), "seconds": time.perf_counter() - begin, "bytes": size}


def load_ground_truth(dataset_dir: str | os.PathLike) -> dict[str, dict]:
    """Per-video ground truth of a generated benchmark, keyed by resolved video path:
    ``{"events": [...], "useful": bool array (T,), "window": (start, end)}``."""
    root = Path(dataset_dir)
    path = root / "ground_truth.json"
    if not path.is_file():
        raise SmartframesError(f"{path}: no ground truth (not a benchmark written by `smartframes synth`)")
    truth = json.loads(path.read_text())
    return {
        str((root / p).resolve()): {"events": v["events"], "useful": np.array([e == "useful" for e in v["events"]]),
                                    "window": tuple(v["window"])}
        for p, v in truth["videos"].items()
    }


def find_ground_truth(paths: list[str]) -> dict[str, dict] | None:
    """Ground truth (as :func:`load_ground_truth` gives it) of every video in ``paths``, read from
    the nearest ``ground_truth.json`` above each video; None unless every video has one (any data
    but a benchmark written by :func:`synthesize`)."""
    truth: dict[str, dict] = {}
    read: set[Path] = set()
    for p in paths:
        root = next((d for d in Path(p).resolve().parents if (d / "ground_truth.json").is_file()), None)
        if root is None:
            return None
        if root not in read:
            truth.update(load_ground_truth(root))
            read.add(root)
    return truth if all(str(Path(p).resolve()) in truth for p in paths) else None
