"""Long, untrimmed videos: candidates at a fixed rate, memory that does not grow with length."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from smartframes.candidates import candidate_indices
from smartframes.features.store import FeatureStore
from smartframes.io.video import probe, write_video

MINUTES, FPS = 20, 12


def _long_frames(n: int):
    """n frames of 64x48 with a moving bright square, made one at a time."""
    for k in range(n):
        frame = np.full((48, 64, 3), 30 + k % 200, np.uint8)
        frame[16:32, (3 * k) % 48 : (3 * k) % 48 + 16] = 255
        yield frame


def _peak_memory_mib(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd``; return it and the peak of the summed resident memory of it and its children."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        pids = [proc.pid]
        try:
            pids += [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        except OSError:
            pass
        total = 0
        for pid in pids:
            try:
                total += next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                              if line.startswith("VmRSS"))
            except (OSError, StopIteration):
                pass
        peak = max(peak, total / 1024)
        time.sleep(0.05)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), peak


def test_candidates_at_a_fixed_rate():
    assert candidate_indices(100, per_second=1, fps=25).tolist() == [0, 25, 50, 75]
    assert candidate_indices(91, per_second=1, fps=29.97).tolist() == [0, 30, 60, 90]
    assert candidate_indices(10, per_second=50, fps=25).tolist() == list(range(10))  # not above the frame rate
    assert candidate_indices(3600, per_second=1, fps=25, max_candidates=10).tolist()[:2] == [175, 525]


@pytest.mark.slow
def test_twenty_minute_video_at_one_frame_per_second_in_bounded_memory(tmp_path, capsys):
    # the runtime's converted models come from the cache, so that a one-time conversion is not counted
    from smartframes.features.runtime import converted_model, resolve_runtime

    if resolve_runtime(None, __import__("torch").device("cpu")) == "openvino":
        converted_model("efficientnet_lite0", 64, True)
        converted_model("efficientnet_lite2", 64, False)
    peaks = {}
    for minutes in (1, MINUTES):
        data = tmp_path / f"data{minutes}" / "untrimmed"
        data.mkdir(parents=True)
        write_video(data / "long.mp4", _long_frames(minutes * 60 * FPS), fps=FPS)
        info = probe(data / "long.mp4")
        assert info.duration >= minutes * 60
        store = tmp_path / f"store{minutes}"
        cmd = [sys.executable, "-m", "smartframes", "extract", str(data.parent), "--store", str(store),
               "--quiet", "--candidate-fps", "1", "--light-resolution", "64", "--expensive-resolution", "64"]
        proc, peaks[minutes] = _peak_memory_mib(cmd)
        assert proc.returncode == 0, proc.stderr
        with FeatureStore.open(store) as s:
            arrays = s.load(s.records(status="done")[0].id)
        assert arrays["indices"].tolist() == list(range(0, minutes * 60 * FPS, FPS))
        np.testing.assert_allclose(arrays["times"], np.arange(minutes * 60), atol=1e-6)
    with capsys.disabled():
        print(f"\n{MINUTES}-minute video, {MINUTES * 60} candidates: peak memory {peaks[MINUTES]:.0f} MiB "
              f"(extract and its decoding child, resident); a 1-minute one {peaks[1]:.0f} MiB")
    # twenty times the frames, nearly the same memory: the extracting process grew by 77-110 MiB from 1 to
    # 20 minutes run alone here (under either runtime), once 153 MiB inside the whole suite; the decoding
    # child not at all; the rest is the processes, their libraries and models (OpenVINO about 45 MiB above
    # eager PyTorch). Keeping each of the 14,400 decoded frames as well would add about 130 MiB more.
    assert peaks[MINUTES] < peaks[1] + 192
    assert peaks[MINUTES] < 1100
