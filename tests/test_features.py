"""Per-frame light and expensive features, candidate rules, and the feature spec."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from smartframes import device
from smartframes.errors import SmartframesError
from smartframes.candidates import candidate_indices
from smartframes.features.extractor import FeatureExtractor
from smartframes.features.quality import pixel_statistics, quality_table
from smartframes.spec import FeatureSpec
from smartframes.features.words import class_vectors


@given(st.integers(0, 5000), st.integers(1, 10), st.one_of(st.none(), st.integers(1, 400)))
def test_candidate_indices(frame_count, every, max_candidates):
    idx = candidate_indices(frame_count, every, max_candidates)
    assert np.all(np.diff(idx) > 0)
    assert np.all(idx % every == 0) and np.all((idx >= 0) & (idx < max(frame_count, 1)))
    pool = len(range(0, frame_count, every))
    assert len(idx) == (pool if max_candidates is None else min(pool, max_candidates))
    if max_candidates is not None and pool > max_candidates and max_candidates > 1:
        # spread over the whole video: first pick in the first segment, last in the last
        assert idx[0] < every * pool / max_candidates and idx[-1] >= every * pool * (1 - 1 / max_candidates) - every


def test_extract_one_video(tmp_path, write_class_folder, small_spec):
    root = write_class_folder(tmp_path / "data", classes=("red",), per_class=1, frames=20)
    spec = small_spec
    feats = FeatureExtractor(spec, batch_size=4).extract(root / "red" / "0.mp4")
    assert feats.indices.tolist() == candidate_indices(20, 1, 6).tolist()
    assert feats.visual.shape == (6, 1280) and feats.glove.shape == (6, 50) and feats.expensive.shape == (6, 1280)
    assert feats.light.shape == (6, spec.light_dim) == (6, 1330)
    assert feats.lost == 0 and np.all(np.isfinite(feats.light)) and np.all(np.isfinite(feats.expensive))
    np.testing.assert_allclose(feats.times, feats.indices / 12, atol=1e-6)
    # the GloVe part is a mean of 10 class vectors: it lies inside their span, with unit-scale norm
    vectors, _ = class_vectors()
    assert 0 < np.linalg.norm(feats.glove[0]) <= np.linalg.norm(vectors, axis=1).max()
    # frame statistics for the training-free methods: [brightness, contrast, sharpness, change], [max p, entropy]
    assert feats.quality.shape == (6, 4) and feats.confidence.shape == (6, 2)
    assert np.all((feats.quality[:, 0] >= 0) & (feats.quality[:, 0] <= 1)) and feats.quality[0, 3] == 0
    assert np.all((feats.confidence[:, 0] > 0) & (feats.confidence[:, 0] <= 1))
    assert np.all((feats.confidence[:, 1] >= 0) & (feats.confidence[:, 1] <= np.log(1000) + 1e-4))


def test_pixel_statistics_by_hand():
    black = np.zeros((1, 8, 8, 3), np.uint8)
    board = np.kron((np.indices((4, 4)).sum(0) % 2) * 255, np.ones((2, 2)))[None, :, :, None].repeat(3, 3)
    board = board.astype(np.uint8)  # 8x8 checkerboard of 2x2 squares: half white
    stats, hists = pixel_statistics(np.concatenate([black, board]))
    np.testing.assert_allclose(stats[0], [0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(stats[1, :2], [0.5, 0.5], atol=1e-3)
    assert stats[1, 2] > 0.5  # edges everywhere: a sharp frame
    assert hists[0, 0] == 1 and hists[1, 0] == hists[1, -1] == 0.5
    table = quality_table(stats, hists)
    assert table.shape == (2, 4) and table[0, 3] == 0 and table[1, 3] == pytest.approx(1.0)


def test_batching_does_not_change_features(tmp_path, write_class_folder, small_spec):
    root = write_class_folder(tmp_path / "data", classes=("red",), per_class=1, frames=20)
    path = root / "red" / "0.mp4"
    a = FeatureExtractor(small_spec, batch_size=6).extract(path)
    b = FeatureExtractor(small_spec, batch_size=4).extract(path)
    np.testing.assert_allclose(a.light, b.light, atol=1e-4)
    np.testing.assert_allclose(a.expensive, b.expensive, atol=1e-4)


def test_glove_feature_is_the_mean_of_the_top10_class_vectors(tmp_path, write_class_folder):
    root = write_class_folder(tmp_path / "data", classes=("red",), per_class=1, frames=6)
    ex = FeatureExtractor(FeatureSpec(light_resolution=96, expensive_backbone=None, light_precision="float32"))
    from smartframes.io.video import read_frames
    from smartframes.features.backbones import centre_crop, to_input
    import torch

    frames = read_frames(root / "red" / "0.mp4", size=ex.spec.decode_sizes.light)
    _, glove, _ = ex.light_features(frames)
    with torch.inference_mode():
        logits = ex.light_run(to_input(centre_crop(frames, 96), ex.light_spec))[1]
    vectors, known = class_vectors()
    for row, top in zip(glove, logits.topk(10).indices.numpy()):
        keep = top[known[top]]
        np.testing.assert_allclose(row, vectors[keep].mean(0), atol=1e-5)


def test_without_expensive_backbone(tmp_path, write_class_folder):
    root = write_class_folder(tmp_path / "data", classes=("red",), per_class=1, frames=8)
    feats = FeatureExtractor(FeatureSpec(light_resolution=96, expensive_backbone=None)).extract(root / "red" / "0.mp4")
    assert feats.expensive is None and feats.light.shape == (8, 1330)


def test_spec_validation_and_diff():
    with pytest.raises(SmartframesError, match="unknown backbone"):
        FeatureSpec(light_backbone="resnet9000")
    with pytest.raises(SmartframesError, match="--every"):
        FeatureSpec(every=0)
    a, b = FeatureSpec(light_resolution=160), FeatureSpec(light_resolution=224)
    assert a.diff(b) == ["light_resolution: 160 != 224"]
    assert FeatureSpec.from_dict(__import__("json").loads(a.to_json())) == a


def test_cuda_request_without_cuda_is_a_clear_error(small_spec):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SmartframesError, match="no CUDA device"):
        FeatureExtractor(small_spec, device="cuda")


def test_bfloat16_light_features_stay_close_to_float32(tmp_path, write_class_folder, monkeypatch):
    from smartframes.io.video import read_frames

    monkeypatch.setattr(device, "cpu_has_bfloat16", lambda: True)  # bfloat16 arithmetic on any CPU
    root = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=1, frames=8)
    # PyTorch's autocast emulates bfloat16 where the CPU lacks it; OpenVINO would run float32 here
    fast = FeatureExtractor(FeatureSpec(light_resolution=96, expensive_backbone=None, light_precision="bfloat16"),
                            runtime="torch")
    exact = FeatureExtractor(FeatureSpec(light_resolution=96, expensive_backbone=None), runtime="torch")
    assert exact.spec.light_precision == "float32"  # the default
    frames = np.concatenate([read_frames(p, size=fast.spec.decode_sizes.light) for p in sorted(root.rglob("*.mp4"))])
    (va, _, _), (vb, _, _) = fast.light_features(frames), exact.light_features(frames)
    cosine = (va * vb).sum(1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vb, axis=1)
    assert cosine.mean() > 0.97 and cosine.min() > 0.9 and not np.array_equal(va, vb)  # flat test frames; real: 0.996


def test_bfloat16_runs_in_float32_on_a_cpu_without_bfloat16_instructions(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_bfloat16", lambda: False)
    assert device.run_precision("bfloat16", "cpu") == "float32"
    with device.precision("bfloat16", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    monkeypatch.setattr(device, "cpu_has_bfloat16", lambda: True)
    assert device.run_precision("bfloat16", "cpu") == "bfloat16"
    with device.precision("bfloat16", "cpu"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert device.run_precision("bfloat16", "cuda") == "bfloat16"


def test_specs_stored_before_the_precision_fields_meant_float32():
    old = json.loads(FeatureSpec().to_json())
    del old["light_precision"], old["expensive_precision"]
    assert FeatureSpec.from_dict(old).light_precision == "float32"


def test_the_expensive_pass_on_a_cpu_runs_in_batches_that_fit_its_resolution():
    from smartframes.features.extractor import expensive_batch_cpu

    assert [expensive_batch_cpu(r) for r in (260, 200, 160, 112, 64)] == [4, 4, 8, 16, 64]
    assert expensive_batch_cpu(2000) == 1
    ex = FeatureExtractor(FeatureSpec(light_resolution=32, expensive_resolution=160), device="cpu")
    assert ex.expensive_batch == 8
    images = np.random.default_rng(0).integers(0, 255, (11, 182, 182, 3), dtype=np.uint8)
    whole = FeatureExtractor(ex.spec, device="cpu", expensive_batch=11).expensive_features(images)
    assert ex.expensive_features(images).shape == (11, 1280)
    np.testing.assert_allclose(ex.expensive_features(images), whole, atol=1e-4)
