"""Your own recogniser: a tiny torch model defined here, used for the oracle targets, as the
expensive model in evaluation, and to classify the frames select_frames chooses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smartframes import SmartframesError, evaluate, extract_dataset, select_frames, train_selector
from smartframes.selection.recogniser import Recogniser, TorchRecogniser, recognise
from smartframes.selection.config import TrainConfig


class MeanColour(torch.nn.Module):
    """Logits from the mean colour of the picture: red against blue."""

    def forward(self, x):  # (B, 3, H, W) in [0, 1]
        rgb = x.mean((2, 3))  # (B, 3)
        return 50 * torch.stack([rgb[:, 2] - rgb[:, 0], rgb[:, 0] - rgb[:, 2]], dim=1)  # (B, 2): blue, red


@pytest.fixture(scope="module")
def coloured(tmp_path_factory, write_class_folder, small_spec):
    root = tmp_path_factory.mktemp("recogniser")
    write_class_folder(root / "clips", per_class=6)
    rows = ["path,label,split"]
    for c in ("red", "blue"):
        for k in range(6):
            rows.append(f"{root / 'clips' / c / f'{k}.mp4'},{c},{('train', 'train', 'train', 'val', 'test', 'test')[k]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    extract_dataset(root / "labels.csv", root / "store", small_spec, progress=False)
    return root


def colour_recogniser(gflops: float | None = 0.5) -> TorchRecogniser:
    return TorchRecogniser(MeanColour(), ["blue", "red"], size=32, mean=(0, 0, 0), std=(1, 1, 1), gflops_per_frame=gflops)


def test_a_wrapped_torch_model_is_a_recogniser_and_its_output_is_checked():
    r = colour_recogniser()
    assert isinstance(r, Recogniser)
    frames = np.zeros((2, 40, 60, 3), np.uint8)
    frames[0, ..., 0] = 200  # red
    frames[1, ..., 2] = 200  # blue
    probs = recognise(r, frames)
    assert probs.shape == (2, 2) and np.allclose(probs.sum(1), 1) and probs[0].argmax() == 1 and probs[1].argmax() == 0
    assert np.array_equal(recognise(r, frames, ["red", "blue"]), probs[:, ::-1])
    with pytest.raises(SmartframesError, match="does not know the classes green"):
        recognise(r, frames, ["green"])

    class Wrong:
        classes = ["a", "b", "c"]

        def __call__(self, frames):
            return np.zeros((len(frames), 2))

    with pytest.raises(SmartframesError, match=r"expected \(2, 3\)"):
        recognise(Wrong(), frames)


def test_own_recogniser_classifies_the_chosen_frames(coloured):
    clip = coloured / "clips" / "red" / "0.mp4"
    chosen = select_frames(clip, 3, method="uniform", recogniser=colour_recogniser(), device="cpu")
    assert chosen.label == "red" and chosen.probability > 0.9


def test_own_recogniser_as_the_expensive_model_and_the_oracle(coloured):
    store = coloured / "store"
    ckpt, _ = train_selector(store, None, TrainConfig(epochs=2), recogniser=colour_recogniser(), progress=False,
                             log=lambda m: None)
    report = evaluate(store, None, (1, 2), ckpt=ckpt, recogniser=colour_recogniser())
    assert report.expensive == "your recogniser (TorchRecogniser)" and report.classes == ["blue", "red"]
    assert report.result("all").accuracy == 1.0 and report.result("uniform", 1).accuracy == 1.0
    assert report.cost.expensive_gflops == 0.5
    assert report.result("uniform", 2).gflops_per_video == pytest.approx(2 * 0.5)
    with pytest.raises(SmartframesError, match="not both"):
        train_selector(store, None, TrainConfig(epochs=1), oracle_dir=coloured, recogniser=colour_recogniser(),
                       progress=False, log=lambda m: None)
