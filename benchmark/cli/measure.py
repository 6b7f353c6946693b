"""`bench profile` and `bench speed ...`: figures about adapters and the harness itself."""

from __future__ import annotations

from pathlib import Path

import click

from benchmark.cli.app import cli, parse_model_args


@cli.command()
@click.option("--model", required=True)
@click.option("--model-args", default="", help="adapter options as key=value (tiny=1: the tiny random configuration)")
@click.option("--device", default="cpu", show_default=True)
@click.option("--frames", default=None, type=int, help="frames per timed call (default: the whole mini clip)")
@click.option("--weights", "weights_dir", default=None, type=click.Path(path_type=Path))
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the row as JSON")
@click.option(
    "--save",
    "save_dir",
    default="results/profiles",
    show_default=True,
    type=click.Path(path_type=Path),
    help="folder for the JSON row (read by `bench table alghamdi2023-5.2`)",
)
def profile(model, model_args, device, frames, weights_dir, data_dir, as_json, save_dir) -> None:
    """Parameters, output size and generation frames/s of a model (a thesis Table 5.2 row)."""
    import json

    from benchmark.tools.profile import profile_adapter, render

    row = profile_adapter(model, parse_model_args(model_args), device, weights_dir, data_dir, frames)
    click.echo(json.dumps(row, indent=1, default=str) if as_json else render(row))
    if save_dir:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        tiny = "-tiny" if row["config"].get("tiny") else ""
        path = Path(save_dir) / f"{model}{tiny}-{device.replace(':', '')}.json"
        path.write_text(json.dumps(row, indent=1, default=str) + "\n")
        click.echo(f"saved {path}")


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
    from benchmark.tools.speed import cpbd

    cpbd.run(size=size, frames=frames, reference_frames=reference_frames, device=device, echo=click.echo)


@speed.command("suite")
@click.option("--dataset", default="mini", show_default=True)
@click.option("--limit", default=None, type=click.IntRange(min=1), help="clips (default: all of the protocol)")
@click.option(
    "--threads", default=None, type=click.IntRange(min=1), help="torch threads (default: the machine's cores)"
)
@click.option(
    "--metrics",
    default=None,
    help="comma-separated, groups too (motion); default: psnr,ssim,lmd,cpbd,blink,bilabial,fid",
)
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--device", default="cpu", show_default=True, help="the harness's device (the references run as they do)")
def speed_suite(dataset, limit, threads, metrics, data_dir, device) -> None:
    """Every default metric and FID, harness vs reference implementations, per frame pair, values compared."""
    from benchmark.tools.speed.suite import run as run_suite

    names = tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics else None
    run_suite(dataset, limit, data_dir, threads, echo=click.echo, metrics=names, device=device)


@speed.command("memory")
@click.option(
    "--frames", "n_frames", default=1000, show_default=True, type=click.IntRange(min=10), help="length of the long clip"
)
@click.option(
    "--size",
    "side",
    default=1080,
    show_default=True,
    type=click.IntRange(min=64),
    help="the long clip's output is SIZE x SIZE pixels (resized to the protocol's while decoding)",
)
@click.option("--metrics", default="psnr,ssim,lmd,cpbd,blink", show_default=True, help="metrics of the long-clip run")
@click.option("--skip-mini", is_flag=True, help="only the long clip (not the mini run with --metrics all)")
def speed_memory(n_frames, side, metrics, skip_mini) -> None:
    """Peak RSS of a mini `--metrics all` run and of scoring one long, large video (each its own process)."""
    from benchmark.tools.speed import memory

    memory.run(n_frames, side, metrics, mini_all=not skip_mini, echo=click.echo)


@speed.command("engine")
@click.option("--model", default="still", show_default=True)
@click.option("--dataset", default="mini", show_default=True)
@click.option("--metrics", default="psnr,ssim,lmd,blink,bilabial", show_default=True)
@click.option("--limit", default=None, type=int, help="clips (default: the whole protocol)")
@click.option("--max-workers", default=2, show_default=True, type=click.IntRange(min=1), help="Ray with 1..N workers")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option(
    "--clips",
    default=None,
    type=click.IntRange(min=10),
    help="measure the engine at scale instead: N synthetic clips with psnr (plan, overhead per clip, resume, "
    "reduce, merge of --shards shards, a --runs-run leaderboard, peak RSS from 1000 to N), beside their targets",
)
@click.option("--shards", default=64, show_default=True, type=click.IntRange(min=2), help="with --clips")
@click.option("--runs", default=20, show_default=True, type=click.IntRange(min=1), help="with --clips")
def speed_engine(model, dataset, metrics, limit, max_workers, data_dir, clips, shards, runs) -> None:
    """Clips/s of the local executor and Ray with 1..N workers on the same clips, with the ratio; with
    --clips N, the engine's own costs on a synthetic protocol of N clips (GRID unseen-10 is ~10,000)."""
    if clips:
        from benchmark.reports.frames import load_clips, load_runs
        from benchmark.reports.site import build_site
        from benchmark.reports.tables import build_results_table
        from benchmark.tools.speed import scale

        reports = {
            "build_site": build_site,
            "load_runs": load_runs,
            "load_clips": load_clips,
            "results_table": build_results_table,
        }
        scale.run(
            clips,
            small=min(1000, clips),
            shards=shards,
            runs=runs,
            model=model,
            data_dir=data_dir,
            reports=reports,
            echo=click.echo,
        )
        return
    from benchmark.tools.speed import engine

    names = tuple(m.strip() for m in metrics.split(",") if m.strip())
    engine.run(model, dataset, names, limit, max_workers, data_dir, echo=click.echo)
