"""The backbone runtimes: OpenVINO and eager PyTorch give the same features, the choice follows
--runtime / $SMARTFRAMES_RUNTIME, and OpenVINO's converted models are cached and repaired."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from smartframes.cli.main import main
from smartframes.errors import SmartframesError
from smartframes.features import runtime
from smartframes.features.extractor import FeatureExtractor
from smartframes.spec import FeatureSpec

needs_openvino = pytest.mark.skipif(not runtime.openvino_available(), reason="OpenVINO is not installed")


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTFRAMES_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@needs_openvino
def test_every_runtime_gives_the_same_features(tmp_path, write_class_folder):
    from smartframes.io.video import read_frames

    root = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=1, frames=10)
    spec = FeatureSpec(light_resolution=96, expensive_resolution=128, light_precision="float32")
    ov, eager = FeatureExtractor(spec, runtime="openvino"), FeatureExtractor(spec, runtime="torch")
    assert (ov.light_run.runtime, ov.expensive_run.runtime) == ("openvino", "openvino")
    assert (eager.light_run.runtime, eager.expensive_run.runtime) == ("torch", "torch")
    for path in sorted(root.rglob("*.mp4")):
        a, b = ov.extract(path), eager.extract(path)
        assert np.array_equal(a.indices, b.indices)
        # float32 both ways, different kernels: equal to about 1e-5 of features of size 1-5
        np.testing.assert_allclose(a.visual, b.visual, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(a.expensive, b.expensive, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)
    frames = read_frames(sorted(root.rglob("*.mp4"))[0], size=spec.decode_sizes.light)
    (va, _, _), (vb, _, _) = ov.light_features(frames), eager.light_features(frames)
    assert not np.array_equal(va, vb)  # two runtimes really ran


def test_the_runtime_follows_the_argument_then_the_environment(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)
    assert runtime.resolve_runtime("torch", cpu) == "torch"
    assert runtime.resolve_runtime(None, cpu) == ("openvino" if runtime.openvino_available() else "torch")
    assert runtime.resolve_runtime(None, torch.device("cuda")) == "torch"  # auto: PyTorch on a GPU
    monkeypatch.setenv(runtime.RUNTIME_ENV, "torch")
    assert runtime.resolve_runtime(None, cpu) == "torch"
    assert FeatureExtractor(FeatureSpec(light_resolution=64, expensive_backbone=None)).light_run.runtime == "torch"
    with pytest.raises(SmartframesError, match="unknown runtime 'tensorrt'"):
        runtime.resolve_runtime("tensorrt", cpu)
    with pytest.raises(SmartframesError, match="runs on the CPU"):
        runtime.resolve_runtime("openvino", torch.device("cuda"))
    monkeypatch.setattr(runtime, "openvino_available", lambda: False)
    assert runtime.resolve_runtime("auto", cpu) == "torch"
    with pytest.raises(SmartframesError, match="OpenVINO is not installed"):
        runtime.resolve_runtime("openvino", cpu)


def test_the_cli_runtime_reaches_the_work_and_is_restored(monkeypatch, capsys):
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)
    seen = []
    monkeypatch.setattr("smartframes.cli.probe.run", lambda args: seen.append(os.environ.get(runtime.RUNTIME_ENV)) or 0)
    assert main(["--runtime", "torch", "probe", "x.mp4"]) == 0
    assert main(["probe", "x.mp4", "--runtime", "openvino"]) == 0
    assert seen == ["torch", "openvino"] and runtime.RUNTIME_ENV not in os.environ
    with pytest.raises(SystemExit) as exit_:
        main(["probe", "x.mp4", "--runtime", "fast"])
    assert exit_.value.code == 2 and "invalid choice: 'fast'" in capsys.readouterr().err


@needs_openvino
def test_converted_models_are_cached_and_a_damaged_one_is_converted_again(own_cache, monkeypatch):
    import openvino

    runtime.OpenVINOBackbone("efficientnet_lite0", 64, "float32", True)
    [entry] = (own_cache / "openvino").iterdir()
    assert entry.name.startswith("efficientnet_lite0-64px-logits-") and {p.name for p in entry.iterdir()} == {"model.xml", "model.bin"}
    converted = []
    real_convert = openvino.convert_model
    monkeypatch.setattr(openvino, "convert_model", lambda *a, **k: converted.append(1) or real_convert(*a, **k))
    x = torch.rand(3, 3, 64, 64)
    emb, logits = runtime.OpenVINOBackbone("efficientnet_lite0", 64, "float32", True)(x)
    assert converted == [] and emb.shape == (3, 1280) and logits.shape == (3, 1000)  # read from the cache
    (entry / "model.bin").write_bytes(b"\0" * 100)  # damaged after it was written
    again, _ = runtime.OpenVINOBackbone("efficientnet_lite0", 64, "float32", True)(x)
    assert converted == [1]
    np.testing.assert_allclose(again.numpy(), emb.numpy(), rtol=1e-5, atol=1e-5)
    assert [p.name for p in (own_cache / "openvino").iterdir()] == [entry.name]  # no temporary left


@pytest.mark.skipif(not runtime.openvino_available(), reason="OpenVINO is not installed")
def test_converting_a_model_forks_no_process(own_cache, monkeypatch):
    """OpenVINO's converter would send usage telemetry from a forked process; a fork taken while
    this process decodes in other threads can hang for good, and this process's exit with it."""
    import multiprocessing.process

    started = []
    real_start = multiprocessing.process.BaseProcess.start
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start",
                        lambda self: started.append(self) or real_start(self))
    monkeypatch.delenv("CI", raising=False)  # OpenVINO's own switch: telemetry stays off under CI
    runtime.converted_model("efficientnet_lite0", 32, True)
    assert (runtime.cache_dir() / "openvino").is_dir() and started == []
