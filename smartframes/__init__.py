"""smartframes: SMART frame selection for action recognition.

The public API is re-exported here and imported on first use, so that ``import smartframes.video``
(the decoding worker, ``smartframes probe``) does not pay for importing torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "backbones": ["BACKBONES", "BackboneSpec", "EfficientNetLite", "load_backbone"],
    "candidates": ["candidate_indices"],
    "checkpoint": ["CheckpointError", "load_checkpoint"],
    "dataset": ["DatasetError", "DatasetItem", "load_dataset"],
    "errors": ["SmartframesError"],
    "extract": ["ExtractSummary", "extract_dataset"],
    "export": ["EXPORT_FORMATS", "export"],
    "formats": ["FORMATS", "FormatResult", "load_format"],
    "features": ["FeatureExtractor", "FeatureSpec", "VideoFeatures"],
    "selector": ["SelectorConfig", "SmartSelector", "top_n"],
    "serving": ["Selection", "Selector", "load_selector"],
    "store": ["FeatureStore", "StoreError"],
    "synth": ["SynthConfig", "synthesize"],
    "train": ["TrainConfig", "train_selector"],
    "video": ["VideoError", "VideoInfo", "decode", "probe", "read_frames", "write_video"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'smartframes' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
