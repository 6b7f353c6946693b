"""`bench check` and `bench calibrate`: regression windows on fixed seeds, and agreement with reference implementations."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from benchmark.cli.app import cli


@cli.command()
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="write the Markdown table here")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
def calibrate(out, data_dir) -> None:
    """Our metrics vs their reference implementations on fixed real inputs, with tolerances."""
    from benchmark.tools.calibration import calibration_rows, render_markdown
    from benchmark.core.paths import data_root
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
@click.option(
    "--golden", default=None, type=click.Path(path_type=Path), help="golden file (default results/golden/mini.json)"
)
@click.option("--data-dir", default=None, type=click.Path(path_type=Path))
@click.option("--no-progress", is_flag=True, help="no progress bar")
def check(update, golden, data_dir, no_progress) -> None:
    """Regression gate: re-run fixed-seed configurations on mini and compare with golden values.

    Exit status: 0 within every window, 1 drift (listed) or error.
    """
    from benchmark.engine.check import GOLDEN_FILE, run_check

    drifts = run_check(
        golden or GOLDEN_FILE, update=update, data_dir=data_dir, echo=click.echo, progress=not no_progress
    )
    if drifts:
        click.echo(f"{len(drifts)} drift(s): " + "; ".join(f"{d.config}/{d.metric}" for d in drifts), err=True)
        click.echo(
            "if the change is intended, rewrite the goldens with `bench check --update` and commit them", err=True
        )
        sys.exit(1)
    if not update:
        click.echo("all metrics within their golden windows")
