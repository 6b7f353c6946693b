"""`videos:NAME`: a user's folder of talking videos, a user split and TextGrid alignments, prepared like GRID."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.errors import BenchError
from benchmark.core.records import load_record
from protocols.user_videos import normalise_phone, read_ctm, read_split, read_textgrid
from tests.conftest import run_bench
from tests.fake_corpora import _canvas, _encode


def _textgrid(phones, starts, ends, duration: float) -> str:
    """Praat long format, as Montreal Forced Aligner writes it: a words tier, then a phones tier (ARPAbet)."""
    items = "".join(
        f'        intervals [{k}]:\n            xmin = {s}\n            xmax = {e}\n            text = "{p}"\n'
        for k, (p, s, e) in enumerate(zip(phones, starts, ends), 1)
    )
    return (
        'File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = %s\ntiers? <exists>\nsize = 2\nitem []:\n'
        '    item [1]:\n        class = "IntervalTier"\n        name = "words"\n        xmin = 0\n        xmax = %s\n'
        "        intervals: size = 1\n        intervals [1]:\n            xmin = 0\n            xmax = %s\n"
        '            text = "hello"\n'
        '    item [2]:\n        class = "IntervalTier"\n        name = "phones"\n        xmin = 0\n        xmax = %s\n'
        "        intervals: size = %d\n%s"
    ) % (duration, duration, duration, duration, len(phones), items)


def _fake_folder(mini, root: Path, n: int = 3) -> tuple[Path, Path, list[str]]:
    """One folder per speaker of mp4 files with their own (48 kHz AAC) audio, at 30 fps, and TextGrids."""
    from scipy.signal import resample_poly

    videos, aligned, ids = root / "videos", root / "alignments", []
    aligned.mkdir(parents=True)
    for clip in mini.clips()[:n]:
        speaker, take = clip.id.split("_")
        frames = clip.load_frames()
        at30 = frames[np.clip(np.round(np.arange(int(len(frames) * 1.2)) / 1.2).astype(int), 0, len(frames) - 1)]
        _encode(
            videos / speaker / f"{take}.mp4",
            _canvas(at30, 320, 320),
            Fraction(30),
            "libx264",
            audio=resample_poly(clip.load_audio(), 3, 1),
            audio_rate=48000,
        )
        truth = clip.load_annotations()
        labels = [p.upper() + ("1" if p in "aeiou" else "") for p in truth["phones"]]  # MFA-like spellings
        (aligned / f"{clip.id}.TextGrid").write_text(
            _textgrid(labels, truth["phone_start"], truth["phone_end"], len(frames) / 25)
        )
        ids.append(clip.id)
    return videos, aligned, ids


@pytest.fixture(scope="module")
def folder(mini, tmp_path_factory):
    root = tmp_path_factory.mktemp("own-videos")
    videos, aligned, ids = _fake_folder(mini, root)
    split = root / "split.json"
    split.write_text(json.dumps({"test": ids[:2], "source": "my lab's held-out takes"}))
    return {"root": root, "videos": videos, "alignments": aligned, "ids": ids, "split": split}


def test_a_folder_with_a_split_and_textgrids_prepares_and_scores_bilabial(folder, tmp_path):
    data = tmp_path / "data"
    proc = run_bench(
        "prepare",
        "videos",
        "--source",
        str(folder["videos"]),
        "--name",
        "my-lab",
        "--split",
        str(folder["split"]),
        "--alignments",
        str(folder["alignments"]),
        data_root=data,
        cwd=tmp_path,
    )
    assert "prepared videos:my-lab/v1: 2 clips" in proc.stdout
    manifest = json.loads((data / "videos" / "my-lab" / "v1" / "manifest.json").read_text())
    assert [c["id"] for c in manifest["clips"]] == folder["ids"][:2]
    assert manifest["split"]["source"] == str(folder["split"]) and manifest["partial"] is None
    assert manifest["alignments"] == str(folder["alignments"]) and manifest["fps"] == 25

    run_bench(
        "run",
        "--model",
        "ground-truth",
        "--dataset",
        "videos:my-lab",
        "--metrics",
        "psnr,bilabial",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=data,
        cwd=tmp_path,
    )
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    assert record["protocol"]["id"] == "videos:my-lab/v1" and record["clips"]["scored"] == 2
    assert record["results"]["bilabial"]["n_scored"] == 2 and record["results"]["bilabial"]["value"] == 1.0

    unknown = run_bench(
        "run",
        "--model",
        "still",
        "--dataset",
        "videos:nope",
        "--out",
        str(tmp_path / "runs"),
        data_root=data,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert "videos:nope is not prepared" in unknown.stderr and "videos:my-lab" in unknown.stderr


def test_without_alignments_bilabial_is_na_and_says_why(folder, tmp_path):
    data = tmp_path / "data"
    run_bench(
        "prepare", "videos", "--source", str(folder["videos"]), "--name", "no-labels", data_root=data, cwd=tmp_path
    )
    proc = run_bench(
        "run",
        "--model",
        "still",
        "--dataset",
        "videos:no-labels",
        "--metrics",
        "psnr,bilabial",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=data,
        cwd=tmp_path,
    )
    assert "n/a: no phone alignments" in proc.stdout and "completed: 3 of 3 clips scored" in proc.stdout


def test_split_files_and_alignment_formats_are_read(tmp_path):
    csv = tmp_path / "split.csv"
    csv.write_text("clip_id,split\na_1,test\na_2,train\nb_1,TEST\n")
    assert read_split(csv) == ["a_1", "b_1"]
    (tmp_path / "list.json").write_text('["x", "y"]')
    assert read_split(tmp_path / "list.json") == ["x", "y"]
    (tmp_path / "bad.json").write_text('{"test": 3}')
    with pytest.raises(BenchError, match="bad.json: cannot be read"):
        read_split(tmp_path / "bad.json")
    (tmp_path / "a.ctm").write_text("a_1 1 0.00 0.10 sil\na_1 1 0.10 0.08 P\na_1 1 0.18 0.12 AA1\n")
    assert [(p.phone, p.start, round(p.end, 6)) for p in read_ctm(tmp_path / "a.ctm")] == [
        ("_", 0.0, 0.1),
        ("p", 0.1, 0.18),
        ("aa", 0.18, 0.3),
    ]
    short = (
        'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n0.5\n<exists>\n1\n"IntervalTier"\n"phones"\n0\n0.5\n3\n'
        '0\n0.1\n""\n0.1\n0.2\n"M"\n0.2\n0.5\n"IY1"\n'
    )
    (tmp_path / "s.TextGrid").write_text(short)
    assert [(p.phone, p.start, p.end) for p in read_textgrid(tmp_path / "s.TextGrid")] == [
        ("_", 0.0, 0.1),
        ("m", 0.1, 0.2),
        ("iy", 0.2, 0.5),
    ]
    assert normalise_phone("sp") == "_" and normalise_phone("ER0") == "er" and normalise_phone("'a:") == "'a:"


def test_a_split_csv_saved_by_excel_is_read_and_a_wrong_header_is_named(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark; a header without clip_id is refused naming the header it has."""
    excel = tmp_path / "excel.csv"
    excel.write_bytes("clip_id,split\r\na_1,test\r\na_2,train\r\n".encode("utf-8-sig"))
    assert read_split(excel) == ["a_1"]
    semicolons = tmp_path / "semicolons.csv"  # Excel in a locale whose list separator is ';'
    semicolons.write_bytes("clip_id;split\r\na_1;test\r\n".encode("utf-8-sig"))
    with pytest.raises(BenchError, match=r"semicolons\.csv: no clip_id column \(its header is 'clip_id;split'\)"):
        read_split(semicolons)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(BenchError, match=r"no clip_id column \(it is empty\)"):
        read_split(empty)


def test_a_source_folder_without_videos_says_so(tmp_path):
    """Not "no clip could be prepared (0 problems above)": the folder has no video file at all."""
    from protocols.user_videos import VideosProtocol

    source = tmp_path / "source"
    (source / "spk1").mkdir(parents=True)
    (source / "spk1" / "notes.txt").write_text("not a video")
    with pytest.raises(
        BenchError, match=r"--source .*source: no video files found \(looked for \.mp4 .*in sub-folders too\)"
    ):
        VideosProtocol(tmp_path / "data", "empty").prepare(source)
    assert not (tmp_path / "data" / "videos" / "empty" / "v1" / "manifest.json").exists()
    (source / "spk1" / "take1.mp4").write_bytes(b"")  # a video, but the split names no test clip
    split = tmp_path / "split.csv"
    split.write_text("clip_id,split\nspk1_take1,train\n")
    with pytest.raises(BenchError, match=r"nothing to prepare \(no clip of the split was found there\)"):
        VideosProtocol(tmp_path / "data", "empty").prepare(source, split=split)


def test_sigterm_during_prepare_says_what_was_kept_and_that_rerunning_resumes(mini, tmp_path, monkeypatch, capsys):
    """`kill` (Slurm pre-emption) while clips are prepared: like `bench run`, the CLI says what is kept and
    how to resume (it printed only "aborted"), exits 130, and the next run reuses the prepared clip."""
    import os
    import shutil
    import signal
    import sys

    import tqdm

    from benchmark import cli

    clip = mini.clips()[0]
    source = tmp_path / "source" / "spk1"
    source.mkdir(parents=True)
    shutil.copyfile(clip.video_path, source / "take1.mkv")
    shutil.copyfile(clip.audio_path, source / "take1.wav")
    argv = [
        "bench",
        "prepare",
        "videos",
        "--source",
        str(source.parent),
        "--name",
        "killed",
        "--workers",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(
        tqdm.tqdm, "update", lambda self, n=1: os.kill(os.getpid(), signal.SIGTERM)
    )  # killed after a clip
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as stop:
            cli.main()
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert stop.value.code == 130
    assert "aborted" not in err
    assert (
        "interrupted: 1 of 1 clips prepared in this run and kept in" in err
        and "Re-run the same command to resume" in err
    )
    assert not (tmp_path / "data" / "videos" / "killed" / "v1" / "manifest.json").exists()
    monkeypatch.undo()
    monkeypatch.setattr(sys, "argv", argv)
    cli.main()  # the same command again: the kept clip is reused
    assert "prepared videos:killed/v1: 1 clips (1 already done)" in capsys.readouterr().out
