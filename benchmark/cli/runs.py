"""`bench run`, `bench merge` and `bench validate`: scoring a model, fusing shards, checking outputs first."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from benchmark.cli import options
from benchmark.cli.app import cli, parse_model_args, read_model_args_file
from benchmark.core.errors import BenchError
from benchmark.core.paths import DEFAULT_RUNS_DIR


@cli.command()
@click.option("--model", required=True, help="adapter name (`bench list models`)")
@options.DATASET
@options.METRICS
@click.option(
    "--fid-backend",
    type=click.Choice(["port", "pytorch-fid"]),
    default="port",
    show_default=True,
    help="pytorch-fid: score `fid` with pytorch-fid's own InceptionV3 (where it imports), recorded as the "
    "fid-pytorch-fid column; port: the pure-torch port with its parameter names",
)
@click.option("--model-args", default="", help="adapter options as key=value,key=value")
@click.option(
    "--model-args-file",
    default=None,
    type=click.Path(path_type=Path),
    help="adapter options, one key=value per line, values verbatim (commas and quotes allowed); "
    "--model-args keys override it",
)
@click.option("--seed", default=0, show_default=True, type=int, help="generation seed (the model's noise)")
@options.LIMIT
@options.SUBSET_SEED
@options.DEVICE
@click.option("--out", "runs_dir", default=str(DEFAULT_RUNS_DIR), show_default=True, type=click.Path(path_type=Path))
@options.DATA_DIR
@options.LANDMARKS
@options.EMBEDDER
@options.WEIGHTS
@click.option(
    "--executor",
    default="local",
    show_default=True,
    type=click.Choice(["local", "ray"]),
    help="where clips run: this process, or Ray actors (local cluster, or --ray-address)",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Ray actors")
@click.option(
    "--gpus-per-worker", default=0.0, show_default=True, type=click.FloatRange(min=0), help="GPUs per Ray actor"
)
@click.option("--ray-address", default=None, help="an existing Ray cluster (e.g. auto or ray://head:10001)")
@options.SHARD
@click.option(
    "--keep-videos",
    is_flag=True,
    help="store the generated frames (lossless FFV1) so adding a metric never regenerates",
)
@click.option("--wait", is_flag=True, help="if another process is writing this run, wait for it instead of exiting")
@options.THREADS
@click.option(
    "--name",
    default=None,
    help="the run's label in tables, pages and `bench compare` (default: the model "
    "name; for folder runs, the videos' folder name)",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="accept a protocol prepared with clips or speakers missing (exit 0, "
    "not 3); the record says what is missing either way",
)
@options.NO_PROGRESS
def run(
    model,
    dataset,
    metrics,
    fid_backend,
    model_args,
    model_args_file,
    seed,
    limit,
    subset_seed,
    device,
    runs_dir,
    data_dir,
    landmarks,
    embedder,
    weights_dir,
    executor,
    workers,
    gpus_per_worker,
    ray_address,
    shard,
    keep_videos,
    wait,
    threads,
    name,
    allow_partial,
    no_progress,
) -> None:
    """Generate and score every clip of a protocol; resumes where an earlier run stopped.

    A run is identified by what generates the frames (protocol and clips, adapter fingerprint,
    generation seed, device), not by its metrics: asking for one more metric later scores only
    that metric. Exit status: 0 all clips scored, 3 completed with failed clips (or on a partial
    protocol without --allow-partial), 130 interrupted, 1 error (or every clip failed).
    """
    from benchmark.engine.plan import parse_shard
    from benchmark.engine.runner import RunConfig, Runner

    names = options.metric_names(metrics)
    if fid_backend == "pytorch-fid":  # another implementation is another column, never the same one
        names = tuple("fid-pytorch-fid" if n == "fid" else n for n in names)
    config = RunConfig(
        model=model,
        dataset=dataset,
        metrics=names,
        model_args={**read_model_args_file(model_args_file), **parse_model_args(model_args)},
        seed=seed,
        limit=limit,
        device=device,
        runs_dir=runs_dir,
        data_dir=data_dir,
        landmarks=landmarks,
        embedder=embedder,
        weights_dir=weights_dir,
        subset_seed=subset_seed,
        shard=parse_shard(shard),
        executor=executor,
        workers=workers,
        gpus_per_worker=gpus_per_worker,
        ray_address=ray_address,
        keep_videos=keep_videos,
        wait=wait,
        threads=threads,
        name=name,
        allow_partial=allow_partial,
    )
    outcome = Runner(config, progress=not no_progress, log=lambda s: click.echo(s, err=True)).run()
    if outcome.record:
        _print_summary(outcome)
    if outcome.partial_note and not outcome.interrupted:
        click.echo(outcome.partial_note, err=True)
    sys.exit(outcome.exit_code)


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="the merged run's folder")
def merge(run_dirs, out) -> None:
    """Fuse shard runs (`bench run --shard K/N`) into one run with one record.

    The shards must share the plan (protocol, clips, adapter, seeds, metrics), code version,
    backends and package versions; a mismatch names the field. The merged record equals the
    record of the same run made in one process. The clips of a shard not given count as never
    attempted. -o must be a new or empty folder. Exit status: 0 every clip scored, 3 some clips
    failed or never attempted (a shard missing), or the protocol is partial, 1 error.
    """
    from benchmark.engine.merge import merge_runs

    outcome = merge_runs(list(run_dirs), out, log=lambda s: click.echo(s, err=True))
    _print_summary(outcome)
    if outcome.partial_note:
        click.echo(outcome.partial_note, err=True)
    sys.exit(outcome.exit_code)


# results a metric reports beside its value (beat-align's chance level, the THEval score's groups)
BESIDE = (
    ("shuffled_value", "shuffled audio"),
    ("reference_shuffled_value", "ground truth shuffled"),
    ("naturalness", "naturalness"),
    ("synchronization", "synchronization"),
)


def _print_summary(outcome) -> None:
    record = outcome.record
    click.echo(f"run: {outcome.run_dir}")
    for name, r in record["results"].items():
        coverage = f"[{r['coverage']}]" if "coverage" in r else ""
        if r["value"] is None:
            why = r.get("error") or (
                f"n/a: {r['na_reason']}"
                if r.get("na_reason")
                else f"{r['n_failed']} failed, {r['n_na']} n/a"
                if r.get("n_scored") == 0
                else "no value"
            )
            beside = f"  (ground truth {r['reference_value']:.4f})" if r.get("reference_value") is not None else ""
            click.echo(f"  {name:12s} —  {coverage} {why}{beside}")
        else:
            ci = f"  95% CI [{r['ci95'][0]:.4f}, {r['ci95'][1]:.4f}]" if r["ci95"] else ""
            extra = f"  (ground truth {r['reference_value']:.4f})" if r.get("reference_value") is not None else ""
            extra += "".join(f"  ({label} {r[key]:.4f})" for key, label in BESIDE if r.get(key) is not None)
            frames = f" {r['frames_generated']} frames" if r.get("frames_generated") else ""
            click.echo(f"  {name:12s} {r['value']:.4f}  {coverage}{frames}{ci}{extra}")
        if r.get("note"):
            click.echo(f"  {'':12s} note: {r['note']}")
        for f in r.get("failures", [])[:3]:
            if not f["reason"].startswith("clip failed"):
                click.echo(f"  {'':12s} {f['status']} on {f['clip_id']}: {f['reason']}")
    for skipped in record.get("skipped_metrics", []):
        click.echo(f"  {skipped['name']:12s} skipped by --metrics all: {skipped['reason']}")
    _print_metric_seconds(outcome.metric_seconds)
    clips = record["clips"]
    if clips["failed"]:
        click.echo(f"completed with failures: {clips['failed']} of {clips['total']} clips failed", err=True)
        for f in record["failures"]:
            click.echo(f"  {f['clip_id']} [{f['stage']}]: {f['message']}", err=True)
    else:
        click.echo(f"completed: {clips['scored']} of {clips['total']} clips scored")
    if clips.get("conformed"):
        from benchmark.reports.site import conformed_summary

        click.echo(f"conformed to the clips: {conformed_summary(record)}; each clip's row says how")


def _print_metric_seconds(timings: dict[str, dict]) -> None:
    """One line of mean seconds per clip for each metric (timings are in the rows, not the record)."""
    if timings:
        parts = [f"{v} {t['mean_s']:.3f}" for v, t in timings.items()]
        click.echo(f"  seconds per clip: {', '.join(parts)}")


@cli.group(invoke_without_command=True)
@click.option(
    "--model",
    default=None,
    help="folder: check its output files (`bench validate --model folder --model-args dir=... --dataset mini`)",
)
@click.option("--dataset", default=None, help="the protocol the files are for")
@click.option(
    "--model-args", default="", help="as for bench run, conform options included (resize=, fps=, max_length_diff=)"
)
@click.option("--model-args-file", default=None, type=click.Path(path_type=Path))
@click.option("--limit", default=None, type=int, help="the clips `bench run --limit N` would score")
@click.option("--subset-seed", default=0, show_default=True, type=int)
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option(
    "--show", default=20, show_default=True, type=click.IntRange(min=0), help="conformed files listed one by one"
)
@click.pass_context
def validate(ctx, model, dataset, model_args, model_args_file, limit, subset_seed, data_dir, show) -> None:
    """Check a model's output files before a run, or a metric's detector on synthesised inputs (`validate blink`).

    With --model folder: every file is found, decoded and fitted to its clip under the same options
    a run would get, and nothing is scored. Exit status 1 if any file would fail its clip.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not model or not dataset:
        click.echo(ctx.get_help())
        if model or dataset:
            raise BenchError(
                "bench validate needs both --model and --dataset",
                hint="e.g. bench validate --model folder --model-args dir=outputs --dataset mini",
            )
        return
    from benchmark.core.settings import Settings
    from benchmark.engine.validation import group_failures, summarize, validate_outputs

    args = {**read_model_args_file(model_args_file), **parse_model_args(model_args)}
    bar = _progress_bar_for("checking files")
    results = validate_outputs(
        model,
        args,
        dataset,
        Settings.create(data_dir),
        limit,
        subset_seed,
        progress=bar.update,
        log=lambda s: click.echo(s, err=True),
    )
    bar.close()
    summary = summarize(results)
    for r in [r for r in results if r["status"] == "conformed"][:show]:
        click.echo(f"  conform {r['file']}: {_conformed_text(r['conformed'])}")
    if summary["conformed"] > show:
        click.echo(f"  … and {summary['conformed'] - show} more conformed (--show N lists more)")
    for problem, clip_ids in group_failures(results):
        if len(clip_ids) == 1:
            click.echo(f"  FAIL {clip_ids[0]}: {problem}")
        else:
            named = ", ".join(clip_ids[:3]) + (f" and {len(clip_ids) - 3} more" if len(clip_ids) > 3 else "")
            click.echo(f"  FAIL {len(clip_ids)} clips ({named}): {problem}")
    kinds = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in summary["kinds"].items())
    click.echo(
        f"{summary['total']} clips: {summary['ok']} ready as they are, {summary['conformed']} to be conformed"
        f"{f' ({kinds})' if kinds else ''}, {summary['failed']} would fail"
    )
    if summary["failed"]:
        sys.exit(1)


def _conformed_text(conformed: dict) -> str:
    parts = []
    if "video_stream" in conformed:
        r = conformed["video_stream"]
        parts.append(f"video stream 0:v:{r['index']} of {r['of']}")
    if "rotated" in conformed:
        r = conformed["rotated"]
        parts.append(
            f"rotate {r['degrees_counterclockwise']}° counterclockwise {r['from'][0]}x{r['from'][1]} -> "
            f"{r['to'][0]}x{r['to'][1]} (display matrix)"
        )
    if "resized" in conformed:
        r = conformed["resized"]
        parts.append(f"resize {r['from'][0]}x{r['from'][1]} -> {r['to'][0]}x{r['to'][1]} ({r['filter']})")
    if "fps_resampled" in conformed:
        r = conformed["fps_resampled"]
        source = f"{r['from']:g}" if isinstance(r["from"], (int, float)) else r["from"]
        how = "by timestamp" if "timestamp" in r["method"] else "nearest frame"
        parts.append(f"resample {source} -> {r['to']:g} fps ({r['frames'][0]} -> {r['frames'][1]} frames, {how})")
    if "length" in conformed:
        parts.append(conformed["length"]["how"])
    return "; ".join(parts)


def _progress_bar_for(desc: str):
    from tqdm import tqdm

    return tqdm(desc=desc, unit="clip", dynamic_ncols=True, disable=not sys.stderr.isatty())


@validate.command("blink")
@click.option(
    "--variants",
    default="blink,blink-vougioukas,blink-online",
    show_default=True,
    help="blink variants to score on the same traces",
)
@click.option("--seed", default=0, show_default=True, type=int, help="seed of the synthesised traces")
@click.option("--clips-per-cell", default=12, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--tolerance",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="frames a detection may lie outside a true blink and still count",
)
def validate_blink(variants, seed, clips_per_cell, tolerance) -> None:
    """Blink detectors on synthesised EAR traces: recall and false blinks per minute per depth, duration and noise.

    Exit status 1 if the default `blink` is scored and misses recall >= 0.9 with <= 1 false blink per minute.
    """
    from benchmark.core.settings import Settings
    from metrics import declare_metric, family_of
    from metrics.blink_synthetic import meets_target, render_validation, validate_detectors

    names = [v.strip() for v in variants.split(",") if v.strip()]
    others = [n for n in names if family_of(n) != "blink"]
    if others or not names:
        raise BenchError(
            f"--variants {variants!r}: {', '.join(others) or 'nothing'} is not a blink variant",
            hint="e.g. --variants blink,blink-vougioukas,blink-online (`bench list metrics`)",
        )
    settings = Settings.create()
    params = {name: declare_metric(name, settings).params for name in names}
    result = validate_detectors(params, seed, clips_per_cell, tolerance)
    click.echo(render_validation(result, seed, clips_per_cell, tolerance), nl=False)
    if "blink" in result.cells and not meets_target(result.overall("blink")):
        sys.exit(1)
