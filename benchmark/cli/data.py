"""`bench list`, `bench prepare`, `bench features`, `bench export` and `bench weights`: what is registered,
prepared and present."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from benchmark.cli import options
from benchmark.cli.app import cli
from benchmark.core.errors import BenchError


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
            direction = {
                "higher": "higher is better",
                "lower": "lower is better",
                "closest-to-ground-truth": "closest to GT",
            }.get(obj.direction, "not ranked")
            click.echo(
                f"{name:9s} {direction:17s} {obj.description}\n{'':27s}variants: {variants}\n{'':27s}backend:  {obj.backend}"
            )
        elif what == "datasets":
            click.echo(f"{name:14s} {obj.name}/{obj.version:16s} {obj.description}")
        else:
            click.echo(f"{name:14s} {obj.description}")
    for name, why in registry.refused():  # a plugin whose name was taken: shown, never silently dropped
        click.echo(f"{name:14s} (failed: {why})")
    if what == "datasets":
        from benchmark.core.paths import data_root
        from protocols.user_videos import prepared_collections

        for collection in prepared_collections(data_root(None)):
            click.echo(
                f"{'videos:' + collection:14s} prepared here from your videos (bench run --dataset videos:{collection})"
            )


@cli.command()
@click.argument("dataset")
@click.option("--source", type=click.Path(path_type=Path), help="your copy of the corpus (grid, tcd-timit, mead, hdtf)")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--sizes", default="256", show_default=True, help="crop sizes to write, e.g. 256,1024")
@click.option("--workers", default=None, type=click.IntRange(min=1), help="parallel clips (default: CPU count)")
@click.option("--force", is_flag=True, help="rebuild the mini protocol even if present")
@click.option("--name", default=None, help="videos: the name to run it under (--dataset videos:NAME)")
@click.option(
    "--split",
    "split_file",
    default=None,
    type=click.Path(path_type=Path),
    help='videos: JSON {"test": [clip ids]} or CSV clip_id[,split] (default: every clip)',
)
@click.option(
    "--alignments",
    default=None,
    type=click.Path(path_type=Path),
    help="videos, mead, hdtf: folder of <clip id>.TextGrid / .ctm phone alignments, or one .mlf (for bilabial)",
)
def prepare(dataset, source, data_dir, sizes, workers, force, name, split_file, alignments) -> None:
    """Prepare a protocol's data: `mini` builds itself (~30 s); corpora need --source.

    `bench prepare videos --source DIR --name NAME [--split FILE] [--alignments DIR]` prepares any
    folder of talking-head videos the way GRID is prepared, as the protocol `videos:NAME`.
    Exit status: 0 all prepared, 3 prepared with problems (listed by file), 1 error.
    """
    from tqdm import tqdm

    from benchmark.core.paths import data_root
    from protocols import DATASETS, open_dataset
    from protocols.prepare import PrepareInterrupted

    DATASETS.get(dataset.partition(":")[0]).refuse_options(name=name, split=split_file, alignments=alignments)
    protocol = open_dataset(dataset, data_root(data_dir), collection=name)
    if protocol.builds_itself and protocol.is_prepared() and not force:
        click.echo(f"{protocol.id} already prepared in {protocol.prepared_dir} (use --force to rebuild)")
        return
    try:
        size_list = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError:
        raise BenchError(
            f"--sizes {sizes!r}: expected crop sizes in pixels", hint="e.g. --sizes 256 or --sizes 256,1024"
        ) from None
    try:
        with tqdm(desc=f"{'building' if protocol.builds_itself else 'preparing'} {protocol.id}", unit="clip") as bar:

            def set_total(n: int) -> None:
                bar.total = n
                bar.refresh()

            report = protocol.prepare(
                source,
                sizes=size_list,
                workers=workers,
                force=force,
                progress=lambda _id: bar.update(1),
                on_total=set_total,
                split=split_file,
                alignments=alignments,
            )
    except PrepareInterrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(130)
    except KeyboardInterrupt:  # before the clips (scanning the source) or after them (writing the manifest)
        click.echo(
            f"interrupted while scanning the source or writing the manifest of {protocol.id}; clips prepared "
            "so far are kept. Re-run the same command to resume: prepared clips are reused.",
            err=True,
        )
        sys.exit(130)
    if protocol.builds_itself:
        click.echo(f"prepared {protocol.id}: {report.folder} (fingerprint {protocol.fingerprint()[:12]})")
        return
    for problem in report.problems:
        click.echo(f"  problem: {problem.file}: {problem.message}", err=True)
    if not report.clips:
        n = len(report.problems)
        raise BenchError(
            f"no clip of {protocol.id} could be prepared from {source} ({n} problem{'s' * (n != 1)} above)"
        )
    click.echo(
        f"prepared {protocol.id}: {report.clips} clips ({report.reused} already done) in "
        f"{protocol.prepared_dir} (fingerprint {protocol.fingerprint()[:12]})"
    )
    if report.problems:
        from protocols.base import describe_partial

        click.echo(
            f"completed with {len(report.problems)} problems (listed above; everything else was prepared)", err=True
        )
        if report.partial:
            click.echo(
                f"{describe_partial(protocol.id, report.partial)}. The manifest records it as partial: "
                f"`bench run` on it exits 3 unless --allow-partial",
                err=True,
            )
        sys.exit(3)


@cli.command()
@options.DATASET
@options.METRICS
@options.SHARD
@options.LIMIT
@options.SUBSET_SEED
@options.DEVICE
@options.DATA_DIR
@options.WEIGHTS
@options.LANDMARKS
@options.EMBEDDER
@options.THREADS
@options.NO_PROGRESS
def features(
    dataset,
    metrics,
    shard,
    limit,
    subset_seed,
    device,
    data_dir,
    weights_dir,
    landmarks,
    embedder,
    threads,
    no_progress,
) -> None:
    """Compute the ground truth's features once, ahead of the runs that read them (landmarks, Inception,
    I3D, embeddings, VAD), cached beside the prepared protocol.

    Sharded like a run (--shard K/N on N machines, none computes a clip twice) and resumable (re-run the
    same command: finished clips are skipped). Exit status: 0 every clip done, 3 some clips failed (tried
    again next time), 130 interrupted, 1 error.
    """
    from benchmark.core.settings import Settings
    from benchmark.engine.plan import parse_shard
    from benchmark.engine.reference_pass import reference_pass
    from benchmark.engine.runner import check_device

    check_device(device)
    names = options.metric_names(metrics)
    settings = Settings.create(data_dir, weights_dir, device, landmarks, embedder, threads=threads)
    settings.apply_to_torch()
    outcome = reference_pass(
        dataset,
        names,
        settings,
        shard=parse_shard(shard),
        limit=limit,
        subset_seed=subset_seed,
        progress=not no_progress,
        log=lambda s: click.echo(s, err=True),
    )
    if outcome.left_out:
        click.echo(f"nothing to prepare for {', '.join(outcome.left_out)} (no ground-truth feature kept on disk)")
    if outcome.log_dir is None:
        return
    click.echo(
        f"ground-truth features of {', '.join(outcome.metrics)}: {outcome.done} clips done now, "
        f"{outcome.already} done before, {len(outcome.failed)} failed, of {outcome.clips}; "
        f"{outcome.computed} features computed in {outcome.seconds:.1f} s (log: {outcome.log_dir})"
    )
    for clip_id, why in list(outcome.failed.items())[:5]:
        click.echo(f"  failed {clip_id}: {why}", err=True)
    if outcome.interrupted:
        click.echo("interrupted: finished clips are kept; re-run the same command to resume", err=True)
    sys.exit(outcome.exit_code)


@cli.command()
@click.argument("dataset")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="folder for the pack")
@click.option(
    "--limit", default=None, type=int, help="the same seeded, speaker-stratified subset `bench run --limit N` scores"
)
@click.option("--subset-seed", default=0, show_default=True, type=int)
@click.option(
    "--audio-rate", default=None, type=int, help="resample the speech to this rate (Hz); default: as prepared"
)
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
def export(dataset, out, limit, subset_seed, audio_rate, data_dir) -> None:
    """A protocol's inputs (identity image, speech, expected frames/fps/size, output name) for a model run elsewhere."""
    from benchmark.engine.export import export_pack
    from benchmark.core.settings import Settings

    manifest = export_pack(
        dataset, out, Settings.create(data_dir), limit, subset_seed, audio_rate, log=lambda s: click.echo(s, err=True)
    )
    click.echo(
        f"exported {manifest['protocol']['n_clips']} clips of {manifest['protocol']['id']} to {out} "
        f"(manifest.csv, manifest.json, README.md)"
    )


@cli.command()
@click.option(
    "--weights", "weights_dir", default=None, type=click.Path(path_type=Path), help="weights folder to inspect"
)
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
def weights(weights_dir, data_dir) -> None:
    """Which model weight files are present, which are missing, and where each comes from."""
    from adapters.weights import weights_status
    from benchmark.core.paths import weights_root

    root = weights_root(weights_dir, data_dir)
    click.echo(f"weights folder: {root}")
    missing = wrong = 0
    for row in weights_status(root):
        if row["state"] == "present":
            click.echo(f"  present  {row['adapter']:13s} {row['path']}  sha256 {row['sha256'][:16]}…")
        elif row["state"] == "wrong-hash":
            wrong += 1
            click.echo(
                f"  WRONG    {row['adapter']:13s} {row['path']}  sha256 {row['sha256'][:16]}… is not the published "
                f"{row['expected_sha256'][:16]}… (a run refuses it)\n{'':25s}from: {row['source']}"
            )
        else:
            missing += 1
            click.echo(
                f"  MISSING  {row['adapter']:13s} {row['path']}\n{'':25s}{row['description']}\n"
                f"{'':25s}from: {row['source']}\n{'':25s}licence: {row['licence']}"
            )
    from benchmark.perception.user_weights import METRIC_WEIGHTS

    click.echo(
        "metric weights (fan, fan-s3fd, facenet, arcface: optional backends; the other metrics named cannot run without theirs):"
    )
    for name, spec in METRIC_WEIGHTS.items():
        state, digest = spec.status(root)
        if state == "wrong-hash":
            wrong += 1
            click.echo(
                f"  WRONG    {name:17s} {spec.path(root)}  sha256 {digest[:12]}… is not the published "
                f"{spec.sha256_prefix}… (the backend refuses it; get the original from {spec.source})"
            )
        else:
            click.echo(f"  {state:8s} {name:17s} {spec.path(root)}  ({spec.source}; {spec.licence})")
    click.echo(
        f"{missing} model file(s) missing{f', {wrong} file(s) with the wrong sha256' if wrong else ''}. "
        f"Reference adapters (ground-truth, still, folder) need none; "
        f"any model runs without weights as --model-args tiny=1 (random, for testing the pipeline)."
    )
