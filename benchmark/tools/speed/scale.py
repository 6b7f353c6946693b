"""`bench speed engine --clips N`: what the engine itself costs at GRID scale, on a synthetic protocol.

The metric is PSNR on 64x64 clips, so decoding and scoring cost little and the engine's own cost
shows. Every run is a real run of the harness on `synthetic:N` (each in its own process where its
memory is measured); the 20-run leaderboard is one real run copied under 20 labels and sealed
again, as the tests' relabelled runs are. Each figure is printed beside the issue's target.
The report functions (site, load_runs, load_clips, the results table) come from the caller: tools never
import reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.tools.speed import browser

# the child process: one run of the harness, timed, its figures as one JSON line on stdout
CHILD = r"""
import json, sys, time
from pathlib import Path
from benchmark.engine.runner import RunConfig, Runner
from benchmark.engine.store import RunStore
args = json.loads(sys.argv[1])
shards = args.pop("shards", None)
stop_after = args.pop("stop_after", None)
base = dict(args, runs_dir=Path(args["runs_dir"]), data_dir=Path(args["data_dir"]), metrics=tuple(args["metrics"]))
out = {"runs": []}
for shard in ([(k, shards) for k in range(shards)] if shards else [None]):
    runner = Runner(RunConfig(**base, shard=shard), progress=False, log=lambda s: None)
    t = time.perf_counter()
    runner.plan()  # the first plan in a process also imports the adapter and the metrics' modules
    t0 = time.perf_counter()
    plan, _ = runner.plan()
    t1 = time.perf_counter()
    rows_before = RunStore(runner.run_dir(plan)).latest_rows(strict=False) if runner.run_dir(plan).exists() else {}
    t2 = time.perf_counter()
    outcome = runner.run(stop_after=stop_after)
    t3 = time.perf_counter()
    rows = RunStore(outcome.run_dir).latest_rows(strict=False)
    work = sum((r.timing or {}).get("generate_s", 0) + (r.timing or {}).get("reference_s", 0)
               + sum(o.seconds or 0 for o in r.outcomes.values()) for r in rows.values()
               if r.key not in rows_before)
    out["runs"].append({"run_dir": str(outcome.run_dir), "plan_s": t1 - t0, "first_plan_s": t0 - t, "scan_s": t2 - t1,
                        "resumed_rows": len(rows_before), "run_s": t3 - t2, "work_s": work,
                        "new_rows": len(rows) - len(rows_before)})
import resource
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: float | None = None  # the bound (value <= target), None: reported only

    def line(self) -> str:
        shown = f"{self.value:,.3f}" if self.value < 100 else f"{self.value:,.0f}"
        if self.target is None:
            return f"  {self.name:58s} {shown:>12s} {self.unit}"
        met = "met" if self.value <= self.target else "NOT MET"
        return f"  {self.name:58s} {shown:>12s} {self.unit:8s} target <= {self.target:g}  {met}"


def _child(args: dict) -> tuple[dict, float]:
    """Run CHILD with `args`; its figures and its peak RSS in MB."""
    root = Path(__file__).resolve().parents[3]  # `python -c` imports from its working folder: the checkout
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, cwd=root)
    if proc.returncode:
        raise RuntimeError(f"a timed run failed:\n{proc.stderr.decode()[-3000:]}")
    figures = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return figures, figures["peak_rss_mb"]


def _results(run_dir: str | Path) -> str:
    record = json.loads((Path(run_dir) / "record.json").read_text())
    return json.dumps({k: v.get("value") for k, v in record["results"].items()}, sort_keys=True)


def _copy_as(src: Path, dst: Path, label: str) -> None:
    """A copy of a real run under another label, sealed again (a 20-run leaderboard from one run)."""
    from benchmark.core.records import record_seal

    shutil.copytree(src, dst)
    record = json.loads((dst / "record.json").read_text())
    record.update(label=label, run_id=f"{label}-{record['run_id']}"[:64])
    record["adapter"]["name"] = label
    record["integrity"]["record_sha256"] = record_seal(record, record["integrity"]["rows_sha256"])
    (dst / "record.json").write_text(json.dumps(record))


def run(
    clips: int,
    small: int = 1000,
    shards: int = 64,
    runs: int = 20,
    model: str = "still",
    data_dir: Path | None = None,
    reports: dict | None = None,
    echo=print,
) -> list[Figure]:
    """`reports`: {"build_site", "load_runs", "load_clips"} (benchmark.reports' functions), timed if given."""
    from benchmark.engine.merge import merge_runs
    from benchmark.engine.reduce import reduce_results
    from benchmark.engine.store import RunStore
    from protocols import open_dataset

    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-speed-scale-") as tmp:
        tmp = Path(tmp)
        data = Path(data_dir) if data_dir else tmp / "data"
        base = {"model": model, "metrics": ["psnr"], "data_dir": str(data), "threads": 1}
        for n in sorted({small, clips}):
            protocol = open_dataset(f"synthetic:{n}", data)
            t0 = time.perf_counter()
            protocol.prepare()
            echo(f"synthetic:{n}: {n} clips ready in {time.perf_counter() - t0:.1f} s ({protocol.prepared_dir})")
        echo(f"local runs of {model} with psnr, each in its own process (1 torch thread)")
        local = {}
        for n in sorted({small, clips}):
            figures_n, rss = _child({**base, "dataset": f"synthetic:{n}", "runs_dir": str(tmp / f"local{n}")})
            local[n] = (figures_n["runs"][0], rss)
            r = figures_n["runs"][0]
            echo(f"  {n} clips: {r['run_s']:.1f} s wall (plan {r['plan_s']:.2f} s), peak RSS {rss:.0f} MB")
        big, big_rss = local[clips]
        run_dir = Path(big["run_dir"])
        figures.append(
            Figure(f"plan ({clips:,} clips; the first in a process, with imports)", big["first_plan_s"], "s")
        )
        figures.append(Figure(f"plan ({clips:,} clips; again)", big["plan_s"], "s"))
        overhead = (big["run_s"] - big["work_s"]) / clips * 1000  # run_s: plan again, execute, reduce, record
        figures.append(Figure("engine overhead per clip (wall - decode - metric)", overhead, "ms", 5))
        figures.append(Figure("run wall per clip (psnr, 64x64, 75 frames)", big["run_s"] / clips * 1000, "ms"))
        size = (run_dir / "clips.jsonl").stat().st_size
        figures.append(Figure("clips.jsonl size", size / 1e6, "MB"))
        figures.append(Figure("clips.jsonl per clip", size / clips, "bytes"))
        if small != clips:
            growth = big_rss - local[small][1]
            figures.append(Figure(f"driver peak RSS growth {small:,} -> {clips:,} clips", growth, "MB", 100))
        figures.append(Figure(f"driver peak RSS at {clips:,} clips", big_rss, "MB"))

        echo("resume: a run stopped at 50 %, then the same command again")
        half_args = {**base, "dataset": f"synthetic:{clips}", "runs_dir": str(tmp / "resume")}
        _child({**half_args, "stop_after": clips // 2})
        resumed, _ = _child(half_args)
        r = resumed["runs"][0]
        figures.append(Figure(f"resume scan (read the {r['resumed_rows']:,} rows done)", r["scan_s"], "s", 2))
        figures.append(Figure("resume: the rest of the run, wall", r["run_s"], "s"))
        same_resume = _results(r["run_dir"]) == _results(run_dir)

        echo("reduce: the run's rows into its results")
        store = RunStore(run_dir)
        record = json.loads((run_dir / "record.json").read_text())
        from benchmark.engine.plan import RunPlan

        plan = RunPlan.from_dict(store.read_plan())
        reduce_results(record["metrics"], plan.clips, store.latest_rows(), store.load_artifacts)  # warm: imports
        t0 = time.perf_counter()
        rows = store.latest_rows()
        t1 = time.perf_counter()
        reduce_results(record["metrics"], plan.clips, rows, store.load_artifacts)
        figures.append(Figure("reduce: read the rows", t1 - t0, "s"))
        figures.append(Figure("reduce: rows into results", time.perf_counter() - t1, "s"))
        figures.append(Figure("reduce (read rows + reduce)", time.perf_counter() - t0, "s", 2))

        echo(f"shards: {shards} shard runs in one process, then bench merge")
        sharded, _ = _child(
            {**base, "dataset": f"synthetic:{clips}", "runs_dir": str(tmp / "shards"), "shards": shards}
        )
        t0 = time.perf_counter()
        merge_runs([Path(s["run_dir"]) for s in sharded["runs"]], tmp / "merged", log=lambda s: None)
        figures.append(Figure(f"merge of {shards} shards", time.perf_counter() - t0, "s", 10))
        same_merge = _results(tmp / "merged") == _results(run_dir)

        echo("ray: 2 workers")
        rayed, _ = _child(
            {**base, "dataset": f"synthetic:{clips}", "runs_dir": str(tmp / "ray"), "executor": "ray", "workers": 2}
        )
        same_ray = _results(rayed["runs"][0]["run_dir"]) == _results(run_dir)

        if reports:
            figures += _report_figures(reports, run_dir, tmp, runs, clips, echo)
        echo(
            f"records identical to the local run: resumed {same_resume}, {shards} merged shards {same_merge}, "
            f"ray 2 workers {same_ray}"
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    echo(f"\nengine at scale, synthetic:{clips} ({cores} cores):")
    for figure in figures:
        echo(figure.line())
    return figures


def _report_figures(reports: dict, run_dir: Path, tmp: Path, runs: int, clips: int, echo) -> list[Figure]:
    """A leaderboard of `runs` copies of the run: build time and sizes; load_runs and load_clips times."""
    figures = []
    echo(f"leaderboard: {runs} runs of {clips:,} clips (one run copied under {runs} labels)")
    board = tmp / "board"
    for i in range(runs):
        _copy_as(run_dir, board / f"model{i:02d}", f"model{i:02d}")
    t0 = time.perf_counter()
    index, _ = reports["build_site"]([board], tmp / "site")
    figures.append(Figure(f"leaderboard build ({runs} runs)", time.perf_counter() - t0, "s", 30))
    largest = max((tmp / "site" / "runs").glob("*.html"), key=lambda p: p.stat().st_size)
    figures.append(Figure("run page size (largest)", largest.stat().st_size / 1e6, "MB", 2))
    opened = browser.open_seconds(largest)
    if opened is None:
        echo("no Chromium on PATH (Debian's package chromium): the run page's opening time is not measured")
    else:
        figures.append(Figure("run page opens in headless Chromium (largest)", opened[0], "s", 3))
        figures.append(Figure("  of which the browser's start (an empty page)", opened[1], "s"))
    figures.append(Figure("leaderboard index size", index.stat().st_size / 1e6, "MB"))
    t0 = time.perf_counter()
    reports["load_runs"]([board])
    figures.append(Figure(f"load_runs ({runs} runs)", time.perf_counter() - t0, "s"))
    t0 = time.perf_counter()
    table = reports["results_table"]([board], f"synthetic:{clips}", ["psnr"])
    seconds = time.perf_counter() - t0
    if len(table.rows) != runs:
        raise RuntimeError(f"the results table has {len(table.rows)} rows for {runs} runs")
    figures.append(Figure(f"bench table --protocol synthetic:{clips} ({runs} runs)", seconds, "s"))
    t0 = time.perf_counter()
    reports["load_clips"]([run_dir])
    figures.append(Figure(f"load_clips (one run, {clips:,} clips)", time.perf_counter() - t0, "s"))
    return figures
