"""The command line: real clips end to end, and one-line errors on bad input."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import numpy as np
import pytest

from smartframes import write_video
from smartframes.cli.main import build_parser, main
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


SUBCOMMANDS = next(a for a in build_parser()._actions if a.dest == "command").choices


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_help_ends_with_examples_that_parse(name):
    help_text = SUBCOMMANDS[name].format_help()
    assert "\nexamples:\n" in help_text, help_text
    lines = help_text.rsplit("\nexamples:\n", 1)[1].splitlines()
    assert 2 <= len(lines) <= 3 and all(line.startswith("  smartframes ") for line in lines), lines
    argvs = [shlex.split(line)[1:] for line in lines]
    assert any(argv[0] == name for argv in argvs)
    for argv in argvs:
        build_parser().parse_args(argv)  # an option that does not exist exits with status 2


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


def test_extract_with_some_failed_videos_exits_4_unless_partial_results_are_accepted(tmp_path, small_spec_args,
                                                                                     write_class_folder):
    data = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=1)
    (data / "red" / "broken.mp4").write_text("no")
    cmd = [sys.executable, "-m", "smartframes", "extract", str(data), "--store", str(tmp_path / "s"), "--quiet",
           *small_spec_args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 4, proc.stderr
    assert "2 extracted, 1 failed" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].endswith("1 videos failed (--retry-failed tries them again); "
                                                         "exit status 4, or 0 with --allow-partial")
    again = subprocess.run(cmd + ["--allow-partial"], capture_output=True, text=True)
    assert again.returncode == 0 and "0 extracted, 0 failed, 2 already done" in again.stdout, again.stderr


def test_select_on_a_truncated_file_says_where_decoding_stopped(tmp_path):
    clip = np.random.default_rng(0).integers(0, 255, (80, 48, 64, 3), dtype=np.uint8)
    whole, cut = tmp_path / "whole.avi", tmp_path / "cut.avi"
    write_video(whole, clip, fps=20, codec="mpeg4")  # AVI: the frame count is stated up front
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    for path, warned in ((whole, False), (cut, True)):
        proc = subprocess.run([sys.executable, "-m", "smartframes", "select", str(path), "-n", "4", "--method",
                               "uniform", "--json"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        chosen = json.loads(proc.stdout)
        assert len(chosen["indices"]) == 4 and (chosen["lost"] > 0) == warned
        if warned:
            (line,) = proc.stderr.strip().splitlines()
            last = chosen["candidates"][-1]
            assert line.startswith(f"smartframes: warning: {cut}: truncated or damaged: decoding stopped after frame "
                                   f"{last} ") and "of 80 stated" in line and max(chosen["indices"]) <= last
        else:
            assert proc.stderr == ""


@pytest.mark.parametrize("method", ["uniform", "quality", "kcenter"])
def test_select_imports_torch_only_for_a_method_that_runs_a_network(indexed_clip, method):
    """A training-free selection that reads no network starts without torch (most of a cold
    start); one that runs the light model does import it, so the check can fail."""
    script = ("import sys\nfrom smartframes.cli.main import main\n"
              f"status = main(['select', {str(indexed_clip)!r}, '-n', '4', '--method', {method!r}, '--json'])\n"
              "print('torch' in sys.modules, status)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    *selection, last = proc.stdout.strip().splitlines()
    assert len(json.loads(selection[0])["indices"]) == 4
    assert last == f"{method == 'kcenter'} 0"


def test_import_smartframes_loads_names_on_first_use():
    proc = subprocess.run([sys.executable, "-c", "import sys, smartframes\nprint('torch' in sys.modules)\n"
                           "smartframes.SmartSelector\nprint('torch' in sys.modules)\n"
                           "print(all(hasattr(smartframes, n) for n in smartframes.__all__))"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", "True"]
