"""Crash safety: extract killed with SIGKILL at random moments and resumed ends with the store a
clean run makes, bit for bit; two extract processes on one store never extract a video twice."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from smartframes.scale.extract import extract_dataset
from smartframes.features.store import FeatureStore

KILLS = 20

pytestmark = pytest.mark.slow


def _extract_cmd(data, store, spec_args) -> list[str]:
    return [sys.executable, "-m", "smartframes", "extract", str(data), "--store", str(store), "--quiet",
            "--batch-size", "2", *spec_args]


def _arrays(store_dir) -> dict[str, dict[str, np.ndarray]]:
    with FeatureStore.open(store_dir) as store:
        return {r.path: store.load(r.id) for r in store.records(status="done")}


def _assert_same_store(store_dir, clean: dict, tally) -> None:
    """Every video of the clean run is done, with the same arrays; nothing half-written remains."""
    got = _arrays(store_dir)
    lost = sorted(set(clean) - set(got))
    corrupted = [p for p in clean if p in got and (
        set(got[p]) != set(clean[p]) or any(not np.array_equal(got[p][k], clean[p][k]) for k in clean[p]))]
    tally["lost or corrupted"] += len(lost) + len(corrupted)
    assert not lost and not corrupted, (lost, corrupted)
    leftovers = [p.name for p in (store_dir / "features").iterdir() if p.name.startswith(".tmp")]
    assert not leftovers, leftovers


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, write_class_folder, small_spec):
    root = tmp_path_factory.mktemp("crash")
    data = write_class_folder(root / "data", classes=("red", "blue", "green"), per_class=5, frames=30)
    extract_dataset(data, root / "clean", small_spec, batch_size=2, progress=False)  # the batches of _extract_cmd: float32 sums depend on them
    return root, data, _arrays(root / "clean")


def test_sigkill_at_random_moments_then_resume(dataset, tmp_path, tally, small_spec, small_spec_args):
    """Kill at a random moment of a run, resume with a new run, and so on; whenever a run gets to
    the end, check the store against the clean run's and start again from an empty store."""
    import shutil

    _, data, clean = dataset
    store = tmp_path / "store"
    began = time.monotonic()
    subprocess.run(_extract_cmd(data, tmp_path / "timing", small_spec_args), check=True, capture_output=True)
    full = time.monotonic() - began  # start-up and all the work of one uninterrupted run
    rng = np.random.default_rng(0)
    kills = completed = 0
    while kills < KILLS:
        proc = subprocess.Popen(_extract_cmd(data, store, small_spec_args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=float(rng.uniform(0.1, 1.0)) * full)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            if (store / "catalog.sqlite").exists():
                with FeatureStore.create_or_open(store, small_spec) as s:  # it opens after every kill
                    assert s.count() in (0, len(clean))
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()
        _assert_same_store(store, clean, tally)
        completed += 1
        shutil.rmtree(store)
    tally["kills"] += kills
    final = subprocess.run(_extract_cmd(data, store, small_spec_args), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    _assert_same_store(store, clean, tally)
    with FeatureStore.open(store) as s:
        assert s.count("done") == len(clean) and s.count("running") == 0


def test_two_writers_on_one_store(dataset, tmp_path, tally, small_spec_args):
    _, data, clean = dataset
    store = tmp_path / "store"
    procs = [subprocess.Popen(_extract_cmd(data, store, small_spec_args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    extracted = [int(re.search(r"(\d+) extracted", out).group(1)) for out, _ in outs]
    assert sum(extracted) == len(clean), outs  # each video extracted by exactly one of them
    with FeatureStore.open(store) as s:
        records = s.records()
        assert all(r.status == "done" and r.attempts == 1 for r in records), [(r.path, r.attempts) for r in records]
        assert len({r.owner for r in records}) == 2 or min(extracted) == 0
    tally["concurrent writers"] += 2
    _assert_same_store(store, clean, tally)


def _open_when_released(root, spec_json, barrier, errors):
    from smartframes.spec import FeatureSpec

    barrier.wait()
    try:
        FeatureStore.create_or_open(root, FeatureSpec.from_dict(__import__("json").loads(spec_json))).close()
    except Exception as e:  # noqa: BLE001: the parent reports what each process met
        errors.put(f"{type(e).__name__}: {e}")


def test_commands_opening_one_new_store_at_once_all_get_in(tmp_path, tally, small_spec):
    # A new catalog is switched to WAL under an exclusive lock that SQLite takes without waiting:
    # two extracts started together on a new store met "database is locked" before the retry.
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for round_ in range(5):
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open_when_released, args=(tmp_path / f"store{round_}", small_spec.to_json(), barrier, errors))
                 for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0] * 6
        with FeatureStore.open(tmp_path / f"store{round_}") as s:
            assert s.spec == small_spec
    seen = []
    while not errors.empty():
        seen.append(errors.get())
    assert seen == []
    tally["concurrent writers"] += 30
