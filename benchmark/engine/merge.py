"""`bench merge`: fuse shard runs (Slurm arrays, several machines) into one run.

Shards are fused only when they are parts of one plan made by one harness: same protocol and
clip selection, adapter fingerprint, seeds, metric columns, code version, packages and device,
and the same run identity but for the per-clip files each shard hashed (its own clips' only),
so the thread count must agree where the adapter's frames depend on it. Shards scored with other
thread counts merge (as a resumed run may), and the record lists them (settings.scoring_threads).
The merged rows are reduced exactly as one process would reduce them, so the record is the same,
and its run id is the one an unsharded run of the same files has.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from benchmark.engine.plan import RunPlan, clip_seed
from benchmark.engine.store import RunLock, RunStore
from benchmark.core.errors import BenchError
from benchmark.core.rows import ClipRow
from benchmark.core.records import RUN_FILE, SCHEMA_VERSION, integrity_problem, load_record, read_json

# what every shard must agree on, as (label, getter over (plan dict, record))
_MUST_AGREE = [
    ("protocol", lambda p, r: p["protocol"]),
    ("dataset", lambda p, r: p["dataset"]),
    ("label (--name)", lambda p, r: p.get("label")),
    ("adapter.fingerprint", lambda p, r: p["adapter"]["fingerprint"]),
    ("seeds", lambda p, r: p["seeds"]),
    ("limit", lambda p, r: p["limit"]),
    ("settings.device", lambda p, r: p["settings"]["device"]),
    (
        "run identity (what makes the frames: threads where they depend on it)",
        lambda p, r: RunPlan.from_dict(p).shared_identity(),
    ),
    ("metrics", lambda p, r: [{k: m[k] for k in ("variant", "column", "params", "backend")} for m in r["metrics"]]),
    ("code.commit", lambda p, r: r["code"].get("commit")),
    ("code.dirty", lambda p, r: r["code"].get("dirty")),
    ("packages", lambda p, r: r["packages"]),
    ("device.torch", lambda p, r: r["device"].get("torch")),
    ("shard count", lambda p, r: (p.get("shard") or [None, None])[1]),
    ("selection (the whole clip list)", lambda p, r: p.get("selection")),
]


def _load_shard(run_dir: Path) -> tuple[dict, dict]:
    record = load_record(run_dir)
    saved = read_json(run_dir / RUN_FILE)
    plan = saved.get("plan") if isinstance(saved, dict) else None
    if not plan:
        raise BenchError(f"{run_dir}: no plan in {RUN_FILE}", hint="merge runs made by `bench run --shard K/N`")
    return plan, record


def check_compatible(shards: list[tuple[Path, dict, dict]]) -> None:
    """Refuse, naming the first field that differs, to merge shards of different plans or harnesses."""
    first_dir, first_plan, first_record = shards[0]
    for label, get in _MUST_AGREE:
        want = get(first_plan, first_record)
        for run_dir, plan, record in shards[1:]:
            got = get(plan, record)
            if got != want:
                raise BenchError(
                    f"cannot merge: {label} differs between {first_dir} ({_short(want)}) and {run_dir} ({_short(got)})",
                    hint="merge only shards of one `bench run` command made with the same code and packages",
                )
    seen: dict[int, Path] = {}
    for run_dir, plan, _ in shards:
        if not plan.get("shard"):
            raise BenchError(
                f"cannot merge: {run_dir} is not a shard run", hint="make shards with `bench run --shard K/N`"
            )
        k = plan["shard"][0]
        if k in seen:
            raise BenchError(f"cannot merge: shard {k} given twice ({seen[k]} and {run_dir})")
        seen[k] = run_dir


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def check_output_folder(out: Path) -> None:
    """The merged run gets a folder of its own: merging onto a run (or a shard) would replace its rows."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "not empty"
        raise BenchError(
            f"bench merge -o {out}: {what}; the merged run would replace what is there",
            hint="merge into a new (or empty) folder, e.g. -o " + str(out.parent / (out.name + "-merged")),
        )


def unmerged_clips(shards: list[tuple[Path, dict, dict]]) -> list[dict]:
    """The selection's clips that belong to no shard given (a shard not merged), as plan clips without rows.

    Their positions are the selection indices no given shard holds (protocol.n_clips counts the
    whole selection); their ids come from the shards' `selection` list (shard runs made before it
    was recorded name them by position, e.g. #3). Reduced, each counts as never attempted.
    """
    plan = shards[0][1]
    n_clips = plan["protocol"]["n_clips"]
    held = {c["index"] for _, p, _ in shards for c in p["clips"]}
    selection = plan.get("selection") if len(plan.get("selection") or []) == n_clips else None
    generation = plan["seeds"]["generation"]
    out = []
    for index in (i for i in range(n_clips) if i not in held):
        clip_id = selection[index] if selection else f"#{index}"
        out.append(
            {
                "id": clip_id,
                "speaker": "",
                "fingerprint": "",
                "seed": clip_seed(generation, clip_id),
                "key": f"not-merged-{index}",
                "index": index,
                "input": None,
            }
        )
    return out


def merge_runs(run_dirs: list[Path], out: Path, log=print):
    from benchmark.engine.runner import RunOutcome, build_record, mixed_threads_warning

    check_output_folder(out)
    shards = [(Path(d), *_load_shard(Path(d))) for d in run_dirs]
    check_compatible(shards)
    for run_dir, _, record in shards:
        if integrity_problem(record):  # the merge reduces the shard's rows again; its record is not used
            log(f"warning: {run_dir}: {integrity_problem(record)}")
    n_shards = shards[0][1]["shard"][1]
    present = sorted(plan["shard"][0] for _, plan, _ in shards)
    unmerged = unmerged_clips(shards)
    if present != list(range(n_shards)):
        missing = sorted(set(range(n_shards)) - set(present))
        log(
            f"warning: shard(s) {', '.join(f'{k}/{n_shards}' for k in missing)} not given: their {len(unmerged)} "
            f"clip(s) count as never attempted (coverage, completeness; exit status 3). Run them with "
            f"`bench run ... --shard K/{n_shards}` and merge all {n_shards} shards into a new folder"
        )
    started = min(datetime.fromisoformat(r["started_at"]) for _, _, r in shards)

    plan_dict = dict(shards[0][1])
    clips = sorted([c for _, plan, _ in shards for c in plan["clips"]] + unmerged, key=lambda c: c["index"])
    plan_dict.update(clips=clips, shard=None, selection=None, run_id="")  # the id over every clip's files, as unsharded
    plan = RunPlan.from_dict(plan_dict)
    specs = shards[0][2]["metrics"]

    store = RunStore(Path(out))
    store.create()
    with RunLock(store.dir) as lock:
        lock.acquire(log=log)
        store.clear_record()
        rows: dict[str, ClipRow] = {}
        for run_dir, shard_plan, _ in shards:
            source = RunStore(run_dir).latest_rows()
            for c in shard_plan["clips"]:
                row = source.get(c["key"])
                if row is None:
                    continue
                store.copy_row_files(run_dir, row)
                rows[row.key] = row
        (store.dir / "clips.jsonl").unlink(missing_ok=True)
        for c in plan.clips:  # rows in protocol order
            if c.key in rows:
                store.append_row(rows[c.key])
        command = "bench merge " + " ".join(str(d) for d in run_dirs) + f" -o {out}"
        store.write_plan(
            plan.to_dict(),
            {
                "schema_version": SCHEMA_VERSION,
                "command": command,
                "reported_metrics": specs,
                "merged_from": [str(d) for d, _, _ in shards],
            },
        )
        execution = {
            "executor": "merge",
            "shards": [{"run": str(d), "shard": p["shard"], **r.get("execution", {})} for d, p, r in shards],
        }
        record = build_record(plan, specs, rows, store, started, command, execution)
        first = shards[0][2]
        record.update(code=first["code"], packages=first["packages"], device=first["device"])
        if first.get("skipped_metrics"):  # what `--metrics all` left out, as the shards recorded it
            record["skipped_metrics"] = first["skipped_metrics"]
        store.write_record(record)
    log(f"merged {len(shards)} shard(s) of {n_shards}: rows for {len(rows)} of the {len(plan.clips)} clips")
    if warning := mixed_threads_warning(record["settings"]["scoring_threads"]):
        log(f"warning: {warning}")
    outcome = RunOutcome(store.dir, record, record["clips"]["scored"], record["clips"]["failed"], 0)
    partial = plan.protocol.get("partial")
    if partial and not all("--allow-partial" in r.get("command", "").split() for _, _, r in shards):
        # as `bench run` on a partial protocol: exit 3 unless every shard accepted it
        outcome.partial_note = (
            f"{plan.protocol['id']} is partial ({partial.get('n_present', '?')} of "
            f"{partial.get('n_expected', '?')} clips prepared; record.json protocol.partial lists "
            "them): exit status 3. Shards run with --allow-partial accept it"
        )
    return outcome
