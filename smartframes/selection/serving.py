"""Choose frames of new videos: open and probe a video once, decode its candidate frames in one
pass, compute what the method reads (the light features on the device for a trained selector's
scores; light features, confidence or frame statistics for a training-free method; nothing for
uniform), pick n frames, and, when a recogniser is at hand, run it on the chosen frames only,
converted from the same pass, and predict the class from them.

torch and the networks are imported by the paths that run them: a method that reads no network
(``uniform``, ``quality``) selects without importing torch, which is most of a cold start."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from ..errors import SmartframesError
from ..features.quality import light_confidence, pixel_statistics, quality_table
from ..io.decoder import Batch, candidate_batches, read_ahead
from ..io.video import OpenVideo, Size, VideoError, VideoInfo, read_frames, scale_frames
from ..spec import BATCH_SIZE, FeatureSpec
from .methods import DEFAULT_METHOD, INPUTS, SELECTOR_METHODS, SERVING_METHODS, choose

if TYPE_CHECKING:
    import torch

    from .checkpoint import Checkpoint
    from .recogniser import Recogniser

TRAINING_FREE_SPEC = replace(FeatureSpec(), max_candidates=64)
"""The features a training-free method reads without a checkpoint: the default spec with at most
64 candidates a video, spread evenly, as the methods were evaluated on real UCF101."""
NETWORK_INPUTS = ("score", "light", "confidence")
"""The inputs of :data:`~smartframes.selection.methods.INPUTS` that the light network computes."""
ARRAY_PATH = "<frames>"
"""The ``path`` of a selection made on already-decoded frames."""


@dataclass
class Selection:
    """What a selector chose in one video."""

    path: str
    indices: list[int]  # selected frame indices, in time order
    times: list[float]  # their timestamps (s)
    candidates: np.ndarray  # (T,) every scored frame index
    candidate_times: np.ndarray  # (T,)
    delta: np.ndarray | None  # (T,) single-frame selector scores (None: a training-free method)
    gamma: np.ndarray | None  # (T,) global selector scores
    score: np.ndarray | None  # (T,) delta * gamma * evidence (or less, per the checkpoint's switches)
    label: str | None  # predicted class from the expensive classifier on the selected frames (None: no recogniser)
    probability: float | None
    class_probabilities: dict[str, float] | None
    seek: bool = False  # the candidates were reached by seeking: decode the chosen ones the same way
    method: str = "smart"  # how the frames were chosen
    info: VideoInfo | None = None  # what the container says (None: decoded frames)
    lost: int = 0  # candidate frames the container promised that could not be decoded (a damaged file)

    @property
    def timestamps(self) -> list[float]:
        """The chosen frames' times in seconds (as :class:`FrameSet` names them)."""
        return self.times

    @property
    def scores(self) -> list[float] | None:
        """The score of each chosen frame, in time order (None: a training-free method); ``score``
        holds every candidate's."""
        if self.score is None:
            return None
        pos = {int(c): k for k, c in enumerate(self.candidates)}
        return [float(self.score[pos[i]]) for i in self.indices]

    def damage(self) -> str | None:
        """One line on where decoding stopped when candidates were lost (None: none were)."""
        if not self.lost:
            return None
        last = int(self.candidates[-1])
        stated = f" of {self.info.frame_count} stated" if self.info is not None else ""
        return (f"{self.path}: truncated or damaged: decoding stopped after frame {last} "
                f"({self.candidate_times[-1]:.2f} s){stated}; {self.lost} candidate frames lost, "
                f"chose from the {len(self.candidates)} decoded")

    def read_frames(self, size: Size = None) -> np.ndarray:
        """The chosen frames, uint8 ``(n, H, W, 3)``, decoded as the candidates were (``size`` as in
        :func:`smartframes.io.video.read_frames`; None keeps the native size)."""
        if self.path == ARRAY_PATH:
            raise SmartframesError("this selection was made on decoded frames: index them with .indices")
        return read_frames(self.path, indices=self.indices, size=size, seek=self.seek)

    def format(self) -> str:
        """The selection as ``smartframes select`` prints it: the prediction, then one line per chosen
        frame with its time and scores."""
        pos = {int(c): k for k, c in enumerate(self.candidates)}
        said = f"{self.label} ({self.probability:.3f})" if self.label is not None else "no recogniser"
        lines = [f"{self.path}: {said}; {self.method} chose {len(self.indices)} of {len(self.candidates)} frames",
                 "  frame     time" + ("    delta    gamma    score" if self.score is not None else "")]
        for i, t in zip(self.indices, self.times):
            k = pos[i]
            scores = f" {self.delta[k]:8.3f} {self.gamma[k]:8.3f} {self.score[k]:8.3f}" if self.score is not None else ""
            lines.append(f"  {i:5d} {t:8.2f}{scores}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        def rounded(a):
            return None if a is None else a.round(6).tolist()

        return {
            "path": self.path, "method": self.method, "indices": self.indices,
            "times": [round(t, 4) for t in self.times], "label": self.label, "probability": self.probability,
            "candidates": self.candidates.tolist(),
            "score": rounded(self.score), "delta": rounded(self.delta), "gamma": rounded(self.gamma),
            "class_probabilities": self.class_probabilities, "lost": self.lost,
        }


def check_method(method: str | None, ckpt: Checkpoint | None) -> str:
    """The method to serve with (None: ``smart`` with a checkpoint, else :data:`DEFAULT_METHOD`).

    Raises:
        SmartframesError: an unknown method, or one that needs a trained selector and has none.
    """
    method = method or ("smart" if ckpt is not None else DEFAULT_METHOD)
    if method not in SERVING_METHODS:
        raise SmartframesError(f"unknown method {method!r}; choose from {', '.join(SERVING_METHODS)}")
    if ckpt is None and method in SELECTOR_METHODS:
        # a selector trained on other classes chose no better than uniform on classes it never saw
        # (docs/results.md, "Which method, on classes the selector never saw"), so none ships
        raise SmartframesError(f"method {method!r} needs a selector trained on your own videos: smartframes train "
                               "--store STORE --out CKPT, then --selector CKPT (without one, the training-free "
                               f"methods: {', '.join(m for m in SERVING_METHODS if m not in SELECTOR_METHODS)})")
    return method


class Selector:
    """Chooses frames of videos with one method, from a checkpoint (a trained SMART selector and
    its expensive classifier) or from none (a training-free method, frames only, no class).

    Args:
        ckpt: a loaded checkpoint; None for a training-free method (frames, no class).
        method: one of :data:`SERVING_METHODS` (None: ``smart`` with a checkpoint, else
            :data:`DEFAULT_METHOD`).
        device, batch_size: where and how many frames at a time the backbones run.
    """

    def __init__(self, ckpt: Checkpoint | None = None, device: str | None = None, batch_size: int = BATCH_SIZE,
                 method: str | None = None, recogniser: Recogniser | None = None):
        self.method = check_method(method, ckpt)
        self.ckpt, self.recogniser = ckpt, recogniser
        spec = ckpt.spec if ckpt is not None else TRAINING_FREE_SPEC
        head = ckpt.head if ckpt is not None and recogniser is None else None
        if head is None:  # no Lite2 head to feed: the expensive backbone is not needed
            spec = replace(spec, expensive_backbone=None)
        self.spec, self.batch_size = spec, batch_size
        self.extractor = self.device = self.selector = self.head = None  # None: no network runs
        if head is not None or INPUTS[self.method] in NETWORK_INPUTS:
            from ..features.extractor import FeatureExtractor

            self.extractor = FeatureExtractor(spec, device=device, batch_size=batch_size)
            self.device = self.extractor.device
            self.selector = ckpt.selector.to(self.device) if ckpt is not None else None
            self.head = head.to(self.device) if head is not None else None

    @property
    def classes(self) -> list[str] | None:
        """The classes predictions are made in (None: no recogniser)."""
        if self.recogniser is not None:
            return list(self.recogniser.classes)
        return self.ckpt.classes if self.head is not None else None

    def score(self, light: np.ndarray | torch.Tensor, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores of one video's light features (T, D) -> (score, delta, gamma), each (T,)."""
        import torch

        from ..device import precision
        from .networks import inference_partners

        with torch.inference_mode():
            x = torch.as_tensor(light, dtype=torch.float32, device=self.device)[None]  # (1, T, D)
            mask = torch.ones(1, x.shape[1], dtype=torch.bool, device=self.device)
            partners = inference_partners(torch.tensor([x.shape[1]]), x.shape[1], seed)
            with precision(self.ckpt.spec.light_precision, self.device):
                score, delta, gs = self.selector(x, mask, partners.to(self.device))
            out = torch.stack([score[0], delta[0], gs.gamma[0]]).float().cpu().numpy()  # (3, T): one copy to the host
        return out[0], out[1], out[2]

    def _array_batches(self, frames: np.ndarray, fps: float | None, sizes: tuple) -> Iterator[Batch]:
        """Decoded frames (T, H, W, 3) cut into the batches :func:`candidate_batches` yields for a
        file: the candidates at ``sizes``, timestamps index / fps."""
        frames = scale_frames(frames, None)  # checks the array
        T, H, W, _ = frames.shape
        rate = fps or 0.0
        info = VideoInfo(ARRAY_PATH, T, rate, T / rate if rate else 0.0, W, H, 0, "array")
        wanted = self.spec.candidate_rule.indices(T, rate).tolist()
        for start in range(0, len(wanted), self.batch_size):
            chunk = wanted[start : start + self.batch_size]
            yield Batch(info, chunk, [i / rate if rate else float(i) for i in chunk],
                        tuple(scale_frames(frames[chunk], size) for size in sizes), False)

    def select(self, video: str | os.PathLike | np.ndarray, n: int = 8, fps: float | None = None) -> Selection:
        """Choose ``n`` frames of a video and, with a checkpoint, classify it from them.

        Opens and probes a file once and decodes its candidate frames in one pass at the light
        resolution (a thread decodes the next batch while the light network runs on this one),
        computes what the method reads (on the device), chooses, then converts only the
        chosen frames for the final prediction (from the pass's pictures where they fit in memory,
        see :func:`smartframes.io.video.keeps_pictures`).

        Args:
            video: a video file, or already-decoded uint8 RGB frames ``(T, H, W, 3)``.
            n: frames to choose.
            fps: with decoded frames, their rate (times are then index / fps; None: the times
                are the frame numbers). A file's times come from its container.

        Raises:
            VideoError: the video cannot be read.
        """
        return self.select_with_frames(video, n, fps)[0]

    def select_with_frames(self, video: str | os.PathLike | np.ndarray, n: int = 8, fps: float | None = None,
                           size: Size | bool = False) -> tuple[Selection, np.ndarray | None]:
        """:meth:`select`, and the chosen frames as uint8 ``(n, H, W, 3)`` at ``size`` (as
        :func:`smartframes.io.video.read_frames` takes it) from the same pass; ``size=False``: no
        frames (None)."""
        if isinstance(video, np.ndarray):
            def read(indices, at, seek):
                return scale_frames(video[indices], at)

            return self._select(ARRAY_PATH, self._array_batches(video, fps, self._sizes()), read, n, size)
        with OpenVideo(video) as opened:
            def read(indices, at, seek):
                return opened.read(indices, at, seek=seek)

            batches = candidate_batches(opened, self.spec.candidate_rule, self._sizes(), self.batch_size,
                                        keep=True, allow_partial=True)
            if self.extractor is not None:  # decode the next batch while the light network runs on this one
                batches = read_ahead(batches)
            return self._select(str(video), batches, read, n, size)

    def _lost(self, info: VideoInfo, decoded: int) -> int:
        """Candidates the container promised and the pass did not reach; a shortfall of two or
        fewer is a container's rounded frame count, not damage."""
        wanted = len(self.spec.candidate_rule.indices(info.frame_count, info.fps))
        return wanted - decoded if wanted - decoded > 2 else 0

    def _sizes(self) -> tuple:
        """What each candidate is scaled to in the pass: the light size, or nothing for a method
        that reads no pixels."""
        return () if INPUTS[self.method] is None else (self.spec.decode_sizes.light,)

    def _select(self, path: str, batches: Iterable[Batch], read, n: int,
                size: Size | bool) -> tuple[Selection, np.ndarray | None]:
        """Choose among the candidates of ``batches``; ``read(indices, size, seek)`` gives chosen
        frames (``seek``: as the candidates were reached)."""
        needs = INPUTS[self.method]
        idx, times, visual, glove, logits, pixels, histograms = [], [], [], [], [], [], []
        info = batch = None
        for batch in batches:
            info = batch.info
            idx += batch.indices
            times += batch.times
            if needs in NETWORK_INPUTS:
                v, g, lg = self.extractor.light_tensors(batch.images[0])  # on the device
                visual.append(v)
                glove.append(g)
                logits.append(lg)
            if needs == "quality":
                p, h = pixel_statistics(batch.images[0])
                pixels.append(p)
                histograms.append(h)
        if batch is None:
            raise VideoError(path, "no decodable frames")
        cand, cand_times = np.asarray(idx, np.int64), np.asarray(times, np.float64)
        score = delta = gamma = None
        inputs = {}
        if needs in NETWORK_INPUTS:
            import torch  # loaded already by the light network
        if needs == "score":
            score, delta, gamma = self.score(torch.cat([torch.cat(visual), torch.cat(glove)], 1))  # (T, 1330)
        elif needs == "light":
            inputs["light"] = torch.cat(visual).cpu().numpy()  # (T, 1280)
        elif needs == "confidence":
            inputs["confidence"] = light_confidence(torch.cat(logits))  # (T, 2)
        elif needs == "quality":
            inputs["quality"] = quality_table(np.concatenate(pixels), np.concatenate(histograms))  # (T, 4)
        chosen = choose(self.method, n, len(cand), score=score, delta=delta, gamma=gamma,
                        rule=self.ckpt.selector.cfg.pick if self.ckpt is not None else "top", **inputs)
        indices = cand[chosen].tolist()
        label = probability = class_probabilities = frames = at = None
        if self.head is not None or self.recogniser is not None:
            at = None if self.recogniser is not None else self.ckpt.spec.decode_sizes.expensive
            frames = read(indices, at, batch.seek)
            if self.recogniser is not None:  # the user's model, on the frames at the video's own size
                from .recogniser import recognise

                probs = recognise(self.recogniser, frames).mean(0)  # (C,)
            else:
                import torch

                from .head import pool_frames

                with torch.inference_mode():
                    emb = self.extractor.expensive_tensors(frames)  # (n, 1280), on the device
                    frame_probs = torch.softmax(self.head(emb), -1).cpu().numpy()  # (n, C)
                probs = pool_frames(frame_probs, self.head.cfg.pooling)  # (C,)
            best = int(probs.argmax())
            label, probability = self.classes[best], float(probs[best])
            class_probabilities = {c: float(p) for c, p in zip(self.classes, probs)}
        out = None
        if size is not False:  # the classifier's frames when they are the size asked for
            out = frames if frames is not None and size == at else read(indices, size, batch.seek)
        sel = Selection(path, indices, cand_times[chosen].tolist(), cand, cand_times, delta, gamma, score, label,
                        probability, class_probabilities, batch.seek, self.method,
                        None if path == ARRAY_PATH else info, self._lost(info, len(cand)))
        return sel, out


def load_selector(path: str | os.PathLike | None = None, device: str | None = None,
                  method: str | None = None, recogniser: Recogniser | None = None) -> Selector:
    """A :class:`Selector` for serving, on ``device`` (None: CUDA when available).

    Args:
        path: a checkpoint directory from ``train``; None for a training-free method: frames
            without a class.
        method: one of :data:`SERVING_METHODS`; None: ``smart`` with a checkpoint, else
            :data:`DEFAULT_METHOD`.
        recogniser: your own model (:class:`~smartframes.selection.recogniser.Recogniser`) to
            classify the chosen frames, in place of the checkpoint's head.

    Raises:
        CheckpointError: missing, damaged or inconsistent checkpoint.
        SmartframesError: an unknown method, or one that needs a trained selector and has none.
    """
    if path is None:
        return Selector(None, device=device, method=method, recogniser=recogniser)
    from .checkpoint import load_checkpoint

    return Selector(load_checkpoint(Path(path)), device=device, method=method, recogniser=recogniser)


class SelectVideo:
    """The per-video work of batch selection as one picklable callable (what a Ray actor runs):
    a video's path -> its :class:`Selection`. The checkpoint loads on the first video."""

    def __init__(self, checkpoint, n: int, device: str | None = None, method: str | None = None):
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.n, self.device, self.method = n, device, method
        self.selector = None

    def __call__(self, path) -> Selection:
        if self.selector is None:
            self.selector = load_selector(self.checkpoint, device=self.device, method=self.method)
        return self.selector.select(path, self.n)

    def __getstate__(self):
        return {**self.__dict__, "selector": None}


@dataclass
class FrameSet:
    """The frames chosen in one video, ready for the next model (what :func:`select_frames` returns)."""

    frames: np.ndarray  # (n, H, W, 3) uint8, in time order
    indices: list[int]  # their frame indices in the video, presentation order
    timestamps: list[float] | None  # their presentation times (s) from the container; None: decoded frames without fps
    scores: list[float] | None  # the selector's score of each (None: a training-free method)
    fps: float | None  # the video's (average) frame rate
    duration: float | None  # seconds
    frame_count: int
    method: str
    path: str  # the video file, or "<frames>"
    label: str | None = None  # the recogniser's class from these frames (a checkpoint with a head)
    probability: float | None = None

    def to_pil(self) -> list:
        """The frames as PIL images."""
        from PIL import Image

        return [Image.fromarray(f) for f in self.frames]


def _frame_set(selector: Selector, video, n: int, size: Size, fps: float | None) -> FrameSet:
    sel, frames = selector.select_with_frames(video, n, fps=fps, size=size)
    scores = sel.scores
    if sel.info is None:
        T = len(video)
        return FrameSet(frames, sel.indices, sel.times if fps else None, scores, fps, T / fps if fps else None, T,
                        sel.method, ARRAY_PATH, sel.label, sel.probability)
    info = sel.info
    return FrameSet(frames, sel.indices, sel.times, scores, info.fps, info.duration, info.frame_count, sel.method,
                    str(video), sel.label, sel.probability)


def _as_selector(selector, method: str | None, device: str | None, recogniser) -> Selector:
    if isinstance(selector, Selector):
        if method is not None and method != selector.method:
            raise SmartframesError(f"this Selector chooses with {selector.method!r}; make another for {method!r}")
        if recogniser is not None:
            raise SmartframesError("give the recogniser to load_selector, or pass a checkpoint directory here")
        return selector
    return load_selector(selector, device=device, method=method, recogniser=recogniser)


def select_frames(video: str | os.PathLike | np.ndarray, n: int = 8, *, method: str | None = None, selector=None,
                  size: Size = None, device: str | None = None, fps: float | None = None,
                  recogniser: Recogniser | None = None) -> FrameSet:
    """The ``n`` frames of one video worth passing on, as images with their exact times.

    Args:
        video: a video file, or already-decoded uint8 RGB frames ``(T, H, W, 3)``.
        n: how many frames.
        method: how to choose (see :func:`load_selector`; None: ``smart`` with a selector, else
            the default training-free method).
        selector: a checkpoint directory, a loaded :class:`Selector` (reuse one for many videos),
            or None.
        size: the frames' size: None keeps the video's own, an int the short side, (w, h) exact.
        device: where the models run (None: CUDA when available).
        fps: with decoded frames, their rate, for the timestamps.
        recogniser: your own model (:class:`~smartframes.selection.recogniser.Recogniser`) to
            classify the chosen frames (``label``, ``probability``).

    Returns:
        A :class:`FrameSet`: ``frames`` uint8 ``(n, H, W, 3)``, ``indices``, ``timestamps`` (from
        the container's presentation times: right for variable frame rate), ``scores``, and the
        video's ``fps``, ``duration`` and ``frame_count``.

    Raises:
        VideoError: the video cannot be read.
        CheckpointError, SmartframesError: a bad checkpoint or method.
    """
    return _frame_set(_as_selector(selector, method, device, recogniser), video, n, size, fps)


def iter_select_frames(videos: Iterable, n: int = 8, *, method: str | None = None, selector=None,
                       size: Size = None, device: str | None = None,
                       recogniser: Recogniser | None = None) -> Iterator[FrameSet]:
    """:func:`select_frames` over many videos, with the models loaded once; yields one
    :class:`FrameSet` per video, in order. A video that cannot be read raises its
    :class:`VideoError` when its turn comes (the ones before it have been yielded)."""
    chosen = _as_selector(selector, method, device, recogniser)
    for video in videos:
        yield _frame_set(chosen, video, n, size, None)
