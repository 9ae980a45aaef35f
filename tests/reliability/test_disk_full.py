"""A full disk mid-write: the command stops with one line naming the file and the space left,
leaves no partial file where a finished one is expected, and a rerun once space is free resumes
with every finished video kept. Tried with a writer that fails on cue (every machine) and on a
real 300 KiB tmpfs (where this machine lets a test mount one)."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from smartframes.cli.main import main
from smartframes.features.store import FeatureStore
from smartframes.scale.extract import extract_dataset
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, write_class_folder, small_spec):
    """A small real dataset, its store and a checkpoint trained on it."""
    root = tmp_path_factory.mktemp("diskfull")
    data = write_class_folder(root / "data", classes=("red", "blue"), per_class=6, frames=12)
    extract_dataset(data, root / "store", small_spec, progress=False)
    train_selector(root / "store", root / "ckpt", TrainConfig(epochs=1), progress=False, log=lambda m: None)
    return root


@pytest.fixture
def disk_fills_after(monkeypatch):
    """``disk_fills_after(k)``: from now on, every file written after the first ``k`` fails with
    ENOSPC when it is flushed (as a full disk fails a write whose blocks it only allocates then)."""
    real = os.fsync

    def arm(k: int):
        calls = {"n": 0}

        def fsync(fd):
            if stat.S_ISREG(os.fstat(fd).st_mode):
                calls["n"] += 1
                if calls["n"] > k:
                    raise OSError(errno.ENOSPC, "No space left on device")
            return real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    return arm


def _one_line(capsys) -> str:
    """The command's one error line (the progress bar may be on stderr too)."""
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("smartframes:")]
    assert len(said) == 1 and "Traceback" not in err, err
    return said[0]


def _leftovers(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") and p.name.endswith(("tmp", ".safetensors")))


def test_extract_stops_on_a_full_disk_and_resumes_keeping_every_finished_video(
        trained, tmp_path, disk_fills_after, small_spec_args, capsys, tally, monkeypatch):
    store = tmp_path / "store"
    argv = ["extract", str(trained / "data"), "--store", str(store), "--quiet", *small_spec_args]
    disk_fills_after(5)
    assert main(argv) == 2
    line = _one_line(capsys)
    assert line.startswith(f"smartframes: error: {store / 'features'}/") and ".safetensors: No space left on device (" in line
    assert "free there); what was finished is kept" in line
    with FeatureStore.open(store) as s:
        finished = {r.id: s.feature_path(r.id).stat().st_mtime_ns for r in s.records(status="done")}
        assert len(finished) == 5 and s.count("running") == 0 and s.count("failed") == 0
        assert sorted(p.stem for p in s.features_dir.glob("*.safetensors")) == sorted(finished)
    assert _leftovers(store) == []
    monkeypatch.undo()  # space freed
    assert main(argv) == 0
    assert "7 extracted, 0 failed, 5 already done" in capsys.readouterr().out
    with FeatureStore.open(store) as s:
        assert s.count("done") == 12 and s.verify() == []
        kept = {vid: s.feature_path(vid).stat().st_mtime_ns for vid in finished}
    tally["disk full"] += 1
    tally["lost or corrupted"] += sum(kept[v] != finished[v] for v in finished)
    assert kept == finished


@pytest.mark.parametrize("command", ["train", "select-json", "select-csv", "report"])
def test_outputs_on_a_full_disk_are_never_left_half_written(command, trained, tmp_path, disk_fills_after, capsys,
                                                            tally):
    out = {"train": tmp_path / "ckpt", "report": tmp_path / "r.html"}.get(command, tmp_path / f"sel.{command[7:]}")
    argv = {
        "train": ["train", "--store", str(trained / "store"), "--out", str(out), "--epochs", "1", "--quiet"],
        "report": ["report", "--store", str(trained / "store"), "--selector", str(trained / "ckpt"), "--out", str(out)],
    }.get(command, ["select", "--dataset", str(trained / "data"), "--selector", str(trained / "ckpt"), "-n", "2",
                    "--export", command[7:], "--out", str(out)])
    expected = out / "model.safetensors" if command == "train" else out
    disk_fills_after(0)
    assert main(argv) == 2
    line = _one_line(capsys)
    named = tmp_path if command == "report" else expected  # report writes its figures first
    assert line.startswith(f"smartframes: error: {named}") and ": No space left on device (" in line
    assert "free there" in line
    assert not expected.exists() and _leftovers(tmp_path) == []
    tally["disk full"] += 1


def _can_mount_tmpfs(where: pathlib.Path) -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {where}"],
                           capture_output=True)
    return probe.returncode == 0


def test_extract_on_a_real_full_tmpfs_then_resumes_once_it_grows(trained, tmp_path, small_spec_args, tally):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _can_mount_tmpfs(disk):
        pytest.skip("this machine lets no test mount a tmpfs (needs unshare -rm)")
    extract = f"{sys.executable} -m smartframes extract {trained / 'data'} --store {disk / 'store'} --quiet " + " ".join(small_spec_args)
    count = (f"{sys.executable} -c \"from smartframes.features.store import FeatureStore as F; "
             f"s = F.open('{disk / 'store'}'); print('done', s.count('done'), 'running', s.count('running'), "
             f"'verified', len(s.verify()) == 0)\"")
    script = textwrap.dedent(f"""\
        mount -t tmpfs -o size=300k tmpfs {disk} || exit 99
        {extract}; echo "first exit $?"
        ls -a {disk / 'store' / 'features'} | grep -c '^\\.tmp' | sed 's/^/temporaries /'
        {count}
        mount -o remount,size=4m {disk}
        {extract}; echo "second exit $?"
        {count}
    """)
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    lines = proc.stdout.splitlines()
    assert "first exit 2" in lines and "temporaries 0" in lines and "second exit 0" in lines, (proc.stdout, proc.stderr)
    first, second = [line.split() for line in lines if line.startswith("done")]
    assert 0 < int(first[1]) < 12 and first[3] == "0" and first[5] == "True", first
    assert second[1] == "12" and second[5] == "True", second
    assert f"{int(first[1])} already done" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("smartframes:")]
    assert len(errors) == 1 and f"error: {disk / 'store'}" in errors[0] and "No space left on device" in errors[0]
    assert "free there" in errors[0] and "Traceback" not in proc.stderr
    tally["disk full"] += 1
