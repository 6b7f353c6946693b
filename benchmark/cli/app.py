"""The `bench` command group and what every command shares: model-args parsing, one-line errors, exit statuses."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from benchmark.core.errors import BenchError, Interrupted


def read_model_args_file(path: Path | None) -> dict:
    """One key=value per line, the value verbatim (commas, quotes, spaces); blank lines and # comments skipped."""
    out: dict[str, str] = {}
    if path is None:
        return out
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(
            f"--model-args-file {path}: cannot be read ({exc})", hint="a text file, one key=value per line"
        ) from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BenchError(
                f"--model-args-file {path}:{number}: {line.strip()!r} is not key=value",
                hint="one key=value per line, e.g. run=python inference.py --out {output}",
            )
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


def _terminate_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate_as_interrupt)  # `kill`, Slurm pre-emption: stop cleanly, resumable
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns a KeyboardInterrupt escaping a command into Abort
        cause = exc.__cause__
        click.echo(
            str(cause)
            if isinstance(cause, Interrupted)
            else "interrupted (Ctrl-C or SIGTERM); re-run the same command: what was finished is reused",
            err=True,
        )
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
