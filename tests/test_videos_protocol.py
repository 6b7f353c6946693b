"""`videos:NAME`: a user's folder of talking videos, a user split and TextGrid alignments, prepared like GRID."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from benchmark.errors import BenchError
from benchmark.records import load_record
from protocols.user_videos import normalise_phone, read_ctm, read_split, read_textgrid
from tests.conftest import run_bench
from tests.fake_corpora import _canvas, _encode


def _textgrid(phones, starts, ends, duration: float) -> str:
    """Praat long format, as Montreal Forced Aligner writes it: a words tier, then a phones tier (ARPAbet)."""
    items = "".join(f'        intervals [{k}]:\n            xmin = {s}\n            xmax = {e}\n            text = "{p}"\n'
                    for k, (p, s, e) in enumerate(zip(phones, starts, ends), 1))
    return ('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = %s\ntiers? <exists>\nsize = 2\nitem []:\n'
            '    item [1]:\n        class = "IntervalTier"\n        name = "words"\n        xmin = 0\n        xmax = %s\n'
            '        intervals: size = 1\n        intervals [1]:\n            xmin = 0\n            xmax = %s\n'
            '            text = "hello"\n'
            '    item [2]:\n        class = "IntervalTier"\n        name = "phones"\n        xmin = 0\n        xmax = %s\n'
            '        intervals: size = %d\n%s') % (duration, duration, duration, duration, len(phones), items)


def _fake_folder(mini, root: Path, n: int = 3) -> tuple[Path, Path, list[str]]:
    """One folder per speaker of mp4 files with their own (48 kHz AAC) audio, at 30 fps, and TextGrids."""
    from scipy.signal import resample_poly

    videos, aligned, ids = root / "videos", root / "alignments", []
    aligned.mkdir(parents=True)
    for clip in mini.clips()[:n]:
        speaker, take = clip.id.split("_")
        frames = clip.load_frames()
        at30 = frames[np.clip(np.round(np.arange(int(len(frames) * 1.2)) / 1.2).astype(int), 0, len(frames) - 1)]
        _encode(videos / speaker / f"{take}.mp4", _canvas(at30, 320, 320), Fraction(30), "libx264",
                audio=resample_poly(clip.load_audio(), 3, 1), audio_rate=48000)
        truth = clip.load_annotations()
        labels = [p.upper() + ("1" if p in "aeiou" else "") for p in truth["phones"]]  # MFA-like spellings
        (aligned / f"{clip.id}.TextGrid").write_text(
            _textgrid(labels, truth["phone_start"], truth["phone_end"], len(frames) / 25))
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
    proc = run_bench("prepare", "videos", "--source", str(folder["videos"]), "--name", "my-lab",
                     "--split", str(folder["split"]), "--alignments", str(folder["alignments"]),
                     data_root=data, cwd=tmp_path)
    assert "prepared videos:my-lab/v1: 2 clips" in proc.stdout
    manifest = json.loads((data / "videos" / "my-lab" / "v1" / "manifest.json").read_text())
    assert [c["id"] for c in manifest["clips"]] == folder["ids"][:2]
    assert manifest["split"]["source"] == str(folder["split"]) and manifest["partial"] is None
    assert manifest["alignments"] == str(folder["alignments"]) and manifest["fps"] == 25

    run_bench("run", "--model", "ground-truth", "--dataset", "videos:my-lab", "--metrics", "psnr,bilabial",
              "--out", str(tmp_path / "runs"), "--no-progress", data_root=data, cwd=tmp_path)
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    assert record["protocol"]["id"] == "videos:my-lab/v1" and record["clips"]["scored"] == 2
    assert record["results"]["bilabial"]["n_scored"] == 2 and record["results"]["bilabial"]["value"] == 1.0

    unknown = run_bench("run", "--model", "still", "--dataset", "videos:nope", "--out", str(tmp_path / "runs"),
                        data_root=data, cwd=tmp_path, check_codes=(1,))
    assert "videos:nope is not prepared" in unknown.stderr and "videos:my-lab" in unknown.stderr


def test_without_alignments_bilabial_is_na_and_says_why(folder, tmp_path):
    data = tmp_path / "data"
    run_bench("prepare", "videos", "--source", str(folder["videos"]), "--name", "no-labels", data_root=data, cwd=tmp_path)
    proc = run_bench("run", "--model", "still", "--dataset", "videos:no-labels", "--metrics", "psnr,bilabial",
                     "--out", str(tmp_path / "runs"), "--no-progress", data_root=data, cwd=tmp_path)
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
    assert [(p.phone, p.start, round(p.end, 6)) for p in read_ctm(tmp_path / "a.ctm")] == \
        [("_", 0.0, 0.1), ("p", 0.1, 0.18), ("aa", 0.18, 0.3)]
    short = 'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n0.5\n<exists>\n1\n"IntervalTier"\n"phones"\n0\n0.5\n3\n' \
            '0\n0.1\n""\n0.1\n0.2\n"M"\n0.2\n0.5\n"IY1"\n'
    (tmp_path / "s.TextGrid").write_text(short)
    assert [(p.phone, p.start, p.end) for p in read_textgrid(tmp_path / "s.TextGrid")] == \
        [("_", 0.0, 0.1), ("m", 0.1, 0.2), ("iy", 0.2, 0.5)]
    assert normalise_phone("sp") == "_" and normalise_phone("ER0") == "er" and normalise_phone("'a:") == "'a:"
