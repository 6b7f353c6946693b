"""GRID and TCD-TIMIT: fake corpora in the published layouts, prepared by the real code, then scored."""

import json
import re

import numpy as np
import pytest

from benchmark.core.errors import BenchError
from benchmark.core.records import load_record
from benchmark.core.types import PhoneEvent
from protocols.base import describe_partial
from protocols.corpora import GridProtocol, GridS29Protocol, TcdTimitProtocol, partial_summary
from protocols.phones import read_grid_align, read_htk_mlf
from protocols.prepare import Problem, resample_indices
from protocols.splits import load_split
from tests.conftest import run_bench
from tests.fake_corpora import make_fake_grid, make_fake_tcd_timit


@pytest.fixture(scope="module")
def fake_grid(mini, tmp_path_factory):
    root = tmp_path_factory.mktemp("grid-source")
    return root, make_fake_grid(mini, root)


@pytest.fixture(scope="module")
def prepared_grid(fake_grid, tmp_path_factory):
    """`bench prepare grid` of the fake corpus, once for this module: the data root and what the command said."""
    source, _ = fake_grid
    data = tmp_path_factory.mktemp("grid-data")
    return data, run_bench("prepare", "grid", "--source", str(source), data_root=data, cwd=data, check_codes=(3,))


def test_grid_prepares_reports_bad_files_by_name_and_scores_end_to_end(fake_grid, prepared_grid, tmp_path):
    source, made = fake_grid
    data, proc = prepared_grid
    assert f"{made['corrupt']}: unreadable video" in proc.stderr
    assert "missing audio lwaz1s.wav" in proc.stderr
    assert "missing speaker s11" in proc.stderr
    s4 = source / "s4"
    assert f"{source}/audio_25k/s4/silent.wav: silent audio: RMS -80.0 dBFS is below -60 dBFS" in proc.stderr
    assert f"{source}/audio_25k/s4/clipped.wav: clipped audio:" in proc.stderr and "more than 0.1%" in proc.stderr
    assert f"{s4}/align/emptyalign.align: empty alignment" in proc.stderr
    assert f"{s4}/align/backwards.align: malformed alignment: times go back" in proc.stderr
    too_long = re.search(
        rf"{s4}/align/toolong.align: malformed alignment: ends at ([0-9.]+) s, beyond the audio's ([0-9.]+) s",
        proc.stderr,
    )
    assert too_long and float(too_long[1]) - float(too_long[2]) == pytest.approx(2.0, abs=0.01)  # 2 s past its audio
    assert "prepared grid/unseen10-v1: 4 clips" in proc.stdout
    assert "grid/unseen10-v1 is partial: 8 of 10 speakers missing" in proc.stderr
    manifest = json.loads((data / "grid" / "unseen10-v1" / "manifest.json").read_text())
    assert sorted(c["id"] for c in manifest["clips"]) == sorted(made["ok"])
    assert {p["file"] for p in manifest["problems"]} >= {str(made["corrupt"])}

    partial = manifest["partial"]
    kinds = {m["clip"]: m["kind"] for m in partial["missing"] if "clip" in m}
    assert kinds == {
        "s2_bbaz9n": "unreadable-media",
        "s2_lwaz1s": "missing-audio",
        made["silent"]: "silent-audio",
        made["clipped"]: "clipped-audio",
        made["emptyalign"]: "empty-alignment",
        made["backwards"]: "malformed-alignment",
        made["toolong"]: "malformed-alignment",
    }
    split = load_split("grid", "unseen10-v1")["test"]
    absent = [s for s in split if s not in ("s2", "s4")]
    assert sorted(m["speaker"] for m in partial["missing"] if "clip" not in m) == sorted(absent)
    assert partial["missing_speakers"] == absent
    assert (partial["n_present"], partial["n_expected"]) == (4, 4 + len(kinds))
    assert (partial["n_speakers_present"], partial["n_speakers_expected"]) == (2, 10)
    assert all(m["reason"] for m in partial["missing"])

    runs = tmp_path / "runs"
    args = (
        "run",
        "--model",
        "ground-truth",
        "--dataset",
        "grid",
        "--metrics",
        "psnr,bilabial",
        "--out",
        str(runs),
        "--no-progress",
    )
    refused = run_bench(*args, data_root=data, cwd=tmp_path, check_codes=(3,))
    assert refused.stderr.startswith("warning: grid/unseen10-v1 is partial: 8 of 10 speakers missing")
    assert "--allow-partial" in refused.stderr.splitlines()[-1]
    assert "completed: 4 of 4 clips scored" in refused.stdout  # scored and recorded all the same

    run = run_bench(*args, "--allow-partial", data_root=data, cwd=tmp_path)
    assert "completed: 4 of 4 clips scored" in run.stdout and "is partial" in run.stderr
    run_dir = next(runs.rglob("record.json")).parent
    record = load_record(run_dir)  # validated against the record schema
    assert record["protocol"]["id"] == "grid/unseen10-v1"
    assert record["protocol"]["partial"] == partial
    assert record["results"]["bilabial"]["totals"]["events"] >= 4  # CMUdict-expanded /p b m/ events
    assert record["results"]["bilabial"]["reference_closure_rate"] >= 0.8  # and the face really closes on them

    broken = json.loads((run_dir / "record.json").read_text())
    broken["protocol"]["partial"]["n_present"] = "4"
    (run_dir / "record.json").write_text(json.dumps(broken))
    with pytest.raises(BenchError, match="at protocol/partial"):
        load_record(run_dir)


def test_a_complete_corpus_records_partial_none(mini, tmp_path):
    source, data = tmp_path / "grid", tmp_path / "data"
    made = make_fake_grid(mini, source, speakers=("s29",), per_speaker=1, broken=False)
    proc = run_bench("prepare", "grid-s29", "--source", str(source), data_root=data, cwd=tmp_path)
    assert "problem" not in proc.stderr and "partial" not in proc.stderr
    manifest = json.loads((data / "grid" / "s29" / "manifest.json").read_text())
    assert manifest["partial"] is None and [c["id"] for c in manifest["clips"]] == made["ok"]
    assert GridS29Protocol(data).partial is None
    assert manifest["preprocessing"]["source_checks"]["silence_rms_dbfs"] == -60.0


def test_preparing_twice_does_no_work_and_keeps_the_fingerprint(fake_grid, prepared_grid, tmp_path):
    source, _ = fake_grid
    data, first = prepared_grid
    videos = sorted((data / "grid" / "clips").rglob("video_256.mkv"))
    stamps = [v.stat().st_mtime_ns for v in videos]
    second = run_bench("prepare", "grid", "--source", str(source), data_root=data, cwd=tmp_path, check_codes=(3,))
    assert "4 clips (4 already done)" in second.stdout
    assert [v.stat().st_mtime_ns for v in videos] == stamps
    fingerprint = lambda out: out.split("fingerprint ")[1].split(")")[0]
    assert fingerprint(first.stdout) == fingerprint(second.stdout)
    # one fingerprint: the one printed is the manifest's (and the one runs record as clip_list_fingerprint)
    manifest = json.loads((data / "grid" / "unseen10-v1" / "manifest.json").read_text())
    assert manifest["fingerprint"].startswith(fingerprint(first.stdout)) and len(fingerprint(first.stdout)) == 12


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
    assert manifest["partial"]["missing_speakers"] == [
        v for v in load_split("tcd-timit", "heldout10-v1")["test"] if v not in ("08F", "18M")
    ]
    run = run_bench(
        "run",
        "--model",
        "ground-truth",
        "--dataset",
        "tcd-timit",
        "--metrics",
        "psnr,bilabial",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        "--allow-partial",
        data_root=data,
        cwd=tmp_path,
    )
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
    mlf.write_text(
        '#!MLF!#\n"/x/volunteers/01M/Clips/straightcam/sa1.rec"\n0 1000000 sil\n1000000 2000000 m\n'
        "2000000 2500000 m\n2500000 4000000 aa\n.\n"
    )
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


def test_malformed_label_files_cost_one_clip_not_the_corpus(tmp_path):
    align = tmp_path / "x.align"
    align.write_text("0 23750 sil\n23750 2950O bin\n")
    with pytest.raises(ValueError, match=r"x.align:2: expected 'start end word' \(integer times\)"):
        read_grid_align(align)
    mlf = tmp_path / "volunteer_labelfiles.mlf"
    mlf.write_text(
        '#!MLF!#\n"/c/volunteers/08F/Clips/straightcam/sa1.rec"\n0 1000000 sil\n1000000 2000000 aa\n.\n'
        '"/c/volunteers/08F/Clips/straightcam/sa2.rec"\n0 1000000 sil\n10x0000 2000000 m\n2000000 3000000 aa\n.\n'
        '"/c/volunteers/08F/Clips/straightcam/sx3.rec"\n0 1000000 sil\n.\n'
        '"/c/volunteers/08F/Clips/straightcam/sx4.rec"\n0 1000000 sil\n2000000 1500000 aa\n.\n'
    )
    errors = {}
    parsed = read_htk_mlf(mlf, errors=errors)
    assert sorted(parsed) == [
        "/c/volunteers/08F/Clips/straightcam/sa1.rec",
        "/c/volunteers/08F/Clips/straightcam/sx3.rec",
        "/c/volunteers/08F/Clips/straightcam/sx4.rec",
    ]
    assert list(errors) == ["/c/volunteers/08F/Clips/straightcam/sa2.rec"] and ":8:" in errors[list(errors)[0]]
    with pytest.raises(ValueError, match=":8: expected 'start end phone'"):
        read_htk_mlf(mlf)

    source = tmp_path / "tcd"
    videos = source / "volunteers" / "08F" / "Clips" / "straightcam"
    videos.mkdir(parents=True)
    for stem in ("sa1", "sa2", "sx3", "sx4", "sx5"):
        (videos / f"{stem}.mp4").write_bytes(b"")  # discovery reads no video
    (source / "volunteer_labelfiles.mlf").write_bytes(mlf.read_bytes())
    sources, problems = TcdTimitProtocol(tmp_path / "data").discover(source, ["08F", "09F"])
    assert [s.clip_id for s in sources] == ["08F_sa1"]
    assert {(p.clip, p.kind) for p in problems} == {
        ("08F_sa2", "malformed-alignment"),
        ("08F_sx3", "empty-alignment"),
        ("08F_sx4", "malformed-alignment"),
        ("08F_sx5", "missing-alignment"),
        (None, "missing-speaker"),
    }
    assert next(p for p in problems if p.kind == "missing-speaker").speaker == "09F"


@pytest.mark.parametrize("n_bad, absent", [(0, []), (2, []), (0, ["s3"]), (3, ["s3", "s4"])])
def test_partial_summary_counts_missing_clips_and_speakers(n_bad, absent):
    speakers = ["s1", "s2", "s3", "s4"]
    present = [{"id": f"{s}_c{k}", "speaker": s} for s in speakers if s not in absent for k in range(2)]
    problems = [Problem(f"/src/{k}.wav", "silent audio", "silent-audio", "s1", f"s1_bad{k}") for k in range(n_bad)]
    problems += [Problem(f"/src/{s}", f"missing speaker {s}", "missing-speaker", s) for s in absent]
    partial = partial_summary(problems, present, speakers)
    if not problems:
        assert partial is None
        return
    assert (partial["n_present"], partial["n_expected"]) == (len(present), len(present) + n_bad)
    assert partial["missing_speakers"] == absent and partial["n_speakers_present"] == 4 - len(absent)
    assert [m.get("clip") for m in partial["missing"]] == [f"s1_bad{k}" for k in range(n_bad)] + [None] * len(absent)
    line = describe_partial("grid/x", partial)
    assert (f"{len(absent)} of 4 speakers missing" in line) == bool(absent)
    assert f"{n_bad} of {len(present) + n_bad} clips found in the source not prepared" in line
    # a speaker whose every clip failed is missing too, listed by its clips
    only = partial_summary([Problem("/src/a.wav", "x", "clipped-audio", "s2", "s2_a")], [present[0]], ["s1", "s2"])
    assert only["missing_speakers"] == ["s2"] and len(only["missing"]) == 1


@pytest.mark.parametrize(
    "problems, partial", [([], None), ([{"file": "/src/s11", "problem": "missing speaker s11"}], "error")]
)
def test_a_manifest_from_before_partial_tracking_is_whole_only_without_problems(tmp_path, problems, partial):
    folder = tmp_path / "grid" / "unseen10-v1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"clips": [], "problems": problems}))
    protocol = GridProtocol(tmp_path)
    if partial is None:
        assert protocol.partial is None
    else:
        with pytest.raises(BenchError, match="prepared with 1 problem by an older harness") as err:
            protocol.partial
        assert str(folder / "manifest.json") in str(err.value) and "bench prepare grid --source" in str(err.value)


def test_a_source_file_whose_clip_id_is_not_a_safe_name_is_a_problem_not_a_path(tmp_path):
    """Discovered ids name the folders clips are prepared into: an unsafe one is reported, the rest go on."""
    from protocols.corpora import PreparedCorpusProtocol
    from protocols.prepare import SourceClip

    good = SourceClip("spk1_a", "spk1", tmp_path / "spk1" / "a.mp4", None, ())
    bad = [
        SourceClip("spk1_..", "spk1", tmp_path / "spk1" / "...mp4", None, ()),
        SourceClip("x", "..", tmp_path / "x.mp4", None, ()),
    ]
    problems: list[Problem] = []
    assert PreparedCorpusProtocol._safe_ids([good, *bad], problems) == [good]
    assert [(p.kind, p.clip) for p in problems] == [("unsafe-clip-id", "spk1_.."), ("unsafe-clip-id", "x")]
    assert "rename the file" in problems[0].message
