"""Engine v2: the record is a pure function of the rows, whatever executed them.

Local executor vs Ray actors, one process vs three shards merged (in any order), a Ray worker
killed mid-run, per-metric outcomes that do not depend on the metric set, and incremental
scoring that neither regenerates nor re-scores what a run already has.
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest

from benchmark.engine.executors import RayExecutor
from benchmark.core.errors import BenchError
from benchmark.engine.merge import merge_runs
from benchmark.core.records import load_record, load_rows
from benchmark.engine.runner import RunConfig, Runner

ENGINE_METRICS = ("psnr", "blink", "fid", "kid")  # a mean, a pooled ratio, a Frechet and a kernel aggregate
LIMIT = 5

ray = pytest.importorskip("ray", reason="the Ray executor needs `pip install ray` (scripts/setup.sh installs it)")


def _config(mini_data_root, out, **kw) -> RunConfig:
    kw.setdefault("metrics", ENGINE_METRICS)
    kw.setdefault("limit", LIMIT)
    kw.setdefault("threads", 1)
    return RunConfig(model=kw.pop("model", "still"), dataset="mini", data_dir=mini_data_root, runs_dir=out, **kw)


def _run(mini_data_root, out, executor=None, **kw):
    """`executor`: a name for RunConfig ("local", "ray") or an executor object handed to the Runner."""
    if isinstance(executor, str):
        kw["executor"], executor = executor, None
    return Runner(_config(mini_data_root, out, **kw), progress=False, log=lambda s: None, executor=executor).run()


def _values(run_dir: Path) -> dict:
    """Every per-clip value and outcome, by clip id."""
    return {r["clip_id"]: (r["status"], r["metrics"], r["outcomes"], r["pooled"]) for r in load_rows(run_dir)}


def _numbers(record: dict) -> dict:
    """What must be identical between executions: everything but timings, commands and the executor."""
    skip = {"started_at", "finished_at", "wall_time_s", "command", "execution", "code"}
    return {k: v for k, v in record.items() if k not in skip}


@pytest.fixture(scope="module")
def local_run(mini_data_root, tmp_path_factory):
    outcome = _run(mini_data_root, tmp_path_factory.mktemp("local"))
    assert outcome.exit_code == 0
    return outcome


def test_the_ray_executor_starts_and_stops_a_local_cluster_only_when_none_is_running(monkeypatch):
    from benchmark.engine import executors
    from benchmark.engine.worker import ClipTask

    class Cluster:  # the three calls run() makes around _drive
        def __init__(self, running):
            self.running, self.calls = running, []

        def is_initialized(self):
            return self.running

        def init(self, **kwargs):
            self.calls.append(("init", kwargs))
            self.running = True

        def shutdown(self):
            self.calls.append(("shutdown",))
            self.running = False

    class Plan:
        settings = {"device": "cpu", "threads": 1}

    for running in (False, True):
        cluster = Cluster(running)
        monkeypatch.setattr(executors, "_import_ray", lambda: cluster)
        executor = RayExecutor(workers=2, log=lambda s: None)
        monkeypatch.setattr(executor, "_drive", lambda ray, plan, tasks: iter([("scored", tasks.popleft().clip_id)]))
        assert list(executor.run(Plan(), [ClipTask("c0", ["psnr"])])) == [("scored", "c0")]
        if running:  # a cluster someone else started (`ray start`, an earlier run in this process) is left alone
            assert cluster.calls == [] and cluster.running
        else:  # started for this run, sized for its workers, and shut down after
            (init, kwargs), (shutdown,) = cluster.calls
            assert (init, shutdown) == ("init", "shutdown") and not cluster.running
            assert kwargs["address"] is None and kwargs["num_cpus"] == 2 and kwargs["include_dashboard"] is False


class _KillingRayExecutor(RayExecutor):
    """Kills worker 0's process (SIGKILL) as soon as the first clip comes back."""

    killed: list[int] = []

    def _drive(self, ray_module, plan, tasks):
        for i, result in enumerate(super()._drive(ray_module, plan, tasks)):
            if i == 0:
                pid = ray_module.get(self.actors[0].getpid.remote())
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)
            yield result


@pytest.mark.slow
class TestOnOneRayCluster:
    """The tests that need a real Ray cluster share one (starting one takes many seconds on 2 cores), shut down
    after the last of them. The executor finds it running, so it neither starts nor stops one: that rule is
    tested on a fake (test_the_ray_executor_starts_and_stops_a_local_cluster_only_when_none_is_running)."""

    @pytest.fixture(scope="class", autouse=True)
    def ray_cluster(self):
        assert not ray.is_initialized()
        ray.init(
            num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR", configure_logging=True
        )
        yield
        ray.shutdown()

    def test_ray_with_two_workers_gives_the_local_record(self, mini_data_root, tmp_path, local_run):
        outcome = _run(mini_data_root, tmp_path, executor="ray", workers=2)
        assert outcome.exit_code == 0 and outcome.record["execution"]["executor"] == "ray"
        assert _values(outcome.run_dir) == _values(local_run.run_dir)
        assert _numbers(outcome.record) == _numbers(local_run.record)
        for name in ENGINE_METRICS:  # FID, KID and the bootstrap intervals included
            assert outcome.record["results"][name] == local_run.record["results"][name]
        assert outcome.record["results"]["fid"]["value"] > 0 and outcome.record["results"]["psnr"]["ci95"]
        assert ray.is_initialized()  # a cluster it did not start is left running

    def test_a_killed_ray_worker_is_replaced_and_the_record_is_unchanged(self, mini_data_root, tmp_path, local_run):
        executor = _KillingRayExecutor(workers=2, log=lambda s: None)
        outcome = _run(mini_data_root, tmp_path, executor=executor)
        assert executor.killed, "no worker was killed"
        assert outcome.exit_code == 0 and outcome.n_scored == LIMIT
        assert _values(outcome.run_dir) == _values(local_run.run_dir)
        assert outcome.record["results"] == local_run.record["results"]


class _FakeRay:
    """Just enough of Ray for RayExecutor._drive, on a fake clock. Actors answer at once until
    `clips_before_fault` clips came back; then every actor dies, and with `node_dies` a new one never
    starts while the cluster reports the node alive for `detect_s` more seconds (its control store
    notices late); without, the node lives but every new actor dies as it starts."""

    class exceptions:
        class RayActorError(Exception):
            pass

        class WorkerCrashedError(Exception):
            pass

        class GetTimeoutError(Exception):
            pass

    class Ref:
        def __init__(self, compute):
            self.compute = compute  # None: never ready

    def __init__(self, clips_before_fault, node_dies=True, detect_s=0.0):
        self.clips_before_fault, self.node_dies, self.detect_s = clips_before_fault, node_dies, detect_s
        self.now, self.returned, self.actors_made, self.fault_at = 0.0, 0, 0, None

    def remote(self, **options):
        fake = self

        class ActorClass:
            def remote(self, plan_dict, device):
                fake.actors_made += 1
                return fake._actor(born_after_fault=fake.fault_at is not None)

        return lambda cls: ActorClass()

    def _actor(self, born_after_fault):
        fake = self

        class Method:
            def __init__(self, name):
                self.name = name

            def remote(self, *args):
                if born_after_fault and fake.node_dies:
                    return fake.Ref(None)  # waits for a node that never comes back
                return fake.Ref(lambda: fake._answer(self.name, args, born_after_fault))

        class Actor:
            getpid, process = Method("getpid"), Method("process")

        return Actor()

    def _answer(self, method, args, born_after_fault):
        if born_after_fault or self.fault_at is not None:
            raise self.exceptions.RayActorError("the actor died")
        if method == "getpid":
            return 1234
        if self.returned >= self.clips_before_fault:
            self.fault_at = self.now
            raise self.exceptions.RayActorError("the actor died")
        self.returned += 1
        return ("scored", args[0].clip_id)

    def wait(self, refs, num_returns=1, timeout=None):
        ready = [r for r in refs if r.compute is not None]
        if ready:
            return ready[:num_returns], [r for r in refs if r not in ready[:num_returns]]
        self.now += timeout  # nothing will come: the caller must give up by itself
        assert self.now < 10 * 3600, "the driver waited without bound"
        return [], refs

    def get(self, refs, timeout=None):
        if isinstance(refs, list):
            return [self.get(r, timeout) for r in refs]
        if refs.compute is None:
            self.now += timeout
            raise self.exceptions.GetTimeoutError()
        return refs.compute()

    def nodes(self):
        dead = self.node_dies and self.fault_at is not None and self.now >= self.fault_at + self.detect_s
        return [{"NodeID": "n1", "Alive": not dead}]

    def kill(self, actor):
        pass


class _FakePlan:
    def to_dict(self):
        clips = [
            {"id": f"c{i}", "speaker": "s", "fingerprint": "f", "seed": 0, "key": f"k{i}", "index": i}
            for i in range(10)
        ]
        return {"settings": {"device": "cpu", "threads": 1}, "clips": clips, "adapter": {"fingerprint": "f"}}


def _drive_fake(fake, executor):
    """Drive 10 clips through the fake cluster: the results yielded (so written) and the BenchError it stopped with."""
    from collections import deque

    from benchmark.engine.worker import ClipTask

    executor.clock = lambda: fake.now
    executor._t0 = 0.0
    got = []
    with pytest.raises(BenchError) as stopped:
        for result in executor._drive(fake, _FakePlan(), deque(ClipTask(f"c{i}", ["psnr"]) for i in range(10))):
            got.append(result)
    return [r[1] for r in got if isinstance(r, tuple)], stopped.value


@pytest.mark.parametrize("detect_s", [0.0, 45.0, 1e9])  # the node reported dead at once, late, or never
def test_a_dead_ray_node_stops_the_run_in_bounded_time_with_the_rows_kept(detect_s):
    fake = _FakeRay(clips_before_fault=3, detect_s=detect_s)
    executor = RayExecutor(workers=2, log=lambda s: None, start_timeout_s=120, poll_s=10)
    scored, stopped = _drive_fake(fake, executor)
    assert scored == ["c0", "c1", "c2"]  # yielded, so written: the run resumes from them
    assert "stopped the run" in str(stopped) and "re-run the same command to resume" in str(stopped)
    assert "3 clip(s) scored" in str(stopped)
    assert fake.actors_made <= 2 + 2  # at most one replacement per worker, not one per wait
    assert fake.now <= min(detect_s, 120) + 2 * 10  # the node's death noticed, or the start deadline
    assert ("no live node" if detect_s < 120 else "did not start within 120 s") in str(stopped)


def test_replacement_workers_that_die_before_starting_are_replaced_a_bounded_number_of_times():
    fake = _FakeRay(clips_before_fault=2, node_dies=False)  # e.g. the raylet can no longer spawn workers
    executor = RayExecutor(workers=2, log=lambda s: None, max_attempts=3, max_failed_starts=5)
    scored, stopped = _drive_fake(fake, executor)
    assert scored == ["c0", "c1"]
    assert fake.actors_made == 2 + 5 + 1  # the first two, five that died starting, the one starting when it stopped
    assert "5 replacement Ray workers in a row died before they started" in str(stopped)


def test_ray_workers_that_never_start_stop_the_run():
    fake = _FakeRay(clips_before_fault=0, detect_s=1e9)
    fake.fault_at = 0.0  # no node can host them, though the cluster still lists one
    executor = RayExecutor(workers=2, log=lambda s: None, start_timeout_s=60)
    scored, stopped = _drive_fake(fake, executor)
    assert scored == [] and "the Ray workers did not start within 60 s" in str(stopped) and fake.now <= 60


@pytest.fixture(scope="module")
def shard_runs(mini_data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    runs = [_run(mini_data_root, out, shard=(k, 3)) for k in range(3)]
    assert sum(len(load_rows(r.run_dir)) for r in runs) == LIMIT
    return [r.run_dir for r in runs]


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_three_shards_merged_in_any_order_give_the_unsharded_record(shard_runs, tmp_path, local_run, order):
    merged = merge_runs([shard_runs[i] for i in order], tmp_path / "merged", log=lambda s: None)
    assert merged.exit_code == 0
    assert _values(merged.run_dir) == _values(local_run.run_dir)
    assert _numbers(load_record(merged.run_dir)) == _numbers(local_run.record)
    assert [r["clip_id"] for r in load_rows(merged.run_dir)] == [r["clip_id"] for r in load_rows(local_run.run_dir)]


def _tampered_copy(run_dir: Path, tmp_path: Path, edit) -> Path:
    import shutil

    copy = tmp_path / f"tampered-{run_dir.name}"
    shutil.copytree(run_dir, copy)
    record = json.loads((copy / "record.json").read_text())
    edit(record)
    (copy / "record.json").write_text(json.dumps(record))
    return copy


def test_merging_shards_of_different_code_or_backends_is_refused_naming_the_field(shard_runs, tmp_path):
    def other_commit(record):
        record["code"]["commit"] = "0" * 40

    with pytest.raises(BenchError, match="code.commit differs"):
        merge_runs([shard_runs[0], _tampered_copy(shard_runs[1], tmp_path, other_commit)], tmp_path / "m1")

    def other_backend(record):
        record["metrics"][0]["backend"] = "torch 9.9"

    with pytest.raises(BenchError, match="metrics differs"):
        merge_runs([shard_runs[0], _tampered_copy(shard_runs[2], tmp_path, other_backend)], tmp_path / "m2")

    with pytest.raises(BenchError, match="shard 0 given twice"):
        merge_runs([shard_runs[0], shard_runs[0]], tmp_path / "m3")


# ---- per-metric outcomes and incremental scoring ---------------------------------------------


@pytest.fixture(scope="module")
def faceless_folder(mini, tmp_path_factory):
    """Ground-truth copies where two clips lose the face on most frames (a grey screen)."""
    from benchmark.core.media import write_video

    from benchmark.core.subset import stratified_subset

    folder = tmp_path_factory.mktemp("videos")
    clips = stratified_subset(mini.clips(), LIMIT, 0)  # the clips a --limit run scores
    faceless = {clips[1].id, clips[4].id}
    for clip in clips:
        frames = clip.load_frames().copy()
        if clip.id in faceless:
            frames[10:] = 128
        write_video(folder / f"{clip.id}.mkv", frames, clip.fps, codec="ffv1")
    return folder, faceless


def test_a_metric_that_cannot_score_a_clip_does_not_remove_it_from_other_metrics(
    mini_data_root, tmp_path, faceless_folder
):
    folder, faceless = faceless_folder
    args = {"model": "folder", "model_args": {"dir": str(folder)}}
    alone = _run(mini_data_root, tmp_path / "a", metrics=("psnr",), **args)
    both = _run(mini_data_root, tmp_path / "b", metrics=("psnr", "lmd"), **args)
    assert alone.record["results"]["psnr"]["n"] == both.record["results"]["psnr"]["n"] == LIMIT
    assert alone.record["results"]["psnr"]["value"] == both.record["results"]["psnr"]["value"]
    lmd = both.record["results"]["lmd"]
    assert lmd["n"] == LIMIT - 2 and lmd["n_failed"] == 2 and lmd["coverage"] == f"{LIMIT - 2}/{LIMIT}"
    assert {f["clip_id"] for f in lmd["failures"]} == faceless
    assert all("coverage threshold" in f["reason"] for f in lmd["failures"])
    assert both.exit_code == 0 and both.record["clips"] == {"total": LIMIT, "scored": LIMIT, "failed": 0}


def test_adding_a_metric_scores_only_that_metric_and_never_regenerates(mini_data_root, tmp_path, faceless_folder):
    folder, _ = faceless_folder
    args = {"model": "folder", "model_args": {"dir": str(folder)}, "keep_videos": True}
    first = _run(mini_data_root, tmp_path, metrics=("psnr",), **args)
    assert first.n_generated == LIMIT and len(first.scored_columns) == 1
    psnr_column = next(iter(first.scored_columns))
    rows_before = {r["clip_id"]: r for r in load_rows(first.run_dir)}

    second = _run(mini_data_root, tmp_path, metrics=("psnr", "lmd"), **args)
    assert second.run_dir == first.run_dir  # the run is named by what generates the frames, not by its metrics
    assert second.n_generated == 0  # frames came from the kept lossless videos
    assert psnr_column not in second.scored_columns and sum(second.scored_columns.values()) == LIMIT
    rows_after = {r["clip_id"]: r for r in load_rows(second.run_dir)}
    for clip_id, row in rows_after.items():
        assert row["metrics"]["psnr"] == rows_before[clip_id]["metrics"]["psnr"]
        assert row["video"]["source"] == "kept"
    assert set(second.record["results"]) == {"psnr", "lmd"}

    third = _run(mini_data_root, tmp_path, metrics=("psnr", "lmd"), **args)
    assert third.n_tasks == 0 and third.record["results"] == second.record["results"]


def test_changing_a_metric_backend_is_a_new_column_not_an_overwrite(mini_data_root, tmp_path, faceless_folder):
    folder, _ = faceless_folder
    args = {"model": "folder", "model_args": {"dir": str(folder)}, "limit": 2, "metrics": ("lmd",)}
    a = _run(mini_data_root, tmp_path, **args)
    b = _run(mini_data_root, tmp_path, landmarks="dlib68", **args)
    assert a.run_dir == b.run_dir
    row = json.loads((b.run_dir / "clips.jsonl").read_text().splitlines()[-1])
    assert len([c for c in row["scores"] if c.startswith("lmd@")]) == 2
    assert b.record["metrics"][0]["params"]["landmarks"] == "dlib68"


def test_generation_and_subset_seeds_are_separate(mini_data_root, tmp_path):
    runner = Runner(
        _config(mini_data_root, tmp_path, metrics=("psnr",), limit=4, seed=1, subset_seed=0),
        progress=False,
        log=lambda s: None,
    )
    a, _ = runner.plan()
    b, _ = Runner(
        _config(mini_data_root, tmp_path, metrics=("psnr",), limit=4, seed=2, subset_seed=0),
        progress=False,
        log=lambda s: None,
    ).plan()
    c, _ = Runner(
        _config(mini_data_root, tmp_path, metrics=("psnr",), limit=4, seed=1, subset_seed=7),
        progress=False,
        log=lambda s: None,
    ).plan()
    assert [x.id for x in a.clips] == [x.id for x in b.clips]  # same subset, other noise
    assert [x.seed for x in a.clips] != [x.seed for x in b.clips]
    assert [x.id for x in a.clips] != [x.id for x in c.clips]  # other subset
    assert a.run_id != b.run_id and a.run_id != c.run_id


def test_a_second_writer_of_the_same_run_is_told_who_holds_it(mini_data_root, tmp_path):
    from benchmark.engine.store import RunLock

    runner = Runner(_config(mini_data_root, tmp_path, metrics=("psnr",), limit=1), progress=False, log=lambda s: None)
    plan, _ = runner.plan()
    run_dir = runner.run_dir(plan)
    run_dir.mkdir(parents=True)
    with RunLock(run_dir) as held:
        held.acquire()
        with pytest.raises(BenchError, match=f"pid {os.getpid()}"):
            runner.run()
    assert runner.run().exit_code == 0  # free again


def test_unsafe_clip_ids_are_refused():
    from benchmark.core.types import check_clip_id

    for bad in ("../x", "a/b", "..", "", ".hidden", "a\\b", "x\n"):
        with pytest.raises(BenchError):
            check_clip_id(bad)
    assert check_clip_id("s2_bbaf2n") == "s2_bbaf2n"


# ---- aggregation states: order-independent merges ------------------------------------------------


def _shuffled_merge(states):
    order = list(range(len(states)))
    random.Random(len(states)).shuffle(order)
    merged = states[order[0]]
    for i in order[1:]:
        merged = merged.merge(states[i])
    return merged.compute()


def test_every_aggregation_is_independent_of_merge_order():
    from benchmark.core.stats import MeanState, PooledState
    from metrics.fid import FrechetState, KernelState

    rng = np.random.default_rng(3)
    values = rng.normal(20, 5, 40) * rng.choice([1e-3, 1, 1e3], 40)
    counts = [{"blinks": float(rng.integers(0, 4)), "seconds": float(rng.uniform(1, 5))} for _ in range(40)]
    feats = [(rng.normal(size=(7, 16)), rng.normal(size=(7, 16))) for _ in range(12)]

    def means(parts):
        return [MeanState([v for v in values[p]]) for p in parts]

    def pooled(parts):
        return [PooledState({"rate": ("blinks", "seconds")}, "rate", [counts[i] for i in p]) for p in parts]

    def balanced(parts):  # a mean of two pooled ratios, as the bilabial headline
        ratios = {"rate": ("blinks", "seconds"), "length": ("seconds", "blinks")}
        return [
            PooledState(ratios, "value", [counts[i] for i in p], means={"value": ("rate", "length")}) for p in parts
        ]

    def kernels(parts):
        out = []
        for p in parts:
            s = KernelState(subsets=5, subset_size=20, cap=1000)
            for i in p:
                s.add(None, None, {"generated": feats[i][0], "reference": feats[i][1]})
            out.append(s)
        return out

    for make, n in ((means, 40), (pooled, 40), (balanced, 40), (kernels, 12)):
        reference = make([list(range(n))])[0].compute()
        for trial in range(4):
            idx = np.random.default_rng(trial).permutation(n)
            parts = np.array_split(idx, 2 + trial)
            assert _shuffled_merge(make(parts)) == reference

    def frechet(parts):
        out = []
        for p in parts:
            s = FrechetState(min_frames=2)
            s.generated.total, s.reference.total = np.zeros(16), np.zeros(16)
            s.generated.outer, s.reference.outer = np.zeros((16, 16)), np.zeros((16, 16))
            for i in p:
                s.generated.add(feats[i][0])
                s.reference.add(feats[i][1])
            out.append(s)
        return out

    a, b = frechet([range(0, 5), range(5, 12)])
    assert a.merge(b).compute() == b.merge(a).compute()  # float addition commutes exactly


def test_ray_missing_or_misconfigured_is_one_clear_message(mini_data_root, tmp_path, monkeypatch):
    import builtins

    from benchmark.engine.executors import _import_ray

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(BenchError, match=r"talking-head-bench\[distributed\]"):
        _import_ray()
    monkeypatch.setattr(builtins, "__import__", real_import)
    with pytest.raises(BenchError, match="--gpus-per-worker"):
        Runner(
            _config(mini_data_root, tmp_path, executor="ray", device="cuda"), progress=False, log=lambda s: None
        ).plan()
