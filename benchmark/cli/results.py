"""`bench export-results`, `bench leaderboard`, `bench compare` and `bench table`: what people read."""

from __future__ import annotations

from pathlib import Path

import click

from benchmark.cli.app import cli
from benchmark.core.errors import BenchError
from benchmark.core.paths import DEFAULT_RUNS_DIR


@cli.command("export-results")
@click.argument("run_paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="the file to write")
@click.option(
    "--format",
    "fmt",
    default=None,
    type=click.Choice(["csv", "json", "parquet"]),
    help="default: from the file's extension",
)
@click.option("--complete-only", is_flag=True, help="only complete runs (what tables and the leaderboard rank)")
def export_results_(run_paths, out, fmt, complete_only) -> None:
    """Every run's metrics as one flat table (run x metric, with provenance): csv, json or parquet.

    The same table as `from benchmark import load_runs; load_runs([...])` in Python.
    """
    from benchmark.reports.frames import EXPORT_FORMATS, export_results

    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise BenchError(f"{out}: cannot tell the format from its extension", hint="--format csv | json | parquet")
    n = export_results(list(run_paths), out, fmt, complete_only, log=lambda s: click.echo(s, err=True))
    click.echo(f"wrote {n} rows (run x metric) to {out}")


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="output folder (index.html)")
@click.option(
    "--sort",
    "sort_by",
    default=None,
    help="order each protocol's rows by this metric (variant), best first; the page's headers still sort by any column",
)
def leaderboard(run_dirs, out, sort_by) -> None:
    """Build the static leaderboard site (index + a page per run) from run directories or folders of them."""
    from benchmark.reports.site import build_site

    index, skipped = build_site(list(run_dirs), out, sort_by)
    for path, reason in skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    click.echo(f"leaderboard: {index.resolve()}")


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option(
    "--dataset",
    "protocol",
    default=None,
    help="the protocol of runs named by label (needed when a label has runs on several)",
)
@click.option(
    "--runs",
    "run_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    default=[str(DEFAULT_RUNS_DIR)],
    show_default=True,
    help="where to look up runs named by label (repeatable)",
)
@click.option("--json", "as_json", is_flag=True)
def compare(run_a, run_b, protocol, run_paths, as_json) -> None:
    """Two runs on the same clips: per-metric A−B with a paired bootstrap 95% interval.

    RUN_A and RUN_B are run folders or run labels (`bench compare my-model still --dataset mini`),
    looked up under --runs: a label's complete run, else its only run."""
    import json

    from benchmark.reports.compare import compare_runs, render_comparison
    from benchmark.reports.selection import resolve_run

    note = lambda s: click.echo(s, err=True)  # noqa: E731
    a, b = (resolve_run(ref, list(run_paths), protocol, log=note) for ref in (run_a, run_b))
    result = compare_runs(a, b)
    click.echo(json.dumps(result, indent=1) if as_json else render_comparison(result))
    for side in ("a", "b"):  # the rendered table says it too; with --json, stderr does
        if as_json and result[f"integrity_{side}"].startswith("MISMATCH"):
            click.echo(f"warning: {result[f'run_{side}']}: {result[f'integrity_{side}']}", err=True)


@cli.command()
@click.argument("name", required=False)
@click.option("--list", "list_tables", is_flag=True, help="list the tables that can be regenerated")
@click.option(
    "--runs",
    "run_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    default=[str(DEFAULT_RUNS_DIR)],
    show_default=True,
    help="run folders to take measured values from (repeatable)",
)
@click.option(
    "--profiles",
    "profile_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    default=["results/profiles"],
    show_default=True,
    help="`bench profile` outputs (Table 5.2)",
)
@click.option("--format", "fmt", type=click.Choice(["md", "html", "latex"]), default="md", show_default=True)
@click.option(
    "--substitute",
    multiple=True,
    help="DATASET=PROTOCOL: put runs of PROTOCOL in DATASET's column (footnoted), "
    "e.g. grid=mini to try the table without the corpus",
)
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="write to this file instead of stdout")
@click.option(
    "--dataset",
    "protocol",
    default=None,
    help="without NAME: a results table of the runs on this protocol "
    "(any, e.g. mini or videos:my-lab): models x metrics with intervals and coverage",
)
@click.option(
    "--metrics",
    default=None,
    help="with --dataset: comma-separated metric variants, in column order (default: every metric the runs have)",
)
def table(name, list_tables, run_paths, profile_paths, fmt, substitute, out, protocol, metrics) -> None:
    """A paper table regenerated from runs beside the published numbers, or (--dataset) a results table of
    your runs on any protocol: HTML, LaTeX or Markdown."""
    from benchmark.reports.tables import RENDERERS, TABLES, build_results_table, build_table, load_published

    if name and protocol:
        raise BenchError(
            f"bench table {name} --dataset {protocol}: a paper table takes its datasets from the paper",
            hint=f"bench table --dataset {protocol} for a results table, or --substitute DATASET={protocol}",
        )
    if metrics and not protocol:
        raise BenchError(
            "--metrics chooses the columns of a results table",
            hint="add --dataset PROTOCOL (a paper table has its own columns)",
        )
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
