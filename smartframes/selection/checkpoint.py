"""Selector checkpoints: a directory with ``config.json`` and ``model.safetensors``, no pickle.

``config.json`` holds everything needed to rebuild the networks (selector and head dims), the
feature spec the selector was trained on, the class names, the training config, versions and
validation figures. Loading rebuilds from it and refuses anything that does not fit.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load, save

from ..errors import SmartframesError
from ..io.files import atomic_write
from ..spec import FeatureSpec, config_from_dict
from .config import HeadConfig, SelectorConfig
from .head import ExpensiveHead
from .networks import SmartSelector

FORMAT = "smartframes-selector/2"  # 2: standardised inputs, gamma_from_frame


class CheckpointError(SmartframesError):
    """A checkpoint that is missing, damaged, tampered with, or made for other features."""


@dataclass
class Checkpoint:
    """A trained selector and the expensive classifier (the recogniser) trained with it; a
    selector-only checkpoint (``head`` None: a selector evaluated against another checkpoint's
    recogniser) chooses frames but does not classify them."""

    selector: SmartSelector
    head: ExpensiveHead | None
    spec: FeatureSpec
    classes: list[str]  # the classes of the training data (the head's, and the global selector's Eq. 6)
    meta: dict  # training config, versions, validation figures


def _check_shapes(weights: Path, modules: dict[str, type], configs: dict) -> None:
    """Compare the tensors stored in ``weights`` (read from its header, nothing loaded) with those
    the configs call for (modules built on the meta device, nothing allocated)."""
    try:
        with safe_open(str(weights), framework="pt") as f:
            stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # safetensors raises several types for damaged files
        raise CheckpointError(f"{weights}: unreadable ({e})") from None
    expected = {}
    try:
        with torch.device("meta"):
            for name, module in modules.items():
                expected.update({f"{name}.{k}": tuple(v.shape) for k, v in module(configs[name]).state_dict().items()})
    except (ValueError, RuntimeError) as e:  # a width of 0 where a layer needs one, ...
        raise CheckpointError(f"{weights.parent / 'config.json'}: the networks cannot be built ({e})") from None
    missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{weights}: weights do not fit the config (missing {missing[:3]}, unexpected {extra[:3]})")
    wrong = [f"{k} {stored[k]} != {expected[k]}" for k in expected if stored[k] != expected[k]]
    if wrong:
        raise CheckpointError(f"{weights}: weights do not fit the config ({'; '.join(wrong[:3])})")


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    """Write ``path/config.json`` and ``path/model.safetensors`` (each atomically)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "format": FORMAT,
        "selector": asdict(ckpt.selector.cfg),
        "head": asdict(ckpt.head.cfg) if ckpt.head is not None else None,
        "feature_spec": asdict(ckpt.spec),
        "classes": list(ckpt.classes),
        **ckpt.meta,
    }
    tensors = {f"selector.{k}": v.contiguous() for k, v in ckpt.selector.state_dict().items()}
    if ckpt.head is not None:
        tensors.update({f"head.{k}": v.contiguous() for k, v in ckpt.head.state_dict().items()})
    data = save(tensors)
    config["weights_sha256"] = hashlib.sha256(data).hexdigest()  # checked on load: a changed file is refused
    with atomic_write(path / "model.safetensors") as tmp:  # not save_file: it leaves a temporary of its own when killed
        tmp.write_bytes(data)
    with atomic_write(path / "config.json") as tmp:
        tmp.write_text(json.dumps(config, indent=2))


def load_checkpoint(path: str | os.PathLike, expect_spec: FeatureSpec | None = None) -> Checkpoint:
    """Rebuild a selector and head from a checkpoint directory.

    Args:
        path: the checkpoint directory.
        expect_spec: if given, the feature spec the caller's features were made with; a
            checkpoint trained on other features is refused.

    Raises:
        CheckpointError: missing files, bad JSON, unknown fields, shape mismatch, other features.
    """
    path = Path(path)
    cfg_path, weights = path / "config.json", path / "model.safetensors"
    if not cfg_path.is_file() or not weights.is_file():
        raise CheckpointError(f"{path}: not a selector checkpoint (needs config.json and model.safetensors)")
    try:
        config = json.loads(cfg_path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{cfg_path}: unknown format {config.get('format') if isinstance(config, dict) else None!r}, expected {FORMAT!r}")
    if isinstance(config.get("selector"), dict):  # written before the frame evidence existed
        config["selector"].setdefault("use_evidence", False)
    try:
        sel_cfg = config_from_dict(SelectorConfig, config.get("selector"), "selector", cfg_path)
        head_cfg = None if config.get("head") is None else config_from_dict(HeadConfig, config["head"], "head", cfg_path)
        spec = FeatureSpec.from_dict(config.get("feature_spec"), cfg_path)
    except SmartframesError as e:
        raise CheckpointError(str(e)) from None
    classes = config.get("classes")
    if not isinstance(classes, list) or len(classes) != sel_cfg.num_classes or (
            head_cfg is not None and len(classes) != head_cfg.num_classes):
        raise CheckpointError(f"{cfg_path}: 'classes' must list {sel_cfg.num_classes} names")
    if not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise CheckpointError(f"{cfg_path}: 'classes' must be distinct non-empty names")
    if sel_cfg.in_dim != spec.light_dim or (head_cfg is not None and head_cfg.in_dim != (spec.expensive_dim or head_cfg.in_dim)):
        raise CheckpointError(f"{cfg_path}: network input widths do not match the feature spec")
    if expect_spec is not None and expect_spec != spec:
        raise CheckpointError(
            f"{path}: selector was trained on other features ({'; '.join(spec.diff(expect_spec))}); "
            "extract with the checkpoint's settings or train a new selector"
        )
    parts = {"selector": (SmartSelector, sel_cfg)} | ({"head": (ExpensiveHead, head_cfg)} if head_cfg is not None else {})
    _check_shapes(weights, {k: m for k, (m, _) in parts.items()}, {k: c for k, (_, c) in parts.items()})
    data = weights.read_bytes()
    if config.get("weights_sha256") is not None and hashlib.sha256(data).hexdigest() != config["weights_sha256"]:
        raise CheckpointError(f"{weights}: changed since it was written (checksum mismatch with config.json); "
                              "refusing to use it: train again or restore the file")
    try:
        tensors = load(data)
    except Exception as e:  # safetensors raises several types for damaged files
        raise CheckpointError(f"{weights}: unreadable ({e})") from None
    modules = {name: kind(cfg) for name, (kind, cfg) in parts.items()}
    for name, module in modules.items():
        part = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")}
        try:
            module.load_state_dict(part, strict=True)
        except RuntimeError as e:
            first = str(e).strip().splitlines()
            raise CheckpointError(f"{weights}: {name} weights do not fit its config ({' '.join(first[:2])[:300]})") from None
    meta = {k: v for k, v in config.items()
            if k not in ("format", "selector", "head", "feature_spec", "classes", "weights_sha256")}
    head = modules.get("head")
    return Checkpoint(modules["selector"].eval(), head.eval() if head is not None else None, spec, classes, meta)
