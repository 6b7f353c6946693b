"""Paper tables regenerated beside the published numbers (thesis Tables 5.1 / 5.2, MAN Table 1),
and results tables of your own runs on any protocol (`build_results_table`).

Rows keep the paper's layout. A row whose method has an adapter shows the measured value of the
run labelled with that adapter's name next to the published one with the difference; reference
adapters (ground truth, still) and every other run label get rows of their own. Which run fills a
row is decided by `benchmark.reports.selection` (complete runs only unless pinned with --runs; never
silently one of two). Best and second best per column are marked by `benchmark.reports.ranking.rank`, the
leaderboard's rule: only among two models or more on the same protocol (a stand-in protocol's
numbers never against published ones), reference rows and incomplete runs not ranked, and a
metric whose best is the ground truth's value ranked by distance to it. A published number with nothing measured
beside it says "published; not run here". Every measured cell has a footnote: protocol, metric
variant, backend, clips, run. Cells are read from `benchmark.reports.frames.RunMetric`s (the rows of
`load_runs`, built once per run: `SelectedRun.run_metrics`), as the leaderboard's are, and their
numbers printed by `benchmark.reports.cells.format_number` at the paper tables' precision.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from pathlib import Path

from benchmark.core.errors import BenchError
from benchmark.core.records import read_json
from benchmark.reports.cells import PAPER_TABLES, format_number
from benchmark.reports.frames import REFERENCE_ADAPTERS
from benchmark.reports.ranking import ARROWS, CLOSEST, RANKED_DIRECTIONS, Entry, rank
from benchmark.reports.selection import Selection, SelectedRun, protocol_name, select_runs

PUBLISHED = Path(__file__).parent / "reference" / "published_tables.yaml"

# our metric variant for each column name used in the published tables; None: not measurable here.
# Published blink rates (MAN, and Vougioukas et al.'s RSDGAN it compares with) come from Vougioukas'
# detector, so that column uses `blink-vougioukas`, not the default `blink`.
METRIC_FOR_COLUMN = {
    "psnr": "psnr",
    "ssim": "ssim",
    "fid": "fid",
    "lmd": "lmd",
    "cpbd": "cpbd",
    "acd_c": "acd",
    "acd_e": "acd-e",
    "blinks_per_s": "blink-vougioukas",
    "wer": None,
}
COLUMN_LABEL = {
    "psnr": "PSNR",
    "ssim": "SSIM",
    "fid": "FID",
    "lmd": "LMD",
    "cpbd": "CPBD",
    "acd_c": "ACD-C",
    "acd_e": "ACD-E",
    "blinks_per_s": "blinks/s",
    "wer": "WER",
    "params_m": "params (M)",
    "fps": "fps",
    "output": "output",
}


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str  # entry in published_tables.yaml
    kind: str  # "quality": datasets x metrics; "per-dataset-rows": rows carry a dataset; "profile"
    datasets: tuple[str, ...] = ()


TABLES = {
    "alghamdi2023-5.1": TableSpec(
        "alghamdi2023-5.1", "alghamdi2023_thesis_table_5_1", "quality", ("tcd-timit", "grid")
    ),
    "alghamdi2023-5.2": TableSpec("alghamdi2023-5.2", "alghamdi2023_thesis_table_5_2", "profile"),
    "kumar2020-man-1": TableSpec(
        "kumar2020-man-1", "kumar2020_man_table_1", "per-dataset-rows", ("grid", "crema-d", "lombard-grid", "voxceleb2")
    ),
}


@dataclass
class Cell:
    published: float | str | None = None
    measured: float | str | None = None
    note: int | None = None  # footnote number
    mark: str = ""  # "best" | "second"
    status: str = ""  # "" | "not run" | "failed" (ran, nothing scored) | "n/a"
    incomplete: bool = False  # measured on a pinned incomplete (or untrustworthy) run: shown loudly, never ranked
    warning: str = ""  # what is shown beside it: INCOMPLETE RUN, or RECORD DOES NOT MATCH ITS ROWS
    target: float | None = None  # the ground truth's value the run recorded beside its own (e.g. blink rate)
    protocol: str = ""  # the protocol the measured value is on (a stand-in's under --substitute)
    interval: tuple | None = None  # 95% CI of the measured value (results tables)
    coverage: str = ""  # "11/12" when the value did not use every clip (never ranked)


@dataclass
class TableRow:
    """One line of a paper or results table: a method (with the run label filling it) and its cells."""

    method: str
    adapter: str | None
    group: str = ""  # the paper's dataset (a corpus) for per-dataset tables
    cells: dict[str, Cell] = field(default_factory=dict)
    reference: bool = False  # ground truth / still: shown, not ranked
    adapter_name: str = ""  # the adapter of the run filling the row (a label's may differ)


@dataclass
class Table:
    name: str
    caption: str
    source: str
    columns: list[tuple[str, str]]  # (group, column)
    directions: dict[str, str | None]
    rows: list[TableRow]
    footnotes: list[str]
    ranking_notes: list[str] = field(default_factory=list)  # columns left unranked, and why
    substitutes: dict[str, str] = field(default_factory=dict)  # dataset -> the protocol standing in for it
    results: bool = False  # a results table of runs (no published numbers): cells show interval and coverage


def load_published() -> dict:
    import yaml

    return yaml.safe_load(PUBLISHED.read_text())


class Footnotes:
    """One footnote per (model, dataset column): where its numbers were measured and with what."""

    def __init__(self) -> None:
        self.notes: dict[tuple, dict] = {}

    def cite(self, adapter: str, dataset: str, where: str, column: str, detail: str) -> int:
        note = self.notes.setdefault((adapter, dataset, where), {"n": len(self.notes) + 1, "parts": []})
        note["parts"].append(f"{COLUMN_LABEL.get(column, column)} = {detail}")
        return note["n"]

    def lines(self) -> list[str]:
        return [
            f"{adapter}, {dataset}: {where}; " + "; ".join(note["parts"])
            for (adapter, dataset, where), note in sorted(self.notes.items(), key=lambda kv: kv[1]["n"])
        ]


def _measure(
    cell: Cell, selection: Selection, label: str, dataset: str, column: str, substitutes: dict, notes: Footnotes
) -> None:
    """Fill `cell` from the run selected for (label, protocol): its value and footnote, or why there is none."""
    variant = METRIC_FOR_COLUMN.get(column)
    if variant is None:
        cell.status = "n/a"
        return
    protocol = substitutes.get(dataset, dataset)
    run: SelectedRun | None = selection.runs.get((label, protocol))
    _fill(cell, run, label, variant, dataset, protocol, column, notes)


def _fill(
    cell: Cell,
    run: SelectedRun | None,
    label: str,
    variant: str,
    dataset: str,
    protocol: str,
    column: str,
    notes: Footnotes,
) -> None:
    """Fill `cell` with `run`'s value of `variant` and its footnote, or why there is none."""
    found = run.run_metrics.get(variant) if run else None
    if found is None or found.value is None:
        cell.status = found.status if found else "not run"
        return
    clips = found.coverage or f"{run.record['clips']['scored']}"
    incomplete = f" — {run.warning} ({'; '.join(run.reasons)}), pinned with --runs" if run.reasons else ""
    where = (
        f"measured on {found.protocol}"
        + (f" standing in for {dataset}" if protocol != dataset else "")
        + f", {clips} clips at {found.resolution}, seed {found.seed}, run {found.run_id[:8]} in {run.run_dir}"
        + incomplete
    )
    cell.measured, cell.incomplete, cell.warning = found.value, bool(run.reasons), run.warning
    cell.target, cell.protocol = found.reference_value, protocol
    cell.coverage = found.partial_coverage
    if found.ci95_low is not None:
        cell.interval = (found.ci95_low, found.ci95_high)
    cell.note = notes.cite(label, dataset, where, column, f"{variant} ({found.backend})")


def _mark_best(table: Table, use_measured: bool = True) -> None:
    """Best and second best per column, within each dataset group (the papers rank per dataset), by `ranking.rank`.

    Numbers are ranked only against numbers on the same protocol: a value measured on a protocol
    standing in for the paper's dataset (--substitute grid=mini) never against the published ones,
    which are ranked among themselves. Reference rows, incomplete runs and partial coverage are not
    ranked; a closest-to-ground-truth metric is ranked by distance to the ground-truth row's value
    on that protocol (or the run's own recorded one). `use_measured=False` ranks the published
    numbers only (speeds measured on another device must not be ranked against the paper's V100 figures)."""
    for (group, column), row_group in ((gc, g) for gc in table.columns for g in sorted({r.group for r in table.rows})):
        key, dataset = f"{group}/{column}", group or row_group
        direction = table.directions.get(column)
        members = [(i, r.cells[key]) for i, r in enumerate(table.rows) if r.group == row_group and key in r.cells]
        ground_truth = next(
            (
                c
                for i, c in members
                if table.rows[i].reference
                and table.rows[i].adapter_name == REFERENCE_ADAPTERS[0]
                and isinstance(c.measured, (int, float))
                and not c.incomplete
                and not c.coverage
            ),
            None,
        )
        pools: dict[str, list[Entry]] = defaultdict(list)  # protocol -> the numbers on it
        for i, cell in members:
            if table.rows[i].reference:
                continue
            if use_measured and isinstance(cell.measured, (int, float)) and not isinstance(cell.measured, bool):
                if cell.incomplete or cell.coverage:
                    continue  # shown loudly, never ranked; nor does its published number stand in for it
                pools[cell.protocol or dataset].append(Entry(i, cell.measured, target=cell.target))
            elif isinstance(cell.published, (int, float)) and not isinstance(cell.published, bool):
                pools[dataset].append(Entry(i, cell.published))
        for protocol, entries in pools.items():
            target = ground_truth.measured if ground_truth is not None and ground_truth.protocol == protocol else None
            label = f"{COLUMN_LABEL.get(column, column)}" + (f" ({dataset})" if dataset else "")
            what = label if protocol == dataset or not dataset else f"{label}, measured on {protocol}"
            ranking = rank(entries, direction, column_target=target, what=what)
            for entry in entries:
                table.rows[entry.key].cells[key].mark = ranking.mark(entry.key)
            if ranking.note and ranking.note not in table.ranking_notes and (direction in RANKED_DIRECTIONS or entries):
                table.ranking_notes.append(ranking.note)


def _declared_direction(variant: str | None, selection: Selection | None, fallback: str | None) -> str | None:
    """How a column is ranked: as the runs' metric spec records it, else as the metric declares it, else the paper's arrow."""
    if variant is None:
        return fallback
    for run in selection.runs.values() if selection else []:
        found = run.run_metrics.get(variant)
        if found is not None and found.direction:
            return found.direction
    return _metric_direction(variant) or fallback


@lru_cache(maxsize=None)
def _metric_direction(variant: str) -> str | None:
    from metrics import METRICS, family_of

    try:
        return METRICS.get(family_of(variant)).direction
    except Exception:  # a metric that cannot load here: the paper's arrow is used
        return None


def build_table(
    name: str,
    run_paths: list[Path],
    substitutes: dict[str, str] | None = None,
    profile_paths: list[Path] | None = None,
    log=None,
) -> Table:
    if name not in TABLES:
        raise BenchError(f"unknown table {name!r}", hint=f"`bench table --list`: {', '.join(TABLES)}")
    spec, published = TABLES[name], load_published()[TABLES[name].key]
    substitutes = substitutes or {}
    footnotes = Footnotes()
    if spec.kind == "profile":
        return _profile_table(spec, published, profile_paths or [], log)
    selection = select_runs(run_paths, log=log)  # `log`: one line per run folder that cannot be read
    adapter_of = {label: run.record["adapter"]["name"] for (label, _), run in selection.runs.items()}
    metrics = list(published["metrics"])
    directions = {
        column: _declared_direction(METRIC_FOR_COLUMN.get(column), selection, arrow)
        for column, arrow in published["metrics"].items()
    }
    rows: list[TableRow] = []

    def measured_row(method: str, label: str | None, columns, group: str = "", entry: dict | None = None) -> TableRow:
        row = TableRow(
            method,
            label,
            group=group,
            reference=entry is None and adapter_of.get(label) in REFERENCE_ADAPTERS,
            adapter_name=adapter_of.get(label, ""),
        )
        for dataset, column in columns:
            published_value = (
                None if entry is None else (entry.get(dataset) or {}).get(column) if dataset else entry.get(column)
            )
            cell = Cell(published=published_value)
            if label:
                _measure(cell, selection, label, dataset or group, column, substitutes, footnotes)
            row.cells[f"{dataset}/{column}"] = cell
        return row

    def extra_rows(datasets, published_labels, columns, group: str = "") -> list[TableRow]:
        """A row per other label measured on these datasets' protocols: reference adapters first."""
        protocols = {substitutes.get(d, d) for d in datasets}
        labels = {label for label, protocol in selection.runs if protocol in protocols} - set(published_labels)
        out = []
        for label in sorted(labels, key=lambda lab: (adapter_of[lab] not in REFERENCE_ADAPTERS, lab)):
            method = (
                f"{label} (measured here)"
                if adapter_of[label] == label
                else f"{label} ({adapter_of[label]}, measured here)"
            )
            out.append(measured_row(method, label, columns, group=group))
        return out

    if spec.kind == "quality":
        columns = [(d, m) for d in spec.datasets for m in metrics]
        for entry in published["rows"]:
            rows.append(measured_row(entry["method"], entry.get("adapter"), columns, entry=entry))
        rows += extra_rows(spec.datasets, [e.get("adapter") for e in published["rows"]], columns)
    else:  # rows carry their dataset; columns are the metrics
        columns = [("", m) for m in metrics]
        for dataset in spec.datasets:
            entries = [e for e in published["rows"] if e.get("dataset") == dataset]
            for entry in entries:
                rows.append(measured_row(entry["method"], entry.get("adapter"), columns, group=dataset, entry=entry))
            rows += extra_rows([dataset], [e.get("adapter") for e in entries], columns, group=dataset)
    notes = footnotes.lines() + selection.notes()
    table = Table(
        name,
        published.get("caption", ""),
        published["source"],
        columns,
        directions,
        rows,
        notes,
        substitutes={d: p for d, p in substitutes.items() if d != p},
    )
    _mark_best(table)
    return table


def build_results_table(run_paths: list[Path], protocol: str, metrics: list[str] | None = None, log=None) -> Table:
    """Your own table: the runs on `protocol` (any, e.g. `videos:my-lab`) x the chosen metric variants.

    Rows are chosen as for the paper tables (one complete run per label, pins win), reference
    adapters first; cells carry the value, its 95% interval and, when the metric did not score
    every clip, its coverage; marks follow the same rule (`ranking.rank`)."""
    selection = select_runs(list(run_paths), protocol=protocol, log=log)
    runs = {label: run for (label, _), run in selection.runs.items()}
    if not runs:
        where = ", ".join(map(str, run_paths))
        raise BenchError(
            f"no complete run on {protocol} under {where}" + "".join(f"\n  {n}" for n in selection.notes()),
            hint=f"score one with `bench run --dataset {protocol} ...`, or pin an incomplete run with --runs RUN_DIR",
        )
    available = list(dict.fromkeys(spec["variant"] for run in runs.values() for spec in run.record["metrics"]))
    variants = list(metrics) if metrics else available
    unknown = [v for v in variants if v not in available]
    if unknown:
        raise BenchError(
            f"--metrics: no run on {protocol} has {', '.join(unknown)}",
            hint=f"choose among {', '.join(available)} (or score it: `bench run ... --metrics {unknown[0]}`)",
        )
    footnotes = Footnotes()
    columns = [("", v) for v in variants]
    adapter_of = {label: run.record["adapter"]["name"] for label, run in runs.items()}
    rows = []
    for label in sorted(runs, key=lambda lab: (adapter_of[lab] not in REFERENCE_ADAPTERS, lab)):
        adapter = adapter_of[label]
        row = TableRow(
            label if adapter == label else f"{label} ({adapter})",
            label,
            reference=adapter in REFERENCE_ADAPTERS,
            adapter_name=adapter,
        )
        for _, variant in columns:
            row.cells[f"/{variant}"] = cell = Cell()
            name = protocol_name(runs[label].record)
            _fill(cell, runs[label], label, variant, name, name, variant, footnotes)
        rows.append(row)
    ids = sorted({run.record["protocol"]["id"] for run in runs.values()})
    prints = sorted({run.record["protocol"]["clip_list_fingerprint"][:12] for run in runs.values()})
    caption = (
        f"Results on {', '.join(ids)} ({len(rows)} runs; clip list {', '.join(prints)}"
        + (", runs scored different clip lists: compare with care" if len(prints) > 1 else "")
        + ")"
    )
    directions = {variant: _declared_direction(variant, selection, None) for variant in variants}
    table = Table(
        f"results-{protocol}",
        caption,
        f"runs under {', '.join(map(str, run_paths))}",
        columns,
        directions,
        rows,
        footnotes.lines() + selection.notes(),
        results=True,
    )
    _mark_best(table)
    return table


def _profile_table(spec: TableSpec, published: dict, profile_paths: list[Path], log=None) -> Table:
    """Table 5.2 from the rows `bench profile` saved; a profile file that cannot be read is left out
    with one line to `log` (default: a warning), as an unreadable run is."""
    footnotes = Footnotes()
    profiles = {}
    for folder in profile_paths:
        for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
            try:
                row = read_json(path)
                if not isinstance(row, dict) or "model" not in row:
                    raise BenchError(f'{path}: not a profile row (no "model")', hint="re-run `bench profile`")
            except BenchError as exc:
                _note(log, f"skipped {exc}")
                continue
            if not row.get("config", {}).get("tiny"):
                profiles[row["model"]] = (path, row)
    columns = [("", "params_m"), ("", "fps"), ("", "output")]
    rows = []
    seen = set()
    for entry in published["rows"]:
        row = TableRow(entry["method"], entry.get("adapter"))
        seen.add(entry.get("adapter"))
        hit = profiles.get(entry.get("adapter")) if entry.get("adapter") else None
        for _, column in columns:
            cell = Cell(published=entry.get(column))
            if row.adapter:
                if hit is None:
                    cell.status = "not run"
                else:
                    cell.measured = hit[1][column]
                    cell.note = footnotes.cite(row.adapter, "profile", _profile_where(hit), column, "bench profile")
            row.cells[f"/{column}"] = cell
        rows.append(row)
    for adapter in sorted(set(profiles) - seen):
        path, prof = profiles[adapter]
        row = TableRow(f"{adapter} (measured here)", adapter)
        for _, column in columns:
            row.cells[f"/{column}"] = Cell(
                measured=prof[column],
                note=footnotes.cite(adapter, "profile", _profile_where((path, prof)), column, "bench profile"),
            )
        rows.append(row)
    table = Table(
        spec.name,
        published.get("caption", ""),
        published["source"],
        columns,
        {"params_m": "lower", "fps": "higher", "output": None},
        rows,
        footnotes.lines(),
    )
    _mark_best(table, use_measured=False)
    return table


def _profile_where(hit) -> str:
    path, prof = hit
    weights = (
        "tiny random configuration"
        if prof.get("config", {}).get("tiny")
        else f"weights {sorted(prof.get('weights', {}))}"
    )
    return f"measured on {prof['device']} over {prof['frames']} frames ({weights}), {path}"


# ---- rendering ------------------------------------------------------------------------------


def _num(v) -> str:
    return format_number(v, PAPER_TABLES)


def _cell_text(cell: Cell) -> tuple[str, str, str]:
    """(main, published-part, difference) as plain text."""
    pub = _num(cell.published)
    if isinstance(cell.measured, (int, float, str)) and cell.measured is not None and cell.status == "":
        meas = _num(float(cell.measured)) if isinstance(cell.measured, (int, float)) else str(cell.measured)
        diff = "same" if cell.measured == cell.published else "differs"
        if isinstance(cell.measured, (int, float)) and isinstance(cell.published, (int, float)):
            diff = (
                f"{cell.measured - cell.published:+.2f}"
                if abs(cell.published) >= 1
                else f"{cell.measured - cell.published:+.3f}"
            )
        return meas, pub, diff
    return "", pub, cell.status


@dataclass(frozen=True)
class Style:
    """How one output format escapes text and shows a footnote, a muted aside and the best/second marks."""

    esc: object
    note: str  # format string with {n}
    muted: str  # format string with {t}
    best: str
    second: str


def _labels(t: Table, esc) -> list[str]:
    arrow = {d: " " + a for d, a in ARROWS.items()}
    return [
        esc(f"{g} {COLUMN_LABEL.get(c, c)}".strip() + arrow.get(t.directions.get(c) or "", "")) for g, c in t.columns
    ]


def legend(t: Table, marks: str) -> str:
    """What the cells and marks mean, the same words in every format; `marks` names the best/second styling."""
    cells = (
        "value [95% CI] (coverage, where the metric did not score every clip)"
        if t.results
        else "measured (published, Δ)"
    )
    text = (
        f"Cells: {cells}; {marks} per column, only among two models or more with values on the same protocol; "
        "reference rows (ground truth, still) and incomplete runs are not ranked."
    )
    if t.substitutes:
        standing = ", ".join(f"{p} for {d}" for d, p in sorted(t.substitutes.items()))
        text += (
            f" Measured values on a stand-in protocol ({standing}) are ranked only among themselves, never against "
            "the published numbers."
        )
    if any(d == CLOSEST for d in t.directions.values()):
        text += " →GT: closest to the ground truth's value is best (ranked by distance to it on the same protocol)."
    return text


def _interval_text(cell: Cell) -> str:
    parts = []
    if cell.interval is not None:
        parts.append(f"[{_num(float(cell.interval[0]))}, {_num(float(cell.interval[1]))}]")
    if cell.coverage:
        parts.append(f"({cell.coverage} clips)")
    return " ".join(parts)


UNMEASURED = {"not run": "not run here", "failed": "every clip failed here", "n/a": "not measurable here"}


def _format_cell(cell: Cell, row: TableRow, style: Style, results: bool = False) -> str:
    main, pub, diff = _cell_text(cell)
    esc = style.esc
    if main:
        text = esc(main) + style.note.format(n=cell.note)
        if cell.published is not None:
            text += " " + style.muted.format(t=f"({esc(pub)}, {esc(diff)})")
        if results and _interval_text(cell):
            text += " " + style.muted.format(t=esc(_interval_text(cell)))
        if cell.incomplete:
            text += " " + esc(f"⚠ {cell.warning or 'INCOMPLETE RUN'}")
    elif cell.published is None:
        text = esc(diff or "n/a")
    elif row.adapter and diff:  # a published number with nothing measured beside it: never read as measured
        text = esc(pub) + " " + style.muted.format(t=esc(f"(published; {UNMEASURED.get(diff, diff)})"))
    else:
        text = esc(pub)
    return (
        style.best.format(t=text)
        if cell.mark == "best"
        else style.second.format(t=text)
        if cell.mark == "second"
        else text
    )


def _body_rows(t: Table, style: Style) -> list[list[str]]:
    has_group = any(r.group for r in t.rows)
    return [
        ([style.esc(r.group)] if has_group else [])
        + [style.esc(r.method)]
        + [_format_cell(r.cells[f"{g}/{c}"], r, style, t.results) for g, c in t.columns]
        for r in t.rows
    ]


MARKDOWN = Style(esc=lambda x: x, note="<sup>{n}</sup>", muted="{t}", best="**{t}**", second="_{t}_")
HTML = Style(
    esc=escape, note="<sup>{n}</sup>", muted='<span class="muted">{t}</span>', best="{t}", second="{t}"
)  # marks are classes


def render_markdown(t: Table) -> str:
    has_group = any(r.group for r in t.rows)
    head = [
        f"**{t.name}** — {t.caption}",
        f"Source: {t.source}. {legend(t, '**best**, _second_')}",
        "",
        "| " + " | ".join((["dataset"] if has_group else []) + ["method"] + _labels(t, MARKDOWN.esc)) + " |",
        "|" + "---|" * (len(t.columns) + 1 + has_group),
    ]
    head += ["| " + " | ".join(cells) + " |" for cells in _body_rows(t, MARKDOWN)]
    head.append("")
    head += [f"{i}. {note}" for i, note in enumerate(t.footnotes, 1)]
    if t.ranking_notes:
        head += [""] + [f"- {note}" for note in t.ranking_notes]
    return "\n".join(head) + "\n"


def render_html(t: Table) -> str:
    has_group = any(r.group for r in t.rows)
    out = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>' + escape(t.name) + "</title>",
        "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .7em;"
        "border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}.best{font-weight:700}"
        ".second{text-decoration:underline}.muted{color:#777;font-size:12px}.ref td{background:#f8f9fa}</style></head><body>",
        f'<h1>{escape(t.name)}</h1><p>{escape(t.caption)}<br><span class="muted">Source: {escape(t.source)}. '
        f"{escape(legend(t, 'bold best, underlined second'))}</span></p>",
        "<table><thead><tr>"
        + ("<th>dataset</th>" if has_group else "")
        + "<th>method</th>"
        + "".join(f"<th>{lab}</th>" for lab in _labels(t, escape))
        + "</tr></thead><tbody>",
    ]
    for r, cells in zip(t.rows, _body_rows(t, HTML)):
        marks = [""] * (len(cells) - len(t.columns)) + [r.cells[f"{g}/{c}"].mark for g, c in t.columns]
        out.append(
            f'<tr class="{"ref" if r.reference else ""}">'
            + "".join(f'<td class="{m}">{text}</td>' for m, text in zip(marks, cells))
            + "</tr>"
        )
    out.append(
        '</tbody></table><ol class="muted">'
        + "".join(f"<li>{escape(n)}</li>" for n in t.footnotes)
        + "</ol>"
        + "".join(f'<p class="muted ranking-note">{escape(n)}</p>' for n in t.ranking_notes)
        + "</body></html>"
    )
    return "\n".join(out) + "\n"


TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "⚠": "(!)",
    "^": r"\textasciicircum{}",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "→": r"$\rightarrow$",
    "—": "--",
    "Δ": r"$\Delta$",
}


def _tex(s: str) -> str:
    return "".join(TEX.get(ch, ch) for ch in s)


LATEX = Style(
    esc=_tex, note="\\textsuperscript{{{n}}}", muted="{t}", best="\\textbf{{{t}}}", second="\\underline{{{t}}}"
)


def render_latex(t: Table) -> str:
    has_group = any(r.group for r in t.rows)
    lines = [
        r"% generated by `bench table " + t.name + "`; needs \\usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{" + ("l" if has_group else "") + "l" + "r" * len(t.columns) + "}",
        r"\toprule",
        " & ".join((["Dataset"] if has_group else []) + ["Method"] + _labels(t, _tex)) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(cells) + r" \\" for cells in _body_rows(t, LATEX)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = [r"\textsuperscript{" + str(i) + "}~" + _tex(n) for i, n in enumerate(t.footnotes, 1)]
    notes += [_tex(n) for n in t.ranking_notes]
    if notes:  # in the compiled table, where its superscripts point (comments after it were never printed)
        lines += [r"\par\smallskip", r"{\footnotesize\raggedright"] + [n + r"\par" for n in notes] + ["}"]
    lines += [
        r"\caption{"
        + _tex(t.caption)
        + ". "
        + _tex(legend(t, "bold best, underlined second"))
        + " Source: "
        + _tex(t.source)
        + ".}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines) + "\n"


RENDERERS = {
    "md": render_markdown,
    "markdown": render_markdown,
    "html": render_html,
    "latex": render_latex,
    "tex": render_latex,
}


def _note(log, line: str) -> None:
    if log is not None:
        log(line)
    else:
        import warnings

        warnings.warn(line, stacklevel=3)
