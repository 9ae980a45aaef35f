"""Packaged ImageNet backbones: strict loading, declared preprocessing, predictions on photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from smartframes.backbones import BACKBONES, EfficientNetLite, centre_crop, load_backbone, to_input, _state_dict
from smartframes.video import write_video, read_frames
from smartframes.words import class_vectors, imagenet_class_names, name_words, word_vector

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat"}
CUP_CLASSES = {"cup", "espresso", "coffee mug"}


def _photo_input(image: np.ndarray, name: str, tmp_path) -> torch.Tensor:
    """Scale a photo the way video frames are scaled (FFmpeg bicubic, short side), then crop."""
    spec = BACKBONES[name]
    h, w = image.shape[:2]
    image = image[: h - h % 2, : w - w % 2]
    path = tmp_path / "photo.mp4"
    write_video(path, np.repeat(image[None], 2, axis=0), crf=1)
    frames = read_frames(path, indices=[0], size=spec.resize_short_side())
    return to_input(centre_crop(frames, spec.resolution), spec)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_photos_are_classified(name, tmp_path):
    model = load_backbone(name)
    classes = imagenet_class_names()
    with torch.inference_mode():
        cat = model(_photo_input(skdata.chelsea(), name, tmp_path))[0]
        coffee = model(_photo_input(skdata.coffee(), name, tmp_path))[0]
    assert classes[int(cat.argmax())] in CAT_CLASSES
    assert CUP_CLASSES & {classes[i] for i in coffee.topk(5).indices.tolist()}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_strict_load_and_interface(name):
    spec = BACKBONES[name]
    model = EfficientNetLite(spec)
    missing, unexpected = model.load_state_dict(_state_dict(name), strict=True)
    assert not missing and not unexpected
    x = torch.zeros(2, 3, spec.resolution, spec.resolution)
    with torch.inference_mode():
        feats = model.forward_features(x)
        logits = model.forward_head(feats)
    assert feats.shape == (2, spec.embed_dim) and logits.shape == (2, 1000)
    assert spec.mean == (0.5, 0.5, 0.5) and spec.std == (0.5, 0.5, 0.5)


def test_parameter_counts_match_the_published_models():
    counts = {n: sum(p.numel() for p in EfficientNetLite(s).parameters()) for n, s in BACKBONES.items()}
    assert counts == {"efficientnet_lite0": 4_652_008, "efficientnet_lite2": 6_092_072}


def test_class_names_come_from_the_package():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby" and names[285] == "Egyptian cat"


def test_glove_similarity():
    tabby, cat, truck = (word_vector(w) for w in ("tabby", "cat", "truck"))
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cos(tabby, cat) > cos(tabby, truck) + 0.3
    assert word_vector("qzxqzxqzx") is None


def test_class_vectors_split_names_and_skip_unknown_words():
    assert name_words("jack-o'-lantern") == ["jack", "o", "lantern"]
    assert name_words("great white shark") == ["great", "white", "shark"]
    vectors, known = class_vectors()
    assert vectors.shape == (1000, 50) and known.sum() > 980
    shark = np.mean([word_vector(w) for w in ("great", "white", "shark")], axis=0)
    np.testing.assert_allclose(vectors[2], shark, rtol=1e-6)
    assert not known.all() and np.all(vectors[~known] == 0)
