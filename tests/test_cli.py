"""The command line: real clips end to end, and one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from smartframes.cli.main import main
from smartframes.features.store import FeatureStore


@pytest.mark.slow
def test_extract_real_clips(real_clips, real_clip_labels, tmp_path, capsys):
    store_dir = tmp_path / "store"
    code = main(["extract", str(real_clips / "labels.csv"), "--store", str(store_dir), "--quiet",
                 "--max-candidates", "4"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = real_clip_labels
    with FeatureStore.open(store_dir) as store:
        records = store.records()
        assert len(records) == len(rows)
        for rec in records:
            assert rec.status == "done" or (rec.status == "failed" and rec.error), rec
        done = store.records(status="done")
        assert len(done) == len(rows), [r.error for r in records if r.status == "failed"]
        arrays = store.load(done[0].id)
        assert arrays["visual"].shape == (4, 1280) and arrays["expensive"].shape == (4, 1280)
    assert f"{len(rows)} extracted, 0 failed" in out


def test_python_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "smartframes", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "extract" in out.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["extract", "{tmp}/missing", "--store", "{tmp}/s"], "missing: no such file or directory"),
        (["extract", "{tmp}/data", "--store", "{tmp}/s", "--every", "0"], "--every must be >= 1"),
        (["probe", "{tmp}/nothing.mp4"], "nothing.mp4: no such file"),
        (["extract", "{tmp}/data", "--store", "{tmp}/data/red/0.mp4"], "0.mp4"),
    ],
)
def test_errors_are_one_line(tmp_path, argv, message, write_class_folder, small_spec_args):
    write_class_folder(tmp_path / "data", classes=("red",), per_class=1)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv] + (list(small_spec_args) if argv[0] == "extract" and "--every" not in argv else [])
    proc = subprocess.run([sys.executable, "-m", "smartframes", *argv], capture_output=True, text=True)
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0]


def test_extract_with_only_bad_videos_exits_non_zero(tmp_path, small_spec_args):
    (tmp_path / "data" / "x").mkdir(parents=True)
    (tmp_path / "data" / "x" / "a.mp4").write_text("no")
    proc = subprocess.run([sys.executable, "-m", "smartframes", "extract", str(tmp_path / "data"), "--store",
                           str(tmp_path / "s"), "--quiet", *small_spec_args], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "0 extracted, 1 failed" in proc.stdout and "no video could be processed" in proc.stderr
