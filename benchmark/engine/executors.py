"""Executors turn clip tasks into clip results; the driver writes what they yield.

`LocalExecutor` runs one worker in this process. `RayExecutor` runs N actors (each builds the
adapter and metrics once from the plan and streams clips); only task descriptions (clip ids,
file paths) go through the object store, results come back as rows and arrays. A worker that
dies mid-clip: the clip is retried on a fresh actor, up to `max_attempts`, then recorded as
failed. Results are yielded in completion order: the reduce step does not depend on it.

Waiting is bounded: when the cluster loses its node (a killed raylet or dashboard agent), when a
worker does not start within `start_timeout_s`, or when replacement workers keep dying before they
start (`max_failed_starts` in a row), the run stops with a BenchError (exit 1); the rows already
written stay, so the same command resumes. A worker that started and died on a clip is the retry
path above, bounded per clip.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Iterable, Iterator

from benchmark.engine.plan import PlannedClip, RunPlan
from benchmark.engine.worker import ClipResult, ClipTask, ClipWorker, new_row
from benchmark.core.errors import BenchError


class LocalExecutor:
    name = "local"

    def __init__(self, worker: ClipWorker | None = None, adapter=None):
        self._worker = worker
        self._adapter = adapter  # the driver's, reused in this process

    def describe(self) -> dict:
        return {"executor": "local", "workers": 1}

    def run(self, plan: RunPlan, tasks: Iterable[ClipTask]) -> Iterator[ClipResult]:
        tasks = list(tasks)
        if not tasks:
            return
        worker = self._worker or ClipWorker(plan, adapter=self._adapter)
        for task in tasks:
            yield worker.process(task)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BenchError(
            "--executor ray needs Ray, which is not installed",
            hint="pip install 'talking-head-bench[distributed]' (or pip install ray)",
        ) from None
    return ray


START_TIMEOUT_S = 600.0  # a worker builds its adapter and metrics (weights loaded) within this, or the run stops
POLL_S = 10.0  # with no clip back for this long, check that the cluster still has a live node


class RayExecutor:
    """Clips over Ray actors; starts a local Ray when no address is given (and stops it after)."""

    name = "ray"

    def __init__(
        self,
        workers: int = 2,
        gpus_per_worker: float = 0.0,
        address: str | None = None,
        max_attempts: int = 3,
        in_flight_per_worker: int = 2,
        log=print,
        start_timeout_s: float = START_TIMEOUT_S,
        poll_s: float = POLL_S,
        max_failed_starts: int | None = None,
    ):
        if workers < 1:
            raise BenchError(f"--workers {workers}: need at least one worker")
        self.workers, self.gpus, self.address = workers, gpus_per_worker, address
        self.max_attempts, self.in_flight = max_attempts, in_flight_per_worker
        self.start_timeout_s, self.poll_s = start_timeout_s, poll_s
        # replacement workers that died before they started, in a row: a cluster that cannot host one
        self.max_failed_starts = max_failed_starts if max_failed_starts is not None else 2 * workers
        self.log = log
        self.clock = time.monotonic  # tests replace it
        self.actors: list = []  # exposed so tests can kill one
        self.startup_s: float | None = None  # cluster + workers ready, measured by the last run
        self._starting: dict = {}  # actor index -> (its getpid ref, the time it must have started by)
        self._failed_starts = 0
        self._returned = 0  # clips that came back in this run

    def describe(self) -> dict:
        return {
            "executor": "ray",
            "workers": self.workers,
            "gpus_per_worker": self.gpus,
            "address": self.address or "local",
            "startup_s": self.startup_s,
        }

    def run(self, plan: RunPlan, tasks: Iterable[ClipTask]) -> Iterator[ClipResult]:
        tasks = deque(tasks)
        if not tasks:
            return
        self._t0 = time.perf_counter()
        ray = _import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            threads = plan.settings.get("threads", 1)
            ray.init(
                address=self.address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
                configure_logging=True,
                **({} if self.address else {"num_cpus": self.workers * threads}),
            )
        try:
            yield from self._drive(ray, plan, tasks)
        finally:
            for actor in self.actors:
                try:
                    ray.kill(actor)
                except Exception:
                    pass
            self.actors = []
            if started_here:
                ray.shutdown()

    def _new_actor(self, ray, plan_dict: dict):
        device = "cuda" if self.gpus > 0 else plan_dict["settings"]["device"]
        threads = plan_dict["settings"].get("threads", 1)
        actor_cls = ray.remote(num_cpus=threads, num_gpus=self.gpus, max_restarts=0)(_RayClipWorker)
        return actor_cls.remote(plan_dict, device)

    def _drive(self, ray, plan: RunPlan, tasks: deque) -> Iterator[ClipResult]:
        crashed = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError)
        plan_dict = plan.to_dict()
        self._starting, self._failed_starts, self._returned = {}, 0, 0
        self.actors = [self._new_actor(ray, plan_dict) for _ in range(min(self.workers, len(tasks)))]
        self._check_started(ray)
        self.startup_s = round(time.perf_counter() - self._t0, 2)
        pending: dict = {}  # object ref -> (actor index, actor, task)
        load = [0] * len(self.actors)

        def submit(i: int) -> None:
            while tasks and load[i] < self.in_flight:
                task = tasks.popleft()
                pending[self.actors[i].process.remote(task)] = (i, self.actors[i], task)
                load[i] += 1

        for i in range(len(self.actors)):
            submit(i)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
            if not done:  # bounded: a dead node or a worker that never starts stops the run
                self._check_health(ray)
                continue
            ref = done[0]
            i, actor, task = pending.pop(ref)
            if actor is self.actors[i]:
                load[i] -= 1
            try:
                result = ray.get(ref)
            except crashed as exc:
                result = self._after_crash(ray, plan_dict, i, actor, task, exc, load, tasks)
            except Exception as exc:  # the worker could not even build (e.g. weights missing on that machine)
                raise BenchError(f"a Ray worker failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
            if result is not None:
                self._returned += 1
                yield result
            for j in range(len(self.actors)):
                submit(j)

    def _check_started(self, ray) -> None:
        """Fail fast, with the worker's own message, when a worker cannot build its adapter or metrics,
        or has not started within start_timeout_s (no node with the CPUs/GPUs it asks for)."""
        try:
            ray.get([a.getpid.remote() for a in self.actors], timeout=self.start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            raise BenchError(
                f"the Ray workers did not start within {self.start_timeout_s:g} s",
                hint=f"check that the cluster has {self.workers} x the CPUs/GPUs a worker asks for "
                "(`ray status`), or use fewer --workers",
            ) from None
        except Exception as exc:
            cause = getattr(exc, "cause", None) or exc
            text = str(cause).strip().splitlines()
            raise BenchError(
                f"a Ray worker could not start: {text[-1] if text else type(cause).__name__}",
                hint="every worker must see the same data dir, weights and packages as the driver",
            ) from None

    def _stop(self, why: str) -> BenchError:
        return BenchError(
            f"stopped the run: {why}. The {self._returned} clip(s) scored in this session are saved",
            hint="re-run the same command to resume (start or repair the Ray cluster first; "
            "--executor local needs none)",
        )

    def _check_nodes(self, ray) -> None:
        """The cluster still has a live node; a killed raylet (its dashboard agent killed) leaves none."""
        try:
            alive = [n for n in ray.nodes() if n.get("Alive")]
        except Exception:  # the cluster's control store is gone too
            alive = []
        if not alive:
            raise self._stop("the Ray cluster has no live node left (its raylet died or was killed)")

    def _check_health(self, ray) -> None:
        """Called when no clip came back for poll_s: stop on a dead cluster or a worker that never starts."""
        self._check_nodes(ray)
        now = self.clock()
        for i, (ready, deadline) in list(self._starting.items()):
            if self._started(ray, i) is None and now > deadline:
                raise self._stop(
                    f"a replacement Ray worker did not start within {self.start_timeout_s:g} s "
                    "(no node with the CPUs/GPUs it asks for?)"
                )

    def _started(self, ray, i: int) -> bool | None:
        """Has worker i started (answered getpid)? None while it is still starting; False if it died starting."""
        if i not in self._starting:
            return True  # one of the first workers (checked by _check_started), or seen started
        ready, _ = self._starting[i]
        if not ray.wait([ready], num_returns=1, timeout=0)[0]:
            return None
        try:
            ray.get(ready)
        except Exception:
            return False  # kept in _starting: its clips' crashes count it as a failed start
        del self._starting[i]
        self._failed_starts = 0
        return True

    def _after_crash(self, ray, plan_dict, i, actor, task, exc, load, tasks) -> ClipResult | None:
        """Replace the dead actor (once, while the cluster lives and replacements do start); requeue its
        clips (bounded); a clip past its attempts is a failed row."""
        if actor is self.actors[i]:  # the dead actor's other in-flight clips come back here too
            self._check_nodes(ray)
            if not self._started(ray, i):
                self._failed_starts += 1
                if self._failed_starts >= self.max_failed_starts:
                    raise self._stop(
                        f"{self._failed_starts} replacement Ray workers in a row died before they "
                        f"started (last: {type(exc).__name__}{': ' + _last_line(exc) if _last_line(exc) else ''})"
                    )
            self.log(f"a Ray worker died ({type(exc).__name__}); starting a new one")
            self.actors[i] = self._new_actor(ray, plan_dict)
            self._starting[i] = (self.actors[i].getpid.remote(), self.clock() + self.start_timeout_s)
            load[i] = 0
        if task.attempt < self.max_attempts:
            task.attempt += 1
            tasks.appendleft(task)
            return None
        return _worker_died_result(plan_dict, task, self.max_attempts)


def _last_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else ""


def _worker_died_result(plan_dict: dict, task: ClipTask, attempts: int) -> ClipResult:
    clip = next(PlannedClip.from_dict(c) for c in plan_dict["clips"] if c["id"] == task.clip_id)
    row = new_row(clip, plan_dict["adapter"]["fingerprint"])
    row.fail(
        "worker",
        "WorkerDied",
        f"the worker process died on this clip {attempts} times (out of memory or a crash in native code?)",
    )
    return ClipResult(row, list(task.columns))


class _RayClipWorker:
    """The Ray actor: one ClipWorker per process, built once."""

    def __init__(self, plan_dict: dict, device: str):
        import os

        self.pid = os.getpid()
        self.worker = ClipWorker(plan_dict, device=device)

    def getpid(self) -> int:
        return self.pid

    def process(self, task: ClipTask) -> ClipResult:
        return self.worker.process(task)
