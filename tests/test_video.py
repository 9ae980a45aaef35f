"""Decoding: exact indices, timestamps, sizes, rotation, real clips and bad files."""

from __future__ import annotations

import hashlib

import av
import numpy as np
import pytest
from skimage import data as skdata

from smartframes.io.video import VideoError, decode, iter_frames, probe, read_frames, target_size, write_video


def test_all_frames_in_presentation_order(indexed_clip, frame_index):
    frames = read_frames(indexed_clip)
    assert frames.shape == (30, 48, 64, 3) and frames.dtype == np.uint8
    assert [frame_index(f) for f in frames] == list(range(30))


def test_exact_indices_in_requested_order(indexed_clip, frame_index):
    frames = read_frames(indexed_clip, indices=[17, 3, 3, 29, 0])
    assert [frame_index(f) for f in frames] == [17, 3, 3, 29, 0]


def test_index_past_end_is_an_error_unless_partial(indexed_clip):
    with pytest.raises(VideoError, match="indexed.mp4.*1 wanted frame"):
        read_frames(indexed_clip, indices=[2, 30])
    d = decode(indexed_clip, indices=[2, 30], allow_partial=True)
    assert d.indices.tolist() == [2] and d.lost == 1


def test_timestamps_of_variable_frame_rate(tmp_path, frame_index, index_frames):
    times = np.cumsum([0, 0.04, 0.04, 0.2, 0.01, 0.04, 0.5, 0.04, 0.04, 0.04])
    for suffix in (".mp4", ".mkv"):
        path = tmp_path / f"vfr{suffix}"
        write_video(path, index_frames(10), fps=25, times=times)
        d = decode(path)
        assert [frame_index(f) for f in d.frames[0]] == list(range(10))
        np.testing.assert_allclose(d.times, times, atol=1e-3)
        assert probe(path).frame_count == 10


def test_sizes_scaled_by_ffmpeg(indexed_clip, frame_index):
    d = decode(indexed_clip, indices=[4], sizes=(None, 24, (40, 30)))
    assert [f.shape[1:3] for f in d.frames] == [(48, 64), (24, 32), (30, 40)]
    assert frame_index(d.frames[1][0]) == 4
    assert target_size(320, 240, 128) == (171, 128) and target_size(240, 320, 128) == (128, 171)


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotation_metadata_is_honoured(tmp_path, rotation):
    frames = np.zeros((4, 48, 64, 3), np.uint8)
    frames[:, :8, :8] = 255  # a white square in the top-left corner
    path = tmp_path / "rotated.mp4"
    write_video(path, frames, rotation=rotation)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (48, 64, rotation)
    out = read_frames(path)
    assert out.shape == (4, 64, 48, 3)
    ys, xs = np.nonzero(out[0, :, :, 0] > 128)
    # counter-clockwise 90: top-left goes to bottom-left; 270: to top-right
    if rotation == 90:
        assert ys.min() > 48 and xs.max() < 16
    else:
        assert ys.max() < 16 and xs.min() > 32


def test_real_clip_decodes(real_clips, real_clip_row):
    path = real_clips / real_clip_row["path"]
    info = probe(path)
    d = decode(path, sizes=(64,))
    w, h = info.width, info.height
    assert d.frames[0].shape[1:] == ((64, round(64 * w / h), 3) if w >= h else (round(64 * h / w), 64, 3))
    assert abs(len(d.indices) - info.frame_count) <= 2
    assert np.all(np.diff(d.indices) == 1) and np.all(np.diff(d.times) > 0)
    assert info.fps > 0 and info.duration > 0


# -- bad files: each one a VideoError that names the file -----------------------------------


def _expect_error(path, reason_fragment, probe_fails=True):
    with pytest.raises(VideoError) as err:
        read_frames(path)
    assert str(path) in str(err.value) and reason_fragment in err.value.reason
    if probe_fails:
        with pytest.raises(VideoError):
            probe(path)


def test_missing_path(tmp_path):
    _expect_error(tmp_path / "nope.mp4", "no such file")


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.touch()
    _expect_error(p, "empty file")


def test_text_file_named_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    _expect_error(p, "not a readable video")


def test_png_named_avi(tmp_path):
    p = tmp_path / "picture.avi"
    av_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(skdata.chelsea()), format="rgb24")
    av_frame.to_image().save(p, format="PNG")
    _expect_error(p, "still image")


def test_audio_only_file(tmp_path):
    p = tmp_path / "sound.m4a"
    with av.open(str(p), "w") as c:
        s = c.add_stream("aac", rate=16000)
        tone = (np.sin(np.arange(16000) / 5) * 0.3).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for pkt in s.encode(frame):
            c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    _expect_error(p, "no video stream")


def test_directory(tmp_path):
    _expect_error(tmp_path, "is a directory")


def test_truncated_synthetic_mp4(tmp_path, indexed_clip):
    data = indexed_clip.read_bytes()
    p = tmp_path / "half.mp4"
    p.write_bytes(data[: len(data) // 2])  # moov atom is at the end: the index is gone
    _expect_error(p, "not a readable video")


def test_truncated_real_mp4_decodes_partially(tmp_path, real_clips):
    src = real_clips / "arid-small" / "Drink_1_13.mp4"  # index at the front, so half still plays
    data = src.read_bytes()
    p = tmp_path / "Drink_half.mp4"
    p.write_bytes(data[: len(data) // 2])
    _expect_error(p, "truncated or corrupt", probe_fails=False)  # the header is intact
    d = decode(p, allow_partial=True)
    assert 0 < len(d.indices) < 108 and d.lost == 108 - len(d.indices)
    whole = read_frames(src, indices=d.indices[:5].tolist())
    assert np.array_equal(whole, d.frames[0][:5])


def test_encoding_the_same_frames_gives_the_same_bytes(tmp_path):
    """x264 with its lookahead thread gave 2-5 different files in 15-30 encodes of these frames."""
    from smartframes.data.synth import SynthConfig, class_defs, render_video

    cfg = SynthConfig()
    frames, _, _ = render_video(class_defs(cfg.classes)[6], cfg, np.random.default_rng([0, 6, 40]))
    digests = set()
    for k in range(12):
        write_video(tmp_path / f"{k}.mp4", frames, fps=12)
        digests.add(hashlib.sha1((tmp_path / f"{k}.mp4").read_bytes()).hexdigest())
    assert len(digests) == 1


def test_stream_that_changes_size_midway_keeps_one_geometry(tmp_path, index_frames):
    """Frames after a resolution change are scaled to the first frame's geometry (a damaged or
    spliced stream must not yield arrays of different shapes)."""
    write_video(tmp_path / "a.ts", index_frames(10, 48, 64), fps=25)
    write_video(tmp_path / "b.ts", index_frames(10, 96, 96), fps=25)
    spliced = tmp_path / "spliced.ts"
    spliced.write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
    for size, shape in ((None, (48, 64)), (24, (24, 32))):
        frames = read_frames(spliced, size=size, allow_partial=True)
        assert len(frames) > 10 and frames.shape[1:3] == shape


def _numbered(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """Frames that show their index: a bar whose length is index % 64 over a grey level set by index // 64 (up to 640 frames)."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        frames[i] = 20 + 20 * (i // 64)
        frames[i, 20:28, : i % 64] = 255
    return frames


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_seeking_gives_the_frames_decoding_through_gives(tmp_path, suffix):
    path = tmp_path / f"long{suffix}"
    write_video(path, _numbered(300), fps=25, keyframe_interval=12)
    wanted = [0, 130, 131, 200, 299]  # gaps beyond SEEK_GAP_SECONDS * fps = 125 frames, and a neighbour
    through = list(iter_frames(path, wanted, (None, 32)))
    seeking = list(iter_frames(path, wanted, (None, 32), seek=True))
    assert [i for i, _, _ in seeking] == [i for i, _, _ in through] == wanted
    for (_, t1, a), (_, t2, b) in zip(through, seeking):
        assert t1 == pytest.approx(t2) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_seeking_decodes_fewer_frames(tmp_path, monkeypatch):
    import smartframes.io.video as video

    path = tmp_path / "long.mp4"
    write_video(path, _numbered(600), fps=25, keyframe_interval=12)
    counters = []
    for name in ("_counting", "_seeking"):
        original = getattr(video, name)

        def wrapped(*args, original=original):
            counters.append(args[-1])  # the shared count of decoded frames
            return original(*args)

        monkeypatch.setattr(video, name, wrapped)
    through = list(iter_frames(path, [0, 300, 599]))
    seeking = list(iter_frames(path, [0, 300, 599], seek=True))
    assert [i for i, _, _ in seeking] == [i for i, _, _ in through]
    assert counters[0][0] == 600 and counters[1][0] < 60, (counters[0][0], counters[1][0])


def test_worth_seeking_when_wanted_frames_lie_seconds_apart():
    from smartframes.io.video import SEEK_GAP_SECONDS, worth_seeking

    fps = 25.0
    assert worth_seeking(36_000, fps, int(36_000 / (SEEK_GAP_SECONDS * fps)))  # one frame every 5 s
    assert not worth_seeking(36_000, fps, 1_440)  # one a second: decoding straight through is cheaper
    assert not worth_seeking(100, fps, 0)


def test_read_ahead_gives_the_items_in_order_and_raises_where_the_producer_failed():
    from smartframes.io.decoder import read_ahead

    assert list(read_ahead(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield from range(3)
        raise VideoError("clip.mp4", "decoding stopped")

    seen = []
    with pytest.raises(VideoError, match="decoding stopped"):
        for item in read_ahead(failing()):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_read_ahead_stopped_early_stops_and_closes_its_producer():
    import threading

    from smartframes.io.decoder import read_ahead

    made, closed = [], threading.Event()

    def source():
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed.set()

    ahead = read_ahead(source(), depth=2)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert closed.is_set() and len(made) <= 3 + 2 + 2
    assert not any(t.name == "read-ahead" and t.is_alive() for t in threading.enumerate())


def test_selection_with_read_ahead_matches_reading_in_turn(indexed_clip, monkeypatch):
    """SMART through the threaded pass chooses what the same pass in one thread chooses."""
    import smartframes.selection.serving as serving
    from smartframes.evaluation.bench import untrained_checkpoint
    from smartframes.spec import FeatureSpec

    selector = serving.Selector(untrained_checkpoint(FeatureSpec(light_resolution=48, expensive_resolution=64)))
    threaded = selector.select(indexed_clip, 4)
    monkeypatch.setattr(serving, "read_ahead", lambda items: items)
    in_turn = selector.select(indexed_clip, 4)
    assert threaded.indices == in_turn.indices and threaded.candidates.tolist() == in_turn.candidates.tolist()
    assert np.array_equal(threaded.score, in_turn.score) and threaded.label == in_turn.label
