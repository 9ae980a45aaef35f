"""Frames from Python: select_frames on files and decoded arrays, exact presentation timestamps."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from smartframes.cli.main import main
from smartframes import FrameSet, SmartframesError, VideoError, iter_select_frames, select_frames, write_video


def _pyav_frames(path, indices) -> tuple[np.ndarray, list[float]]:
    """The frames at ``indices`` and their times, decoded with PyAV directly."""
    wanted, images, times = set(indices), [], []
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k in wanted:
                images.append(frame.to_ndarray(format="rgb24"))
                times.append(float(frame.time))
    return np.stack(images), times


@pytest.mark.parametrize("method", ["uniform", "kcenter"])
def test_frames_of_a_real_clip_are_pyavs_own_with_its_timestamps(ucf101_9, method):
    clip = ucf101_9 / "Basketball" / "v_Basketball_g01_c01.avi"
    chosen = select_frames(clip, 6, method=method, device="cpu")
    assert isinstance(chosen, FrameSet) and chosen.method == method and len(chosen.indices) == 6
    frames, times = _pyav_frames(clip, chosen.indices)
    assert chosen.frames.dtype == np.uint8 and np.array_equal(chosen.frames, frames)
    assert chosen.timestamps == pytest.approx(times, abs=1e-6)
    assert chosen.frame_count > max(chosen.indices) and chosen.fps == pytest.approx(29.97, abs=0.01)
    assert [im.size for im in chosen.to_pil()] == [(320, 240)] * 6


def test_timestamps_of_a_variable_frame_rate_video_come_from_the_container(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (24, 64, 80, 3), dtype=np.uint8)
    gaps = np.where(np.arange(24) % 3 == 0, 0.2, 0.04)  # bursts of 25 fps broken by 0.2 s gaps
    times = np.round(np.concatenate([[0.0], np.cumsum(gaps[:-1])]), 3)
    path = tmp_path / "vfr.mp4"
    write_video(path, frames, fps=25, times=times.tolist())
    chosen = select_frames(path, 5, method="uniform", device="cpu")
    decoded, container_times = _pyav_frames(path, chosen.indices)
    assert np.array_equal(chosen.frames, decoded)
    assert chosen.timestamps == pytest.approx(container_times, abs=1e-6)
    assert chosen.timestamps == pytest.approx(times[chosen.indices].tolist(), abs=2e-3)
    assert chosen.timestamps != pytest.approx([i / chosen.fps for i in chosen.indices], abs=1e-3)


def test_decoded_frames_in_decoded_frames_out():
    rng = np.random.default_rng(1)
    video = rng.integers(0, 255, (30, 48, 64, 3), dtype=np.uint8)
    chosen = select_frames(video, 4, method="kcenter", fps=10.0, device="cpu")
    assert np.array_equal(chosen.frames, video[chosen.indices])
    assert chosen.timestamps == pytest.approx([i / 10 for i in chosen.indices])
    assert chosen.frame_count == 30 and chosen.duration == pytest.approx(3.0) and chosen.path == "<frames>"
    assert select_frames(video, 4, method="uniform").timestamps is None  # no fps: no times
    assert select_frames(video, 2, method="uniform", size=24).frames.shape == (2, 24, 32, 3)
    with pytest.raises(SmartframesError, match=r"uint8 RGB of shape \(T, H, W, 3\)"):
        select_frames(video.astype(np.float32), 4)


def test_many_videos_load_the_models_once_and_stop_at_an_unreadable_one(tmp_path):
    rng = np.random.default_rng(2)
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"{k}.mp4")
        write_video(paths[-1], rng.integers(0, 255, (12, 32, 32, 3), dtype=np.uint8), fps=12)
    (tmp_path / "bad.mp4").write_text("not a video")
    results = iter_select_frames([*paths, tmp_path / "bad.mp4"], 3, method="mgsampler", device="cpu")
    assert [len(next(results).indices) for _ in paths] == [3, 3]
    with pytest.raises(VideoError, match="bad.mp4"):
        next(results)


def test_vlm_export_carries_the_true_timing(tmp_path, capsys):
    rng = np.random.default_rng(3)
    times = np.round(np.cumsum(np.r_[0.0, np.where(np.arange(1, 30) % 4 == 0, 0.3, 0.04)]), 3)
    video = tmp_path / "vfr.mp4"
    write_video(video, rng.integers(0, 255, (30, 64, 80, 3), dtype=np.uint8), fps=25, times=times.tolist())
    out = tmp_path / "vlm"
    assert main(["select", str(video), "-n", "4", "--method", "uniform", "--export", "vlm", "--out", str(out)]) == 0
    records = [json.loads(line) for line in (out / "vlm.jsonl").read_text().splitlines()]
    assert len(records) == 1 and json.loads((out / "vfr" / "vlm.json").read_text()) == records[0]
    record = records[0]
    indices = [f["index"] for f in record["frames"]]
    assert [f["time"] for f in record["frames"]] == pytest.approx(times[indices].tolist(), abs=2e-3)
    for f in record["frames"]:
        assert Path(f["image"]).is_file()
    content = record["qwen_vl_messages"][0]["content"][0]
    assert content["type"] == "video" and len(content["video"]) == 4 and content["video"][0].startswith("file://")
    texts = [c["text"] for c in record["interleaved_messages"][0]["content"] if c["type"] == "text"]
    assert texts == [f"<{t:.1f} seconds>" for t in times[indices]]
    assert "4 frames are sampled" in record["llava_video_time_instruction"]
    meta = record["video_metadata"]
    assert meta["frames_indices"] == indices and meta["total_num_frames"] == 30
    video_utils = pytest.importorskip("transformers.video_utils")
    parsed = video_utils.VideoMetadata(**meta)  # transformers takes our metadata as it is
    assert parsed.timestamps == pytest.approx([i / meta["fps"] for i in indices])


def test_json_csv_and_frames_exports_carry_the_container_times_of_a_vfr_video(tmp_path):
    rng = np.random.default_rng(4)
    times = np.round(np.cumsum(np.r_[0.0, np.where(np.arange(1, 20) % 5 == 0, 0.5, 0.04)]), 3)
    video = tmp_path / "vfr.mp4"
    write_video(video, rng.integers(0, 255, (20, 32, 48, 3), dtype=np.uint8), fps=25, times=times.tolist())
    for fmt, out in (("json", tmp_path / "s.json"), ("csv", tmp_path / "s.csv"), ("frames", tmp_path / "f")):
        assert main(["select", str(video), "-n", "3", "--method", "uniform", "--export", fmt, "--out", str(out)]) == 0
    row = json.loads((tmp_path / "s.json").read_text())[0]
    assert row["times"] == pytest.approx(times[row["indices"]].tolist(), abs=2e-3)
    csv_rows = [line.split(",") for line in (tmp_path / "s.csv").read_text().splitlines()[1:]]
    assert [float(r[3]) for r in csv_rows] == pytest.approx(row["times"])
    manifest = [json.loads(line) for line in (tmp_path / "f" / "manifest.jsonl").read_text().splitlines()]
    assert [m["time"] for m in manifest] == pytest.approx(row["times"])


@pytest.fixture
def opens(monkeypatch):
    """How many times the decoding module opens a file and probes an opened one."""
    import smartframes.io.video as video

    seen = {"open": 0, "probe": 0}
    real_open, real_probe = video.av.open, video._probe_open

    def counting_open(*args, **kwargs):
        seen["open"] += 1
        return real_open(*args, **kwargs)

    def counting_probe(*args, **kwargs):
        seen["probe"] += 1
        return real_probe(*args, **kwargs)

    monkeypatch.setattr(video.av, "open", counting_open)
    monkeypatch.setattr(video, "_probe_open", counting_probe)
    return seen


@pytest.mark.parametrize("keep", [True, False], ids=["kept", "read-again"])
@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_one_open_one_probe_and_pyavs_frames_whether_kept_or_read_again(tmp_path, monkeypatch, opens, keep, suffix):
    """The serving path opens and probes a video once, whether it converts the chosen frames from the
    pictures it kept or decodes them again in the same container (mkv: no stated frame count)."""
    import smartframes.io.video as video

    if not keep:
        monkeypatch.setattr(video, "KEEP_BYTES", 0)
    rng = np.random.default_rng(3)
    path = tmp_path / f"clip{suffix}"
    codec = "mpeg4" if suffix == ".avi" else "libx264"
    write_video(path, rng.integers(0, 255, (40, 48, 64, 3), dtype=np.uint8), fps=20, codec=codec,
                keyframe_interval=8)
    opens["open"] = opens["probe"] = 0
    for method in ("uniform", "kcenter", "quality"):
        chosen = select_frames(path, 5, method=method, device="cpu")
        assert opens == {"open": 1, "probe": 1}, method
        frames, times = _pyav_frames(path, chosen.indices)
        assert np.array_equal(chosen.frames, frames) and chosen.timestamps == pytest.approx(times, abs=1e-6)
        assert chosen.frame_count == 40 and chosen.fps == pytest.approx(20)
        opens["open"] = opens["probe"] = 0
    small = select_frames(path, 3, method="uniform", size=24, device="cpu")
    assert small.frames.shape == (3, 24, 32, 3)


def test_what_is_kept_is_decided_by_the_size_of_the_candidates():
    from smartframes.io.video import KEEP_BYTES, VideoInfo, keeps_pictures

    ucf = VideoInfo("a.avi", 175, 25.0, 7.0, 320, 240, 0, "mpeg4")
    hd = VideoInfo("b.mp4", 9000, 30.0, 300.0, 1920, 1080, 0, "h264")
    assert keeps_pictures(ucf, 175) and keeps_pictures(hd, 64)
    assert not keeps_pictures(hd, 9000)
    assert keeps_pictures(hd, KEEP_BYTES // (1920 * 1080 * 3)) and not keeps_pictures(hd, KEEP_BYTES // (1920 * 1080 * 3) + 1)


def test_a_checkpoints_classifier_reads_the_chosen_frames_from_the_same_pass(tmp_path, opens, monkeypatch):
    """SMART with a checkpoint's classifier: one open, and the classifier sees the chosen frames at
    its own size exactly as a separate decode gives them."""
    from smartframes.evaluation.bench import untrained_checkpoint
    from smartframes.features.extractor import FeatureExtractor
    from smartframes.io.video import read_frames
    from smartframes.selection.serving import Selector
    from smartframes.spec import FeatureSpec

    spec = FeatureSpec(light_resolution=32, expensive_resolution=32, max_candidates=12)
    selector = Selector(untrained_checkpoint(spec, classes=3), device="cpu")
    seen = []
    original = FeatureExtractor.expensive_tensors
    monkeypatch.setattr(FeatureExtractor, "expensive_tensors", lambda self, images: seen.append(images) or
                        original(self, images))
    rng = np.random.default_rng(4)
    path = tmp_path / "clip.mp4"
    write_video(path, rng.integers(0, 255, (30, 48, 64, 3), dtype=np.uint8), fps=10)
    opens["open"] = opens["probe"] = 0
    sel = selector.select(path, 4)
    assert opens == {"open": 1, "probe": 1}
    assert sel.label in selector.classes and sel.info.frame_count == 30
    assert np.array_equal(seen[0], read_frames(path, sel.indices, spec.decode_sizes.expensive))
