"""`bench`: run benchmarks, prepare protocols, list what is registered, build leaderboards."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from benchmark.errors import BenchError, Interrupted
from benchmark.paths import DEFAULT_RUNS_DIR


def read_model_args_file(path: Path | None) -> dict:
    """One key=value per line, the value verbatim (commas, quotes, spaces); blank lines and # comments skipped."""
    out: dict[str, str] = {}
    if path is None:
        return out
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"--model-args-file {path}: cannot be read ({exc})", hint="a text file, one key=value per line") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BenchError(f"--model-args-file {path}:{number}: {line.strip()!r} is not key=value",
                             hint="one key=value per line, e.g. run=python inference.py --out {output}")
        out[key.strip()] = value.strip()
    return out


def parse_model_args(text: str | None) -> dict:
    """`key=value,key2=value2` (lm-evaluation-harness style) -> dict of strings."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise BenchError(f"--model-args: {part!r} is not key=value", hint="e.g. --model-args dir=/path/to/videos")
        out[key.strip()] = value.strip()
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="talking-head-bench")
def cli() -> None:
    """Evaluate audio-driven talking-head generators the same way every time."""


@cli.command()
@click.option("--model", required=True, help="adapter name (`bench list models`)")
@click.option("--dataset", required=True, help="protocol name (`bench list datasets`)")
@click.option("--metrics", default=None, help="comma-separated metric names or variants, or `all` "
              "(default: psnr,ssim,lmd,cpbd,blink,bilabial)")
@click.option("--fid-backend", type=click.Choice(["port", "pytorch-fid"]), default="port", show_default=True,
              help="pytorch-fid: score `fid` with pytorch-fid's own InceptionV3 (where it imports), recorded as the "
                   "fid-pytorch-fid column; port: the pure-torch port with its parameter names")
@click.option("--model-args", default="", help="adapter options as key=value,key=value")
@click.option("--model-args-file", default=None, type=click.Path(path_type=Path),
              help="adapter options, one key=value per line, values verbatim (commas and quotes allowed); "
              "--model-args keys override it")
@click.option("--seed", default=0, show_default=True, type=int, help="generation seed (the model's noise)")
@click.option("--limit", default=None, type=int, help="score a seeded, speaker-stratified subset of N clips")
@click.option("--subset-seed", default=0, show_default=True, type=int, help="seed of the --limit subset")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda")
@click.option("--out", "runs_dir", default=str(DEFAULT_RUNS_DIR), show_default=True, type=click.Path(path_type=Path))
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="prepared data (default $BENCH_DATA or ~/.cache/talking-head-bench)")
@click.option("--landmarks", default=None, help="landmark backend for LMD/blink/bilabial/ACD: mediapipe (default), dlib68 "
              "(upsample 1), dlib68-up0 (upsample 0, then 1 where no face), fan (face-alignment's 2DFAN4 on your weights, "
              "boxes from mediapipe) or fan-s3fd (its S3FD detector too)")
@click.option("--embedder", default=None, help="identity embedder for ACD: dlib-resnet (default), facenet-vggface2 or arcface "
              "(your weights)")
@click.option("--weights", "weights_dir", default=None, type=click.Path(path_type=Path),
              help="weights folder (<folder>/<model>/<file>; default $BENCH_WEIGHTS or <data dir>/weights)")
@click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "ray"]),
              help="where clips run: this process, or Ray actors (local cluster, or --ray-address)")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Ray actors")
@click.option("--gpus-per-worker", default=0.0, show_default=True, type=click.FloatRange(min=0), help="GPUs per Ray actor")
@click.option("--ray-address", default=None, help="an existing Ray cluster (e.g. auto or ray://head:10001)")
@click.option("--shard", default=None, help="K/N: only the clips of shard K of N (stable sha256 of the clip id); "
              "fuse the N shard runs with `bench merge`")
@click.option("--keep-videos", is_flag=True, help="store the generated frames (lossless FFV1) so adding a metric never regenerates")
@click.option("--wait", is_flag=True, help="if another process is writing this run, wait for it instead of exiting")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="torch threads per worker (default: this "
              "machine's cores); CPU results round differently with another count, so it is recorded")
@click.option("--name", default=None, help="the run's label in tables, pages and `bench compare` (default: the model "
              "name; for folder runs, the videos' folder name)")
@click.option("--allow-partial", is_flag=True, help="accept a protocol prepared with clips or speakers missing (exit 0, "
              "not 3); the record says what is missing either way")
@click.option("--no-progress", is_flag=True, help="no progress bar")
def run(model, dataset, metrics, fid_backend, model_args, model_args_file, seed, limit, subset_seed, device, runs_dir, data_dir, landmarks, embedder,
        weights_dir, executor, workers, gpus_per_worker, ray_address, shard, keep_videos, wait, threads, name, allow_partial,
        no_progress) -> None:
    """Generate and score every clip of a protocol; resumes where an earlier run stopped.

    A run is identified by what generates the frames (protocol and clips, adapter fingerprint,
    generation seed, device), not by its metrics: asking for one more metric later scores only
    that metric. Exit status: 0 all clips scored, 3 completed with failed clips (or on a partial
    protocol without --allow-partial), 130 interrupted, 1 error (or every clip failed).
    """
    from benchmark.engine.plan import parse_shard
    from benchmark.runner import RunConfig, Runner

    from metrics import DEFAULT_METRICS

    names = tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics is not None else DEFAULT_METRICS
    if fid_backend == "pytorch-fid":  # another implementation is another column, never the same one
        names = tuple("fid-pytorch-fid" if n == "fid" else n for n in names)
    config = RunConfig(model=model, dataset=dataset, metrics=names,
                       model_args={**read_model_args_file(model_args_file), **parse_model_args(model_args)},
                       seed=seed, limit=limit, device=device,
                       runs_dir=runs_dir, data_dir=data_dir, landmarks=landmarks, embedder=embedder, weights_dir=weights_dir,
                       subset_seed=subset_seed, shard=parse_shard(shard), executor=executor, workers=workers,
                       gpus_per_worker=gpus_per_worker, ray_address=ray_address, keep_videos=keep_videos, wait=wait,
                       threads=threads, name=name, allow_partial=allow_partial)
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
    from benchmark.merge import merge_runs

    outcome = merge_runs(list(run_dirs), out, log=lambda s: click.echo(s, err=True))
    _print_summary(outcome)
    if outcome.partial_note:
        click.echo(outcome.partial_note, err=True)
    sys.exit(outcome.exit_code)


def _print_summary(outcome) -> None:
    record = outcome.record
    click.echo(f"run: {outcome.run_dir}")
    for name, r in record["results"].items():
        coverage = f"[{r['coverage']}]" if "coverage" in r else ""
        if r["value"] is None:
            why = r.get("error") or (f"n/a: {r['na_reason']}" if r.get("na_reason") else
                                     f"{r['n_failed']} failed, {r['n_na']} n/a" if r.get("n_scored") == 0 else "no value")
            click.echo(f"  {name:12s} —  {coverage} {why}")
        else:
            ci = f"  95% CI [{r['ci95'][0]:.4f}, {r['ci95'][1]:.4f}]" if r["ci95"] else ""
            extra = f"  (ground truth {r['reference_value']:.4f})" if r.get("reference_value") is not None else ""
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
        from benchmark.site import conformed_summary

        click.echo(f"conformed to the clips: {conformed_summary(record)}; each clip's row says how")


def _print_metric_seconds(timings: dict[str, dict]) -> None:
    """One line of mean seconds per clip for each metric (timings are in the rows, not the record)."""
    if timings:
        parts = [f"{v} {t['mean_s']:.3f}" for v, t in timings.items()]
        click.echo(f"  seconds per clip: {', '.join(parts)}")


@cli.command("list")
@click.argument("what", type=click.Choice(["models", "datasets", "metrics"]))
def list_(what: str) -> None:
    """List registered models, datasets or metrics."""
    from adapters import ADAPTERS
    from metrics import METRICS
    from protocols import DATASETS

    registry = {"models": ADAPTERS, "datasets": DATASETS, "metrics": METRICS}[what]
    variants_of = {}
    if what == "metrics":
        for variant, family in registry.variants().items():
            variants_of.setdefault(family, []).append(variant)
    for name in registry.names():
        try:
            obj = registry.get(name)
        except Exception as exc:  # a plugin that fails to import must not hide the others
            click.echo(f"{name:14s} (failed to load: {exc})")
            continue
        if what == "metrics":
            variants = ", ".join([obj.name, *variants_of.get(name, [])])
            direction = {"higher": "higher is better", "lower": "lower is better",
                         "closest-to-ground-truth": "closest to GT"}.get(obj.direction, "not ranked")
            click.echo(f"{name:9s} {direction:17s} {obj.description}\n{'':27s}variants: {variants}\n{'':27s}backend:  {obj.backend}")
        elif what == "datasets":
            click.echo(f"{name:14s} {obj.name}/{obj.version:16s} {obj.description}")
        else:
            click.echo(f"{name:14s} {obj.description}")
    for name, why in registry.refused():  # a plugin whose name was taken: shown, never silently dropped
        click.echo(f"{name:14s} (failed: {why})")
    if what == "datasets":
        from benchmark.paths import data_root
        from protocols.user_videos import prepared_collections

        for collection in prepared_collections(data_root(None)):
            click.echo(f"{'videos:' + collection:14s} prepared here from your videos (bench run --dataset videos:{collection})")


@cli.command()
@click.argument("dataset")
@click.option("--source", type=click.Path(path_type=Path), help="your copy of the corpus (grid, tcd-timit, mead, hdtf)")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--sizes", default="256", show_default=True, help="crop sizes to write, e.g. 256,1024")
@click.option("--workers", default=None, type=click.IntRange(min=1), help="parallel clips (default: CPU count)")
@click.option("--force", is_flag=True, help="rebuild the mini protocol even if present")
@click.option("--name", default=None, help="videos: the name to run it under (--dataset videos:NAME)")
@click.option("--split", "split_file", default=None, type=click.Path(path_type=Path),
              help='videos: JSON {"test": [clip ids]} or CSV clip_id[,split] (default: every clip)')
@click.option("--alignments", default=None, type=click.Path(path_type=Path),
              help="videos, mead, hdtf: folder of <clip id>.TextGrid / .ctm phone alignments, or one .mlf (for bilabial)")
def prepare(dataset, source, data_dir, sizes, workers, force, name, split_file, alignments) -> None:
    """Prepare a protocol's data: `mini` builds itself (~30 s); corpora need --source.

    `bench prepare videos --source DIR --name NAME [--split FILE] [--alignments DIR]` prepares any
    folder of talking-head videos the way GRID is prepared, as the protocol `videos:NAME`.
    Exit status: 0 all prepared, 3 prepared with problems (listed by file), 1 error.
    """
    from tqdm import tqdm

    from benchmark.paths import data_root
    from protocols import DATASETS
    from protocols.user_videos import VideosProtocol, check_name

    extra = {}
    if dataset == "videos":
        protocol = VideosProtocol(data_root(data_dir), check_name(name))
        extra = {"split": split_file, "alignments": alignments}
    else:
        protocol = DATASETS.get(dataset)(data_root(data_dir))
        takes_alignments = isinstance(protocol, VideosProtocol)  # mead, hdtf: videos protocols with a shipped split
        if name or split_file or (alignments and not takes_alignments):
            given = "--name and --split" if takes_alignments else "--name, --split and --alignments"
            raise BenchError(f"{given} are for `bench prepare videos`, not {dataset}",
                             hint=f"bench prepare {dataset} --source DIR" + (" [--alignments DIR]" if takes_alignments else ""))
        if takes_alignments:
            extra = {"alignments": alignments}
    if dataset == "mini":
        if protocol.is_prepared() and not force:
            click.echo(f"{protocol.id} already prepared in {protocol.prepared_dir} (use --force to rebuild)")
            return
        try:
            with tqdm(total=protocol.planned_clips, desc=f"building {protocol.id}", unit="clip") as bar:
                path = protocol.prepare(force=force, progress=lambda _id: bar.update(1))
        except KeyboardInterrupt:
            click.echo(f"interrupted: {protocol.id} was not built (it builds in a temporary folder; nothing half-built is "
                       f"kept{' and the previous build is untouched' if protocol.is_prepared() else ''}). "
                       "Re-run the same command to build it.", err=True)
            sys.exit(130)
        click.echo(f"prepared {protocol.id}: {path} (fingerprint {protocol.fingerprint()[:12]})")
        return
    try:
        size_list = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError:
        raise BenchError(f"--sizes {sizes!r}: expected crop sizes in pixels", hint="e.g. --sizes 256 or --sizes 256,1024") from None
    from protocols.prepare import PrepareInterrupted

    try:
        with tqdm(desc=f"preparing {protocol.id}", unit="clip") as bar:
            def set_total(n: int) -> None:
                bar.total = n
                bar.refresh()

            report = protocol.prepare(source, sizes=size_list, workers=workers, progress=lambda _id: bar.update(1),
                                      on_total=set_total, **extra)
    except PrepareInterrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(130)
    except KeyboardInterrupt:  # before the clips (scanning the source) or after them (writing the manifest)
        click.echo(f"interrupted while scanning the source or writing the manifest of {protocol.id}; clips prepared "
                   "so far are kept. Re-run the same command to resume: prepared clips are reused.", err=True)
        sys.exit(130)
    for problem in report["problems"]:
        click.echo(f"  problem: {problem.file}: {problem.message}", err=True)
    if not report["clips"]:
        n = len(report["problems"])
        raise BenchError(f"no clip of {protocol.id} could be prepared from {source} ({n} problem{'s' * (n != 1)} above)")
    click.echo(f"prepared {protocol.id}: {report['clips']} clips ({report['reused']} already done) in "
               f"{protocol.prepared_dir} (fingerprint {protocol.fingerprint()[:12]})")
    if report["problems"]:
        from protocols.base import describe_partial

        click.echo(f"completed with {len(report['problems'])} problems (listed above; everything else was prepared)", err=True)
        if report["partial"]:
            click.echo(f"{describe_partial(protocol.id, report['partial'])}. The manifest records it as partial: "
                       f"`bench run` on it exits 3 unless --allow-partial", err=True)
        sys.exit(3)


@cli.command()
@click.argument("dataset")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="folder for the pack")
@click.option("--limit", default=None, type=int, help="the same seeded, speaker-stratified subset `bench run --limit N` scores")
@click.option("--subset-seed", default=0, show_default=True, type=int)
@click.option("--audio-rate", default=None, type=int, help="resample the speech to this rate (Hz); default: as prepared")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
def export(dataset, out, limit, subset_seed, audio_rate, data_dir) -> None:
    """A protocol's inputs (identity image, speech, expected frames/fps/size, output name) for a model run elsewhere."""
    from benchmark.export import export_pack
    from benchmark.settings import Settings

    manifest = export_pack(dataset, out, Settings.create(data_dir), limit, subset_seed, audio_rate,
                           log=lambda s: click.echo(s, err=True))
    click.echo(f"exported {manifest['protocol']['n_clips']} clips of {manifest['protocol']['id']} to {out} "
               f"(manifest.csv, manifest.json, README.md)")


@cli.command("export-results")
@click.argument("run_paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="the file to write")
@click.option("--format", "fmt", default=None, type=click.Choice(["csv", "json", "parquet"]),
              help="default: from the file's extension")
@click.option("--complete-only", is_flag=True, help="only complete runs (what tables and the leaderboard rank)")
def export_results_(run_paths, out, fmt, complete_only) -> None:
    """Every run's metrics as one flat table (run x metric, with provenance): csv, json or parquet.

    The same table as `from benchmark import load_runs; load_runs([...])` in Python.
    """
    from benchmark.dataframes import EXPORT_FORMATS, export_results

    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise BenchError(f"{out}: cannot tell the format from its extension", hint="--format csv | json | parquet")
    n = export_results(list(run_paths), out, fmt, complete_only, log=lambda s: click.echo(s, err=True))
    click.echo(f"wrote {n} rows (run x metric) to {out}")


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="output folder (index.html)")
@click.option("--sort", "sort_by", default=None, help="order each protocol's rows by this metric (variant), best first; "
              "the page's headers still sort by any column")
def leaderboard(run_dirs, out, sort_by) -> None:
    """Build the static leaderboard site (index + a page per run) from run directories or folders of them."""
    from benchmark.site import build_site

    index, skipped = build_site(list(run_dirs), out, sort_by)
    for path, reason in skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    click.echo(f"leaderboard: {index.resolve()}")


@cli.command()
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="write the Markdown table here")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
def calibrate(out, data_dir) -> None:
    """Our metrics vs their reference implementations on fixed real inputs, with tolerances."""
    from benchmark.calibration import calibration_rows, render_markdown
    from benchmark.paths import data_root
    from protocols.mini import MiniProtocol

    mini = MiniProtocol(data_root(data_dir))
    mini.prepare()
    rows = calibration_rows(mini)
    table = render_markdown(rows)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(table)
        click.echo(f"wrote {out}")
    else:
        click.echo(table)
    failed = [r for r in rows if not r.ok]
    if failed:
        click.echo(f"{len(failed)} rows outside tolerance", err=True)
        sys.exit(1)


@cli.command()
@click.option("--update", is_flag=True, help="rewrite the golden values from this run (only when a change is intended)")
@click.option("--golden", default=None, type=click.Path(path_type=Path), help="golden file (default results/golden/mini.json)")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--no-progress", is_flag=True, help="no progress bar")
def check(update, golden, data_dir, no_progress) -> None:
    """Regression gate: re-run fixed-seed configurations on mini and compare with golden values.

    Exit status: 0 within every window, 1 drift (listed) or error.
    """
    from benchmark.check import GOLDEN_FILE, run_check

    drifts = run_check(golden or GOLDEN_FILE, update=update, data_dir=data_dir, echo=click.echo,
                       progress=not no_progress)
    if drifts:
        click.echo(f"{len(drifts)} drift(s): " + "; ".join(f"{d.config}/{d.metric}" for d in drifts), err=True)
        click.echo("if the change is intended, rewrite the goldens with `bench check --update` and commit them", err=True)
        sys.exit(1)
    if not update:
        click.echo("all metrics within their golden windows")


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--dataset", "protocol", default=None, help="the protocol of runs named by label (needed when a label has runs on several)")
@click.option("--runs", "run_paths", multiple=True, type=click.Path(path_type=Path), default=[str(DEFAULT_RUNS_DIR)],
              show_default=True, help="where to look up runs named by label (repeatable)")
@click.option("--json", "as_json", is_flag=True)
def compare(run_a, run_b, protocol, run_paths, as_json) -> None:
    """Two runs on the same clips: per-metric A−B with a paired bootstrap 95% interval.

    RUN_A and RUN_B are run folders or run labels (`bench compare my-model still --dataset mini`),
    looked up under --runs: a label's complete run, else its only run."""
    import json

    from benchmark.compare import compare_runs, render_comparison
    from benchmark.selection import resolve_run

    note = lambda s: click.echo(s, err=True)  # noqa: E731
    a, b = (resolve_run(ref, list(run_paths), protocol, log=note) for ref in (run_a, run_b))
    result = compare_runs(a, b)
    click.echo(json.dumps(result, indent=1) if as_json else render_comparison(result))
    for side in ("a", "b"):  # the rendered table says it too; with --json, stderr does
        if as_json and result[f"integrity_{side}"].startswith("MISMATCH"):
            click.echo(f"warning: {result[f'run_{side}']}: {result[f'integrity_{side}']}", err=True)


@cli.command()
@click.option("--weights", "weights_dir", default=None, type=click.Path(path_type=Path), help="weights folder to inspect")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
def weights(weights_dir, data_dir) -> None:
    """Which model weight files are present, which are missing, and where each comes from."""
    from adapters.weights import weights_status
    from benchmark.paths import weights_root

    root = weights_root(weights_dir, data_dir)
    click.echo(f"weights folder: {root}")
    missing = wrong = 0
    for row in weights_status(root):
        if row["state"] == "present":
            click.echo(f"  present  {row['adapter']:13s} {row['path']}  sha256 {row['sha256'][:16]}…")
        elif row["state"] == "wrong-hash":
            wrong += 1
            click.echo(f"  WRONG    {row['adapter']:13s} {row['path']}  sha256 {row['sha256'][:16]}… is not the published "
                       f"{row['expected_sha256'][:16]}… (a run refuses it)\n{'':25s}from: {row['source']}")
        else:
            missing += 1
            click.echo(f"  MISSING  {row['adapter']:13s} {row['path']}\n{'':25s}{row['description']}\n"
                       f"{'':25s}from: {row['source']}\n{'':25s}licence: {row['licence']}")
    from benchmark.perception.user_weights import METRIC_WEIGHTS

    click.echo("metric weights (fan, fan-s3fd, facenet, arcface: optional backends; the other metrics named cannot run without theirs):")
    for name, spec in METRIC_WEIGHTS.items():
        state, digest = spec.status(root)
        if state == "wrong-hash":
            wrong += 1
            click.echo(f"  WRONG    {name:17s} {spec.path(root)}  sha256 {digest[:12]}… is not the published "
                       f"{spec.sha256_prefix}… (the backend refuses it; get the original from {spec.source})")
        else:
            click.echo(f"  {state:8s} {name:17s} {spec.path(root)}  ({spec.source}; {spec.licence})")
    click.echo(f"{missing} model file(s) missing{f', {wrong} file(s) with the wrong sha256' if wrong else ''}. "
               f"Reference adapters (ground-truth, still, folder) need none; "
               f"any model runs without weights as --model-args tiny=1 (random, for testing the pipeline).")


@cli.command()
@click.option("--model", required=True)
@click.option("--model-args", default="", help="adapter options as key=value (tiny=1: the tiny random configuration)")
@click.option("--device", default="cpu", show_default=True)
@click.option("--frames", default=None, type=int, help="frames per timed call (default: the whole mini clip)")
@click.option("--weights", "weights_dir", default=None, type=click.Path(path_type=Path))
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the row as JSON")
@click.option("--save", "save_dir", default="results/profiles", show_default=True, type=click.Path(path_type=Path),
              help="folder for the JSON row (read by `bench table alghamdi2023-5.2`)")
def profile(model, model_args, device, frames, weights_dir, data_dir, as_json, save_dir) -> None:
    """Parameters, output size and generation frames/s of a model (a thesis Table 5.2 row)."""
    import json

    from benchmark.profile import profile_adapter, render

    row = profile_adapter(model, parse_model_args(model_args), device, weights_dir, data_dir, frames)
    click.echo(json.dumps(row, indent=1, default=str) if as_json else render(row))
    if save_dir:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        tiny = "-tiny" if row["config"].get("tiny") else ""
        path = Path(save_dir) / f"{model}{tiny}-{device.replace(':', '')}.json"
        path.write_text(json.dumps(row, indent=1, default=str) + "\n")
        click.echo(f"saved {path}")


@cli.command()
@click.argument("name", required=False)
@click.option("--list", "list_tables", is_flag=True, help="list the tables that can be regenerated")
@click.option("--runs", "run_paths", multiple=True, type=click.Path(path_type=Path), default=[str(DEFAULT_RUNS_DIR)],
              show_default=True, help="run folders to take measured values from (repeatable)")
@click.option("--profiles", "profile_paths", multiple=True, type=click.Path(path_type=Path), default=["results/profiles"],
              show_default=True, help="`bench profile` outputs (Table 5.2)")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "latex"]), default="md", show_default=True)
@click.option("--substitute", multiple=True, help="DATASET=PROTOCOL: put runs of PROTOCOL in DATASET's column (footnoted), "
              "e.g. grid=mini to try the table without the corpus")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="write to this file instead of stdout")
@click.option("--dataset", "protocol", default=None, help="without NAME: a results table of the runs on this protocol "
              "(any, e.g. mini or videos:my-lab): models x metrics with intervals and coverage")
@click.option("--metrics", default=None, help="with --dataset: comma-separated metric variants, in column order "
              "(default: every metric the runs have)")
def table(name, list_tables, run_paths, profile_paths, fmt, substitute, out, protocol, metrics) -> None:
    """A paper table regenerated from runs beside the published numbers, or (--dataset) a results table of
    your runs on any protocol: HTML, LaTeX or Markdown."""
    from benchmark.tables import RENDERERS, TABLES, build_results_table, build_table, load_published

    if name and protocol:
        raise BenchError(f"bench table {name} --dataset {protocol}: a paper table takes its datasets from the paper",
                         hint=f"bench table --dataset {protocol} for a results table, or --substitute DATASET={protocol}")
    if metrics and not protocol:
        raise BenchError("--metrics chooses the columns of a results table", hint="add --dataset PROTOCOL (a paper table has its own columns)")
    note = lambda s: click.echo(s, err=True)  # noqa: E731  (runs that cannot be read, one line each)
    if protocol:
        chosen = [m.strip() for m in (metrics or "").split(",") if m.strip()] or None
        built = build_results_table(list(run_paths), protocol, chosen, log=note)
    elif list_tables or not name:
        published = load_published()
        for key, spec in TABLES.items():
            click.echo(f"{key:18s} {published[spec.key]['source']}")
        click.echo(f"{'--dataset D':18s} your own results table: the runs on protocol D x --metrics, with intervals")
        return
    else:
        subs = dict(part.split("=", 1) for part in substitute if "=" in part)
        built = build_table(name, list(run_paths), subs, list(profile_paths), log=note)
    text = RENDERERS[fmt](built)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


@cli.group()
def speed() -> None:
    """Speed benchmarks: ours vs the reference implementation, measured in one process."""


@speed.command("cpbd")
@click.option("--size", default=256, show_default=True)
@click.option("--frames", default=16, show_default=True)
@click.option("--reference-frames", default=8, show_default=True, help="frames the (slow) reference scores")
@click.option("--device", default="cpu", show_default=True)
def speed_cpbd(size, frames, reference_frames, device) -> None:
    """CPBD: agreement with cpbd-py312 and the per-frame speed-up."""
    from benchmark.speed import cpbd

    cpbd.run(size=size, frames=frames, reference_frames=reference_frames, device=device, echo=click.echo)


@speed.command("suite")
@click.option("--dataset", default="mini", show_default=True)
@click.option("--limit", default=None, type=click.IntRange(min=1), help="clips (default: all of the protocol)")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="torch threads (default: the machine's cores)")
@click.option("--metrics", default=None, help="comma-separated (default: psnr,ssim,lmd,cpbd,blink,bilabial,fid)")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--device", default="cpu", show_default=True, help="the harness's device (the references run as they do)")
def speed_suite(dataset, limit, threads, metrics, data_dir, device) -> None:
    """Every default metric and FID, harness vs reference implementations, per frame pair, values compared."""
    from benchmark.speed.suite import run as run_suite

    names = tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics else None
    run_suite(dataset, limit, data_dir, threads, echo=click.echo, metrics=names, device=device)


@speed.command("memory")
@click.option("--frames", "n_frames", default=1000, show_default=True, type=click.IntRange(min=10),
              help="length of the long clip")
@click.option("--size", "side", default=1080, show_default=True, type=click.IntRange(min=64),
              help="the long clip's output is SIZE x SIZE pixels (resized to the protocol's while decoding)")
@click.option("--metrics", default="psnr,ssim,lmd,cpbd,blink", show_default=True, help="metrics of the long-clip run")
@click.option("--skip-mini", is_flag=True, help="only the long clip (not the mini run with --metrics all)")
def speed_memory(n_frames, side, metrics, skip_mini) -> None:
    """Peak RSS of a mini `--metrics all` run and of scoring one long, large video (each its own process)."""
    from benchmark.speed import memory

    memory.run(n_frames, side, metrics, mini_all=not skip_mini, echo=click.echo)


@speed.command("engine")
@click.option("--model", default="still", show_default=True)
@click.option("--dataset", default="mini", show_default=True)
@click.option("--metrics", default="psnr,ssim,lmd,blink,bilabial", show_default=True)
@click.option("--limit", default=None, type=int, help="clips (default: the whole protocol)")
@click.option("--max-workers", default=2, show_default=True, type=click.IntRange(min=1), help="Ray with 1..N workers")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
def speed_engine(model, dataset, metrics, limit, max_workers, data_dir) -> None:
    """Clips/s of the local executor and Ray with 1..N workers on the same clips, with the ratio."""
    from benchmark.speed import engine

    names = tuple(m.strip() for m in metrics.split(",") if m.strip())
    engine.run(model, dataset, names, limit, max_workers, data_dir, echo=click.echo)


@cli.group(invoke_without_command=True)
@click.option("--model", default=None, help="folder: check its output files (`bench validate --model folder "
              "--model-args dir=... --dataset mini`)")
@click.option("--dataset", default=None, help="the protocol the files are for")
@click.option("--model-args", default="", help="as for bench run, conform options included (resize=, fps=, max_length_diff=)")
@click.option("--model-args-file", default=None, type=click.Path(path_type=Path))
@click.option("--limit", default=None, type=int, help="the clips `bench run --limit N` would score")
@click.option("--subset-seed", default=0, show_default=True, type=int)
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--show", default=20, show_default=True, type=click.IntRange(min=0), help="conformed files listed one by one")
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
            raise BenchError("bench validate needs both --model and --dataset", hint="e.g. bench validate --model folder "
                             "--model-args dir=outputs --dataset mini")
        return
    from benchmark.settings import Settings
    from benchmark.validate_outputs import group_failures, summarize, validate_outputs

    args = {**read_model_args_file(model_args_file), **parse_model_args(model_args)}
    bar = _progress_bar_for("checking files")
    results = validate_outputs(model, args, dataset, Settings.create(data_dir), limit, subset_seed, progress=bar.update,
                               log=lambda s: click.echo(s, err=True))
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
    click.echo(f"{summary['total']} clips: {summary['ok']} ready as they are, {summary['conformed']} to be conformed"
               f"{f' ({kinds})' if kinds else ''}, {summary['failed']} would fail")
    if summary["failed"]:
        sys.exit(1)


def _conformed_text(conformed: dict) -> str:
    parts = []
    if "video_stream" in conformed:
        r = conformed["video_stream"]
        parts.append(f"video stream 0:v:{r['index']} of {r['of']}")
    if "rotated" in conformed:
        r = conformed["rotated"]
        parts.append(f"rotate {r['degrees_counterclockwise']}° counterclockwise {r['from'][0]}x{r['from'][1]} -> "
                     f"{r['to'][0]}x{r['to'][1]} (display matrix)")
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
@click.option("--variants", default="blink,blink-vougioukas,blink-online", show_default=True,
              help="blink variants to score on the same traces")
@click.option("--seed", default=0, show_default=True, type=int, help="seed of the synthesised traces")
@click.option("--clips-per-cell", default=12, show_default=True, type=click.IntRange(min=1))
@click.option("--tolerance", default=2, show_default=True, type=click.IntRange(min=0),
              help="frames a detection may lie outside a true blink and still count")
def validate_blink(variants, seed, clips_per_cell, tolerance) -> None:
    """Blink detectors on synthesised EAR traces: recall and false blinks per minute per depth, duration and noise.

    Exit status 1 if the default `blink` is scored and misses recall >= 0.9 with <= 1 false blink per minute.
    """
    from benchmark.settings import Settings
    from metrics import create_metric, family_of
    from metrics.blink_synthetic import meets_target, render_validation, validate_detectors

    names = [v.strip() for v in variants.split(",") if v.strip()]
    others = [n for n in names if family_of(n) != "blink"]
    if others or not names:
        raise BenchError(f"--variants {variants!r}: {', '.join(others) or 'nothing'} is not a blink variant",
                         hint="e.g. --variants blink,blink-vougioukas,blink-online (`bench list metrics`)")
    settings = Settings.create()
    params = {name: create_metric(name, settings).params for name in names}
    result = validate_detectors(params, seed, clips_per_cell, tolerance)
    click.echo(render_validation(result, seed, clips_per_cell, tolerance), nl=False)
    if "blink" in result.cells and not meets_target(result.overall("blink")):
        sys.exit(1)


def _terminate_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate_as_interrupt)  # `kill`, Slurm pre-emption: stop cleanly, resumable
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns a KeyboardInterrupt escaping a command into Abort
        cause = exc.__cause__
        click.echo(str(cause) if isinstance(cause, Interrupted) else
                   "interrupted (Ctrl-C or SIGTERM); re-run the same command: what was finished is reused", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        click.echo(str(exc) if isinstance(exc, Interrupted) else "interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # python -m benchmark.cli
    main()
