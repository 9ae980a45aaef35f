"""smartframes: SMART frame selection for action recognition."""

__version__ = "0.1.0"

from .backbones import BACKBONES, BackboneSpec, EfficientNetLite, load_backbone
from .dataset import DatasetError, DatasetItem, load_dataset
from .errors import SmartframesError
from .extract import ExtractSummary, extract_dataset
from .features import FeatureExtractor, FeatureSpec, VideoFeatures, candidate_indices
from .checkpoint import CheckpointError, load_checkpoint
from .selector import SelectorConfig, SmartSelector, top_n
from .serving import Selection, Selector, load_selector
from .store import FeatureStore, StoreError
from .synth import SynthConfig, synthesize
from .train import TrainConfig, train_selector
from .video import VideoError, VideoInfo, decode, probe, read_frames, write_video

__all__ = [
    "BACKBONES", "BackboneSpec", "CheckpointError", "Selection", "Selector", "SelectorConfig", "SmartSelector",
    "SynthConfig", "TrainConfig", "load_checkpoint", "load_selector", "synthesize", "top_n", "train_selector", "DatasetError", "DatasetItem", "EfficientNetLite", "ExtractSummary",
    "FeatureExtractor", "FeatureSpec", "FeatureStore", "SmartframesError", "StoreError",
    "VideoError", "VideoFeatures", "VideoInfo", "candidate_indices", "decode", "extract_dataset",
    "load_backbone", "load_dataset", "probe", "read_frames", "write_video",
]
