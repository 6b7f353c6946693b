"""Issue 24 (trust, round 2): marks that mean something, results tables of any runs, runs by label,
one word for the protocol in the Python API, and what `--metrics all` left out recorded.

Synthetic records (the leaderboard's own inputs) where the rule is about ranking; real mini runs
where loading, selection or the CLI is under test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark.core.records import record_seal
from benchmark.reports.leaderboard import leaderboard_tables
from tests.conftest import MINI_ID, run_bench

CLOSEST = "closest-to-ground-truth"  # the direction a metric declares when the ground truth's value is best


# ---- the one ranking rule -------------------------------------------------------------------


def test_rank_needs_two_models_and_ranks_closest_by_distance_to_the_ground_truth():
    from benchmark.reports.ranking import Entry, rank, sort_key

    lone = rank([Entry("a", 30.0), Entry("gt", 99.0, rankable=False)], "higher", what="psnr")
    assert lone.places == {} and "fewer than 2 models" in lone.note
    two = rank([Entry("a", 30.0), Entry("b", 20.0)], "higher")
    assert two.places == {"a": 1, "b": 2} and two.mark("b") == "second" and two.mark("b", second=False) == ""
    # ground truth's sharpness 0.20: a sharper-than-real 0.30 is further from it than 0.21
    closest = rank([Entry("sharp", 0.30), Entry("near", 0.21)], CLOSEST, column_target=0.20)
    assert closest.places == {"near": 1, "sharp": 2} and "distance to the ground truth" in closest.note
    own = rank([Entry("a", 0.5, target=0.45), Entry("b", 0.3, target=0.45)], CLOSEST)  # each run's recorded GT value
    assert own.places == {"a": 1, "b": 2}
    blind = rank([Entry("a", 0.3), Entry("b", 0.21)], CLOSEST, what="cpbd")
    assert blind.places == {} and "no ground-truth value on this protocol" in blind.note
    assert sorted([0.3, 0.21, None], key=lambda v: sort_key(CLOSEST, v, 0.2)) == [0.21, 0.3, None]


def test_sharpness_and_blink_rate_declare_closest_to_ground_truth():
    from metrics.blink import BlinkRate
    from metrics.cpbd import CPBD

    assert CPBD.direction == BlinkRate.direction == CLOSEST


# ---- leaderboard ----------------------------------------------------------------------------


def _record(
    label: str,
    values: dict[str, float],
    adapter: str | None = None,
    run_id: str | None = None,
    shard=None,
    finished: str = "2024-01-01T00:00:00",
    reference_value: float | None = None,
) -> dict:
    specs = {"psnr": "higher", "cpbd": CLOSEST}
    results = {
        v: {
            "value": x,
            "n": 4,
            "ci95": None,
            "n_failed": 0,
            "n_na": 0,
            "n_clips": 4,
            "n_scored": 4,
            "coverage": "4/4",
            "failures": [],
            **({"reference_value": reference_value} if reference_value else {}),
        }
        for v, x in values.items()
    }
    complete = shard is None
    return {
        "protocol": {"id": "mini/v1", "name": "mini", "clip_list_fingerprint": "0" * 64, "shard": shard},
        "metrics": [{"name": v, "variant": v, "direction": specs[v], "unit": ""} for v in values],
        "results": results,
        "adapter": {"name": adapter or label, "fingerprint": "f" * 64, "config": {}},
        "seed": 0,
        "label": label,
        "clips": {"total": 4, "scored": 4, "failed": 0},
        "code": {"commit": "c" * 40},
        "run_id": run_id or label,
        "finished_at": finished,
        "completeness": {"complete": complete, "reasons": [] if complete else [f"shard {shard[0]} of {shard[1]}"]},
    }


def _cells(table, variant):
    return {r["model"]: r["cells"][variant] for r in table["rows"]}


def test_a_lone_model_is_not_bold_and_the_page_says_why():
    (table,) = leaderboard_tables(
        [(Path("gt"), _record("ground-truth", {"psnr": 99.0})), (Path("m"), _record("my-model", {"psnr": 25.0}))]
    )
    assert not any(c["best"] for c in _cells(table, "psnr").values())
    assert "fewer than 2 models" in table["notes"]["psnr"]


def test_cpbd_is_best_closest_to_the_ground_truth_run_and_unranked_without_one():
    gt = (Path("gt"), _record("ground-truth", {"cpbd": 0.20}))
    sharp, near = (
        (Path("s"), _record("sharper-than-real", {"cpbd": 0.30})),
        (Path("n"), _record("near", {"cpbd": 0.21})),
    )
    (table,) = leaderboard_tables([gt, sharp, near])
    cells = _cells(table, "cpbd")
    assert cells["near"]["best"] and not cells["sharper-than-real"]["best"] and not cells["ground-truth"]["best"]
    assert "distance to the ground truth" in table["notes"]["cpbd"]
    (alone,) = leaderboard_tables([sharp, near])  # no ground-truth run: nothing to measure the distance to
    assert not any(c["best"] for c in _cells(alone, "cpbd").values())
    assert "no ground-truth value" in alone["notes"]["cpbd"]


def test_a_merged_run_is_listed_once_and_rows_sort_by_a_chosen_metric():
    shards = [(Path(f"shard{k}"), _record("ours", {"psnr": 20.0 + k}, run_id="r1", shard=[k, 2])) for k in (0, 1)]
    merged = (Path("merged"), _record("ours", {"psnr": 20.5}, run_id="r1"))
    other = (Path("other"), _record("other", {"psnr": 30.0, "cpbd": 0.5}))
    (table,) = leaderboard_tables([*shards, merged, other], sort_by="psnr")
    assert [(r["model"], r["path"]) for r in table["rows"]] == [("other", "other"), ("ours", "merged")]
    assert len(table["hidden"]) == 2 and all("listed as merged" in line for line in table["hidden"])
    (unmerged,) = leaderboard_tables(shards)  # shards never merged: each shown (incomplete)
    assert len(unmerged["rows"]) == 2
    from benchmark.core.errors import BenchError

    with pytest.raises(BenchError, match="--sort lmd: no run here has that metric"):
        leaderboard_tables([other], sort_by="lmd")


# ---- runs on mini: tables, compare by label -------------------------------------------------


def _fake_model(src: Path, dst: Path, label: str, values: dict[str, float]) -> Path:
    """A copy of a real run relabelled as another model, with chosen values: the ranking rule on real loading.

    The record is sealed again, as a record written by a run is, so readers see a verified run of that model."""
    shutil.copytree(src, dst)
    record = json.loads((dst / "record.json").read_text())
    record.update(label=label, run_id=f"{label}-{record['run_id']}"[:64])
    record["adapter"]["name"] = label
    for variant, value in values.items():
        record["results"][variant]["value"] = value
    record["integrity"]["record_sha256"] = record_seal(record, record["integrity"]["rows_sha256"])
    (dst / "record.json").write_text(json.dumps(record))
    return dst


@pytest.fixture(scope="module")
def runs(reference_runs, tmp_path_factory):
    """Complete ground-truth and still runs on mini (the shared ones, copied), and two relabelled copies as models."""
    tmp = tmp_path_factory.mktemp("trust-runs")
    shutil.copytree(reference_runs, tmp / "runs")
    still = next((tmp / "runs" / "mini").glob("still-seed0-*"))
    gt_cpbd = json.loads(next((tmp / "runs" / "mini").glob("ground-truth-seed0-*/record.json")).read_text())["results"][
        "cpbd"
    ]["value"]
    _fake_model(still, tmp / "runs" / "mini" / "sharp", "sharp", {"psnr": 40.0, "cpbd": gt_cpbd + 0.2})
    _fake_model(still, tmp / "runs" / "mini" / "near", "near", {"psnr": 30.0, "cpbd": gt_cpbd + 0.01})
    return tmp


def test_a_stand_in_protocol_is_never_ranked_against_published_numbers(runs):
    from benchmark.reports.tables import build_table

    solo = runs / "solo"
    _fake_model(next((runs / "runs" / "mini").glob("still-seed0-*")), solo / "ours", "ours", {"psnr": 40.0})
    table = build_table("alghamdi2023-5.1", [solo], {"grid": "mini"})
    ours = next(r for r in table.rows if r.adapter == "ours").cells["grid/psnr"]
    assert ours.measured == 40.0 and ours.mark == ""  # 40 dB on mini is not "best" against GRID's published 21.84
    first = next(r for r in table.rows if r.method.startswith("Ours, first model")).cells["grid/psnr"]
    assert first.mark == "best"  # published numbers are still ranked among themselves
    assert any("measured on mini is not ranked" in n for n in table.ranking_notes)


def test_results_table_of_any_runs_in_every_format(runs, mini_data_root):
    from benchmark.reports.tables import build_results_table, render_markdown

    table = build_results_table([runs / "runs"], "mini", ["psnr", "cpbd"])
    assert [r.method for r in table.rows][:2] == ["ground-truth", "still"]  # references first, not ranked
    marks = {r.method: (r.cells["/psnr"].mark, r.cells["/cpbd"].mark) for r in table.rows}
    assert marks == {
        "ground-truth": ("", ""),
        "still": ("", ""),
        "near": ("second", "best"),
        "sharp": ("best", "second"),
    }
    md = render_markdown(table)
    assert (
        "CPBD →GT" in md and "closest to the ground truth's value is best" in md and "CPBD is ranked by distance" in md
    )
    ci = table.rows[1].cells["/psnr"].interval
    assert ci is not None and f"[{ci[0]:.2f}, {ci[1]:.2f}]" in md  # the still run's 95% interval beside its value
    out = run_bench(
        "table",
        "--runs",
        str(runs / "runs"),
        "--dataset",
        "mini",
        "--metrics",
        "psnr,cpbd",
        "--format",
        "latex",
        data_root=mini_data_root,
        cwd=runs,
    ).stdout
    assert r"\textbf{40.00" in out and r"$\rightarrow$GT" in out and "near" in out
    proc = run_bench(
        "table",
        "--runs",
        str(runs / "runs"),
        "--dataset",
        "mini",
        "--metrics",
        "fid",
        data_root=mini_data_root,
        cwd=runs,
        check_codes=(1,),
    )
    assert "no run on mini has fid" in proc.stderr and "Traceback" not in proc.stderr


def test_compare_by_label_never_calls_a_sharpness_better_than_the_ground_truths(runs, mini_data_root):
    from benchmark.reports.compare import compare_runs, verdict

    mini = runs / "runs" / "mini"
    result = compare_runs(next(mini.glob("still-seed0-*")), next(mini.glob("ground-truth-seed0-*")))
    cpbd = next(m for m in result["metrics"] if m["metric"] == "cpbd")
    assert cpbd["better"] is None and cpbd["ground_truth_side"] == "B" and "better" not in verdict(cpbd)
    out = run_bench(
        "compare",
        "near",
        "still",
        "--dataset",
        "mini",
        "--runs",
        str(runs / "runs"),
        data_root=mini_data_root,
        cwd=runs,
    ).stdout
    assert out.splitlines()[0].startswith("A = near") and out.splitlines()[1].startswith("B = still")
    proc = run_bench(
        "compare", "nobody", "still", "--runs", str(runs / "runs"), data_root=mini_data_root, cwd=runs, check_codes=(1,)
    )
    assert "'nobody' is neither a run folder nor the label of a run" in proc.stderr and "near" in proc.stderr


def test_results_frames_say_protocol_and_load_clips_takes_a_folder_of_runs(runs):
    from benchmark import load_clips, load_runs

    frame = load_runs([runs / "runs"])
    assert "protocol" in frame.columns and "dataset" not in frame.columns and set(frame["protocol"]) == {MINI_ID}
    with pytest.warns(FutureWarning, match="'dataset' column is now 'protocol'"):
        assert list(frame["dataset"]) == list(frame["protocol"])
    clips = load_clips(runs / "runs")
    assert {"label", "run_id", "protocol", "run_dir"} <= set(clips.columns)
    assert set(clips["label"]) == {"still", "ground-truth", "near", "sharp"} and len(clips) == 4 * 12
    one = load_clips(next((runs / "runs" / "mini").glob("still-seed0-*")))
    assert set(one["label"]) == {"still"} and one.attrs["label"] == "still"


# ---- run folders carry the label; resume finds them by id ------------------------------------


def test_run_folder_carries_the_label_and_a_relabelled_run_resumes_in_it(mini_data_root, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner

    def folder(name):
        runner = Runner(
            RunConfig(
                model="still",
                dataset="mini",
                metrics=("psnr",),
                limit=1,
                data_dir=mini_data_root,
                runs_dir=tmp_path,
                name=name,
            ),
            progress=False,
            log=lambda s: None,
        )
        return runner.run_dir(runner.plan()[0])

    first = folder("jaw flap/v2")
    assert first.name.startswith("jaw_flap_v2-seed0-")
    first.mkdir(parents=True)
    assert folder("renamed") == first  # the label is not the run's identity: the same run, the same folder


# ---- --metrics all: what it leaves out is recorded ------------------------------------------


def test_metrics_all_records_what_it_skipped_and_fid_on_too_few_frames_stops_before_work(
    mini_data_root, tmp_path, monkeypatch
):
    import metrics
    from benchmark.core.errors import BenchError
    from benchmark.engine.runner import RunConfig, Runner
    from benchmark.reports.site import build_site

    config = dict(
        model="still",
        dataset="mini",
        limit=1,
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
        weights_dir=tmp_path / "no-weights",
    )
    with pytest.raises(BenchError, match=r"fid needs at least 100 frames per side and this run's 1 clip has \d+;"):
        Runner(RunConfig(metrics=("psnr", "fid"), **config), progress=False, log=lambda s: None).plan()
    monkeypatch.setattr(metrics.METRICS, "names", lambda: ["psnr", "fid", "lse-c"])
    outcome = Runner(RunConfig(metrics=("all",), **config), progress=False, log=lambda s: None).run()
    skipped = {s["name"]: s["reason"] for s in outcome.record["skipped_metrics"]}
    assert set(outcome.record["results"]) == {"psnr"} and set(skipped) == {"fid", "lse-c"}
    assert "at least 100 frames" in skipped["fid"] and "syncnet" in skipped["lse-c"].lower()
    from benchmark.core.records import load_record

    assert load_record(outcome.run_dir)["skipped_metrics"] == outcome.record["skipped_metrics"]  # valid schema
    build_site([tmp_path / "runs"], tmp_path / "site")
    page = next((tmp_path / "site" / "runs").glob("*.html")).read_text()
    assert "left out 2 metrics" in page and "at least 100 frames" in page


# ---- tracking ---------------------------------------------------------------------------------


def test_bilabial_without_phones_raises_with_the_reason(mini):
    from metrics.tracking import ClipMetric

    frames = mini.clips()[0].load_frames()
    metric = ClipMetric("bilabial")
    with pytest.raises(ValueError, match="no phone alignments.*pass phones="):
        metric.update(frames, frames)
