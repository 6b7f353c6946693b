"""GRID and TCD-TIMIT: fake corpora in the published layouts, prepared by the real code, then scored."""

import json

import numpy as np
import pytest

from benchmark.types import PhoneEvent
from protocols.phones import read_grid_align, read_htk_mlf
from protocols.prepare import resample_indices
from protocols.splits import load_split
from tests.conftest import run_bench
from tests.fake_corpora import make_fake_grid, make_fake_tcd_timit


@pytest.fixture(scope="module")
def fake_grid(mini, tmp_path_factory):
    root = tmp_path_factory.mktemp("grid-source")
    return root, make_fake_grid(mini, root)


def test_grid_prepares_reports_bad_files_by_name_and_scores_end_to_end(fake_grid, tmp_path):
    source, made = fake_grid
    data = tmp_path / "data"
    proc = run_bench("prepare", "grid", "--source", str(source), data_root=data, cwd=tmp_path, check_codes=(3,))
    assert f"{made['corrupt']}: unreadable video" in proc.stderr
    assert "missing audio lwaz1s.wav" in proc.stderr
    assert "missing speaker s11" in proc.stderr
    assert "prepared grid/unseen10-v1: 4 clips" in proc.stdout
    manifest = json.loads((data / "grid" / "unseen10-v1" / "manifest.json").read_text())
    assert sorted(c["id"] for c in manifest["clips"]) == sorted(made["ok"])
    assert {p["file"] for p in manifest["problems"]} >= {str(made["corrupt"])}

    run = run_bench("run", "--model", "ground-truth", "--dataset", "grid", "--metrics", "psnr,bilabial",
                    "--out", str(tmp_path / "runs"), "--no-progress", data_root=data, cwd=tmp_path)
    assert "completed: 4 of 4 clips scored" in run.stdout
    record = json.loads(next((tmp_path / "runs").rglob("record.json")).read_text())
    assert record["protocol"]["id"] == "grid/unseen10-v1"
    assert record["results"]["bilabial"]["totals"]["events"] >= 4  # CMUdict-expanded /p b m/ events
    assert record["results"]["bilabial"]["reference_closure_rate"] >= 0.8  # and the face really closes on them


def test_preparing_twice_does_no_work_and_keeps_the_fingerprint(fake_grid, tmp_path):
    source, _ = fake_grid
    data = tmp_path / "data"
    first = run_bench("prepare", "grid", "--source", str(source), data_root=data, cwd=tmp_path, check_codes=(3,))
    videos = sorted((data / "grid" / "clips").rglob("video_256.mkv"))
    stamps = [v.stat().st_mtime_ns for v in videos]
    second = run_bench("prepare", "grid", "--source", str(source), data_root=data, cwd=tmp_path, check_codes=(3,))
    assert "4 clips (4 already done)" in second.stdout
    assert [v.stat().st_mtime_ns for v in videos] == stamps
    fingerprint = lambda out: out.split("fingerprint ")[1].split(")")[0]
    assert fingerprint(first.stdout) == fingerprint(second.stdout)


def test_tcd_timit_prepares_from_mp4_and_mlf(mini, tmp_path):
    source = tmp_path / "tcd"
    made = make_fake_tcd_timit(mini, source)
    data = tmp_path / "data"
    proc = run_bench("prepare", "tcd-timit", "--source", str(source), data_root=data, cwd=tmp_path, check_codes=(3,))
    assert "missing volunteer 09F" in proc.stderr and "prepared tcd-timit/heldout10-v1: 4 clips" in proc.stdout
    manifest = json.loads((data / "tcd-timit" / "heldout10-v1" / "manifest.json").read_text())
    assert sorted(c["id"] for c in manifest["clips"]) == sorted(made)
    clip = manifest["clips"][0]
    truth = np.load(data / "tcd-timit" / "heldout10-v1" / clip["files"]["annotations"])
    assert {"m", "p", "b"} & set(truth["phones"].tolist())
    run = run_bench("run", "--model", "ground-truth", "--dataset", "tcd-timit", "--metrics", "psnr,bilabial",
                    "--out", str(tmp_path / "runs"), "--no-progress", data_root=data, cwd=tmp_path)
    assert "completed: 4 of 4 clips scored" in run.stdout


def test_resampling_to_25_fps_picks_the_nearest_frame():
    assert resample_indices(75, 25.0).tolist() == list(range(75))
    ntsc = resample_indices(90, 30000 / 1001)
    assert len(ntsc) == 75 and ntsc[0] == 0 and ntsc[-1] <= 89
    assert np.all(np.diff(ntsc) >= 1) and np.sum(np.diff(ntsc) == 2) > 0  # frames dropped, never repeated


def test_alignment_and_label_parsers(tmp_path):
    align = tmp_path / "bbaf2n.align"
    align.write_text("0 23750 sil\n23750 29500 bin\n29500 34000 blue\n")
    assert read_grid_align(align) == [(0.0, 0.95, "sil"), (0.95, 1.18, "bin"), (1.18, 1.36, "blue")]
    mlf = tmp_path / "labels.mlf"
    mlf.write_text('#!MLF!#\n"/x/volunteers/01M/Clips/straightcam/sa1.rec"\n0 1000000 sil\n1000000 2000000 m\n'
                   '2000000 2500000 m\n2500000 4000000 aa\n.\n')
    phones = read_htk_mlf(mlf)["/x/volunteers/01M/Clips/straightcam/sa1.rec"]
    assert phones == [PhoneEvent("sil", 0.0, 0.1), PhoneEvent("m", 0.1, 0.25), PhoneEvent("aa", 0.25, 0.4)]


def test_split_files_carry_their_provenance():
    unseen = load_split("grid", "unseen10-v1")
    assert unseen["test"] == ["s2", "s4", "s11", "s13", "s15", "s18", "s19", "s25", "s31", "s33"]
    assert "unseen_splits.txt" in unseen["source"]
    assert load_split("grid", "s29")["test"] == ["s29"]
    official = load_split("tcd-timit", "official17")["test"]
    held = load_split("tcd-timit", "heldout10-v1")["test"]
    assert len(official) == 17 and len(held) == 10 and set(held) <= set(official)
    assert sum(v.endswith("F") for v in held) == 5
