"""The leaderboard site: an index with one sortable, filterable table per protocol, and a page per
run with provenance, per-clip rows, plots, frame strips at bilabial events and paired comparisons.

Static files only: it opens from disk with no server and no internet (no CDN assets), and every
string that came from a user (model names, config values, clip ids, paths) is escaped.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from benchmark.reports import plots
from benchmark.core.errors import BenchError
from benchmark.reports.leaderboard import _format, leaderboard_tables
from benchmark.core.records import integrity_problem, load_records, load_rows, run_completeness, run_label
from benchmark.core.stats import BOOTSTRAP_RESAMPLES

MAX_CLIP_PLOTS = 24  # per run page: every clip below this, else a sample (`panel_sample`)
CLIP_TABLE_ROWS = 1000  # per page of the clip table: the run page has the first, runs/<slug>/clips-<k>.html the rest
SAMPLE_SEED = 0
MAX_COMPARISONS = 4  # paired comparisons per run page (each ~0.2 s at 10,000 clips): the first others of its table


def run_slug(run_dir: Path, record: dict) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{record['protocol']['name']}-{run_dir.name}")
    return f"{base}-{hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:6]}"


def _load_npz(run_dir: Path, relative: str) -> dict:
    with np.load(run_dir / relative) as data:
        return {k: data[k] for k in data.files}


def panel_sample(rows: list[dict], spec: dict | None, n: int = MAX_CLIP_PLOTS) -> list[tuple[dict, str]]:
    """The scored clips to draw, each with why: all of them up to `n`; beyond, the worst, median and best
    by the run's first metric (its direction; by value where it has none) and a seeded random rest."""
    scored = [r for r in rows if r["status"] == "ok"]
    if len(scored) <= n:
        return [(r, "") for r in scored]
    chosen: dict[str, str] = {}
    if spec is not None:
        variant = spec["variant"]
        valued = sorted(
            (
                r
                for r in scored
                if isinstance(r["metrics"].get(variant), (int, float)) and math.isfinite(r["metrics"][variant])
            ),
            key=lambda r: (r["metrics"][variant], r["clip_id"]),
        )
        if valued:
            low, mid, high = valued[0], valued[len(valued) // 2], valued[-1]
            worst, best = (high, low) if spec.get("direction") == "lower" else (low, high)
            if spec.get("direction") in ("higher", "lower"):
                picks = [(worst, f"worst {variant}"), (mid, f"median {variant}"), (best, f"best {variant}")]
            else:
                picks = [(low, f"lowest {variant}"), (mid, f"median {variant}"), (high, f"highest {variant}")]
            for row, why in picks:
                chosen.setdefault(row["clip_id"], why)
    rest = [r for r in scored if r["clip_id"] not in chosen]
    order = np.random.default_rng(SAMPLE_SEED).permutation(len(rest))
    for i in order[: n - len(chosen)]:
        chosen[rest[int(i)]["clip_id"]] = f"random (seed {SAMPLE_SEED})"
    by_id = {r["clip_id"]: r for r in scored}
    return [(by_id[clip_id], why) for clip_id, why in chosen.items()]


def clip_panels(
    run_dir: Path, rows: list[dict], fps: float, strip_dir: Path, strip_prefix: str, spec: dict | None = None
) -> list[dict]:
    """Aperture and EAR plots plus event strips for the clips `panel_sample` picks."""
    from PIL import Image

    panels = []
    for row, why in panel_sample(rows, spec):
        panel = {"clip_id": row["clip_id"], "why": why, "plots": [], "strips": []}
        for variant, relative in sorted(row.get("artifacts", {}).items()):
            arrays = _load_npz(run_dir, relative)
            if "aperture" in arrays:
                events = row["extras"].get(variant, {}).get("events", [])
                # ticks: vowel nuclei the ground truth opens on, in the generated colour where it opened too
                nuclei = [
                    (v["frame"], plots.GENERATED if v.get("generated_open") else plots.REFERENCE)
                    for v in row["extras"].get(variant, {}).get("vowel_nuclei", [])
                    if v.get("reference_open")
                ]
                panel["plots"].append(
                    Markup(
                        plots.time_series(
                            [
                                ("generated", arrays["aperture"], plots.GENERATED),
                                ("ground truth", arrays["reference_aperture"], plots.REFERENCE),
                            ],
                            fps,
                            spans=[(e["start"], e["end"]) for e in events],
                            marks=nuclei,
                            title=f"mouth aperture — {variant} /p b m/ shaded, vowels ticked",
                        )
                    )
                )
                for k, (event, strip) in enumerate(zip(events, arrays["strips"])):
                    name = f"{strip_prefix}-{len(panels)}-{k}.png"
                    Image.fromarray(np.concatenate([strip[0], strip[1]], axis=1)).save(strip_dir / name)
                    panel["strips"].append({"file": name, "event": event})
            if "ear" in arrays:
                extras = row["extras"].get(variant, {})
                marks = [(f, plots.GENERATED) for f in extras.get("blink_frames", [])] + [
                    (f, plots.REFERENCE) for f in extras.get("reference_blink_frames", [])
                ]
                panel["plots"].append(
                    Markup(
                        plots.time_series(
                            [
                                ("generated", arrays["ear"], plots.GENERATED),
                                ("ground truth", arrays["reference_ear"], plots.REFERENCE),
                            ],
                            fps,
                            marks=marks,
                            title=f"eye aspect ratio — detected blinks ticked ({variant})",
                        )
                    )
                )
        panel["plots"] += motion_plots(run_dir, row, fps)
        if panel["plots"]:
            panels.append(panel)
    return panels


def motion_plots(run_dir: Path, row: dict, fps: float) -> list:
    """Head pose over time with the VAD's speech shaded (pose-diversity's and av-offset's arrays), and the
    av-offset correlograms of both sides."""
    arrays = {variant: _load_npz(run_dir, relative) for variant, relative in sorted(row.get("artifacts", {}).items())}
    speech = next((a["speech"] for a in arrays.values() if "speech" in a), np.zeros((0, 2)))
    out = []
    for variant, a in arrays.items():
        if "pose" in a:
            for axis, name in ((0, "yaw"), (1, "pitch")):
                out.append(
                    Markup(
                        plots.time_series(
                            [
                                ("generated", a["pose"][:, axis], plots.GENERATED),
                                ("ground truth", a["reference_pose"][:, axis], plots.REFERENCE),
                            ],
                            fps,
                            spans=[(float(s), float(e)) for s, e in speech],
                            title=f"head {name} (deg) — VAD speech shaded ({variant})",
                        )
                    )
                )
        if "correlogram" in a and not variant.startswith("av-conf"):  # av-conf's is av-offset's
            lags = np.arange(len(a["correlogram"])) - len(a["correlogram"]) // 2
            out.append(
                Markup(
                    plots.correlogram(
                        lags,
                        [
                            ("generated", a["correlogram"], plots.GENERATED),
                            ("ground truth", a["reference_correlogram"], plots.REFERENCE),
                        ],
                        title=f"{variant}: r(lag), + = video late",
                    )
                )
            )
    return out


def comparisons(run_dir: Path, record: dict, others: list[tuple[Path, dict]], load=None) -> list[dict]:
    """This run against each of `others` (same protocol), at most MAX_COMPARISONS: with 20 runs of 10,000
    clips every pair on every page would be 380 paired bootstraps; `bench compare` takes any pair."""
    from benchmark.reports.compare import compare_runs, load_run, verdict

    out = []
    for other_dir, other in others:
        if len(out) == MAX_COMPARISONS:
            break
        if other_dir == run_dir or other["protocol"]["id"] != record["protocol"]["id"]:
            continue
        try:
            result = compare_runs(run_dir, other_dir, resamples=BOOTSTRAP_RESAMPLES, load=load or load_run)
        except BenchError:
            continue
        for m in result["metrics"]:
            m["verdict"] = verdict(m, "this run", run_label(other))
        out.append(
            {
                "other": run_label(other),
                "other_run": other["run_id"][:8],
                "other_seed": other["seed"],
                "n": result["n_clips"],
                "metrics": result["metrics"],
            }
        )
    return out


def conformed_summary(record: dict) -> str:
    """'resized 12, fps resampled 12 of 12 scored clips (resize: PIL Lanczos; …)', or '' when nothing was conformed."""
    counts = record.get("clips", {}).get("conformed")
    if not counts:
        return ""
    done = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in counts.items())
    policy = "; ".join(
        f"{k}: {v}" for k, v in (record.get("adapter", {}).get("conform") or {}).items() if v is not None
    )
    return f"{done} of {record['clips']['scored']} scored clips" + (f" ({policy})" if policy else "")


def run_page_context(run_dir: Path, record: dict, records: list, out_dir: Path, slug: str, load=None) -> dict:
    """`load(run_dir) -> (record, rows)`: build_site's, reading each run once for every page."""
    rows = load(run_dir)[1] if load else load_rows(run_dir, record)
    fps = next((r["fps"] for r in rows if r.get("fps")), 25.0)  # every prepared protocol is 25 fps
    variants = [s["variant"] for s in record["metrics"]]
    distributions = [
        Markup(
            plots.distribution(
                [r["metrics"].get(v) for r in rows if r["status"] == "ok"],
                [r["clip_id"] for r in rows if r["status"] == "ok"],
                v,
            )
        )
        for v in variants
    ]
    strip_dir = out_dir / "runs" / slug
    strip_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for spec in record["metrics"]:
        r = record["results"].get(spec["variant"], {})
        ci = r.get("ci95")
        results.append(
            {
                "spec": spec,
                "value": _format(r.get("value"), spec.get("unit", "")),
                "ci": f"{_format(ci[0], spec.get('unit', ''))} – {_format(ci[1], spec.get('unit', ''))}" if ci else "",
                "n": r.get("n"),
                "reference": _format(r.get("reference_value"), spec.get("unit", ""))
                if r.get("reference_value") is not None
                else "",
                "note": r.get("note", ""),
                "coverage": r.get("coverage", ""),
                "failures": [f"{f['status']} on {f['clip_id']}: {f['reason']}" for f in r.get("failures", [])[:5]],
            }
        )
    clip_rows = [
        {
            "clip_id": r["clip_id"],
            "speaker": r["speaker"],
            "status": r["status"],
            "cell_values": [r["metrics"].get(v) for v in variants],
            "texts": [_format(r["metrics"].get(v), "") for v in variants],
            "generate_s": r.get("timing", {}).get("generate_s"),
            "error": r.get("error", {}).get("message", ""),
        }
        for r in sorted(rows, key=lambda r: r["clip_id"])
    ]
    first_spec = record["metrics"][0] if record["metrics"] else None
    return {
        "record": record,
        "label": run_label(record),
        "incomplete": "; ".join(run_completeness(record)["reasons"]),
        "mismatch": integrity_problem(record),
        "conformed": conformed_summary(record),
        "resamples": BOOTSTRAP_RESAMPLES,
        "run_dir": str(run_dir),
        "variants": variants,
        "results": results,
        "distributions": distributions,
        "rows_html": clip_rows_html(clip_rows[:CLIP_TABLE_ROWS]),
        "n_rows": min(len(clip_rows), CLIP_TABLE_ROWS),
        "clip_pages": write_clip_pages(clip_rows, variants, strip_dir, slug),
        "n_clips": len(clip_rows),
        "panels": clip_panels(run_dir, rows, fps, strip_dir, "strip", first_spec),
        "n_scored": sum(1 for r in rows if r["status"] == "ok"),
        "strip_dir": slug,
        "comparisons": comparisons(run_dir, record, records, load),
        "n_others": sum(1 for d, r in records if d != run_dir and r["protocol"]["id"] == record["protocol"]["id"]),
    }


def clip_rows_html(clips: list[dict]) -> Markup:
    """The clip table's rows, every user string escaped; written here, not cell by cell in jinja, which
    took 0.5 s for the 10,000 rows of one run."""

    def text(value) -> str:
        return "" if value is None else str(escape(str(value)))

    rows = []
    for c in clips:
        cells = "".join(f'<td data-value="{text(v)}">{text(t)}</td>' for v, t in zip(c["cell_values"], c["texts"]))
        rows.append(
            f'<tr class="{"failed" if c["status"] != "ok" else ""}"><td>{text(c["clip_id"])}</td>'
            f"<td>{text(c['speaker'])}</td><td>{text(c['status'])}</td>\n{cells}\n"
            f'<td data-value="{text(c["generate_s"])}">{text(c["generate_s"])}</td>'
            f'<td class="meta">{text(c["error"])}</td></tr>'
        )
    return Markup("\n".join(rows))


def write_clip_pages(clip_rows: list[dict], variants: list[str], folder: Path, slug: str) -> list[dict]:
    """The clip table beyond its first CLIP_TABLE_ROWS rows, as static pages in `folder` (they open
    from disk, no server), and every row as clips.csv; the links, page 1 being the run page itself."""
    import csv

    with open(folder / "clips.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["clip_id", "speaker", "status", *variants, "generate_s", "error"])
        for c in clip_rows:
            out.writerow([c["clip_id"], c["speaker"], c["status"], *c["cell_values"], c["generate_s"], c["error"]])
    chunks = [clip_rows[i : i + CLIP_TABLE_ROWS] for i in range(0, len(clip_rows), CLIP_TABLE_ROWS)]
    links = [{"number": k + 1, "first": chunk[0]["clip_id"]} for k, chunk in enumerate(chunks)]
    if len(chunks) > 1:
        env = Environment(
            loader=PackageLoader("benchmark.reports", "templates"), autoescape=select_autoescape(default=True)
        )
        template = env.get_template("clips.html.j2")
        for k, chunk in enumerate(chunks[1:], start=2):
            (folder / f"clips-{k}.html").write_text(
                template.render(
                    slug=slug,
                    rows_html=clip_rows_html(chunk),
                    variants=variants,
                    page=k,
                    pages=links,
                    n_clips=len(clip_rows),
                ),
                encoding="utf-8",
            )
    return links


def build_site(paths: list[Path], out_dir: Path, sort_by: str | None = None) -> tuple[Path, list[tuple[Path, str]]]:
    """Write out_dir/index.html and out_dir/runs/<slug>.html; return the index and the runs skipped with why.

    `sort_by`: a metric variant that orders each protocol's rows, best first."""
    records, skipped = load_records(paths)
    if not records:
        why = "".join(f"\n  {path}: {reason}" for path, reason in skipped)
        raise BenchError(f"no usable runs in {', '.join(map(str, paths))}{why}", hint="run `bench run ...` first")
    out_dir = Path(out_dir)
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    env = Environment(
        loader=PackageLoader("benchmark.reports", "templates"), autoescape=select_autoescape(default=True)
    )
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    slugs = {str(run_dir): run_slug(run_dir, record) for run_dir, record in records}
    tables = leaderboard_tables(records, sort_by)
    for table in tables:
        for row in table["rows"]:
            row["page"] = f"runs/{slugs[row['path']]}.html"
    (out_dir / "index.html").write_text(
        env.get_template("leaderboard.html.j2").render(
            tables=tables, generated=generated, resamples=BOOTSTRAP_RESAMPLES
        ),
        encoding="utf-8",
    )
    page = env.get_template("run.html.j2")
    by_path = {str(run_dir): (run_dir, record) for run_dir, record in records}
    by_protocol = defaultdict(list)  # in the order of the leaderboard's tables: a page compares with the first
    for table in tables:
        for row in table["rows"]:
            run_dir, record = by_path[row["path"]]
            by_protocol[record["protocol"]["id"]].append((run_dir, record))
    partners = {str(d) for runs in by_protocol.values() for d, _ in runs[: MAX_COMPARISONS + 1]}
    rows_read: dict[str, list[dict]] = {}
    last: dict[str, list[dict]] = {}  # the page being built: its run's rows serve its comparisons too

    def load(run_dir: Path) -> tuple[dict, list[dict]]:
        """A run's record (the one loaded above) and rows; the rows of the runs every page compares with
        are read once for the whole site and kept, the others once for their own page."""
        key = str(run_dir)
        if key not in rows_read and key not in last:
            rows = load_rows(run_dir, by_path[key][1])
            if key in partners:
                rows_read[key] = rows
            else:
                last.clear()
                last[key] = rows
        return by_path[key][1], rows_read[key] if key in rows_read else last[key]

    for run_dir, record in records:
        slug = slugs[str(run_dir)]
        context = run_page_context(run_dir, record, by_protocol[record["protocol"]["id"]], out_dir, slug, load)
        (out_dir / "runs" / f"{slug}.html").write_text(page.render(generated=generated, **context), encoding="utf-8")
    return out_dir / "index.html", skipped
