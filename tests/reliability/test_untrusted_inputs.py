"""Files from strangers: checkpoints load only from safetensors + JSON and are validated before any
tensor is allocated; manifest rows that point nowhere are recorded, not fatal; the HTML report
escapes every label and path."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from smartframes.selection.checkpoint import CheckpointError, load_checkpoint
from smartframes.scale.extract import extract_dataset
from smartframes.features.store import FeatureStore
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, make_toy_store):
    root = tmp_path_factory.mktemp("untrusted")
    make_toy_store(root, classes=2, per_class=10)
    train_selector(root / "store", root / "ckpt", TrainConfig(epochs=1), progress=False, log=lambda m: None)
    return root / "ckpt"


class _Payload:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _copy(ckpt, tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(ckpt, dst)
    return dst


def test_pickle_in_place_of_the_weights_is_refused_without_running(ckpt, tmp_path, tally):
    dst = _copy(ckpt, tmp_path)
    marker = tmp_path / "pwned"
    (dst / "model.safetensors").write_bytes(pickle.dumps({"w": _Payload(marker)}))
    torch.save({"w": _Payload(marker)}, tmp_path / "also.pt")
    with pytest.raises(CheckpointError, match="model.safetensors: unreadable"):
        load_checkpoint(dst)
    assert not marker.exists()
    tally["hostile inputs"] += 1


@pytest.mark.parametrize("damage", ["truncate", "shape", "extra", "config-not-json", "config-list", "bit-flip", "zeros"])
def test_damaged_or_tampered_checkpoints(ckpt, tmp_path, damage, tally):
    dst = _copy(ckpt, tmp_path)
    weights = dst / "model.safetensors"
    tensors = load_file(str(weights))
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:1000])
        message = "unreadable"
    elif damage == "shape":
        tensors["selector.sfs.fc2.weight"] = torch.zeros(1, 999)
        save_file(tensors, str(weights))
        message = r"selector.sfs.fc2.weight \(1, 999\) != \(1, 256\)"
    elif damage == "extra":
        tensors["selector.backdoor"] = torch.zeros(3)
        save_file(tensors, str(weights))
        message = "unexpected"
    elif damage in ("bit-flip", "zeros"):  # the same size and a valid header: only the checksum sees it
        data = bytearray(weights.read_bytes())
        header = 8 + int.from_bytes(data[:8], "little")
        if damage == "bit-flip":
            data[header + 100] ^= 0x10
        else:
            data[header:] = bytes(len(data) - header)
        weights.write_bytes(bytes(data))
        message = "checksum mismatch"
    elif damage == "config-not-json":
        (dst / "config.json").write_text("{'format': ")
        message = "not valid JSON"
    else:
        (dst / "config.json").write_text(json.dumps([1, 2]))
        message = "unknown format"
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(dst)
    tally["hostile inputs"] += 1


def test_absurd_sizes_are_refused_before_allocating(ckpt, tmp_path):
    dst = _copy(ckpt, tmp_path)
    config = json.loads((dst / "config.json").read_text())
    config["selector"]["lstm_hidden"] = 60000  # an LSTM of ~14 G parameters if it were built
    (dst / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="weights do not fit the config"):
        load_checkpoint(dst)


def test_manifest_rows_that_point_nowhere_are_recorded(tmp_path, tally, write_class_folder, small_spec):
    data = write_class_folder(tmp_path / "data", classes=("red",), per_class=2)
    (tmp_path / "data" / "dir.mp4").mkdir()
    (tmp_path / "data" / "text.mp4").write_text("hello")
    rows = ["path,label", "red/0.mp4,red", "red/../red/1.mp4,red", "gone.mp4,red", "dir.mp4,red", "text.mp4,red",
            "/nonexistent/abs.mp4,red"]
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    summary = extract_dataset(data / "labels.csv", tmp_path / "store", small_spec, progress=False)
    assert summary.done == 2 and summary.failed == 4
    tally["hostile inputs"] += 4
    with FeatureStore.open(tmp_path / "store") as store:
        failed = {r.path: r.error for r in store.records(status="failed")}
        done = [r.path for r in store.records(status="done")]
    assert str((data / "red" / "1.mp4").resolve()) in done  # "red/../red/1.mp4", resolved
    text_error = failed.pop(str((data / "text.mp4").resolve()))
    assert text_error.startswith("not a readable video"), text_error
    assert failed == {
        str((data / "gone.mp4").resolve()): "no such file",
        str((data / "dir.mp4").resolve()): "is a directory, not a video file",
        "/nonexistent/abs.mp4": "no such file",
    }


def test_report_escapes_labels_and_paths(tmp_path, make_toy_store):
    from smartframes.evaluation.report import build_report

    root = tmp_path / "<img src=x onerror=alert(1)>"
    make_toy_store(root, classes=2, per_class=12)
    with __import__("sqlite3").connect(root / "store" / "catalog.sqlite") as db:
        db.execute("UPDATE videos SET label='<script>alert(1)</script>' WHERE label='class0'")
    train_selector(root / "store", root / "ckpt", TrainConfig(epochs=1), progress=False, log=lambda m: None)
    page = build_report(root / "store", root / "ckpt", tmp_path / "r.html", budgets=(2,)).read_text()
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert np.char.count(page, "<img ").item() == page.count('src="data:image/png;base64,')
