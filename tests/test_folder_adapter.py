"""`folder`: scores videos made elsewhere; a corrupt and a missing file are recorded failures."""

import json

from benchmark.media import write_video
from benchmark.records import load_record
from tests.conftest import run_bench


def test_corrupt_and_missing_videos_fail_with_reasons_others_score(mini, mini_data_root, tmp_path):
    videos = tmp_path / "videos"
    clips = mini.clips()
    corrupt, missing = clips[2].id, clips[5].id
    for clip in clips:
        if clip.id == missing:
            continue
        if clip.id == corrupt:
            videos.mkdir(exist_ok=True)
            (videos / f"{clip.id}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 50)
            continue
        write_video(videos / f"{clip.id}.mp4", clip.load_frames(), clip.fps, codec="libx264")

    proc = run_bench("run", "--model", "folder", "--model-args", f"dir={videos}", "--dataset", "mini",
                     "--metrics", "psnr", "--out", str(tmp_path / "runs"), "--no-progress",
                     data_root=mini_data_root, cwd=tmp_path, check_codes=(3,))
    assert "completed with failures: 2 of 12 clips failed" in proc.stderr
    run_dir = next((tmp_path / "runs").rglob("record.json")).parent
    record = load_record(run_dir)
    failures = {f["clip_id"]: f for f in record["failures"]}
    assert set(failures) == {corrupt, missing}
    assert "corrupt video" in failures[corrupt]["message"] and f"{corrupt}.mp4" in failures[corrupt]["message"]
    assert "missing video" in failures[missing]["message"] and f"{missing}.mp4" in failures[missing]["message"]
    assert record["clips"] == {"total": 12, "scored": 10, "failed": 2}
    assert record["results"]["psnr"]["n"] == 10
    # lossy h264 copies of the ground truth: high but not the identical-frame cap
    assert 30 < record["results"]["psnr"]["value"] < 100
    rows = [json.loads(l) for l in (run_dir / "clips.jsonl").read_text().splitlines()]
    assert sum(r["status"] == "ok" for r in rows) == 10


def test_folder_without_dir_is_a_clear_error(mini_data_root, tmp_path):
    proc = run_bench("run", "--model", "folder", "--dataset", "mini", "--out", str(tmp_path),
                     data_root=mini_data_root, cwd=tmp_path, check_codes=(1,))
    assert "--model-args dir=" in proc.stderr and "Traceback" not in proc.stderr
