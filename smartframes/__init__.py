"""smartframes: SMART frame selection. Score every frame of a video cheaply, choose the best n
jointly, and pass only those on to an expensive model.

The whole API in one place::

    import smartframes
    chosen = smartframes.select_frames("clip.mp4", n=8)          # FrameSet: frames, indices, timestamps
    selector = smartframes.load_selector("selector/")          # a checkpoint from train_selector
    selection = selector.select("clip.mp4", n=8)                 # frames, scores, prediction
    for path, sel in smartframes.select_videos(paths, "selector/", n=8, engine="local"):
        ...

and for a labelled dataset: :func:`extract_dataset` -> :func:`train_selector` -> :func:`evaluate`.
The data flows through the sub-packages in this order: ``io`` (decoding) -> ``data`` (datasets)
-> ``features`` (light and expensive features, the store) -> ``selection`` (the SMART networks,
frame-choosing methods, training, serving, exports) -> ``evaluation`` -> ``scale`` (whole
datasets, Ray) -> ``cli``.

Names load on first use (PEP 562): ``import smartframes``, and a command that runs no network
(``smartframes select clip.mp4`` with the default uniform method), never import torch.
"""

from __future__ import annotations

import importlib

from .version import __version__ as __version__

_HOMES = {
    "candidates": ("CandidateRule", "candidate_indices"),
    "data.dataset": ("DatasetError", "DatasetItem", "load_dataset"),
    "data.formats": ("FORMATS", "FormatResult", "load_format", "load_source"),
    "data.synth": ("SynthConfig", "synthesize"),
    "device": ("default_device",),
    "errors": ("SmartframesError",),
    "evaluation.ablation": ("Ablation", "ablation"),
    "evaluation.diagnosis": ("Diagnosis", "diagnose"),
    "evaluation.evaluate": ("Evaluation", "MethodResult", "evaluate"),
    "evaluation.metrics": ("average_precision", "mean_average_precision"),
    "evaluation.report": ("build_report",),
    "features.backbones": ("EfficientNetLite", "load_backbone"),
    "features.extractor": ("FeatureExtractor",),
    "features.store": ("FeatureStore", "StoreError", "VideoFeatures"),
    "io.video": ("Limits", "VideoError", "VideoInfo", "decode", "probe", "read_frames", "write_video"),
    "scale.extract": ("ExtractSummary", "extract_dataset"),
    "scale.select": ("select_videos",),
    "selection.checkpoint": ("Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"),
    "selection.config": ("HeadConfig", "SelectorConfig", "TrainConfig"),
    "selection.export": ("EXPORT_FORMATS", "export_selections"),
    "selection.methods": ("METHODS", "PICKS", "choose", "pick", "segment_top", "top_n"),
    "selection.networks": ("SmartSelector",),
    "selection.recogniser": ("Recogniser", "TorchRecogniser"),
    "selection.serving": ("FrameSet", "Selection", "Selector", "iter_select_frames", "load_selector", "select_frames"),
    "selection.train": ("train_selector",),
    "spec": ("BACKBONES", "BackboneSpec", "ConfigError", "FeatureSpec"),
}
"""Each public name's module, under ``smartframes``."""
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'smartframes' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
