"""`bench`: run benchmarks, prepare protocols, list what is registered, build leaderboards.

One module per command group; importing this package registers them all on `cli`:
runs (run, merge, validate), data (list, prepare, export, weights), results (export-results,
leaderboard, compare, table), gates (check, calibrate), measure (profile, speed).
"""

from benchmark.cli import data, gates, measure, results, runs  # noqa: F401  (each registers its commands)
from benchmark.cli.app import cli, main, parse_model_args, read_model_args_file
from benchmark.cli.runs import _conformed_text, _print_metric_seconds

__all__ = ["cli", "main", "parse_model_args", "read_model_args_file", "_conformed_text", "_print_metric_seconds"]
