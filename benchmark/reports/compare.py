"""Paired comparison of two runs on the same clips: per-metric difference with a paired bootstrap.

Pairing matters: clips differ far more from each other than two models differ on one clip, so
resampling the *same* clips for both runs gives much tighter, honest intervals than comparing two
independent confidence intervals. Metrics pooled over the protocol (blink rate, the bilabial
score) are recomputed from the resampled sums of their counts with the run's own formula (a
ratio, or a mean of ratios); metrics with no per-clip value (FID, KID) get the difference of the
run values without an interval. A metric whose best is the ground truth's value (CPBD, blink
rate) is never "better" for being higher: against the ground-truth run the difference is the
distance to it, and between two models the one closer to the ground truth's recorded value is named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.reports.frames import REFERENCE_ADAPTERS
from benchmark.core.errors import BenchError
from benchmark.reports.ranking import CLOSEST, HIGHER, LOWER
from benchmark.core.records import MISMATCH, integrity_of, load_record, load_rows, run_label
from benchmark.core.stats import BOOTSTRAP_RESAMPLES, percentile_interval, resampled_sums


def _pooled_state(spec: dict):
    """The metric's pooled aggregate (ratios of sums) as the run recorded it, or None for any other
    aggregation, or for a metric not installed here (a plugin's): its clip values are then paired."""
    from metrics import recorded_metric
    from metrics.aggregation import Pooled

    try:
        aggregation = recorded_metric(spec).aggregation
    except (
        BenchError,
        ImportError,
        ValueError,
    ):  # an unknown name or parameter value, a plugin that does not load here
        return None
    return aggregation.new_state() if isinstance(aggregation, Pooled) else None


def load_run(run_dir: Path) -> tuple[dict, list[dict]]:
    """A run's record and its clip rows, read and checked (the default `load` of the functions below)."""
    record = load_record(run_dir)
    return record, load_rows(run_dir, record)


def paired_rows(run_a: Path, run_b: Path, load=load_run) -> tuple[dict, dict, list[str]]:
    """`load(run_dir) -> (record, rows)`: a site building many pages passes one that reads each run once."""
    (record_a, rows_a), (record_b, rows_b) = load(run_a), load(run_b)
    ok_a = {r["clip_id"]: r for r in rows_a if r["status"] == "ok"}
    ok_b = {r["clip_id"]: r for r in rows_b if r["status"] == "ok"}
    common = sorted(c for c in ok_a.keys() & ok_b.keys() if ok_a[c]["clip_fingerprint"] == ok_b[c]["clip_fingerprint"])
    if not common:
        raise BenchError(
            f"{run_a} and {run_b} share no scored clip (same clip id and fingerprint)",
            hint="compare two runs of the same protocol version",
        )
    return (
        {"record": record_a, "rows": [ok_a[c] for c in common]},
        {"record": record_b, "rows": [ok_b[c] for c in common]},
        common,
    )


def _both(ra: dict, rb: dict, variant: str) -> bool:
    return ra["metrics"].get(variant) is not None and rb["metrics"].get(variant) is not None


def compare_runs(run_a: Path, run_b: Path, resamples: int = BOOTSTRAP_RESAMPLES, load=load_run) -> dict:
    a, b, clips = paired_rows(run_a, run_b, load)
    specs_a = {s["variant"]: s for s in a["record"]["metrics"]}
    specs_b = {s["variant"]: s for s in b["record"]["metrics"]}
    out = []
    for variant in [v for v in specs_a if v in specs_b]:
        spec = specs_a[variant]
        entry = {
            "metric": variant,
            "direction": spec["direction"],
            "unit": spec.get("unit", ""),
            "same_spec": spec["params"] == specs_b[variant]["params"]
            and spec["backend"] == specs_b[variant]["backend"],
        }
        pooled = _pooled_state(spec)
        # rows written by an older version of the metric may lack some counts: then no pooled pairing
        if pooled is not None and all(
            set(pooled.primary_keys()) <= set(r["pooled"].get(variant, {})) for r in a["rows"] + b["rows"]
        ):
            # the run's own formula (a ratio, or a mean of ratios) on the summed and the resampled counts
            ca, cb = (
                {k: np.array([r["pooled"][variant].get(k, 0.0) for r in side["rows"]]) for k in pooled.primary_keys()}
                for side in (a, b)
            )
            va, vb = (float(pooled.evaluate({k: v.sum() for k, v in c.items()})) for c in (ca, cb))
            if not (np.isfinite(va) and np.isfinite(vb)):
                continue
            sums = resampled_sums(
                {**{("a", k): v for k, v in ca.items()}, **{("b", k): v for k, v in cb.items()}}, resamples
            )
            ba, bb = (pooled.evaluate({k: sums[(side, k)] for k in c}) for side, c in (("a", ca), ("b", cb)))
            keep = np.isfinite(ba) & np.isfinite(bb)
            boots = ba[keep] - bb[keep]
            entry.update(kind="pooled ratio" if pooled.primary in pooled.ratios else "pooled mean of ratios")
        elif any(_both(ra, rb, variant) for ra, rb in zip(a["rows"], b["rows"])):
            # paired on the clips this metric scored in both runs (per-metric coverage)
            pairs = [
                (ra["metrics"][variant], rb["metrics"][variant])
                for ra, rb in zip(a["rows"], b["rows"])
                if _both(ra, rb, variant)
            ]
            xa, xb = (np.array(side, dtype=np.float64) for side in zip(*pairs))
            va, vb = xa.mean(), xb.mean()
            boots = resampled_sums({"d": xa - xb}, resamples)["d"] / len(pairs) if len(pairs) > 1 else None
            entry.update(kind="mean over clips", n=len(pairs))
        else:
            va, vb = a["record"]["results"][variant]["value"], b["record"]["results"][variant]["value"]
            if va is None or vb is None:
                continue
            boots = None
            entry.update(kind="run value (no per-clip pairing)")
        diff = float(va - vb)
        ci = percentile_interval(boots) if boots is not None and len(clips) > 1 else None
        better = None
        if ci is not None and (ci[0] > 0 or ci[1] < 0) and spec["direction"] in (HIGHER, LOWER):
            better = "A" if (diff > 0) == (spec["direction"] == HIGHER) else "B"
        entry.update(a=float(va), b=float(vb), diff=diff, ci95=ci, better=better, **_closeness(spec, a, b, variant))
        out.append(entry)
    return {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "label_a": run_label(a["record"]),
        "label_b": run_label(b["record"]),
        "model_a": a["record"]["adapter"]["name"],
        "model_b": b["record"]["adapter"]["name"],
        "n_clips": len(clips),
        "resamples": resamples,
        "metrics": out,
        "integrity_a": integrity_of(a["record"]),
        "integrity_b": integrity_of(b["record"]),
    }


def _closeness(spec: dict, a: dict, b: dict, variant: str) -> dict:
    """For a metric whose best is the ground truth's value: which side is the ground truth, or which is
    closer to the ground truth's value each run recorded (point values; no interval)."""
    if spec["direction"] != CLOSEST:
        return {}
    sides = {"A": a["record"], "B": b["record"]}
    truth = [side for side, record in sides.items() if record["adapter"]["name"] == REFERENCE_ADAPTERS[0]]
    if truth:
        return {"ground_truth_side": truth[0]}
    values = {side: (record["results"].get(variant) or {}) for side, record in sides.items()}
    if all(v.get("value") is not None and v.get("reference_value") is not None for v in values.values()):
        distance = {side: abs(v["value"] - v["reference_value"]) for side, v in values.items()}
        if distance["A"] != distance["B"]:
            return {"closer": min(distance, key=distance.get), "distance": distance}
    return {}


def verdict(m: dict, name_a: str = "A", name_b: str = "B") -> str:
    """What one compared metric says, in words; never "better" for a metric whose best is the ground truth's value."""
    differs = bool(m["ci95"]) and (m["ci95"][0] > 0 or m["ci95"][1] < 0)
    if m["better"]:
        return f"{name_a if m['better'] == 'A' else name_b} better"
    if m.get("ground_truth_side"):
        truth = name_a if m["ground_truth_side"] == "A" else name_b
        return f"{'differs from' if differs else 'no clear difference from'} the ground truth ({truth}): closest to it is best"
    if m.get("closer"):
        d = m["distance"]
        return (
            f"{name_a if m['closer'] == 'A' else name_b} closer to the ground truth's value "
            f"(|A−GT| {d['A']:.4f}, |B−GT| {d['B']:.4f}; point values)"
        )
    if m["direction"] in (CLOSEST, "none") and differs:
        return "differs (compare each to the ground truth)"
    return "no clear difference" if m["ci95"] else ""


def _who(result: dict, side: str) -> str:
    label, model = result[f"label_{side}"], result[f"model_{side}"]
    return f"{label}{'' if label == model else f' ({model})'}, {result[f'run_{side}']}"


def render_comparison(result: dict) -> str:
    lines = [
        f"A = {_who(result, 'a')}",
        f"B = {_who(result, 'b')}",
        f"{result['n_clips']} paired clips, {result['resamples']} paired bootstrap resamples",
        f"{'metric':14s} {'A':>10s} {'B':>10s} {'A-B':>10s}  {'95% CI of A-B':24s} verdict",
    ]
    for m in result["metrics"]:
        ci = f"[{m['ci95'][0]:+.4f}, {m['ci95'][1]:+.4f}]" if m["ci95"] else "(no interval)"
        flag = "" if m["same_spec"] else "  (!) different metric parameters or backend"
        lines.append(f"{m['metric']:14s} {m['a']:10.4f} {m['b']:10.4f} {m['diff']:+10.4f}  {ci:24s} {verdict(m)}{flag}")
    for side in ("a", "b"):  # a record that does not match its rows: its run values (FID, KID) cannot be trusted
        status = result.get(f"integrity_{side}", "")
        if status.startswith(MISMATCH):
            lines.append(f"(!) {side.upper()} = {result[f'run_{side}']}: {status}")
    return "\n".join(lines)
