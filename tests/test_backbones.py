"""Packaged ImageNet backbones: strict loading, declared preprocessing, predictions on photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from smartframes.spec import BACKBONES
from smartframes.features.backbones import EfficientNetLite, _state_dict, centre_crop, load_backbone, to_input
from smartframes.io.video import read_frames, write_video
from smartframes.features.words import class_vectors, imagenet_class_names, name_words, word_vector

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


# The models as published: blocks (the Lite models scale the depth of all but the first and last
# stage), the last stage's width (320 times the width multiplier), float32 checkpoint sizes (timm's
# model.safetensors on Hugging Face) and parameters (timm: 4.65 M and 6.09 M).
PUBLISHED = {"efficientnet_lite0": dict(blocks=16, last_stage=320, file_mb=18.8, params_m=4.65),
             "efficientnet_lite2": dict(blocks=21, last_stage=352, file_mb=24.6, params_m=6.09)}


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


@pytest.mark.parametrize("name", list(BACKBONES))
def test_the_checkpoints_are_the_published_models(name):
    state, published = _state_dict(name), PUBLISHED[name]
    assert tuple(state["_conv_stem.weight"].shape) == (32, 3, 3, 3)
    assert tuple(state["_conv_head.weight"].shape) == (BACKBONES[name].embed_dim, published["last_stage"], 1, 1)
    assert tuple(state["_fc.weight"].shape) == (1000, 1280)
    assert len({key.split(".")[1] for key in state if key.startswith("_blocks.")}) == published["blocks"]
    assert round(4 * sum(t.numel() for t in state.values()) / 1e6, 1) == published["file_mb"]
    learned = sum(t.numel() for k, t in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    model = sum(p.numel() for p in EfficientNetLite(BACKBONES[name]).parameters())
    assert model == learned and round(model / 1e6, 2) == published["params_m"]


@pytest.mark.parametrize("name", list(BACKBONES))
def test_inputs_are_scaled_as_tensorflow_lite_scales_them(name):
    """TF's EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255 RGB."""
    pixels = np.array([0, 64, 127, 200, 255], np.uint8)
    images = np.broadcast_to(pixels[:, None, None, None], (5, 8, 8, 3)).copy()
    x = to_input(images, BACKBONES[name])
    assert tuple(x.shape) == (5, 3, 8, 8)
    np.testing.assert_allclose(x[:, :, 0, 0].numpy(), np.repeat(((pixels - 127.0) / 128)[:, None], 3, 1), atol=0.01)


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
