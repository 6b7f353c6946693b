"""The run engine end to end: ceilings and floors, interruption and resume, failures recorded."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.core.records import RowLog, is_finished, load_record
from benchmark.engine.runner import RunConfig, Runner
from tests.conftest import MINI_ID, run_bench


def _run(mini_data_root, out, **kw):
    kw.setdefault("metrics", ("psnr", "ssim"))
    config = RunConfig(data_dir=mini_data_root, runs_dir=out, **kw)
    return Runner(config, progress=False, log=lambda s: None).run()


def test_ground_truth_hits_the_ceiling_and_still_is_clearly_lower(reference_runs):
    """The session's complete runs (conftest.reference_runs checks that both exited 0)."""
    g, s = (
        load_record(next((reference_runs / "mini").glob(f"{m}-seed0-*")))["results"] for m in ("ground-truth", "still")
    )
    assert g["ssim"]["value"] == pytest.approx(1.0, abs=1e-12)
    assert g["psnr"]["value"] == 100.0  # the documented cap
    assert s["ssim"]["value"] < 0.9 and s["psnr"]["value"] < 35.0
    assert g["ssim"]["n"] == s["ssim"]["n"] == 12


def test_record_carries_full_provenance(mini_data_root, tmp_path):
    outcome = _run(mini_data_root, tmp_path, model="still", dataset="mini", limit=4, seed=3, subset_seed=5)
    record = load_record(outcome.run_dir)
    assert record["protocol"]["id"] == MINI_ID
    assert len(record["protocol"]["clip_list_fingerprint"]) == 64
    assert record["protocol"]["subset"] == {"limit": 4, "seed": 5, "method": "speaker-stratified"}
    assert record["protocol"]["partial"] is None  # mini is always whole
    assert record["seeds"] == {"generation": 3, "subset": 5}
    assert record["adapter"]["name"] == "still" and len(record["adapter"]["fingerprint"]) == 64
    assert {m["variant"] for m in record["metrics"]} == {"psnr", "ssim"}
    assert {m["aggregation"] for m in record["metrics"]} == {"mean over clips"}
    assert record["settings"]["threads"] >= 1 and record["execution"]["executor"] == "local"
    assert all(m["resolution"] == [256, 256] and m["backend"] == "torch" and m["params"] for m in record["metrics"])
    assert record["seed"] == 3 and record["device"]["requested"] == "cpu"
    assert "commit" in record["code"] and record["packages"]["torch"]
    assert record["wall_time_s"] > 0
    for result in record["results"].values():
        assert result["n"] == 4 and result["n_failed"] == 0 and result["coverage"] == "4/4"
        lo, hi = result["ci95"]
        assert lo <= result["value"] <= hi


def _rows_by_clip(run_dir: Path) -> dict:
    rows = RowLog(run_dir / "clips.jsonl").latest_by_key().values()
    return {r["clip_id"]: (r["key"], r["status"], {c: s["value"] for c, s in r["scores"].items()}) for r in rows}


@pytest.mark.slow  # a real bench process interrupted, then two 8-clip runs
def test_interrupted_run_resumes_to_the_same_records(mini_data_root, tmp_path):
    """A real Ctrl-C (SIGINT) midway through `bench run`, then the same command again."""
    args = ["run", "--model", "still", "--dataset", "mini", "--limit", "8", "--metrics", "psnr,ssim", "--no-progress"]
    interrupted_out, clean_out = tmp_path / "interrupted", tmp_path / "clean"
    env_root = mini_data_root
    bench = Path(sys.executable).with_name("bench")
    proc = subprocess.Popen(
        [str(bench), *args, "--out", str(interrupted_out)],
        cwd=tmp_path,
        env={**__import__("os").environ, "BENCH_DATA": str(env_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job ignores SIGINT and children inherit it: restore Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    log = None
    deadline = time.time() + 300
    while time.time() < deadline:
        logs = list(interrupted_out.rglob("clips.jsonl"))
        if logs and sum(1 for _ in RowLog(logs[0]).rows()) >= 3:
            log = logs[0]
            break
        time.sleep(0.05)
    assert log is not None, "run never got going"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Re-run the same command to resume" in err
    run_dir = log.parent
    assert not is_finished(run_dir)
    done_before = len(_rows_by_clip(run_dir))
    assert 3 <= done_before < 8

    resumed = run_bench(*args, "--out", str(interrupted_out), data_root=env_root, cwd=tmp_path)
    assert f"{done_before} of 8 clips already scored" in resumed.stderr
    clean = run_bench(*args, "--out", str(clean_out), data_root=env_root, cwd=tmp_path)
    assert is_finished(run_dir)
    clean_dir = next(clean_out.rglob("record.json")).parent
    assert _rows_by_clip(run_dir) == _rows_by_clip(clean_dir)
    a, b = load_record(run_dir), load_record(clean_dir)
    assert a["results"] == b["results"]
    assert a["protocol"] == b["protocol"] and a["adapter"] == b["adapter"]
    # no clip was scored twice: the resumed log holds exactly one row per clip
    assert sum(1 for _ in RowLog(run_dir / "clips.jsonl").rows()) == 8
    assert "completed: 8 of 8" in resumed.stdout and "completed: 8 of 8" in clean.stdout


def test_failing_clip_is_recorded_and_the_run_goes_on(mini_data_root, tmp_path, monkeypatch):
    from adapters.still import StillAdapter

    original = StillAdapter.generate
    broken = {}

    def flaky(self, request, seed):
        if not broken:
            broken["id"] = request.clip.id
            raise RuntimeError("simulated model crash")
        video = original(self, request, seed)
        if len(broken) == 1:
            broken["short"] = request.clip.id
            video.frames = video.frames[:-1]
        return video

    monkeypatch.setattr(StillAdapter, "generate", flaky)
    outcome = _run(mini_data_root, tmp_path, model="still", dataset="mini", limit=4, metrics=("psnr",))
    assert outcome.exit_code == 3 and outcome.n_failed == 2 and outcome.n_scored == 2
    failures = {f["clip_id"]: f for f in outcome.record["failures"]}
    assert failures[broken["id"]]["stage"] == "generate"
    assert "simulated model crash" in failures[broken["id"]]["message"]
    assert failures[broken["short"]]["stage"] == "validate"
    assert "length mismatch" in failures[broken["short"]]["message"]
    assert outcome.record["results"]["psnr"]["n"] == 2 and outcome.record["results"]["psnr"]["n_failed"] == 2
    assert (outcome.run_dir / "errors.log").read_text().count("simulated model crash") >= 1


@pytest.mark.parametrize("n_missing", [1, 3])
def test_a_partial_protocol_is_recorded_and_exits_3_unless_allowed(mini_data_root, tmp_path, monkeypatch, n_missing):
    from protocols.mini import MiniProtocol

    partial = {
        "missing": [
            {"clip": f"spk9_x{k}", "speaker": "spk9", "kind": "silent-audio", "reason": f"x{k}.wav: silent"}
            for k in range(n_missing)
        ],
        "n_expected": 12 + n_missing,
        "n_present": 12,
        "n_speakers_expected": 5,
        "n_speakers_present": 4,
        "missing_speakers": ["spk9"],
    }
    monkeypatch.setattr(MiniProtocol, "partial", property(lambda self: partial))
    logged = []
    config = RunConfig(
        model="still", dataset="mini", metrics=("psnr",), limit=1, data_dir=mini_data_root, runs_dir=tmp_path
    )
    refused = Runner(config, progress=False, log=logged.append).run()
    assert refused.exit_code == 3 and refused.n_failed == 0 and "--allow-partial" in refused.partial_note
    assert f"{n_missing} of {12 + n_missing} clips found in the source not prepared" in logged[0]
    assert "1 of 5 speakers missing (spk9)" in logged[0] and f"{n_missing} silent-audio" in logged[0]
    config.allow_partial = True
    allowed = Runner(config, progress=False, log=lambda s: None).run()
    assert allowed.exit_code == 0 and allowed.partial_note is None and allowed.run_dir == refused.run_dir
    record = load_record(allowed.run_dir)  # the schema accepts the field
    assert record["protocol"]["partial"] == partial and record["command"].endswith("--allow-partial")


def test_torn_last_row_is_ignored_on_resume(mini_data_root, tmp_path):
    first = _run(mini_data_root, tmp_path, model="still", dataset="mini", limit=2, metrics=("psnr",))
    rows_file = first.run_dir / "clips.jsonl"
    lines = rows_file.read_text().splitlines()
    rows_file.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # killed mid-write
    again = _run(mini_data_root, tmp_path, model="still", dataset="mini", limit=2, metrics=("psnr",))
    assert again.n_skipped == 1 and again.exit_code == 0
    assert again.record["results"] == first.record["results"]


def test_missing_cuda_is_a_clear_error(mini_data_root, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = run_bench(
        "run",
        "--model",
        "still",
        "--dataset",
        "mini",
        "--device",
        "cuda",
        "--out",
        str(tmp_path),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert "torch sees no CUDA device" in proc.stderr and "Traceback" not in proc.stderr


def test_merging_shards_of_a_partial_protocol_exits_3_unless_the_shards_allowed_it(
    mini_data_root, tmp_path, monkeypatch
):
    from benchmark.engine.merge import merge_runs
    from protocols.mini import MiniProtocol

    partial = {
        "missing": [{"clip": "spk9_x0", "speaker": "spk9", "kind": "silent-audio", "reason": "x0.wav: silent"}],
        "n_expected": 13,
        "n_present": 12,
        "n_speakers_expected": 5,
        "n_speakers_present": 4,
        "missing_speakers": ["spk9"],
    }
    monkeypatch.setattr(MiniProtocol, "partial", property(lambda self: partial))
    for allow in (False, True):
        shards = [
            Runner(
                RunConfig(
                    model="still",
                    dataset="mini",
                    metrics=("psnr",),
                    limit=2,
                    data_dir=mini_data_root,
                    runs_dir=tmp_path / f"runs-{allow}",
                    shard=(k, 2),
                    allow_partial=allow,
                ),
                progress=False,
                log=lambda s: None,
            )
            .run()
            .run_dir
            for k in range(2)
        ]
        merged = merge_runs(shards, tmp_path / f"merged-{allow}", log=lambda s: None)
        assert merged.record["protocol"]["partial"] == partial
        assert merged.exit_code == (0 if allow else 3), merged.partial_note


def _plan(adapter_name: str, depends: bool | None, threads: int, inputs: dict | None = None):
    from benchmark.engine.plan import PlannedClip, RunPlan

    adapter = {"name": adapter_name, "fingerprint": "f" * 64}
    if depends is not None:  # None: a plan written before adapters declared it
        adapter["frames_depend_on_threads"] = depends
    clips = [PlannedClip(i, "s", "c" * 64, 1, "k" + i, n, (inputs or {}).get(i)) for n, i in enumerate(("a", "b"))]
    return RunPlan(
        dataset="mini",
        protocol={"id": "mini/v1", "clip_list_fingerprint": "p" * 64},
        model=adapter_name,
        model_args={},
        adapter=adapter,
        seeds={"generation": 0, "subset": 0},
        limit=None,
        settings={"device": "cpu", "threads": threads},
        metrics=[],
        clips=clips,
    )


def test_threads_are_in_the_identity_only_where_the_frames_depend_on_them():
    """Issue 24.15: `--threads 1` could not resume or merge with a default folder / still run."""
    assert _plan("still", False, 1).run_id == _plan("still", False, 2).run_id
    assert _plan("ours", True, 1).run_id != _plan("ours", True, 2).run_id
    assert _plan("ours", None, 1).run_id != _plan("ours", None, 2).run_id  # older plans: as they always were
    from adapters import ADAPTERS

    declared = {
        name: ADAPTERS.get(name).frames_depend_on_threads
        for name in ("folder", "command", "ground-truth", "still", "ours")
    }
    assert declared == {"folder": False, "command": False, "ground-truth": False, "still": False, "ours": True}


def test_per_clip_files_are_in_the_identity_and_shards_share_the_rest():
    """Issue 24.2: the folder's file hashes name the run; a shard's share of them does not stop a merge."""
    v1 = _plan("folder", False, 1, {"a": {"sha256": "1"}, "b": {"sha256": "2"}})
    v2 = _plan("folder", False, 1, {"a": {"sha256": "1"}, "b": {"sha256": "3"}})
    shard = _plan("folder", False, 1, {"a": {"sha256": "1"}})  # shard 0 hashed clip a only
    assert v1.run_id != v2.run_id and "inputs" in v1.identity()
    assert v1.shared_identity() == v2.shared_identity() == shard.shared_identity()
    assert "inputs" not in _plan("still", False, 1).identity()  # no per-clip files: the ids runs always had


def test_a_default_threads_folder_run_resumes_with_other_threads_and_records_both(mini, mini_data_root, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for clip in mini.clips():
        (videos / f"{clip.id}.mp4").symlink_to(clip.video_path)
    common = {"model": "folder", "model_args": {"dir": str(videos)}, "dataset": "mini", "limit": 2, "name": "m"}
    first = _run(mini_data_root, tmp_path, metrics=("psnr",), threads=2, **common)
    said = []
    config = RunConfig(data_dir=mini_data_root, runs_dir=tmp_path, metrics=("psnr", "ssim"), threads=1, **common)
    second = Runner(config, progress=False, log=said.append).run()
    assert second.run_dir == first.run_dir and second.scored_columns and len(second.scored_columns) == 1  # ssim only
    assert first.record["settings"]["scoring_threads"] == [2]
    assert second.record["settings"]["threads"] == 1 and second.record["settings"]["scoring_threads"] == [1, 2]
    assert any("computed with 1 and 2 torch threads" in s for s in said), said


def test_merge_refuses_shards_whose_frames_came_from_other_thread_counts():
    from benchmark.core.errors import BenchError
    from benchmark.engine.merge import check_compatible

    record = {"metrics": [], "code": {"commit": "c"}, "packages": {}, "device": {"torch": "2"}}

    def shards(name, depends):
        plans = [_plan(name, depends, threads).to_dict() for threads in (1, 2)]
        for k, plan in enumerate(plans):
            plan["shard"] = [k, 2]
        return [(Path(f"shard{k}"), plan, record) for k, plan in enumerate(plans)]

    check_compatible(shards("still", False))  # its frames do not depend on the threads
    with pytest.raises(BenchError, match="run identity .* differs between shard0"):
        check_compatible(shards("ours", True))
