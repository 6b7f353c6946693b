"""`bench speed engine`: clips/s of the local executor and of Ray with 1..N workers, one process.

Every configuration scores the same clips with the same metrics and one torch thread per
worker (so N workers use N cores and the records are identical), each into a fresh run folder.
A first untimed run builds the protocol and the ground-truth feature caches, so no timed run
pays for them. Ray's figure includes starting its local cluster and the workers (each imports
torch and builds the metric backends), which is what a user waits for.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path


def _timed_run(config_kw: dict, out: Path, executor: str, workers: int) -> tuple[float, dict]:
    from benchmark.engine.runner import RunConfig, Runner

    config = RunConfig(runs_dir=out, executor=executor, workers=workers, threads=1, **config_kw)
    t0 = time.perf_counter()
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    return time.perf_counter() - t0, outcome.record


def run(
    model: str,
    dataset: str,
    metrics: tuple[str, ...],
    limit: int | None,
    max_workers: int,
    data_dir: Path | None,
    echo=print,
) -> list[dict]:
    import os

    config_kw = {"model": model, "dataset": dataset, "metrics": metrics, "limit": limit, "data_dir": data_dir}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-speed-engine-") as tmp:
        echo(f"warming up: {model} on {dataset}, metrics {','.join(metrics)} (builds caches; not timed)")
        _, warm = _timed_run(config_kw, Path(tmp) / "warm", "local", 1)
        n = warm["clips"]["total"]
        configs = [("local", 1)] + [("ray", w) for w in range(1, max_workers + 1)]
        baseline = None
        for executor, workers in configs:
            seconds, record = _timed_run(config_kw, Path(tmp) / f"{executor}{workers}", executor, workers)
            same = json.dumps(record["results"], sort_keys=True) == json.dumps(warm["results"], sort_keys=True)
            rate = n / seconds
            startup = record["execution"].get("startup_s") or 0.0
            steady = n / (seconds - startup)
            baseline = baseline or rate
            rows.append(
                {
                    "executor": executor,
                    "workers": workers,
                    "seconds": round(seconds, 2),
                    "startup_s": startup,
                    "clips_per_s": round(rate, 3),
                    "speedup_vs_local": round(rate / baseline, 2),
                    "clips_per_s_after_startup": round(steady, 3),
                    "identical": same,
                }
            )
            echo(
                f"  {executor:5s} workers={workers}: {n} clips in {seconds:7.1f} s = {rate:6.3f} clips/s "
                f"({rate / baseline:4.2f}x local); after {startup:4.1f} s start-up: {steady:6.3f} clips/s "
                f"({steady / baseline:4.2f}x)  record identical: {same}"
            )
    echo(
        f"machine: {cores} cores. Ray scaling is bounded by min(workers, cores) and by the fixed start-up "
        f"(cluster + one worker process per actor importing torch and the backends), amortised over {n} clips."
    )
    return rows
