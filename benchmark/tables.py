"""Paper tables regenerated beside the published numbers: thesis Tables 5.1 / 5.2, MAN Table 1.

Rows keep the paper's layout. A row whose method has an adapter shows the measured value of the
run labelled with that adapter's name next to the published one with the difference; reference
adapters (ground truth, still) and every other run label get rows of their own. Which run fills a
row is decided by `benchmark.selection` (complete runs only unless pinned with --runs; never
silently one of two). Best and second best per column are marked as the papers mark them
(reference rows and incomplete runs are not ranked). A published number with nothing measured
beside it says "published; not run here". Every measured cell has a footnote: protocol, metric
variant, backend, clips, run. Cells are read from `benchmark.dataframes.run_metric_rows` (the rows
of `load_runs`, built once per run: `SelectedRun.metric_rows`), as the leaderboard's are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.dataframes import REFERENCE_ADAPTERS
from benchmark.selection import Selection, SelectedRun, select_runs

PUBLISHED = Path(__file__).parent / "reference" / "published_tables.yaml"

# our metric variant for each column name used in the published tables; None: not measurable here.
# Published blink rates (MAN, and Vougioukas et al.'s RSDGAN it compares with) come from Vougioukas'
# detector, so that column uses `blink-vougioukas`, not the default `blink`.
METRIC_FOR_COLUMN = {"psnr": "psnr", "ssim": "ssim", "fid": "fid", "lmd": "lmd", "cpbd": "cpbd", "acd_c": "acd",
                     "acd_e": "acd-e", "blinks_per_s": "blink-vougioukas", "wer": None}
COLUMN_LABEL = {"psnr": "PSNR", "ssim": "SSIM", "fid": "FID", "lmd": "LMD", "cpbd": "CPBD", "acd_c": "ACD-C",
                "acd_e": "ACD-E", "blinks_per_s": "blinks/s", "wer": "WER", "params_m": "params (M)", "fps": "fps",
                "output": "output"}


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str           # entry in published_tables.yaml
    kind: str          # "quality": datasets x metrics; "per-dataset-rows": rows carry a dataset; "profile"
    datasets: tuple[str, ...] = ()


TABLES = {
    "alghamdi2023-5.1": TableSpec("alghamdi2023-5.1", "alghamdi2023_thesis_table_5_1", "quality", ("tcd-timit", "grid")),
    "alghamdi2023-5.2": TableSpec("alghamdi2023-5.2", "alghamdi2023_thesis_table_5_2", "profile"),
    "kumar2020-man-1": TableSpec("kumar2020-man-1", "kumar2020_man_table_1", "per-dataset-rows", ("grid", "crema-d", "lombard-grid", "voxceleb2")),
}


@dataclass
class Cell:
    published: float | str | None = None
    measured: float | str | None = None
    note: int | None = None       # footnote number
    mark: str = ""               # "best" | "second"
    status: str = ""             # "" | "not run" | "failed" (ran, nothing scored) | "n/a"
    incomplete: bool = False     # measured on a pinned incomplete run: shown loudly, never ranked


@dataclass
class Row:
    method: str
    adapter: str | None
    group: str = ""              # dataset group for per-dataset tables
    cells: dict[str, Cell] = field(default_factory=dict)
    reference: bool = False      # ground truth / still: shown, not ranked


@dataclass
class Table:
    name: str
    caption: str
    source: str
    columns: list[tuple[str, str]]   # (group, column)
    directions: dict[str, str | None]
    rows: list[Row]
    footnotes: list[str]


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
        return [f"{adapter}, {dataset}: {where}; " + "; ".join(note["parts"])
                for (adapter, dataset, where), note in sorted(self.notes.items(), key=lambda kv: kv[1]["n"])]


def _measure(cell: Cell, selection: Selection, label: str, dataset: str, column: str, substitutes: dict,
             notes: Footnotes) -> None:
    """Fill `cell` from the run selected for (label, protocol): its value and footnote, or why there is none."""
    variant = METRIC_FOR_COLUMN.get(column)
    if variant is None:
        cell.status = "n/a"
        return
    protocol = substitutes.get(dataset, dataset)
    run: SelectedRun | None = selection.runs.get((label, protocol))
    row = run.metric_rows.get(variant) if run else None
    if row is None or row["value"] is None:
        cell.status = row["status"] if row else "not run"
        return
    clips = row["coverage"] or f"{run.record['clips']['scored']}"
    incomplete = f" — INCOMPLETE RUN ({'; '.join(run.reasons)}), pinned with --runs" if run.reasons else ""
    where = (f"measured on {row['dataset']}" + (f" standing in for {dataset}" if protocol != dataset else "") +
             f", {clips} clips at {row['resolution']}, seed {row['seed']}, run {row['run_id'][:8]} in {run.run_dir}"
             + incomplete)
    cell.measured, cell.incomplete = row["value"], bool(run.reasons)
    cell.note = notes.cite(label, dataset, where, column, f"{variant} ({row['backend']})")


def _mark_best(table: Table, use_measured: bool = True) -> None:
    """Best and second best per column, within each dataset group (the papers rank per dataset).

    `use_measured=False` ranks the published numbers only (speeds measured on another device
    must not be ranked against the paper's V100 figures)."""
    for (group, column), row_group in ((gc, g) for gc in table.columns for g in sorted({r.group for r in table.rows})):
        direction = table.directions.get(column)
        if direction not in ("higher", "lower"):
            continue
        scored = []
        for row in (r for r in table.rows if r.group == row_group):
            cell = row.cells.get(f"{group}/{column}")
            if row.reference or cell is None:
                continue
            measured = use_measured and isinstance(cell.measured, (int, float)) and not cell.incomplete
            value = cell.measured if measured else cell.published
            if isinstance(value, (int, float)):
                scored.append((value, cell))
        ranked = sorted({v for v, _ in scored}, reverse=direction == "higher")
        for value, cell in scored:
            cell.mark = "best" if value == ranked[0] else "second" if len(ranked) > 1 and value == ranked[1] else ""


def build_table(name: str, run_paths: list[Path], substitutes: dict[str, str] | None = None,
                profile_paths: list[Path] | None = None, log=None) -> Table:
    if name not in TABLES:
        raise BenchError(f"unknown table {name!r}", hint=f"`bench table --list`: {', '.join(TABLES)}")
    spec, published = TABLES[name], load_published()[TABLES[name].key]
    substitutes = substitutes or {}
    footnotes = Footnotes()
    if spec.kind == "profile":
        return _profile_table(spec, published, profile_paths or [])
    selection = select_runs(run_paths, log=log)  # `log`: one line per run folder that cannot be read
    adapter_of = {label: run.record["adapter"]["name"] for (label, _), run in selection.runs.items()}
    metrics = list(published["metrics"])
    directions = dict(published["metrics"])
    rows: list[Row] = []

    def measured_row(method: str, label: str | None, columns, group: str = "", entry: dict | None = None) -> Row:
        row = Row(method, label, group=group, reference=entry is None and adapter_of.get(label) in REFERENCE_ADAPTERS)
        for dataset, column in columns:
            published_value = None if entry is None else (entry.get(dataset) or {}).get(column) if dataset else entry.get(column)
            cell = Cell(published=published_value)
            if label:
                _measure(cell, selection, label, dataset or group, column, substitutes, footnotes)
            row.cells[f"{dataset}/{column}"] = cell
        return row

    def extra_rows(datasets, published_labels, columns, group: str = "") -> list[Row]:
        """A row per other label measured on these datasets' protocols: reference adapters first."""
        protocols = {substitutes.get(d, d) for d in datasets}
        labels = {label for label, protocol in selection.runs if protocol in protocols} - set(published_labels)
        out = []
        for label in sorted(labels, key=lambda lab: (adapter_of[lab] not in REFERENCE_ADAPTERS, lab)):
            method = f"{label} (measured here)" if adapter_of[label] == label else f"{label} ({adapter_of[label]}, measured here)"
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
    table = Table(name, published.get("caption", ""), published["source"], columns, directions, rows, notes)
    _mark_best(table)
    return table


def _profile_table(spec: TableSpec, published: dict, profile_paths: list[Path]) -> Table:
    footnotes = Footnotes()
    profiles = {}
    for folder in profile_paths:
        for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
            row = json.loads(path.read_text())
            if not row.get("config", {}).get("tiny"):
                profiles[row["model"]] = (path, row)
    columns = [("", "params_m"), ("", "fps"), ("", "output")]
    rows = []
    seen = set()
    for entry in published["rows"]:
        row = Row(entry["method"], entry.get("adapter"))
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
        row = Row(f"{adapter} (measured here)", adapter)
        for _, column in columns:
            row.cells[f"/{column}"] = Cell(measured=prof[column], note=footnotes.cite(adapter, "profile", _profile_where((path, prof)), column, "bench profile"))
        rows.append(row)
    table = Table(spec.name, published.get("caption", ""), published["source"], columns,
                  {"params_m": "lower", "fps": "higher", "output": None}, rows, footnotes.lines())
    _mark_best(table, use_measured=False)
    return table


def _profile_where(hit) -> str:
    path, prof = hit
    weights = "tiny random configuration" if prof.get("config", {}).get("tiny") else f"weights {sorted(prof.get('weights', {}))}"
    return f"measured on {prof['device']} over {prof['frames']} frames ({weights}), {path}"


# ---- rendering ------------------------------------------------------------------------------

def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 10 else f"{v:.3f}" if abs(v) >= 0.01 else f"{v:.2g}"
    return str(v)


def _cell_text(cell: Cell) -> tuple[str, str, str]:
    """(main, published-part, difference) as plain text."""
    pub = "—" if cell.published is None else _num(cell.published)
    if isinstance(cell.measured, (int, float, str)) and cell.measured is not None and cell.status == "":
        meas = _num(float(cell.measured)) if isinstance(cell.measured, (int, float)) else str(cell.measured)
        diff = "same" if cell.measured == cell.published else "differs"
        if isinstance(cell.measured, (int, float)) and isinstance(cell.published, (int, float)):
            diff = f"{cell.measured - cell.published:+.2f}" if abs(cell.published) >= 1 else f"{cell.measured - cell.published:+.3f}"
        return meas, pub, diff
    return "", pub, cell.status


@dataclass(frozen=True)
class Style:
    """How one output format escapes text and shows a footnote, a muted aside and the best/second marks."""

    esc: object
    note: str          # format string with {n}
    muted: str         # format string with {t}
    best: str
    second: str


def _labels(t: Table, esc) -> list[str]:
    return [esc(f"{g} {COLUMN_LABEL.get(c, c)}".strip() + {"higher": " ↑", "lower": " ↓"}.get(t.directions.get(c) or "", ""))
            for g, c in t.columns]


UNMEASURED = {"not run": "not run here", "failed": "every clip failed here", "n/a": "not measurable here"}


def _format_cell(cell: Cell, row: Row, style: Style) -> str:
    main, pub, diff = _cell_text(cell)
    esc = style.esc
    if main:
        text = esc(main) + style.note.format(n=cell.note)
        if cell.published is not None:
            text += " " + style.muted.format(t=f"({esc(pub)}, {esc(diff)})")
        if cell.incomplete:
            text += " " + esc("⚠ INCOMPLETE RUN")
    elif cell.published is None:
        text = esc(diff or "n/a")
    elif row.adapter and diff:  # a published number with nothing measured beside it: never read as measured
        text = esc(pub) + " " + style.muted.format(t=esc(f"(published; {UNMEASURED.get(diff, diff)})"))
    else:
        text = esc(pub)
    return style.best.format(t=text) if cell.mark == "best" else style.second.format(t=text) if cell.mark == "second" else text


def _body_rows(t: Table, style: Style) -> list[list[str]]:
    has_group = any(r.group for r in t.rows)
    return [([style.esc(r.group)] if has_group else []) + [style.esc(r.method)] +
            [_format_cell(r.cells[f"{g}/{c}"], r, style) for g, c in t.columns] for r in t.rows]


MARKDOWN = Style(esc=lambda x: x, note="<sup>{n}</sup>", muted="{t}", best="**{t}**", second="_{t}_")
HTML = Style(esc=escape, note="<sup>{n}</sup>", muted='<span class="muted">{t}</span>', best="{t}", second="{t}")  # marks are classes


def render_markdown(t: Table) -> str:
    has_group = any(r.group for r in t.rows)
    head = [f"**{t.name}** — {t.caption}", f"Source: {t.source}. Cells: measured (published, Δ); **best**, _second_ per column.", "",
            "| " + " | ".join((["dataset"] if has_group else []) + ["method"] + _labels(t, MARKDOWN.esc)) + " |",
            "|" + "---|" * (len(t.columns) + 1 + has_group)]
    head += ["| " + " | ".join(cells) + " |" for cells in _body_rows(t, MARKDOWN)]
    head.append("")
    head += [f"{i}. {note}" for i, note in enumerate(t.footnotes, 1)]
    return "\n".join(head) + "\n"


def render_html(t: Table) -> str:
    has_group = any(r.group for r in t.rows)
    out = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + escape(t.name) + "</title>",
           "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .7em;"
           "border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}.best{font-weight:700}"
           ".second{text-decoration:underline}.muted{color:#777;font-size:12px}.ref td{background:#f8f9fa}</style></head><body>",
           f"<h1>{escape(t.name)}</h1><p>{escape(t.caption)}<br><span class=\"muted\">Source: {escape(t.source)}. "
           "Cells: measured (published, Δ); bold best, underlined second per column; reference rows are not ranked.</span></p>",
           "<table><thead><tr>" + ("<th>dataset</th>" if has_group else "") + "<th>method</th>" +
           "".join(f"<th>{lab}</th>" for lab in _labels(t, escape)) + "</tr></thead><tbody>"]
    for r, cells in zip(t.rows, _body_rows(t, HTML)):
        marks = [""] * (len(cells) - len(t.columns)) + [r.cells[f"{g}/{c}"].mark for g, c in t.columns]
        out.append(f"<tr class=\"{'ref' if r.reference else ''}\">" +
                   "".join(f"<td class=\"{m}\">{text}</td>" for m, text in zip(marks, cells)) + "</tr>")
    out.append("</tbody></table><ol class=\"muted\">" + "".join(f"<li>{escape(n)}</li>" for n in t.footnotes) + "</ol></body></html>")
    return "\n".join(out) + "\n"


TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
       "~": r"\textasciitilde{}", "⚠": "(!)", "^": r"\textasciicircum{}", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "—": "--", "Δ": r"$\Delta$"}


def _tex(s: str) -> str:
    return "".join(TEX.get(ch, ch) for ch in s)


LATEX = Style(esc=_tex, note="\\textsuperscript{{{n}}}", muted="{t}", best="\\textbf{{{t}}}", second="\\underline{{{t}}}")


def render_latex(t: Table) -> str:
    has_group = any(r.group for r in t.rows)
    lines = [r"% generated by `bench table " + t.name + "`; needs \\usepackage{booktabs}", r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{" + ("l" if has_group else "") + "l" + "r" * len(t.columns) + "}", r"\toprule",
             " & ".join((["Dataset"] if has_group else []) + ["Method"] + _labels(t, _tex)) + r" \\", r"\midrule"]
    lines += [" & ".join(cells) + r" \\" for cells in _body_rows(t, LATEX)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _tex(t.caption) + ". Measured (published, $\\Delta$). Source: " + _tex(t.source) + ".}",
              r"\end{table}", ""]
    lines += [f"% {i}. {_tex(n)}" for i, n in enumerate(t.footnotes, 1)]
    return "\n".join(lines) + "\n"


RENDERERS = {"md": render_markdown, "markdown": render_markdown, "html": render_html, "latex": render_latex, "tex": render_latex}
