"""MEAD and HDTF protocols: their published layouts, their cited splits, prepared like a videos protocol."""

from __future__ import annotations

import json

from benchmark.core.records import load_record
from protocols.mead_hdtf import hdtf_source_video
from protocols.splits import load_split
from tests.conftest import run_bench
from tests.fake_corpora import make_fake_hdtf, make_fake_mead


def test_split_files_name_the_paper_they_copy():
    eat = load_split("mead", "eat-test-v1")
    assert eat["test"] == ["M003", "M030", "W009", "W015"] and eat["view"] == "front"
    assert "EAT_code/issues/17" in eat["source"]
    assert (
        load_split("mead", "m003-v1")["test"] == ["M003"]
        and "uniBruce/Mead/issues/4" in load_split("mead", "m003-v1")["source"]
    )
    hdtf = load_split("hdtf", "omniavatar-15s-v1")
    assert hdtf["first_seconds"] == 15 and hdtf["test"] is None and "OmniAvatar/issues/90" in hdtf["source"]


def test_hdtf_clip_names_map_to_their_source_video():
    assert hdtf_source_video("WDA_BarackObama_001") == "BarackObama"
    assert hdtf_source_video("WRA_ReneeEllmers_000") == "ReneeEllmers"
    assert hdtf_source_video("Radio11_0") == "Radio11"  # the HDTF README's own naming
    assert hdtf_source_video("AmyKlobuchar1") == "AmyKlobuchar1"


def test_mead_prepares_front_view_with_separate_audio_and_reports_missing_speakers(mini, tmp_path):
    source, data = tmp_path / "MEAD", tmp_path / "data"
    made = make_fake_mead(mini, source)
    proc = run_bench("prepare", "mead", "--source", str(source), data_root=data, cwd=tmp_path, check_codes=(3,))
    assert "prepared mead/eat-test-v1: 4 clips" in proc.stdout
    assert "missing speaker M030" in proc.stderr and "missing speaker W015" in proc.stderr
    manifest = json.loads((data / "mead" / "eat-test-v1" / "manifest.json").read_text())
    assert sorted(c["id"] for c in manifest["clips"]) == sorted(made)  # the side view was never read
    assert manifest["split"]["source"] == load_split("mead", "eat-test-v1")["source"]
    assert manifest["partial"]["missing_speakers"] == ["M030", "W015"] and manifest["fps"] == 25
    clip = next(c for c in manifest["clips"] if c["id"] == "M003_angry_level_3_001")
    assert abs(clip["n_frames"] - len(mini.clips()[0].load_frames())) <= 1  # 30 fps source -> 25 fps clip

    refused = run_bench(
        "prepare", "mead", "--source", str(source), "--split", "x.json", data_root=data, cwd=tmp_path, check_codes=(1,)
    )
    assert "--name and --split are for `bench prepare videos`, not mead" in refused.stderr

    run = run_bench(
        "run",
        "--model",
        "ground-truth",
        "--dataset",
        "mead",
        "--metrics",
        "psnr,bilabial",
        "--allow-partial",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=data,
        cwd=tmp_path,
    )
    assert "completed: 4 of 4 clips scored" in run.stdout and "n/a: no phone alignments" in run.stdout
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    assert record["protocol"]["id"] == "mead/eat-test-v1" and record["results"]["psnr"]["n_scored"] == 4


def test_hdtf_takes_each_clips_first_15_seconds(mini, tmp_path):
    source, data = tmp_path / "HDTF", tmp_path / "data"
    made = make_fake_hdtf(mini, source)
    proc = run_bench("prepare", "hdtf", "--source", str(source), data_root=data, cwd=tmp_path)
    assert "prepared hdtf/omniavatar-15s-v1: 2 clips" in proc.stdout
    manifest = json.loads((data / "hdtf" / "omniavatar-15s-v1" / "manifest.json").read_text())
    frames = {c["id"]: c["n_frames"] for c in manifest["clips"]}
    assert made["WDA_JaneExample_000"] > 15 * 25 and frames["WDA_JaneExample_000"] == 15 * 25
    assert abs(frames["RD_Radio7_001"] - made["RD_Radio7_001"]) <= 1  # shorter than 15 s: the whole clip
    assert {c["speaker"] for c in manifest["clips"]} == {"JaneExample", "Radio7"}
    from benchmark.core.media import read_wav

    audio, rate = read_wav(
        data
        / "hdtf"
        / "omniavatar-15s-v1"
        / next(c for c in manifest["clips"] if c["id"] == "WDA_JaneExample_000")["files"]["audio"]
    )
    assert rate == 16000 and audio.size == 15 * 16000
    run = run_bench(
        "run",
        "--model",
        "ground-truth",
        "--dataset",
        "hdtf",
        "--metrics",
        "psnr",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=data,
        cwd=tmp_path,
    )
    assert "completed: 2 of 2 clips scored" in run.stdout
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    assert record["protocol"]["id"] == "hdtf/omniavatar-15s-v1" and record["results"]["psnr"]["n_scored"] == 2
