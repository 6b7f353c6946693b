"""Options several commands take with one meaning (`bench run`, `bench features`): written once, so their
names, defaults and help cannot drift apart. Each is a click decorator; applying it makes a new option."""

from __future__ import annotations

from pathlib import Path

import click

DATASET = click.option("--dataset", required=True, help="protocol name (`bench list datasets`)")
METRICS = click.option(
    "--metrics",
    default=None,
    help="comma-separated metric names or variants, or `all` (default: psnr,ssim,lmd,cpbd,blink,bilabial)",
)
LIMIT = click.option("--limit", default=None, type=int, help="a seeded, speaker-stratified subset of N clips")
SUBSET_SEED = click.option("--subset-seed", default=0, show_default=True, type=int, help="seed of the --limit subset")
DEVICE = click.option("--device", default="cpu", show_default=True, help="cpu or cuda")
DATA_DIR = click.option(
    "--data-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="prepared data (default $BENCH_DATA or ~/.cache/talking-head-bench)",
)
LANDMARKS = click.option(
    "--landmarks",
    default=None,
    help="landmark backend for LMD/blink/bilabial/ACD: mediapipe (default), dlib68 "
    "(upsample 1), dlib68-up0 (upsample 0, then 1 where no face), fan (face-alignment's 2DFAN4 on your weights, "
    "boxes from mediapipe) or fan-s3fd (its S3FD detector too)",
)
EMBEDDER = click.option(
    "--embedder",
    default=None,
    help="identity embedder for ACD: dlib-resnet (default), facenet-vggface2 or arcface (your weights)",
)
WEIGHTS = click.option(
    "--weights",
    "weights_dir",
    default=None,
    type=click.Path(path_type=Path),
    help="weights folder (<folder>/<model>/<file>; default $BENCH_WEIGHTS or <data dir>/weights)",
)
SHARD = click.option(
    "--shard",
    default=None,
    help="K/N: only the clips of shard K of N (a stable sha256 of the clip id: every machine agrees); "
    "`bench merge` fuses shard runs",
)
THREADS = click.option(
    "--threads",
    default=None,
    type=click.IntRange(min=1),
    help="torch threads per worker (default: this "
    "machine's cores); CPU results round differently with another count, so it is recorded",
)
NO_PROGRESS = click.option("--no-progress", is_flag=True, help="no progress bar")


def metric_names(metrics: str | None) -> tuple[str, ...]:
    """--metrics as names (the default metrics when not given)."""
    from metrics import DEFAULT_METRICS

    return tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics is not None else DEFAULT_METRICS
