"""``--engine ray`` on a local Ray instance started here: the same store as the local engine."""

from __future__ import annotations

import os

import numpy as np
import pytest

from smartframes.scale.extract import extract_dataset
from smartframes.features.store import FeatureStore

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'smartframes[ray]'")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway instance needs no token file
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=str(tmp_path_factory.mktemp("ray")))
    yield
    ray.shutdown()


def test_ray_engine_writes_the_store_the_local_engine_writes(local_ray, tmp_path, write_class_folder, small_spec):
    data = write_class_folder(tmp_path / "data", classes=("red", "blue", "green"), per_class=2, frames=20)
    (data / "red" / "broken.mp4").write_text("not a video")
    local = extract_dataset(data, tmp_path / "local", small_spec, progress=False)
    # one actor with both CPUs: torch runs on as many threads as here, so the sums come out bit for bit
    remote = extract_dataset(data, tmp_path / "ray", small_spec, progress=False, engine="ray")
    assert (remote.done, remote.failed) == (local.done, local.failed) == (6, 1)
    with FeatureStore.open(tmp_path / "local") as a, FeatureStore.open(tmp_path / "ray") as b:
        ra, rb = a.records(), b.records()
        assert [(r.path, r.status, r.error, r.candidates) for r in ra] == [(r.path, r.status, r.error, r.candidates) for r in rb]
        for r in a.records(status="done"):
            x, y = a.load(r.id), b.load(r.id)
            assert set(x) == set(y) and all(np.array_equal(x[k], y[k]) for k in x), r.path
    again = extract_dataset(data, tmp_path / "ray", small_spec, progress=False, engine="ray")
    assert again.done == 0 and again.skipped == 6  # resumable like the local engine


def test_two_actors_share_the_work(local_ray, tmp_path, write_class_folder, small_spec):
    """Two actors of one CPU each: the same features up to float rounding (other thread counts sum
    in another order)."""
    data = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=2, frames=12)
    extract_dataset(data, tmp_path / "local", small_spec, progress=False)
    remote = extract_dataset(data, tmp_path / "ray", small_spec, progress=False, engine="ray", actors=2)
    assert remote.done == 4
    with FeatureStore.open(tmp_path / "local") as a, FeatureStore.open(tmp_path / "ray") as b:
        owners = {r.owner for r in b.records()}
        for r in a.records(status="done"):
            x, y = a.load(r.id), b.load(r.id)
            for k in x:
                np.testing.assert_allclose(x[k], y[k], rtol=1e-4, atol=1e-4)
    assert len(owners) == 1  # this process claims and writes; the actors only compute


def test_batch_select_on_ray_exports_what_local_select_exports(local_ray, tmp_path, write_class_folder, small_spec):
    import json

    from smartframes.cli.main import main
    from smartframes.selection.config import TrainConfig
    from smartframes.selection.train import train_selector

    data = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=10, frames=12)
    (data / "red" / "broken.mp4").write_text("no")
    extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    train_selector(tmp_path / "store", tmp_path / "ckpt", TrainConfig(epochs=2), progress=False, log=lambda m: None)
    outs = {}
    for engine in ("local", "ray"):
        outs[engine] = tmp_path / f"{engine}.json"
        code = main(["select", "--dataset", str(data), "--selector", str(tmp_path / "ckpt"), "-n", "3",
                     "--engine", engine, "--export", "json", "--out", str(outs[engine])])
        assert code == 1  # the broken file is reported, the others exported
    rows = {e: json.loads(p.read_text()) for e, p in outs.items()}
    assert [(r["path"], r["indices"], r["label"]) for r in rows["local"]] == \
        [(r["path"], r["indices"], r["label"]) for r in rows["ray"]]
    assert len(rows["ray"]) == 20


def test_ray_map_calls_its_heartbeat_while_work_runs(local_ray):
    import time

    from smartframes.scale.cluster import ray_map

    beats = []
    out = list(ray_map(time.sleep, [("nap", 1.5)], actors=1, heartbeat=lambda: beats.append(1), heartbeat_every=0.2))
    assert out == [("nap", "ok", None)]
    assert len(beats) >= 5  # 1.5 s of work, a beat at least every 0.2 s


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_both_engines_renew_the_claims_of_videos_in_flight(engine, request, tmp_path, monkeypatch, write_class_folder,
                                                          small_spec):
    from smartframes.scale import extract

    if engine == "ray":
        request.getfixturevalue("local_ray")
    renewed = []
    monkeypatch.setattr(extract, "RENEW_EVERY", 0.0)
    monkeypatch.setattr(FeatureStore, "renew", lambda self, vid, owner: renewed.append((vid, self.record(vid).status)))
    data = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=1, frames=12)
    summary = extract_dataset(data, tmp_path / "store", small_spec, progress=False, engine=engine)
    assert summary.done == 2
    assert renewed and all(status == "running" for _, status in renewed)


def test_select_videos_from_python_on_both_engines(local_ray, tmp_path, write_class_folder, small_spec):
    from smartframes import Selection, VideoError, select_videos
    from smartframes.selection.config import TrainConfig
    from smartframes.selection.train import train_selector

    data = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=2, frames=12)
    extract_dataset(data, tmp_path / "store", small_spec, progress=False)
    train_selector(tmp_path / "store", tmp_path / "ckpt", TrainConfig(epochs=2), progress=False, log=lambda m: None)
    broken = data / "red" / "broken.mp4"
    broken.write_text("no")
    videos = sorted(str(p) for p in data.rglob("*.mp4"))
    got = {}
    for engine in ("local", "ray"):
        results = dict(select_videos(videos, tmp_path / "ckpt", 3, engine=engine, device="cpu"))
        assert sorted(results) == videos
        assert isinstance(results[str(broken)], VideoError)
        got[engine] = {p: s.indices for p, s in results.items() if isinstance(s, Selection)}
        assert len(got[engine]) == 4 and all(len(i) == 3 and i == sorted(i) for i in got[engine].values())
    assert got["local"] == got["ray"]


def _worker_pids(engine: str) -> list[int]:
    """The processes doing the per-video work: Ray's actors, or the local engine's decoding child."""
    from smartframes.io.decoder import CHILD

    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if (engine == "ray" and cmdline.startswith(b"ray::_Actor")) or (engine == "local" and ppid == me and CHILD.split(":")[0].encode() in cmdline):
            pids.append(int(entry))
    return pids


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_stuck_worker_costs_its_video_only_and_is_recorded_alike_on_both_engines(engine, request, tmp_path,
                                                                                     write_class_folder, small_spec):
    """The process doing the work is frozen (SIGSTOP) mid-run: after the decode timeout its video is
    recorded as stalled, the worker replaced, and every other video extracted."""
    import signal
    import threading
    import time

    if engine == "ray":
        request.getfixturevalue("local_ray")
    data = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=3, frames=12)
    stopped: list[int] = []
    earlier = set(_worker_pids(engine))  # idle workers left by earlier tests are not this run's

    def freeze_one_worker():  # once a video is done: the worker is up and at work
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stopped:
            if not list((tmp_path / "store" / "features").glob("*.safetensors")):
                time.sleep(0.005)
                continue
            for pid in set(_worker_pids(engine)) - earlier:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
                return
            time.sleep(0.005)

    freezer = threading.Thread(target=freeze_one_worker)
    freezer.start()
    result = {}
    run = threading.Thread(target=lambda: result.update(summary=extract_dataset(
        data, tmp_path / "store", small_spec, progress=False, engine=engine, decode_timeout=2)), daemon=True)
    run.start()
    run.join(timeout=120)
    freezer.join()
    if run.is_alive():
        for pid in stopped:
            os.kill(pid, signal.SIGKILL)
        pytest.fail("extract hung on the frozen worker")
    summary = result["summary"]
    assert stopped, "no worker process was found to freeze"
    with FeatureStore.open(tmp_path / "store") as store:
        failed = store.records(status="failed")
        assert [r.error for r in failed] == ["decoder stalled: no progress for 2 s; abandoned"]
        assert store.count("done") == 5 and store.count("running") == 0
    assert (summary.done, summary.failed) == (5, 1)
    for pid in stopped:  # the frozen worker was killed, not left behind
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        assert state in ("Z", "X"), state
