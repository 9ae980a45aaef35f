"""Training, checkpoints and serving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smartframes.errors import SmartframesError
from smartframes.features.store import FeatureStore
from smartframes.selection.checkpoint import CheckpointError, load_checkpoint
from smartframes.selection.methods import top_n
from smartframes.selection.scoring import load_videos, score_videos
from smartframes.selection.train import TrainConfig, train_selector
from smartframes.spec import FeatureSpec


@pytest.fixture(scope="module")
def toy(tmp_path_factory, make_toy_store):
    root = tmp_path_factory.mktemp("toy")
    masks = make_toy_store(root)
    ckpt, history = train_selector(root / "store", root / "ckpt", TrainConfig(epochs=25), progress=False, log=lambda m: None)
    return root, masks, ckpt, history


def test_trained_selector_ranks_useful_frames_first(toy):
    root, masks, ckpt, history = toy
    with FeatureStore.open(root / "store") as store:
        test = load_videos(store, "test", ckpt.classes)
    scores = score_videos(ckpt.selector, test)
    precision = np.mean([masks[v.id][top_n(s, 4)].mean() for v, (s, _, _) in zip(test, scores)])
    assert precision > 0.8, precision
    assert history["validation"]["accuracy"] > 0.8


def test_training_is_deterministic(toy, tmp_path):
    root, _, ckpt, _ = toy
    again, _ = train_selector(root / "store", None, TrainConfig(epochs=25), progress=False, log=lambda m: None)
    for (k, a), b in zip(ckpt.selector.state_dict().items(), again.selector.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), k


def test_checkpoint_round_trip(toy):
    root, _, ckpt, _ = toy
    with FeatureStore.open(root / "store") as store:
        loaded = load_checkpoint(root / "ckpt", expect_spec=store.spec)
        test = load_videos(store, "test", ckpt.classes)
    for (a, da, ga), (b, db, gb) in zip(score_videos(ckpt.selector, test), score_videos(loaded.selector, test)):
        assert np.array_equal(a, b) and np.array_equal(da, db) and np.array_equal(ga, gb)
    assert np.array_equal(ckpt.head.probabilities(test[0].emb), loaded.head.probabilities(test[0].emb))
    config = json.loads((root / "ckpt" / "config.json").read_text())
    assert config["classes"] == ["class0", "class1", "class2"] and config["feature_spec"]["light_resolution"] == 96
    assert {"training", "versions", "validation"} <= set(config)
    assert not list((root / "ckpt").glob("*.pt")) and not list((root / "ckpt").glob("*.pkl"))
    from smartframes.io.files import UMASK

    assert {(root / "ckpt" / f).stat().st_mode & 0o777 for f in ("config.json", "model.safetensors")} == {0o666 & ~UMASK}


def test_checkpoint_with_other_features_is_refused(toy):
    root, _, _, _ = toy
    with pytest.raises(CheckpointError, match="trained on other features .*light_resolution: 96 != 160"):
        load_checkpoint(root / "ckpt", expect_spec=FeatureSpec(light_resolution=160))


def _tampered(root: Path, tmp_path: Path, edit) -> Path:
    import shutil

    dst = tmp_path / "ckpt"
    shutil.copytree(root / "ckpt", dst)
    config = json.loads((dst / "config.json").read_text())
    edit(config)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["selector"].update(lstm_hidden=64), r"weights do not fit the config \(selector.gs.lstm"),
        (lambda c: c["selector"].update(embed_dim="128"), "'selector.embed_dim' must be int"),
        (lambda c: c["selector"].update(sfs_hidden=10**9), "out of range"),
        (lambda c: c["head"].update(hidden=True), "'head.hidden' must be int"),
        (lambda c: c.update(classes=["a", "a", "b"]), "distinct non-empty names"),
        (lambda c: c["selector"].update(evil="os.system"), "unknown fields"),
        (lambda c: c.update(classes=["a"]), "'classes' must list 3"),
        (lambda c: c.update(format="pickle"), "unknown format"),
    ],
)
def test_tampered_checkpoint_is_refused(toy, tmp_path, edit, message):
    root, _, _, _ = toy
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(_tampered(root, tmp_path, edit))


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not a selector checkpoint"):
        load_checkpoint(tmp_path)


def test_user_supplied_oracle(toy, tmp_path):
    root, masks, _, _ = toy
    oracle = tmp_path / "oracle"
    oracle.mkdir()
    with FeatureStore.open(root / "store") as store:
        classes = store.classes()
        for rec in store.records(split="train"):
            probs = np.full((20, 3), 0.1 / 2)
            probs[:, classes.index(rec.label)] = 0.05
            probs[masks[rec.id], classes.index(rec.label)] = 0.95  # the oracle knows the useful frames
            probs /= probs.sum(1, keepdims=True)
            np.save(oracle / (Path(rec.path).stem + ".npy"), probs)
    ckpt, _ = train_selector(root / "store", None, TrainConfig(epochs=10), oracle_dir=oracle, progress=False, log=lambda m: None)
    with FeatureStore.open(root / "store") as store:
        test = load_videos(store, "test", ckpt.classes)
    deltas = score_videos(ckpt.selector, test)
    precision = np.mean([masks[v.id][top_n(d, 4)].mean() for v, (_, d, _) in zip(test, deltas)])
    assert precision > 0.8
    first = sorted(oracle.iterdir())[0]
    np.save(first, np.zeros((20, 5)))
    with pytest.raises(SmartframesError, match=r"expected shape \(frames, 3\), got \(20, 5\)") as err:
        train_selector(root / "store", None, TrainConfig(epochs=1), oracle_dir=oracle, progress=False, log=lambda m: None)
    assert str(first) in str(err.value)
