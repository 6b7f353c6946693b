"""`folder`: scores videos made elsewhere; a corrupt and a missing file are recorded failures."""

import hashlib
import json

from benchmark.core.media import write_video
from benchmark.core.records import load_record
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

    proc = run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={videos}",
        "--dataset",
        "mini",
        "--metrics",
        "psnr",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(3,),
    )
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
    rows = [json.loads(line) for line in (run_dir / "clips.jsonl").read_text().splitlines()]
    assert sum(r["status"] == "ok" for r in rows) == 10


def test_folder_without_dir_is_a_clear_error(mini_data_root, tmp_path):
    proc = run_bench(
        "run",
        "--model",
        "folder",
        "--dataset",
        "mini",
        "--out",
        str(tmp_path),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert "--model-args dir=" in proc.stderr and "Traceback" not in proc.stderr


# ---- what can sit in the folder instead of a video --------------------------------------------


def _link_references(videos, clips):
    videos.mkdir(exist_ok=True)
    for clip in clips:
        (videos / f"{clip.id}.mp4").symlink_to(clip.video_path)  # the ground truth itself: PSNR at its cap


def _write_rgba_reference(path, clip, alpha: int) -> None:
    import av
    import numpy as np

    frames = clip.load_frames()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=int(clip.fps))
        stream.height, stream.width, stream.pix_fmt = frames.shape[1], frames.shape[2], "bgra"
        for image in frames:
            rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), alpha, np.uint8)], axis=-1)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")))
        container.mux(stream.encode())


def test_odd_entries_fail_their_clip_in_seconds_and_the_others_score(mini, mini_data_root, tmp_path):
    import os

    import numpy as np

    clips = mini.clips()
    videos = tmp_path / "videos"
    ok = [clips[4], *clips[8:]]
    _link_references(videos, clips[8:])
    (videos / f"{clips[4].id}.MP4").symlink_to(clips[4].video_path)  # upper-case extension: found
    os.mkfifo(videos / f"{clips[0].id}.mp4")
    (videos / f"{clips[1].id}.mp4").symlink_to("/dev/zero")
    (videos / f"{clips[2].id}.mp4").symlink_to(tmp_path / "gone.mp4")
    (videos / f"{clips[3].id}.mp4").mkdir()
    (videos / f"{clips[5].id}.mkv").symlink_to(clips[5].video_path)
    (videos / f"{clips[5].id}.MKV").symlink_to(clips[5].video_path)
    _write_rgba_reference(videos / f"{clips[6].id}.mkv", clips[6], alpha=0)  # invisible ground truth
    frames = clips[7].load_frames()
    write_video(videos / f"{clips[7].id}.mkv", np.concatenate([frames] * 3), clips[7].fps)
    (videos / "notes.txt").write_text("not a video")

    proc = run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={videos}",
        "--dataset",
        "mini",
        "--metrics",
        "psnr",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(3,),
        timeout=300,
    )
    assert "Traceback" not in proc.stderr
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    failures = {f["clip_id"]: f["message"] for f in record["failures"]}
    expected = {
        0: "not a regular file (a FIFO, socket or device); copy the video",
        1: "not a regular file",
        2: "a broken symlink",
        3: "a directory, not a video file",
        5: "differ only by case; keep one",
        6: "frame 0 has transparent pixels",
        7: f"{3 * clips[7].n_frames} frames, the clip has {clips[7].n_frames}; cut it",
    }
    assert set(failures) == {clips[i].id for i in expected}
    for i, text in expected.items():
        assert text in failures[clips[i].id] and str(videos) in failures[clips[i].id], failures[clips[i].id]
    assert record["results"]["psnr"]["n"] == len(ok) and record["results"]["psnr"]["value"] == 100.0


def test_the_adapter_reads_nothing_when_built_and_never_opens_a_fifo(mini, tmp_path):
    """Built and asked for every clip's input in a thread: a FIFO or /dev/zero must not hold it up."""
    import os
    import threading

    from adapters.folder import FolderAdapter

    clips = mini.clips()[:3]
    videos = tmp_path / "videos"
    videos.mkdir()
    os.mkfifo(videos / f"{clips[0].id}.mp4")
    (videos / f"{clips[1].id}.webm").symlink_to("/dev/zero")
    (videos / f"{clips[2].id}.Mov").symlink_to(clips[2].video_path)
    out = {}
    worker = threading.Thread(
        target=lambda: out.update({c.id: FolderAdapter(dir=str(videos)).clip_input(c) for c in clips}), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "a FIFO or /dev/zero was opened"
    assert "not a regular file" in out[clips[0].id]["problem"] and "not a regular file" in out[clips[1].id]["problem"]
    assert out[clips[2].id]["file"] == f"{clips[2].id}.Mov"
    assert out[clips[2].id]["sha256"] == hashlib.sha256(clips[2].video_path.read_bytes()).hexdigest()


def test_a_file_far_bigger_than_its_clip_is_not_read(mini, tmp_path):
    from adapters.folder import FolderAdapter, max_file_bytes

    clip = mini.clips()[0]
    videos = tmp_path / "videos"
    videos.mkdir()
    with open(videos / f"{clip.id}.avi", "wb") as f:  # sparse: takes no disk
        f.truncate(max_file_bytes(clip) + 1)
    limit = clip.n_frames * clip.size[0] * clip.size[1] * 3 * 2 + (16 << 20)
    assert max_file_bytes(clip) == limit
    problem = FolderAdapter(dir=str(videos)).clip_input(clip)["problem"]
    assert f"{clip.id}.avi" in problem and "is it this clip's video?" in problem


def test_new_videos_are_a_new_run_beside_the_old_one_scoring_only_the_changed_clip(mini, mini_data_root, tmp_path):
    """Issue 24.2: the same folder with a regenerated video reused the run folder and replaced v1's record."""
    from benchmark.engine.runner import RunConfig, Runner

    clips = mini.clips()
    videos = tmp_path / "videos"
    _link_references(videos, clips)
    config = RunConfig(
        model="folder",
        dataset="mini",
        model_args={"dir": str(videos)},
        metrics=("psnr",),
        limit=3,
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
        name="model-v1",
    )
    first = Runner(config, progress=False, log=lambda s: None).run()
    plan_before, _ = Runner(config, progress=False, log=lambda s: None).plan()

    (videos / "zz-unrelated.mp4").write_bytes(b"another model's output")  # an added file changes nothing
    assert Runner(config, progress=False, log=lambda s: None).plan()[0].run_id == plan_before.run_id
    changed = plan_before.clips[1]
    target = videos / f"{changed.id}.mp4"
    clip = {c.id: c for c in clips}[changed.id]
    target.unlink()
    write_video(target, clip.load_frames(), clip.fps, codec="libx264")  # the same clip, re-encoded lossily
    plan_after, _ = Runner(config, progress=False, log=lambda s: None).plan()
    assert plan_after.adapter["fingerprint"] == plan_before.adapter["fingerprint"]
    assert plan_after.run_id != plan_before.run_id  # what made the frames changed: another run
    moved = {a.id for a, b in zip(plan_before.clips, plan_after.clips) if a.key != b.key}
    assert moved == {changed.id}
    assert plan_after.clips[1].input["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()

    said = []
    second = Runner(config, progress=False, log=said.append).run()
    assert second.run_dir != first.run_dir and second.run_dir.parent == first.run_dir.parent
    assert any(
        f"a new run: 1 of 3 videos differ from run {first.run_dir} (clip ids {changed.id})" in s
        and "that run stays as it was" in s
        and "--name" in s
        for s in said
    ), said
    assert second.n_tasks == 1 and second.n_generated == 1  # the unchanged clips' scores were copied over
    before, after = load_record(first.run_dir), second.record
    assert before["results"]["psnr"]["value"] == 100.0 and before["label"] == "model-v1"  # v1 kept, as it was
    assert 30 < after["results"]["psnr"]["value"] < 100.0 and after["results"]["psnr"]["n"] == 3
    rows = [json.loads(line) for line in (second.run_dir / "clips.jsonl").read_text().splitlines()]
    assert sorted(r["clip_id"] for r in rows) == sorted(c.id for c in plan_after.clips)
    assert rows[-1]["clip_id"] == changed.id and rows[-1]["input"]["file"] == f"{changed.id}.mp4"

    third = Runner(config, progress=False, log=lambda s: None).run()  # the same files: the same run, resumed
    assert third.run_dir == second.run_dir and third.n_tasks == 0
    assert third.record["results"] == second.record["results"]


def test_a_sharded_folder_run_merges_into_the_unsharded_run(mini, mini_data_root, tmp_path):
    """Each shard hashes only its clips' files, so its run id is its share's; merge still fuses them."""
    from benchmark.engine.merge import merge_runs
    from benchmark.engine.runner import RunConfig, Runner

    videos = tmp_path / "videos"
    _link_references(videos, mini.clips())

    def run(**kw):
        config = RunConfig(
            model="folder",
            dataset="mini",
            model_args={"dir": str(videos)},
            metrics=("psnr",),
            limit=4,
            data_dir=mini_data_root,
            runs_dir=tmp_path / "runs",
            name="m",
            threads=1,
        )
        for k, v in kw.items():
            setattr(config, k, v)
        return Runner(config, progress=False, log=lambda s: None).run()

    # the shards scored with other thread counts: the folder's frames do not depend on them
    shards = [run(shard=(0, 2), runs_dir=tmp_path / "a"), run(shard=(1, 2), runs_dir=tmp_path / "b", threads=2)]
    assert all(s.exit_code == 0 for s in shards) and sum(s.n_scored for s in shards) == 4
    said = []
    merged = merge_runs([s.run_dir for s in shards], tmp_path / "merged", log=said.append)
    whole = run()
    assert merged.exit_code == 0 and merged.record["clips"] == whole.record["clips"]
    assert merged.record["run_id"] == whole.record["run_id"]  # the unsharded run's id, over every clip's file
    assert merged.record["results"]["psnr"]["value"] == whole.record["results"]["psnr"]["value"] == 100.0
    assert merged.record["settings"]["scoring_threads"] == [1, 2]
    assert any("computed with 1 and 2 torch threads" in s for s in said), said


def test_unknown_model_args_are_refused_with_the_accepted_ones(mini_data_root, tmp_path):
    proc = run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={tmp_path},rate=25",
        "--dataset",
        "mini",
        "--out",
        str(tmp_path),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert (
        "folder: unknown option 'rate' in --model-args (it accepts dir, fps, max_length_diff, resize, video_stream)"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr
    proc = run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={tmp_path},fps=25",
        "--dataset",
        "mini",
        "--out",
        str(tmp_path),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert "folder: fps='25' is not a resampling method I know" in proc.stderr and "fps=nearest" in proc.stderr


def test_an_unlistable_folder_fails_each_clip_not_the_run(tmp_path, monkeypatch):
    import errno
    import os
    from types import SimpleNamespace

    from adapters.folder import FolderAdapter

    adapter = FolderAdapter(dir=str(tmp_path))

    def refuse(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(os, "listdir", refuse)
    for clip_id in ("a", "b"):
        clip = SimpleNamespace(id=clip_id, n_frames=5, size=(8, 8))
        assert adapter.clip_input(clip) == {
            "problem": f"{tmp_path}: cannot be listed (Permission denied); fix its permissions"
        }


def test_a_file_replaced_between_plan_and_scoring_fails_that_clip(mini, mini_data_root, tmp_path):
    from benchmark.engine.worker import ClipTask, ClipWorker
    from benchmark.engine.runner import RunConfig, Runner

    clips = mini.clips()
    videos = tmp_path / "videos"
    _link_references(videos, clips)
    config = RunConfig(
        model="folder",
        dataset="mini",
        model_args={"dir": str(videos)},
        metrics=("psnr",),
        limit=2,
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
    )
    plan, _ = Runner(config, progress=False, log=lambda s: None).plan()
    swapped, kept = plan.clips
    (videos / f"{swapped.id}.mp4").unlink()
    (videos / f"{swapped.id}.mp4").symlink_to(next(c for c in clips if c.id != swapped.id).video_path)
    worker = ClipWorker(plan)
    failed = worker.process(ClipTask(swapped.id, [plan.metrics[0]["column"]])).row
    assert failed.status == "failed" and failed.error["message"] == (
        f"{swapped.id}.mp4 changed after this run was planned; re-run the same command to score the new file"
    )
    ok = worker.process(ClipTask(kept.id, [plan.metrics[0]["column"]])).row
    assert ok.status == "ok" and ok.input == kept.input and ok.outcomes[plan.metrics[0]["column"]].value == 100.0
