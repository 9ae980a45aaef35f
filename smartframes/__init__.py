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
"""

from .candidates import CandidateRule, candidate_indices
from .data.dataset import DatasetError, DatasetItem, load_dataset
from .data.formats import FORMATS, FormatResult, load_format, load_source
from .data.synth import SynthConfig, synthesize
from .device import default_device
from .errors import SmartframesError
from .evaluation.ablation import Ablation, ablation
from .evaluation.diagnosis import Diagnosis, diagnose
from .evaluation.evaluate import Evaluation, MethodResult, evaluate
from .evaluation.metrics import average_precision, mean_average_precision
from .evaluation.report import build_report
from .features.backbones import EfficientNetLite, load_backbone
from .features.extractor import FeatureExtractor
from .features.store import FeatureStore, StoreError, VideoFeatures
from .io.video import Limits, VideoError, VideoInfo, decode, probe, read_frames, write_video
from .scale.extract import ExtractSummary, extract_dataset
from .scale.select import select_videos
from .selection.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .selection.export import EXPORT_FORMATS, export_selections
from .selection.head import HeadConfig
from .selection.methods import METHODS, PICKS, choose, pick, segment_top, top_n
from .selection.networks import SelectorConfig, SmartSelector
from .selection.recogniser import Recogniser, TorchRecogniser
from .selection.serving import FrameSet, Selection, Selector, iter_select_frames, load_selector, select_frames
from .selection.train import TrainConfig, train_selector
from .spec import BACKBONES, BackboneSpec, ConfigError, FeatureSpec
from .version import __version__ as __version__

__all__ = [
    "BACKBONES", "EXPORT_FORMATS", "FORMATS", "METHODS", "PICKS",
    "Ablation", "BackboneSpec", "Diagnosis", "CandidateRule", "Checkpoint", "CheckpointError", "ConfigError", "DatasetError", "DatasetItem",
    "EfficientNetLite", "Evaluation", "ExtractSummary", "FeatureExtractor", "FeatureSpec", "FeatureStore",
    "FormatResult", "FrameSet", "HeadConfig", "Recogniser", "TorchRecogniser", "Limits", "MethodResult", "Selection", "Selector", "SelectorConfig",
    "SmartSelector", "SmartframesError", "StoreError", "SynthConfig", "TrainConfig", "VideoError", "VideoFeatures",
    "VideoInfo",
    "ablation", "average_precision", "build_report", "candidate_indices", "choose", "decode", "default_device", "diagnose",
    "evaluate", "export_selections", "extract_dataset", "iter_select_frames", "load_backbone", "load_checkpoint", "load_dataset",
    "load_format", "load_selector", "load_source", "mean_average_precision", "probe", "read_frames",
    "pick", "save_checkpoint", "segment_top", "select_frames", "select_videos", "synthesize", "top_n", "train_selector", "write_video",
]
