"""`bench check`: regression gates on fixed seeds (MLPerf-style two-sided windows per metric).

Each configuration in the golden file (mini protocol; reference adapters and the tiny adapter
configurations) is re-run from scratch and every metric compared with its golden value. A value
outside its window, or a metric whose parameters or backend changed, is drift: the command
prints a readable diff naming the configuration and metric and exits non-zero. Goldens are only
rewritten by `bench check --update`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import BenchError
from benchmark.core.records import read_json, write_json_atomic

GOLDEN_FILE = Path("results") / "golden" / "mini.json"
GOLDEN_VERSION = 1

# absolute half-widths of the two-sided windows, per metric family: wide enough for float
# differences between machines and BLAS builds, far narrower than any real change
DEFAULT_WINDOWS = {
    "psnr": 0.05,
    "ssim": 0.001,
    "lmd": 0.02,
    "cpbd": 0.002,
    "blink": 0.005,
    "bilabial": 0.01,
    "fid": 0.05,
    "kid": 0.001,
    "acd": 0.0005,
}

LANDMARK_SET = ["psnr", "ssim", "lmd", "cpbd", "blink", "bilabial"]
PIXEL_SET = ["psnr", "ssim", "cpbd"]  # tiny random models draw no face: landmark metrics would fail by design

DEFAULT_CONFIGS = [
    {"name": "ground-truth", "model": "ground-truth", "model_args": {}, "metrics": LANDMARK_SET},
    {"name": "still", "model": "still", "model_args": {}, "metrics": LANDMARK_SET},
    {"name": "ours-tiny", "model": "ours", "model_args": {"tiny": "1"}, "metrics": PIXEL_SET},
    {"name": "wav2lip-tiny", "model": "wav2lip", "model_args": {"tiny": "1"}, "metrics": PIXEL_SET},
    {
        "name": "mocogan-hd-tiny",
        "model": "mocogan-hd",
        "model_args": {"tiny": "1", "project_steps": "3"},
        "metrics": PIXEL_SET,
    },
    {"name": "man-tiny", "model": "man", "model_args": {"tiny": "1"}, "metrics": PIXEL_SET},
    {"name": "man-keypoint-tiny", "model": "man-keypoint", "model_args": {"tiny": "1"}, "metrics": PIXEL_SET},
]
CHECK_LIMIT, CHECK_SEED, DATASET = 3, 0, "mini"


@dataclass
class Drift:
    config: str
    metric: str
    message: str


def run_config(config: dict, runs_dir: Path, data_dir: Path | None) -> dict:
    from benchmark.engine.runner import RunConfig, Runner

    cfg = RunConfig(
        model=config["model"],
        dataset=DATASET,
        metrics=tuple(config["metrics"]),
        model_args=dict(config["model_args"]),
        seed=CHECK_SEED,
        limit=CHECK_LIMIT,
        runs_dir=runs_dir,
        data_dir=data_dir,
    )
    outcome = Runner(cfg, progress=False, log=lambda s: None).run()
    if outcome.record is None or outcome.n_failed:
        failures = (outcome.record or {}).get("failures", [])
        raise BenchError(f"bench check: configuration {config['name']!r} did not score all clips: {failures}")
    return outcome.record


def measured(config: dict, record: dict) -> dict:
    specs = {s["variant"]: s for s in record["metrics"]}
    out = {}
    for variant in config["metrics"]:
        family = specs[variant]["name"]
        out[variant] = {
            "value": record["results"][variant]["value"],
            "window": DEFAULT_WINDOWS.get(family, 1e-3),
            "params": specs[variant]["params"],
            "backend": specs[variant]["backend"],
        }
    return out


def compare_to_golden(name: str, golden: dict, now: dict) -> list[Drift]:
    drifts = []
    for variant, gold in golden.items():
        if variant not in now:
            drifts.append(Drift(name, variant, "no longer measured"))
            continue
        cur = now[variant]
        changed = {
            k: (gold["params"].get(k), cur["params"].get(k))
            for k in set(gold["params"]) | set(cur["params"])
            if gold["params"].get(k) != cur["params"].get(k)
        }
        if changed:
            what = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
            drifts.append(Drift(name, variant, f"parameters changed ({what})"))
        if gold["backend"] != cur["backend"]:
            drifts.append(Drift(name, variant, f"backend changed ({gold['backend']!r} -> {cur['backend']!r})"))
        g, v, w = gold["value"], cur["value"], gold["window"]
        if (g is None) != (v is None) or (g is not None and abs(v - g) > w):
            drifts.append(
                Drift(
                    name,
                    variant,
                    f"value {v!r} outside [{g - w:.6g}, {g + w:.6g}] (golden {g!r} ± {w:g})"
                    if g is not None and v is not None
                    else f"value {v!r}, golden {g!r}",
                )
            )
    return drifts


def run_check(
    golden_path: Path = GOLDEN_FILE,
    update: bool = False,
    data_dir: Path | None = None,
    configs: list[dict] | None = None,
    echo=print,
    progress: bool = False,
) -> list[Drift]:
    """Re-run every configuration; return the drifts (and rewrite the goldens only if `update`)."""
    golden_path = Path(golden_path)
    if update:
        configs = configs or (read_json(golden_path)["configs"] if golden_path.exists() else DEFAULT_CONFIGS)
    else:
        if not golden_path.exists():
            raise BenchError(f"no golden values at {golden_path}", hint="create them with `bench check --update`")
        stored = read_json(golden_path)
        if stored.get("version") != GOLDEN_VERSION:
            raise BenchError(
                f"{golden_path}: golden format {stored.get('version')!r}, this harness reads {GOLDEN_VERSION}",
                hint="regenerate with `bench check --update`",
            )
        configs = configs or stored["configs"]
    drifts, new_configs = [], []
    bar = _progress(len(configs), progress)
    if progress:
        echo = bar.write  # lines above the bar, not through it
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        for config in configs:
            bar.set_postfix_str(config["name"])
            echo(
                f"checking {config['name']} ({config['model']} {config['model_args'] or ''} on {DATASET}, "
                f"{CHECK_LIMIT} clips, seed {CHECK_SEED})"
            )
            now = measured(config, run_config(config, Path(tmp), data_dir))
            if update:
                new_configs.append({k: config[k] for k in ("name", "model", "model_args", "metrics")} | {"golden": now})
                continue
            found = compare_to_golden(config["name"], config["golden"], now)
            for d in found:
                echo(f"  DRIFT {d.config} / {d.metric}: {d.message}")
            if not found:
                values = ", ".join(f"{k} {v['value']:.4f}" for k, v in now.items() if v["value"] is not None)
                echo(f"  ok: {values}")
            drifts += found
            bar.update(1)
    bar.close()
    if update:
        golden_path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            golden_path,
            {
                "version": GOLDEN_VERSION,
                "dataset": DATASET,
                "limit": CHECK_LIMIT,
                "seed": CHECK_SEED,
                "configs": new_configs,
            },
        )
        echo(f"wrote {golden_path}")
    return drifts


def _progress(total: int, enabled: bool):
    """A bar with ETA over the configurations (on stderr), or a silent stand-in."""
    from tqdm import tqdm

    return tqdm(total=total, desc="bench check", unit="config", disable=not enabled, dynamic_ncols=True)
