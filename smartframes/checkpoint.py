"""Selector checkpoints: a directory with ``config.json`` and ``model.safetensors``, no pickle.

``config.json`` holds everything needed to rebuild the networks (selector and head dims), the
feature spec the selector was trained on, the class names, the training config, versions and
validation figures. Loading rebuilds from it and refuses anything that does not fit.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .classifier import ExpensiveHead, HeadConfig
from .errors import SmartframesError
from .features import LEGACY_SPEC, FeatureSpec
from .selector import SelectorConfig, SmartSelector
from .store import share_like_new_files

FORMAT = "smartframes-selector/2"  # 2: standardised inputs, gamma_from_frame


class CheckpointError(SmartframesError):
    """A checkpoint that is missing, damaged, tampered with, or made for other features."""


@dataclass
class Checkpoint:
    selector: SmartSelector
    head: ExpensiveHead
    spec: FeatureSpec
    classes: list[str]
    meta: dict  # training config, versions, validation figures


MAX_WIDTH = 1 << 16  # no network width or class count in a checkpoint may exceed this


def _type_ok(value, annotation: str) -> bool:
    """Whether a JSON value fits a dataclass field annotation (``int``, ``float | None``, ...)."""
    for kind in (a.strip() for a in annotation.split("|")):
        if kind == "None" and value is None:
            return True
        if kind == "bool" and isinstance(value, bool):
            return True
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind == "str" and isinstance(value, str):
            return True
    return False


def _dataclass_from(cls, d: dict, path: Path, what: str):
    """Rebuild a config dataclass from JSON, refusing unknown fields, wrong types and absurd sizes."""
    if not isinstance(d, dict):
        raise CheckpointError(f"{path}: '{what}' must be an object")
    known = {f.name: f for f in fields(cls)}
    unknown = set(d) - set(known)
    if unknown:
        raise CheckpointError(f"{path}: '{what}' has unknown fields {sorted(unknown)}")
    for name, value in d.items():
        annotation = known[name].type if isinstance(known[name].type, str) else known[name].type.__name__
        if not _type_ok(value, annotation):
            raise CheckpointError(f"{path}: '{what}.{name}' must be {annotation}, got {value!r:.60}")
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_WIDTH:
            raise CheckpointError(f"{path}: '{what}.{name}' = {value} is out of range")
    try:
        return cls(**d)
    except (TypeError, ValueError, SmartframesError) as e:
        raise CheckpointError(f"{path}: bad '{what}' ({e})") from None


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
        "head": asdict(ckpt.head.cfg),
        "feature_spec": asdict(ckpt.spec),
        "classes": list(ckpt.classes),
        **ckpt.meta,
    }
    tensors = {f"selector.{k}": v.contiguous() for k, v in ckpt.selector.state_dict().items()}
    tensors.update({f"head.{k}": v.contiguous() for k, v in ckpt.head.state_dict().items()})
    tmp = path / ".model.safetensors.tmp"
    save_file(tensors, str(tmp))
    share_like_new_files(tmp)
    os.replace(tmp, path / "model.safetensors")
    tmp = path / ".config.json.tmp"
    tmp.write_text(json.dumps(config, indent=2))
    os.replace(tmp, path / "config.json")


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
    sel_cfg = _dataclass_from(SelectorConfig, config.get("selector"), cfg_path, "selector")
    head_cfg = _dataclass_from(HeadConfig, config.get("head"), cfg_path, "head")
    spec_dict = config.get("feature_spec")
    spec = _dataclass_from(FeatureSpec, {**LEGACY_SPEC, **spec_dict} if isinstance(spec_dict, dict) else spec_dict,
                           cfg_path, "feature_spec")
    classes = config.get("classes")
    if not isinstance(classes, list) or len(classes) != sel_cfg.num_classes or len(classes) != head_cfg.num_classes:
        raise CheckpointError(f"{cfg_path}: 'classes' must list {sel_cfg.num_classes} names")
    if not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise CheckpointError(f"{cfg_path}: 'classes' must be distinct non-empty names")
    if sel_cfg.in_dim != spec.light_dim or head_cfg.in_dim != (spec.expensive_dim or head_cfg.in_dim):
        raise CheckpointError(f"{cfg_path}: network input widths do not match the feature spec")
    if expect_spec is not None and expect_spec != spec:
        raise CheckpointError(
            f"{path}: selector was trained on other features ({'; '.join(spec.diff(expect_spec))}); "
            "extract with the checkpoint's settings or train a new selector"
        )
    _check_shapes(weights, {"selector": SmartSelector, "head": ExpensiveHead}, {"selector": sel_cfg, "head": head_cfg})
    try:
        tensors = load_file(str(weights))
    except Exception as e:  # safetensors raises several types for damaged files
        raise CheckpointError(f"{weights}: unreadable ({e})") from None
    selector, head = SmartSelector(sel_cfg), ExpensiveHead(head_cfg)
    for name, module in (("selector", selector), ("head", head)):
        part = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")}
        try:
            module.load_state_dict(part, strict=True)
        except RuntimeError as e:
            first = str(e).strip().splitlines()
            raise CheckpointError(f"{weights}: {name} weights do not fit its config ({' '.join(first[:2])[:300]})") from None
    meta = {k: v for k, v in config.items() if k not in ("format", "selector", "head", "feature_spec", "classes")}
    return Checkpoint(selector.eval(), head.eval(), spec, classes, meta)
