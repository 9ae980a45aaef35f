"""Hostile video files: mutated clips (bit flips, truncations, spliced headers, zeroed or garbage
runs) fed to probe/read_frames in this process, to the watched decoding child, and to extract.
Every case must end in decoded frames or a VideoError within a time limit."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from smartframes.candidates import CandidateRule
from smartframes.io.decoder import DecodeSettings, DecodeWorker
from smartframes.scale.extract import extract_dataset
from smartframes.features.store import FeatureStore
from smartframes.io.video import Limits, VideoError, probe, read_frames, write_video

CASE_SECONDS = 15.0  # a case that takes longer is a hang


def _frames(n=20, h=48, w=64, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clip = np.full((n, h, w, 3), 60, np.uint8)
    for t in range(n):
        y, x = rng.integers(0, h - 16), rng.integers(0, w - 16)
        clip[t, y : y + 16, x : x + 16] = rng.integers(0, 255, 3)
    return clip


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, optional_real_clips) -> dict[str, bytes]:
    """Intact clips to mutate: H.264 in mp4 and mkv, MPEG-4 part 2 in avi, and small real clips."""
    root = tmp_path_factory.mktemp("seeds")
    write_video(root / "a.mp4", _frames(seed=1), fps=25)
    write_video(root / "b.mkv", _frames(seed=2), fps=30)
    write_video(root / "c.avi", _frames(seed=3), fps=25, codec="mpeg4")
    out = {p.name: p.read_bytes() for p in sorted(root.iterdir())}
    for name in ("misc/v_ApplyEyeMakeup_g01_c01.avi", "misc/stgcn_ta_chi.mp4", "misc/flipping_a_pancake.mkv"):
        path = optional_real_clips / name if optional_real_clips else None
        if path and path.is_file() and path.stat().st_size < 2_000_000:
            out[Path(name).name] = path.read_bytes()
    return out


def mutate(data: bytes, how: str, draw) -> bytes:
    """One mutation of a file's bytes, its parameters drawn by hypothesis."""
    n = len(data)
    if how == "flip":
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 64))):
            buf[draw(st.integers(0, n - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(buf)
    if how == "truncate":
        return data[: draw(st.integers(1, n - 1))]
    if how == "zero":
        start = draw(st.integers(0, n - 1))
        length = draw(st.integers(1, 4096))
        return data[:start] + bytes(min(length, n - start)) + data[start + length :]
    if how == "garbage":
        start = draw(st.integers(0, n - 1))
        junk = draw(st.binary(min_size=1, max_size=2048))
        return data[:start] + junk + data[start + len(junk) :]
    if how == "header":  # a header of one length spliced onto a body cut elsewhere
        cut = draw(st.integers(8, min(4096, n - 1)))
        return data[:cut] + data[draw(st.integers(0, n - 1)) :]
    raise ValueError(how)


MUTATIONS = ("flip", "truncate", "zero", "garbage", "header")


@st.composite
def hostile(draw, seeds):
    name = draw(st.sampled_from(sorted(seeds)))
    how = draw(st.sampled_from(MUTATIONS))
    return name, how, mutate(seeds[name], how, draw)


def test_hostile_files_in_process(seeds, tmp_path, tally, outcomes):
    """probe and read_frames in this process: frames or VideoError, nothing else, in time."""
    case = [0]

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(hostile(seeds))
    def check(sample):
        name, how, data = sample
        case[0] += 1
        path = tmp_path / f"in{case[0]}{Path(name).suffix}"
        path.write_bytes(data)
        tally["hostile inputs"] += 1
        began = time.monotonic()
        try:
            info = probe(path)
            frames = read_frames(path, size=32, allow_partial=True)
            assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8
            short_side = min(frames.shape[1:3]) if len(frames) else 32
            assert short_side == 32, (frames.shape, info)
            outcomes["frames"] += 1
        except VideoError as e:
            assert str(path) in str(e)
            outcomes["VideoError"] += 1
        except Exception:
            tally["crashes"] += 1
            raise
        if time.monotonic() - began > CASE_SECONDS:
            tally["hangs"] += 1
            pytest.fail(f"{how} of {name} took {time.monotonic() - began:.1f} s")

    check()


@pytest.mark.slow
def test_hostile_files_in_the_watched_decoder(seeds, tmp_path, tally, outcomes):
    """The same kind of files through the child process extract uses: each ends in frames or a
    reason, never in a stall or a dead child."""
    rng = np.random.default_rng(7)
    paths = []
    for k in range(60):
        name = sorted(seeds)[k % len(seeds)]
        data = bytearray(seeds[name])
        how = MUTATIONS[k % len(MUTATIONS)]
        if how == "truncate":
            data = data[: int(rng.integers(1, len(data)))]
        else:
            for _ in range(int(rng.integers(1, 40))):
                data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        path = tmp_path / f"w{k}{Path(name).suffix}"
        path.write_bytes(bytes(data))
        paths.append(path)
    settings_ = DecodeSettings(CandidateRule(), (None, 32), 8)
    ended = {}
    with DecodeWorker(settings_, timeout=CASE_SECONDS) as worker:
        for event in worker.run(enumerate(paths)):
            if event.kind != "batch":
                ended[event.key] = event.reason or "frames"
    tally["hostile inputs"] += len(paths)
    assert sorted(ended) == list(range(len(paths)))
    stalled = [r for r in ended.values() if "stalled" in r]
    died = [r for r in ended.values() if "died" in r or "unexpected" in r]
    tally["hangs"] += len(stalled)
    tally["crashes"] += len(died)
    outcomes["frames (watched decoder)"] += sum(r == "frames" for r in ended.values())
    outcomes["VideoError (watched decoder)"] += sum(r != "frames" for r in ended.values())
    assert not stalled and not died, stalled + died


def test_extract_survives_a_folder_of_hostile_files(seeds, tmp_path, tally, small_spec):
    """One extract run over damaged files: every video ends done or failed with its reason."""
    data = tmp_path / "data" / "junk"
    data.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for k in range(12):
        name = sorted(seeds)[k % len(seeds)]
        raw = bytearray(seeds[name])
        cut = int(rng.integers(len(raw) // 4, len(raw)))
        for _ in range(10):
            raw[int(rng.integers(0, cut))] ^= 0xFF
        (data / f"{k}{Path(name).suffix}").write_bytes(bytes(raw[:cut]))
    (data / "text.mp4").write_text("not a video")
    (data / "empty.mkv").write_bytes(b"")
    summary = extract_dataset(tmp_path / "data", tmp_path / "store", small_spec, progress=False, decode_timeout=30)
    tally["hostile inputs"] += 14
    assert summary.done + summary.failed == 14
    with FeatureStore.open(tmp_path / "store") as store:
        for rec in store.records():
            assert rec.status in ("done", "failed")
            if rec.status == "failed":
                assert rec.error and "unexpected" not in rec.error and "died" not in rec.error, rec.error
            else:
                assert len(store.load(rec.id)["indices"]) > 0


def test_stalled_decoder_is_abandoned_and_recorded(tmp_path, tally, write_class_folder, small_spec):
    """A decoder that makes no progress within the timeout costs its video, not the run; the
    same videos extract with a sane timeout and --retry-failed."""
    data = write_class_folder(tmp_path / "data", classes=("red",), per_class=2)
    began = time.monotonic()
    summary = extract_dataset(data, tmp_path / "store", small_spec, progress=False, decode_timeout=1e-3)
    assert summary.failed == 2 and time.monotonic() - began < 120
    with FeatureStore.open(tmp_path / "store") as store:
        assert all("decoder stalled" in r.error for r in store.records(status="failed"))
    tally["hangs abandoned on purpose"] += 2
    again = extract_dataset(data, tmp_path / "store", small_spec, progress=False, retry_failed=True)
    assert again.done == 2 and again.failed == 0


def test_videos_over_the_limits_are_refused_before_decoding(tmp_path, write_class_folder, small_spec):
    data = write_class_folder(tmp_path / "data", classes=("red",), per_class=1, frames=12)
    clip = next(data.rglob("*.mp4"))
    for limits, message in ((Limits(max_pixels=64 * 64 - 1), "80x64 is over the limit"),
                            (Limits(max_frames=11), "12 frames is over the limit"),
                            (Limits(max_duration=0.5), "over the limit of 0 s")):
        with pytest.raises(VideoError, match=message):
            limits.check(probe(clip))
    summary = extract_dataset(data, tmp_path / "store", small_spec, progress=False, limits=Limits(max_frames=5))
    assert summary.failed == 1
    with FeatureStore.open(tmp_path / "store") as store:
        assert "--max-frames" in store.records()[0].error


def _ends_in_another_thread(paths, timeout: float) -> dict | None:
    """A :class:`DecodeWorker` run over ``paths`` in another thread: how each video ended ("end" or
    the reason), or None if the run was still going after a minute."""
    import threading

    events = {}

    def run():
        with DecodeWorker(DecodeSettings(CandidateRule(), (None,), 4), timeout=timeout) as worker:
            for event in worker.run((str(p), p) for p in paths):
                if event.kind != "batch":
                    events[event.key] = event.reason or "end"

    other = threading.Thread(target=run, daemon=True)
    other.start()
    other.join(timeout=60)
    return None if other.is_alive() else events


def _child_module(tmp_path, monkeypatch, name: str, source: str) -> None:
    """Make decoding children run ``name:serve`` from ``source`` (written to ``tmp_path``): a stand-in
    that breaks the real child in a chosen way, since the child is a new interpreter."""
    import os

    import smartframes.io.decoder as decoder

    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.setattr(decoder, "CHILD", f"{name}:serve")


def test_a_decoder_that_dies_or_hangs_costs_only_its_video(tmp_path, monkeypatch, tally, write_class_folder):
    """A stand-in for FFmpeg in the child kills the process half-way through a video, or hangs; the
    worker blames that video alone and goes on."""
    data = write_class_folder(tmp_path / "data", classes=("red",), per_class=4, frames=12)
    paths = sorted(data.rglob("*.mp4"))
    crash, hang = paths[1], paths[2]
    _child_module(tmp_path, monkeypatch, "faulty_child", f"""
import os, signal, time
import smartframes.io.decoder as decoder
from smartframes.io.decoder import serve

real = decoder.candidate_batches

def faulty(path, *args, **kwargs):
    for k, batch in enumerate(real(path, *args, **kwargs)):
        if path == {str(crash)!r} and k == 1:
            os.kill(os.getpid(), signal.SIGSEGV)
        if path == {str(hang)!r}:
            time.sleep(3600)
        yield batch

decoder.candidate_batches = faulty
""")
    events = {}
    with DecodeWorker(DecodeSettings(CandidateRule(), (None,), 4), timeout=3.0) as worker:
        for event in worker.run((str(p), p) for p in paths):
            if event.kind != "batch":
                events[event.key] = event.reason or "end"
    assert events[str(paths[0])] == events[str(paths[3])] == "end"
    assert "died (exit code -11)" in events[str(crash)]
    assert "stalled" in events[str(hang)]
    tally["hostile inputs"] += 2


def test_a_decoder_stopped_halfway_through_sending_a_batch_costs_only_its_video(tmp_path, monkeypatch, tally,
                                                                                write_class_folder):
    """The child announces a 1 MiB message, writes 4 kB of it and stops: the parent must not wait
    for the rest (a blocking read has no timeout); the video is recorded as stalled."""
    data = write_class_folder(tmp_path / "data", classes=("red",), per_class=3, frames=12)
    paths = sorted(data.rglob("*.mp4"))
    half = str(paths[1])
    _child_module(tmp_path, monkeypatch, "halfway_child", f"""
import os, struct, time
import smartframes.io.decoder as decoder
from smartframes.io.decoder import serve

real = decoder._decode_jobs

class StopsHalfway:
    def __init__(self, out):
        self.out = out

    def send(self, message):
        if message[:2] == ("batch", {half!r}):
            os.write(self.out.fileno(), struct.pack("!i", 1 << 20) + bytes(4096))
            time.sleep(3600)
        self.out.send(message)

decoder._decode_jobs = lambda settings, next_job, out: real(settings, next_job, StopsHalfway(out))
""")
    events = _ends_in_another_thread(paths, timeout=2.0)
    if events is None:
        tally["hangs"] += 1
        pytest.fail("the parent hung reading a half-sent message")
    assert events[str(paths[0])] == events[str(paths[2])] == "end"
    assert "stalled" in events[half]
    tally["hostile inputs"] += 1


def test_a_decoding_child_starts_while_another_thread_holds_a_pyav_scaler(tmp_path, tally, write_class_folder):
    """PyAV keeps an FFmpeg scaler, with its slice threads, for each thread that converted a frame; a
    child forked from another thread hung for good freeing it. The child must start and decode."""
    import av

    data = write_class_folder(tmp_path / "data", classes=("red",), per_class=2, frames=12)
    paths = sorted(data.rglob("*.mp4"))
    with av.open(str(paths[0])) as container:
        next(container.decode(video=0)).to_ndarray(format="rgb24", width=64, height=48)
    assert _ends_in_another_thread(paths, timeout=10.0) == {str(p): "end" for p in paths}
    tally["hostile inputs"] += 1


def test_a_decoding_child_that_cannot_start_fails_each_video_saying_so(tmp_path, monkeypatch, tally, write_class_folder):
    data = write_class_folder(tmp_path / "data", classes=("red",), per_class=2, frames=12)
    paths = sorted(data.rglob("*.mp4"))
    _child_module(tmp_path, monkeypatch, "broken_child", "raise ImportError('a broken installation')\n")
    events = {}
    with DecodeWorker(DecodeSettings(CandidateRule(), (None,), 4), timeout=10.0) as worker:
        for event in worker.run((str(p), p) for p in paths):
            events[event.key] = event.reason
    assert events == {str(p): "decoder process died (exit code 1) before it started (its error is above); abandoned"
                      for p in paths}
    tally["hostile inputs"] += 1
