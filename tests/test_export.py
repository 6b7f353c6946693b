"""`bench export`: a pack of a protocol's inputs, and its outputs scored back with `folder`."""

from __future__ import annotations

import csv
import json

import numpy as np

from benchmark.core.media import read_wav, write_video
from benchmark.core.records import load_record
from benchmark.engine.runner import RunConfig, Runner
from tests.conftest import MINI_ID, run_bench


def test_export_selects_the_run_clips_and_its_outputs_score_back(mini, mini_data_root, tmp_path):
    pack = tmp_path / "pack"
    proc = run_bench(
        "export", "mini", "-o", str(pack), "--limit", "4", "--subset-seed", "3", data_root=mini_data_root, cwd=tmp_path
    )
    assert f"exported 4 clips of {MINI_ID}" in proc.stdout
    manifest = json.loads((pack / "manifest.json").read_text())
    rows = list(csv.DictReader((pack / "manifest.csv").open()))
    plan, _ = Runner(
        RunConfig(model="still", dataset="mini", limit=4, subset_seed=3, data_dir=mini_data_root),
        progress=False,
        log=lambda s: None,
    ).plan()
    assert [c["clip_id"] for c in manifest["clips"]] == [r["clip_id"] for r in rows] == [c.id for c in plan.clips]
    assert manifest["protocol"]["clip_list_fingerprint"] == plan.protocol["clip_list_fingerprint"]
    assert manifest["identity_rule"] == mini.identity_rule and "rendering at rest" in manifest["identity_rule"]
    clips = {c.id: c for c in mini.clips()}
    for entry in manifest["clips"]:
        clip = clips[entry["clip_id"]]
        assert (pack / entry["audio"]).read_bytes() == clip.audio_path.read_bytes()  # untouched without --audio-rate
        assert (pack / entry["identity"]).read_bytes() == clip.identity_path.read_bytes()
        assert (entry["n_frames"], entry["fps"], entry["height"], entry["width"]) == (
            clip.n_frames,
            clip.fps,
            *clip.size,
        )
        assert entry["output"] == f"{clip.id}.mp4"
    readme = (pack / "README.md").read_text()
    assert (
        "--model folder --model-args dir=/path/to/outputs --dataset mini" in readme
        and "--limit 4 --subset-seed 3" in readme
    )

    outputs = tmp_path / "outputs"  # a "model" that returns the ground truth, named as the pack says
    for entry in manifest["clips"]:
        clip = clips[entry["clip_id"]]
        write_video(outputs / entry["output"], clip.load_frames(), entry["fps"], codec="ffv1")
    run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={outputs}",
        "--name",
        "exported",
        "--dataset",
        "mini",
        "--limit",
        "4",
        "--subset-seed",
        "3",
        "--metrics",
        "psnr",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    assert record["clips"] == {"total": 4, "scored": 4, "failed": 0} and record["results"]["psnr"]["value"] == 100.0


def test_export_resamples_audio_on_request(mini, mini_data_root, tmp_path):
    run_bench(
        "export",
        "mini",
        "-o",
        str(tmp_path / "pack"),
        "--limit",
        "1",
        "--audio-rate",
        "22050",
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    entry = json.loads((tmp_path / "pack" / "manifest.json").read_text())["clips"][0]
    clip = next(c for c in mini.clips() if c.id == entry["clip_id"])
    audio, rate = read_wav(tmp_path / "pack" / entry["audio"])
    original, original_rate = read_wav(clip.audio_path)
    assert rate == entry["audio_rate"] == 22050
    assert abs(len(audio) / rate - len(original) / original_rate) < 1e-3
    # the same speech: the resampled signal's energy matches the original's
    assert np.isclose(
        np.sqrt(np.mean(audio.astype(np.float64) ** 2)), np.sqrt(np.mean(original.astype(np.float64) ** 2)), rtol=0.02
    )


def test_export_refuses_bad_options_in_one_line(mini_data_root, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("mine")
    for args, message in (
        (["--limit", "0"], "--limit 0: must be a positive number"),
        (["--audio-rate", "16"], "--audio-rate 16: not an audio sample rate"),
        ([], "exists and is not an export pack"),
    ):
        out = str(tmp_path / ("busy" if not args else "pack"))
        proc = run_bench("export", "mini", "-o", out, *args, data_root=mini_data_root, cwd=tmp_path, check_codes=(1,))
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "busy" / "thesis.tex").read_text() == "mine"


def test_a_clip_id_that_leaves_its_folder_is_refused_where_the_clips_are_loaded(mini, tmp_path):
    """A manifest naming clip `../../x` must not make `bench export` (or any command) write outside
    its folder: the protocol refuses the id as it loads its clip list, naming the manifest."""
    import pytest

    from benchmark.core.errors import BenchError
    from benchmark.engine.export import export_pack
    from benchmark.core.settings import Settings
    from protocols.user_videos import VideosProtocol

    clip = mini.clips()[0]
    data = tmp_path / "data"
    protocol = VideosProtocol(data, "tampered")
    protocol.prepared_dir.mkdir(parents=True)
    files = {"video": str(clip.video_path), "audio": str(clip.audio_path), "identity": str(clip.identity_path)}
    manifest = {
        "fps": 25,
        "size": [256, 256],
        "sample_rate": 16000,
        "clips": [{"id": "../../x", "speaker": "spk1", "n_frames": clip.n_frames, "files": files, "fingerprint": "f"}],
    }
    (protocol.prepared_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BenchError, match=r"manifest\.json: clip id '\.\./\.\./x' is not a safe file name"):
        protocol.clips()
    pack = tmp_path / "work" / "pack"
    with pytest.raises(BenchError, match="not a safe file name"):
        export_pack("videos:tampered", pack, Settings.create(data), log=lambda s: None)
    assert not (tmp_path / "x").exists() and not (tmp_path / "work" / "x").exists()
