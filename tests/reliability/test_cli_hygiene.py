"""Every subcommand, given bad arguments or bad files, prints one line naming the problem and exits
non-zero; no traceback reaches stderr unless --verbose asks for it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from smartframes.cli.main import main
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector


@pytest.fixture(scope="module")
def files(tmp_path_factory, make_toy_store, write_class_folder):
    root = tmp_path_factory.mktemp("hygiene")
    make_toy_store(root, classes=2, per_class=10)
    train_selector(root / "store", root / "ckpt", TrainConfig(epochs=1), progress=False, log=lambda m: None)
    write_class_folder(root / "data", classes=("red",), per_class=1)
    (root / "text.mp4").write_text("not a video")
    (root / "bad.csv").write_text("file,class\na.mp4,x\n")
    (root / "plain_file").write_text("x")
    (root / "notastore").mkdir()
    bad = root / "badckpt"
    bad.mkdir()
    config = json.loads((root / "ckpt" / "config.json").read_text())
    config["selector"]["embed_dim"] = "wide"
    (bad / "config.json").write_text(json.dumps(config))
    (bad / "model.safetensors").write_bytes((root / "ckpt" / "model.safetensors").read_bytes())
    return root


CASES = [  # (argv with {r} for the fixture root, text the one line must contain)
    (["extract"], "required: --store"),
    (["extract", "--store", "{r}/s"], "no dataset: give a folder or CSV, or --format NAME --root DIR"),
    (["extract", "--store", "{r}/s", "--format", "ucf101"], "--format needs --root"),
    (["extract", "--store", "{r}/s", "--format", "ucf101", "--root", "{r}/notastore"], "no classInd.txt"),
    (["select", "--selector", "{r}/ckpt"], "no videos: give video files"),
    (["select", "{r}/text.mp4", "--selector", "{r}/ckpt", "--export", "json"], "--export and --out go together"),
    (["extract", "{r}/data", "--store", "{r}/s", "--every", "0"], "--every must be >= 1"),
    (["extract", "{r}/data", "--store", "{r}/s", "--batch-size", "0"], "--batch-size: must be greater than 0"),
    (["extract", "{r}/data", "--store", "{r}/s", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["extract", "{r}/data", "--store", "{r}/s", "--max-pixels", "many"], "--max-pixels: expected a number"),
    (["extract", "{r}/missing", "--store", "{r}/s"], "missing: no such file or directory"),
    (["extract", "{r}/bad.csv", "--store", "{r}/s"], "must contain 'path' and 'label'"),
    (["extract", "{r}/data", "--store", "{r}/plain_file"], "plain_file: exists and is not a directory"),
    (["extract", "{r}/data", "--store", "{r}/store"], "different feature spec"),
    (["synth", "{r}/syn", "--classes", "1"], "--classes must be in 2..12"),
    (["synth", "{r}/syn", "--window", "0.5"], "expected MIN,MAX"),
    (["synth", "{r}/syn", "--size", "33"], "--size must be an even number"),
    (["synth", "{r}/plain_file"], "plain_file"),
    (["train", "--store", "{r}/notastore", "--out", "{r}/c2"], "not a feature store"),
    (["train", "--store", "{r}/store", "--out", "{r}/c2", "--epochs", "x"], "--epochs: invalid int value"),
    (["train", "--store", "{r}/store", "--out", "{r}/c2", "--sfs-only", "--gs-only"], "exclude each other"),
    (["train", "--store", "{r}/store", "--out", "{r}/c2", "--epochs", "1", "--oracle-dir", "{r}/notastore"],
     "per-frame probabilities missing"),
    (["select", "{r}/text.mp4", "--selector", "{r}/ckpt"], "text.mp4: not a readable video"),
    (["select", "{r}/text.mp4", "--selector", "{r}/nothing"], "not a selector checkpoint"),
    (["select", "{r}/text.mp4", "--selector", "{r}/badckpt"], "'selector.embed_dim' must be int"),
    (["select", "{r}/text.mp4", "--selector", "{r}/ckpt", "-n", "0"], "-n: must be greater than 0"),
    (["evaluate", "--store", "{r}/missing", "--selector", "{r}/ckpt"], "not a feature store"),
    (["evaluate", "--store", "{r}/store", "--selector", "{r}/missing"], "not a selector checkpoint"),
    (["evaluate", "--store", "{r}/store", "--selector", "{r}/ckpt", "--budgets", "0"], "budgets must be >= 1"),
    (["evaluate", "--store", "{r}/store", "--selector", "{r}/ckpt", "--budgets", "a,b"], "comma-separated"),
    (["evaluate", "--store", "{r}/store", "--selector", "{r}/ckpt", "--split", "dev"], "invalid choice: 'dev'"),
    (["report", "--store", "{r}/store", "--selector", "{r}/ckpt", "--out", "{r}/plain_file/r.html"], "plain_file"),
    (["report", "--store", "{r}/store"], "required: --selector, --out"),
    (["probe", "{r}/missing.mp4"], "missing.mp4: no such file"),
    (["probe", "{r}/text.mp4"], "text.mp4: not a readable video"),
    (["demo", "--out", "{r}/plain_file"], "plain_file"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["bench", "--size", "320by240"], "expected WIDTHxHEIGHT"),
    (["bench", "--frames", "0"], "must be greater than 0"),
    (["extract", "{r}/data", "--store", "{r}/s", "--engine", "spark"], "invalid choice: 'spark'"),
    (["extract", "{r}/data", "--store", "{r}/s", "--light-precision", "int8"], "invalid choice: 'int8'"),
    (["extract", "{r}/data", "--store", "{r}/s2", "--light-precision", "float16"], "float16 precision needs --device cuda"),
    # outputs that cannot be written are refused before the work, not after it
    (["evaluate", "--store", "{r}/store", "--selector", "{r}/ckpt", "--json", "{r}/notastore"], "is a folder; give a file name"),
    (["report", "--store", "{r}/store", "--selector", "{r}/ckpt", "--out", "{r}/notastore"], "is a folder; give a file name"),
    (["select", "{r}/text.mp4", "--selector", "{r}/ckpt", "--export", "csv", "--out", "{r}/notastore"], "is a folder"),
    (["select", "{r}/text.mp4", "--selector", "{r}/ckpt", "--export", "frames", "--out", "{r}/plain_file"],
     "plain_file: exists and is not a folder"),
    (["train", "--store", "{r}/store", "--out", "{r}/plain_file"], "plain_file: exists and is not a folder"),
    (["bench", "--json", "{r}/plain_file/b.json"], "plain_file: cannot make this folder"),
    (["verify", "--store", "{r}/notastore"], "not a feature store"),
    (["verify"], "required: --store"),
    (["probe", "{r}/text.mp4", "--runtime", "tensorrt"], "invalid choice: 'tensorrt'"),
]


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(c[0][:2]) + f" #{i}" for i, c in enumerate(CASES)])
def test_bad_input_gives_one_line(files, argv, expected, capsys):
    argv = [a.replace("{r}", str(files)) for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code not in (0, None), (out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], lines[0]


NO_CUDA_CASES = [
    ["extract", "{r}/data", "--store", "{r}/s3"],
    ["select", "{r}/text.mp4", "--selector", "{r}/ckpt"],
    ["bench"],
    ["demo", "--out", "{r}/demo"],
]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("argv", NO_CUDA_CASES, ids=[c[0] for c in NO_CUDA_CASES])
def test_cuda_without_a_gpu_is_refused_before_any_work(files, argv, capsys):
    code = main([a.replace("{r}", str(files)) for a in argv] + ["--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "smartframes: error: --device cuda asked for, but torch sees no CUDA device"
    assert not (files / "s3").exists() and not (files / "demo").exists()


def test_subcommands_are_all_walked():
    from smartframes.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) <= {argv[0] for argv, _ in CASES}


def test_verbose_shows_the_traceback(files):
    for argv in (["--verbose", "probe", str(files / "text.mp4")], ["probe", str(files / "text.mp4"), "--verbose"]):
        proc = subprocess.run([sys.executable, "-m", "smartframes", *argv], capture_output=True, text=True)
        assert proc.returncode != 0 and "Traceback" in proc.stderr and "VideoError" in proc.stderr


@pytest.mark.parametrize("argv, resumable", [(["extract", "d", "--store", "s"], True),
                                             (["train", "--store", "s", "--out", "c"], False)])
def test_ctrl_c_promises_a_resume_only_where_there_is_one(argv, resumable, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(f"smartframes.cli.{argv[0]}.run", interrupted)
    assert main(argv) == 130
    assert ("run the same command again to resume" in capsys.readouterr().err) == resumable
