"""`smartframes train` and `select` end to end: benchmark -> store -> checkpoint -> real clips."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from smartframes.cli.main import main
from smartframes.selection.methods import DEFAULT_METHOD, SERVING_METHODS
from smartframes.errors import SmartframesError
from smartframes.selection.serving import load_selector
from smartframes.spec import FeatureSpec
from smartframes.data.synth import SynthConfig, synthesize

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    synthesize(root / "bench", SynthConfig(classes=4, per_class=6, frames=16, size=64), workers=1, progress=False)
    assert main(["extract", str(root / "bench" / "labels.csv"), "--store", str(root / "store"), "--quiet",
                 "--light-resolution", "96", "--expensive-resolution", "96"]) == 0
    assert main(["train", "--store", str(root / "store"), "--out", str(root / "ckpt"), "--epochs", "8", "--quiet"]) == 0
    return root


def test_select_on_benchmark_video(trained, capsys):
    selector = load_selector(trained / "ckpt")
    video = sorted((trained / "bench" / "videos").rglob("*.mp4"))[0]
    sel = selector.select(video, n=3)
    assert len(sel.indices) == 3 and sel.indices == sorted(sel.indices)
    assert len(sel.candidates) == 16 and sel.score.shape == sel.delta.shape == sel.gamma.shape == (16,)
    assert sel.label in selector.classes and 0 < sel.probability <= 1
    assert abs(sum(sel.class_probabilities.values()) - 1) < 1e-4
    assert sel.indices == sorted(sorted(range(16), key=lambda i: (-sel.score[i], i))[:3])
    assert selector.select(video, n=50).indices == list(range(16))


def test_select_cli_on_real_clips_writes_sheet(trained, real_clips, tmp_path, capsys):
    clips = [real_clips / "misc" / "v_Basketball_g01_c01.avi", real_clips / "misc" / "flipping_a_pancake.mkv",
             real_clips / "misc" / "ntu_S001C001P001R001A001_rgb.avi"]
    for clip in clips:
        sheet = tmp_path / f"{clip.stem}.png"
        assert main(["select", str(clip), "--selector", str(trained / "ckpt"), "-n", "6", "--json", "--sheet", str(sheet)]) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert len(out["indices"]) == 6 and sheet.stat().st_size > 10_000
        assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_select_errors_are_one_line(trained, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    for argv, message in [
        (["select", str(bad), "--selector", str(trained / "ckpt")], "bad.mp4: not a readable video"),
        (["select", str(bad), "--selector", str(tmp_path)], "not a selector checkpoint"),
        (["train", "--store", str(tmp_path / "none"), "--out", str(tmp_path / "c")], "not a feature store"),
    ]:
        proc = subprocess.run([sys.executable, "-m", "smartframes", *argv], capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode != 0 and len(lines) == 1 and message in lines[0], proc.stderr


@pytest.mark.parametrize("method", SERVING_METHODS[3:])
def test_select_without_a_checkpoint(trained, method):
    video = sorted((trained / "bench" / "videos").rglob("*.mp4"))[0]
    sel = load_selector(method=method, device="cpu").select(video, n=3)
    assert sel.method == method and len(sel.indices) == 3 and sel.indices == sorted(set(sel.indices))
    assert sel.label is None and sel.score is None and set(sel.indices) <= set(sel.candidates.tolist())
    assert f"{method} chose 3 of 16 frames" in sel.format()


def test_select_cli_without_a_checkpoint_on_a_real_clip(real_clips, tmp_path, capsys):
    clip = real_clips / "misc" / "v_Basketball_g01_c01.avi"
    sheet = tmp_path / "s.png"
    assert main(["select", str(clip), "-n", "8", "--json", "--sheet", str(sheet), "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["method"] == DEFAULT_METHOD and len(out["indices"]) == 8 and out["label"] is None
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["select", str(clip), "-n", "4", "--method", "kcenter", "--export", "csv", "--out",
                 str(tmp_path / "k.csv")]) == 0
    rows = (tmp_path / "k.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("path,rank,frame,time")


@pytest.mark.parametrize("method", ["smart", "sfs", "gs"])
def test_a_selector_method_without_a_checkpoint_says_it_needs_training(trained, capsys, method):
    video = sorted((trained / "bench" / "videos").rglob("*.mp4"))[0]
    assert main(["select", str(video), "-n", "4", "--method", method, "--json"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"smartframes: error: method '{method}' needs a selector trained on your own videos: "
                           "smartframes train") and "uniform" in line
    assert captured.out == ""
    with pytest.raises(SmartframesError, match="needs a selector trained on your own videos"):
        load_selector(method=method)
    assert load_selector(trained / "ckpt", method=method).method == method


@pytest.mark.parametrize("method", [None, "kcenter"], ids=["checkpoint", "no-checkpoint"])
def test_the_three_ways_to_choose_frames_agree(trained, real_clips, method):
    """select_frames, load_selector(...).select and select_videos give the same frames, times and
    scores for the same video, selector and n."""
    from smartframes import select_frames, select_videos

    video = real_clips / "misc" / "v_Basketball_g01_c01.avi"
    if method is None:
        ckpt = trained / "ckpt"
        selector, how = load_selector(ckpt), {"selector": ckpt}
    else:
        selector, how = load_selector(method=method), {"method": method}
    sel = selector.select(video, n=5)
    frames = select_frames(video, 5, **how)
    [(path, batch)] = list(select_videos([video], n=5, **how))
    assert path == str(video) and len(sel.indices) == 5
    assert frames.indices == sel.indices == batch.indices
    assert frames.timestamps == sel.timestamps == batch.timestamps
    if method is not None:  # a training-free method scores no frame
        assert sel.scores is frames.scores is batch.scores is None
        return
    assert sel.scores is not None and len(sel.scores) == 5
    assert frames.scores == pytest.approx(sel.scores) and batch.scores == pytest.approx(sel.scores)
    where = {int(c): k for k, c in enumerate(sel.candidates)}
    assert sel.scores == [float(sel.score[where[i]]) for i in sel.indices]
