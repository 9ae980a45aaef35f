"""Feature store: extraction into it, resume after a kill, failures, spec checks."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from smartframes.scale.extract import extract_dataset
from smartframes.spec import FeatureSpec
from smartframes.io.files import UMASK
from smartframes.features.store import FeatureStore, StoreError


def _files(store_dir):
    return sorted(p.name for p in (store_dir / "features").iterdir())


def test_extract_then_rerun_skips_finished(tmp_path, write_class_folder, small_spec):
    data = write_class_folder(tmp_path / "data")
    (data / "red" / "broken.mp4").write_text("not a video")
    s1 = extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    assert (s1.done, s1.failed, s1.skipped) == (6, 1, 0)
    with FeatureStore.open(tmp_path / "store") as store:
        assert store.classes() == ["blue", "red"]
        [bad] = store.records(status="failed")
        assert bad.path.endswith("broken.mp4") and "not a readable video" in bad.error
        done = store.records(status="done")
        assert {r.split for r in done} <= {"train", "val", "test"}
        arrays = store.load(done[0].id)
        assert arrays["visual"].shape == (6, 1280) and arrays["expensive"].shape == (6, 1280)
        assert arrays["indices"].tolist() == done[0].candidates
    s2 = extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    assert (s2.done, s2.failed, s2.skipped, s2.frames) == (0, 0, 6, 0)  # failed ones wait for --retry-failed
    s3 = extract_dataset(data, tmp_path / "store", small_spec, retry_failed=True, progress=False)
    assert (s3.done, s3.failed) == (0, 1)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "store" / "features").iterdir()}
    assert modes == {0o666 & ~UMASK}  # as any new file here, not owner-only as safetensors leaves them


@pytest.mark.parametrize("damage", ["bit-flip", "truncate", "zeros", "missing"])
def test_a_feature_file_damaged_after_writing_is_caught_and_computed_again(tmp_path, write_class_folder, small_spec,
                                                                         damage, capsys):
    from smartframes.cli.main import main

    data = write_class_folder(tmp_path / "data")
    extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    with FeatureStore.open(tmp_path / "store") as store:
        victim, *others = store.records(status="done")
        before = {r.id: store.load(r.id) for r in store.records(status="done")}
    path = tmp_path / "store" / "features" / f"{victim.id}.safetensors"
    raw = bytearray(path.read_bytes())
    if damage == "bit-flip":
        raw[-5] ^= 0x01  # inside the last tensor: the header still parses
        path.write_bytes(bytes(raw))
    elif damage == "truncate":
        path.write_bytes(bytes(raw[: len(raw) // 2]))
    elif damage == "zeros":
        path.write_bytes(bytes(len(raw)))
    else:
        path.unlink()
    with FeatureStore.open(tmp_path / "store") as store:
        if damage == "bit-flip":  # never silently used: the reader stops, naming the file
            with pytest.raises(StoreError, match=f"{victim.id}.safetensors: feature file changed since it was written"):
                store.load(victim.id)
            assert store.record(victim.id).status == "failed"
        for r in others:
            assert all(np.array_equal(store.load(r.id)[k], v) for k, v in before[r.id].items())
    assert main(["verify", "--store", str(tmp_path / "store")]) == (0 if damage == "bit-flip" else 1)
    out = capsys.readouterr().out
    assert f"{len(before) - (damage == 'bit-flip')} finished videos checked" in out
    with FeatureStore.open(tmp_path / "store") as store:
        assert [r.id for r in store.records(status="failed")] == [victim.id]
    again = extract_dataset(data, tmp_path / "store", small_spec, retry_failed=True, progress=False)
    assert (again.done, again.failed) == (1, 0)  # only the damaged video is computed again
    with FeatureStore.open(tmp_path / "store") as store:
        assert store.verify() == []
        assert np.array_equal(store.load(victim.id)["indices"], before[victim.id]["indices"])
        np.testing.assert_allclose(store.load(victim.id)["visual"], before[victim.id]["visual"], atol=1e-5)


def test_store_refuses_another_spec(tmp_path, write_class_folder, small_spec):
    data = write_class_folder(tmp_path / "data", per_class=1)
    extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    other = FeatureSpec(light_resolution=128, expensive_resolution=96, max_candidates=6)
    with pytest.raises(StoreError, match=r"different feature spec \(light_resolution: 96 != 128\)"):
        extract_dataset(data, tmp_path / "store", other, progress=False)


def test_open_errors(tmp_path, write_class_folder, small_spec):
    with pytest.raises(StoreError, match="not a feature store"):
        FeatureStore.open(tmp_path)
    data = write_class_folder(tmp_path / "data", per_class=1)
    extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    with FeatureStore.open(tmp_path / "store") as store:
        rec = store.records(status="done")[0]
        store.feature_path(rec.id).write_bytes(b"garbage")
        with pytest.raises(StoreError, match="checksum mismatch"):
            store.load(rec.id)
        store._db.execute("UPDATE videos SET sha256=NULL")  # as a store written before checksums were kept
        with pytest.raises(StoreError, match="unreadable feature file"):
            store.load(rec.id)


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path, write_class_folder, small_spec, small_spec_args):
    data = write_class_folder(tmp_path / "data", classes=("red", "blue", "green"), per_class=4, frames=40)
    store_dir = tmp_path / "store"
    cmd = [sys.executable, "-m", "smartframes", "extract", str(data), "--store", str(store_dir), "--quiet",
           "--batch-size", "2", *small_spec_args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    catalog = store_dir / "catalog.sqlite"
    deadline = time.time() + 120
    done_before = 0
    while time.time() < deadline and proc.poll() is None:
        if catalog.exists():
            try:
                with sqlite3.connect(catalog, timeout=1) as db:
                    done_before = db.execute("SELECT COUNT(*) FROM videos WHERE status='done'").fetchone()[0]
            except sqlite3.OperationalError:
                done_before = 0
            if done_before >= 3:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "extract finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with FeatureStore.open(store_dir) as store:
        finished = {r.id: os.stat(store.feature_path(r.id)).st_mtime_ns for r in store.records(status="done")}
    assert 3 <= len(finished) < 12
    summary = extract_dataset(data, store_dir, small_spec, batch_size=2, progress=False)  # the killed run's batches
    assert summary.skipped == len(finished) and summary.done == 12 - len(finished) and summary.failed == 0
    with FeatureStore.open(store_dir) as store:
        assert store.count("done") == 12
        assert all(os.stat(store.feature_path(v)).st_mtime_ns == m for v, m in finished.items())
        assert not [f for f in _files(store_dir) if not f.endswith(".safetensors") or f.startswith(".tmp")]
        resumed = {r.id: store.load(r.id) for r in store.records(status="done")}
    # the resumed store holds the same features as an uninterrupted run
    extract_dataset(data, tmp_path / "clean", small_spec, batch_size=2, progress=False)
    with FeatureStore.open(tmp_path / "clean") as clean:
        for rec in clean.records(status="done"):
            for key, value in clean.load(rec.id).items():
                np.testing.assert_array_equal(value, resumed[rec.id][key])


def test_stale_temporary_files_are_removed(tmp_path, write_class_folder, small_spec):
    data = write_class_folder(tmp_path / "data", per_class=1)
    extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    import socket

    from smartframes.features.store import _temporary_name

    features = tmp_path / "store" / "features"
    stale = features / _temporary_name("0123456789abcdef", socket.gethostname(), 999999999)
    elsewhere = features / _temporary_name("0123456789abcdef", "another-host", 7)  # maybe still being written
    stale.write_bytes(b"half a file")
    elsewhere.write_bytes(b"half a file")
    extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    assert not stale.exists() and elsewhere.exists()


def test_a_script_without_main_guard_can_extract(tmp_path, write_class_folder):
    """The decoding child must not re-run the caller's script (as a spawned child would)."""
    data = write_class_folder(tmp_path / "data", per_class=1)
    script = tmp_path / "plain.py"
    script.write_text(
        "import smartframes as sf\n"
        "from smartframes.features.extractor import FeatureSpec\n"
        f"s = sf.extract_dataset({str(data)!r}, {str(tmp_path / 'store')!r}, "
        "FeatureSpec(light_resolution=96, expensive_resolution=96, max_candidates=4), progress=False)\n"
        "print(s.line())\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "2 extracted, 0 failed" in proc.stdout, proc.stderr
