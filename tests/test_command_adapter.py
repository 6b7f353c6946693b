"""`command`: a model in its own environment, run once per clip through a command template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.command import CommandAdapter
from benchmark.core.errors import BenchError
from benchmark.core.records import load_record
from protocols.mini import MiniProtocol
from tests.conftest import run_bench

# a stand-in "model repository": holds the identity image for the clip's length, like `still`;
# fails on request, sleeps on request, and logs the arguments it got
MODEL = """
import argparse, sys, time
import numpy as np
from benchmark.core.media import read_image, write_video
p = argparse.ArgumentParser()
p.add_argument("--face"); p.add_argument("--audio"); p.add_argument("--out"); p.add_argument("--frames", type=int)
p.add_argument("--fps", type=float); p.add_argument("--clip"); p.add_argument("--tag", default="")
a = p.parse_args()
open("argv.log", "a").write(repr(sys.argv[1:]) + "\\n")
if a.clip == FAIL:
    sys.stderr.write("Traceback (most recent call last): ...\\nRuntimeError: CUDA out of memory (simulated)\\n"); sys.exit(2)
if FAIL == "sleep":
    time.sleep(60)
image = read_image(a.face)
write_video(a.out, np.repeat(image[None], a.frames, axis=0), a.fps, codec="libx264rgb")
"""


def _repo(tmp_path, fail: str = "") -> tuple:
    repo = tmp_path / "their-model"
    repo.mkdir()
    (repo / "inference.py").write_text(f"FAIL = {fail!r}\n" + MODEL)
    args = tmp_path / "args.txt"
    args.write_text(
        f"# the model's own interpreter\npython={sys.executable}\ncwd={repo}\nversion=v1\n"
        "run={python} inference.py --face {identity} --audio {audio} --out {output} --frames {n_frames} "
        "--fps {fps} --clip {clip_id} --tag 'a,b \"c\"'\n"
    )
    return repo, args


def test_command_model_is_scored_like_the_same_model_in_process(mini, mini_data_root, tmp_path):
    repo, args = _repo(tmp_path)
    common = (
        "--dataset",
        "mini",
        "--limit",
        "2",
        "--metrics",
        "ssim",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
    )
    run_bench(
        "run",
        "--model",
        "command",
        "--model-args-file",
        str(args),
        "--name",
        "held-still",
        *common,
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    run_bench("run", "--model", "still", *common, data_root=mini_data_root, cwd=tmp_path)
    records = {r["label"]: r for r in (load_record(p.parent) for p in (tmp_path / "runs").rglob("record.json"))}
    command, still = records["held-still"], records["still"]
    assert command["clips"] == {"total": 2, "scored": 2, "failed": 0}
    # the same frames through an RGB H.264 round trip (about 43 dB): the same SSIM to a fraction of a percent.
    # (Not PSNR: mini's clips start at the identity's pose, where `still` is exact and capped at 100 dB.)
    assert abs(command["results"]["ssim"]["value"] - still["results"]["ssim"]["value"]) < 0.005
    assert command["adapter"]["config"]["version"] == "v1" and command["adapter"]["model_version"] == "v1"
    logged = (repo / "argv.log").read_text().splitlines()
    assert len(logged) == 2 and all("'a,b \"c\"'" in line for line in logged)  # commas and quotes arrive verbatim
    # the recorded command can be re-run: values with commas go to a model-args file beside the record
    from benchmark.cli import read_model_args_file

    run_dir = next(
        p.parent for p in (tmp_path / "runs").rglob("record.json") if load_record(p.parent)["label"] == "held-still"
    )
    assert "--model-args-file model-args.txt" in command["command"]
    assert read_model_args_file(run_dir / "model-args.txt") == read_model_args_file(args)


def test_a_failing_clip_keeps_its_stderr_and_the_others_score(mini, mini_data_root, tmp_path):
    clips = sorted(c.id for c in mini.clips())
    _, args = _repo(tmp_path, fail=clips[0])
    proc = run_bench(
        "run",
        "--model",
        "command",
        "--model-args-file",
        str(args),
        "--name",
        "m",
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
    assert "completed with failures: 1 of 12 clips failed" in proc.stderr  # the harness itself did not crash
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    (failure,) = record["failures"]
    assert failure["clip_id"] == clips[0] and "exited with status 2" in failure["message"]
    assert "CUDA out of memory (simulated)" in failure["message"]
    assert record["clips"]["scored"] == 11


def test_a_hanging_model_is_stopped_at_its_timeout(mini_data_root, tmp_path):
    _, args = _repo(tmp_path, fail="sleep")
    run_bench(
        "run",
        "--model",
        "command",
        "--model-args-file",
        str(args),
        "--model-args",
        "timeout=2",
        "--name",
        "m",
        "--dataset",
        "mini",
        "--limit",
        "1",
        "--metrics",
        "psnr",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
        timeout=60,
    )
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    assert "ran past timeout=2 s and was stopped" in record["failures"][0]["message"]
    assert record["clips"] == {"total": 1, "scored": 0, "failed": 1}


@pytest.mark.parametrize(
    "run, message",
    [
        ("python x.py --out {outptu}", "unknown placeholder"),
        ("python x.py --face {identity}", "never mentions {output}"),
        ("python 'x.py --out {output}", "cannot be split like a shell line"),
    ],
)
def test_bad_templates_are_one_clear_line(run, message, tmp_path):
    with pytest.raises(BenchError, match="command adapter") as err:
        CommandAdapter(run=run, cwd=str(tmp_path), version="1")
    assert message in err.value.message


def test_fingerprint_follows_version_or_git_commit(tmp_path):
    run = "python x.py --out {output}"
    assert CommandAdapter(run=run, version="1").fingerprint() != CommandAdapter(run=run, version="2").fingerprint()
    unversioned = CommandAdapter(run=run, cwd=str(tmp_path))
    assert unversioned.warnings() and "version=" in unversioned.warnings()[0]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "x.py").write_text("print(1)\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "x.py"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "model"], cwd=tmp_path, check=True)
    clean = CommandAdapter(run=run, cwd=str(tmp_path))
    assert clean.version.startswith("git:") and not clean.warnings()
    (tmp_path / "x.py").write_text("print(2)\n")  # an uncommitted edit of the model changes the fingerprint
    edited = CommandAdapter(run=run, cwd=str(tmp_path))
    assert "+dirty:" in edited.version and edited.fingerprint() != clean.fingerprint()
    assert clean.default_label() == tmp_path.name


def test_a_command_writing_another_rate_is_resampled_when_asked_and_the_row_says_so(mini_data_root, tmp_path):
    repo, args = _repo(tmp_path)
    text = args.read_text().replace("--frames {n_frames} --fps {fps}", "--frames 91 --fps 30")
    args.write_text(text)
    common = (
        "--model",
        "command",
        "--model-args-file",
        str(args),
        "--dataset",
        "mini",
        "--limit",
        "1",
        "--metrics",
        "psnr",
        "--no-progress",
    )
    refused = run_bench(
        "run", *common, "--out", str(tmp_path / "a"), data_root=mini_data_root, cwd=tmp_path, check_codes=(1,)
    )
    assert "30 fps but the protocol is 25 fps: pass fps=nearest" in refused.stderr
    (row,) = [json.loads(line) for line in next((tmp_path / "a").rglob("clips.jsonl")).read_text().splitlines()]
    clip = next(c for c in MiniProtocol(mini_data_root).clips() if c.id == row["clip_id"])
    frames_at_30 = (
        round(clip.n_frames / clip.fps * 30) + 1
    )  # the clip's duration at 30 fps: one frame over after resampling
    args.write_text(text.replace("--frames 91", f"--frames {frames_at_30}"))
    run_bench(
        "run",
        *common,
        "--model-args",
        "fps=nearest",
        "--out",
        str(tmp_path / "b"),
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    record = load_record(next((tmp_path / "b").rglob("record.json")).parent)
    assert record["clips"]["conformed"] == {"fps_resampled": 1, "length": 1}
    assert record["adapter"]["conform"]["fps"].startswith("nearest frame")


# a deterministic model whose frames follow every byte it is given (one LSB of speech moves them),
# and which keeps a copy of what it read, per clip, in the folder named by its last argument
BYTE_EXACT_MODEL = """
import hashlib, shutil, sys
from pathlib import Path
import numpy as np
from benchmark.core.media import read_image, write_video
identity, audio, out, n_frames, fps, clip_id, seen = sys.argv[1:]
digest = hashlib.sha256(Path(identity).read_bytes() + Path(audio).read_bytes()).digest()
image = read_image(identity).astype(np.int16)
frames = [np.clip(image + digest[k % 32] % 25 - 12, 0, 255).astype(np.uint8) for k in range(int(n_frames))]
write_video(out, np.stack(frames), float(fps), codec="libx264rgb")
(Path(seen) / clip_id).mkdir(parents=True)
shutil.copyfile(identity, Path(seen) / clip_id / "identity.png")
shutil.copyfile(audio, Path(seen) / clip_id / "audio.wav")
"""


def test_one_model_makes_the_same_frames_by_folder_and_by_command(mini, mini_data_root, tmp_path):
    """Issue 24.1: `command` re-encoded the speech (1 LSB on 105 of 48,000 samples), so frames differed by route."""
    import json

    from benchmark.engine.export import export_pack
    from benchmark.engine.runner import RunConfig, Runner
    from benchmark.core.settings import Settings

    model = tmp_path / "model.py"
    model.write_text(BYTE_EXACT_MODEL)
    pack, outputs = tmp_path / "pack", tmp_path / "outputs"
    manifest = export_pack("mini", pack, Settings.create(mini_data_root, threads=1), log=lambda s: None)
    outputs.mkdir()
    for e in manifest["clips"]:  # the model run by hand on the pack, as someone in another environment would
        subprocess.run(
            [
                sys.executable,
                str(model),
                str(pack / e["identity"]),
                str(pack / e["audio"]),
                str(outputs / e["output"]),
                str(e["n_frames"]),
                f"{e['fps']:g}",
                e["clip_id"],
                str(tmp_path / "seen-by-folder"),
            ],
            check=True,
        )
    run = (
        f"{{python}} {model} {{identity}} {{audio}} {{output}} {{n_frames}} {{fps}} {{clip_id}} "
        f"{tmp_path / 'seen-by-command'}"
    )
    routes = {"folder": {"dir": str(outputs)}, "command": {"run": run, "python": sys.executable, "version": "v1"}}
    records, rows = {}, {}
    for model_name, model_args in routes.items():
        config = RunConfig(
            model=model_name,
            model_args=model_args,
            dataset="mini",
            metrics=("psnr",),
            data_dir=mini_data_root,
            runs_dir=tmp_path / "runs",
            threads=1,
            name="same-model",
        )
        outcome = Runner(config, progress=False, log=lambda s: None).run()
        assert outcome.exit_code == 0
        records[model_name] = outcome.record
        rows[model_name] = {
            r["clip_id"]: (r["video"]["sha256"], {c: s["value"] for c, s in r["scores"].items()})
            for r in map(json.loads, (outcome.run_dir / "clips.jsonl").read_text().splitlines())
        }
    for e in manifest["clips"]:  # the model read the pack's very bytes by `command` too
        for name in ("identity.png", "audio.wav"):
            seen = tmp_path / "seen-by-command" / e["clip_id"] / name
            assert seen.read_bytes() == (pack / e[name.split(".")[0]]).read_bytes(), f"{e['clip_id']} {name}"
    assert len(rows["command"]) == 12 and rows["command"] == rows["folder"]  # frame hashes and every value
    assert records["command"]["results"] == records["folder"]["results"]


def _gone(pid: int, within_s: float = 5.0) -> bool:
    """The process no longer runs (a zombie waiting for its reaper counts as gone)."""
    import time

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


# a model that starts a helper process (holding its stderr open, or not), writes both pids, then
# hangs or fails
ORPHAN_MAKER = """
import os, subprocess, sys, time
pids, ends, pipe = sys.argv[1], sys.argv[2], sys.argv[3]
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"], stdout=subprocess.DEVNULL,
                          stderr=None if pipe == "held" else subprocess.DEVNULL)
open(pids + ".tmp", "w").write(f"{os.getpid()} {helper.pid}"); os.replace(pids + ".tmp", pids)
if ends == "hang":
    time.sleep(60)
sys.exit(1)
"""


@pytest.mark.parametrize("ends", ["hang", "exit"])
@pytest.mark.parametrize("pipe", ["held", "closed"])
def test_a_clip_ends_every_process_its_command_started(mini, tmp_path, ends, pipe):
    """Issue 24.8: a timeout killed only the direct child; a helper it started lived on (and held stderr open)."""
    import time

    from benchmark.core.errors import ClipError
    from benchmark.core.types import GenerationRequest

    script, pids = tmp_path / "model.py", tmp_path / "pids"
    script.write_text(ORPHAN_MAKER)
    adapter = CommandAdapter(
        run=f"{{python}} {script} {pids} {ends} {pipe} {{output}}",
        python=sys.executable,
        version="1",
        timeout="1" if ends == "hang" else "30",
    )
    started = time.monotonic()
    with pytest.raises(ClipError, match="timeout=1 s" if ends == "hang" else "exited with status 1"):
        adapter.generate(GenerationRequest.for_clip(mini.clips()[0]), seed=0)
    assert time.monotonic() - started < 10  # not held until the helper's 20 s sleep ends
    model, helper = map(int, pids.read_text().split())
    assert _gone(model) and _gone(helper)


def test_sigterm_to_bench_ends_the_commands_process_group(mini_data_root, tmp_path):
    """Issue 24.8: the command runs in its own session, so bench must end it when it is stopped itself."""
    import os
    import signal
    import time

    script, pids = tmp_path / "model.py", tmp_path / "pids"
    script.write_text(ORPHAN_MAKER)
    env = {**os.environ, "BENCH_DATA": str(mini_data_root)}
    bench = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("bench")),
            "run",
            "--model",
            "command",
            "--model-args",
            f"run={sys.executable} {script} {pids} hang closed {{output}},version=1",
            "--dataset",
            "mini",
            "--limit",
            "1",
            "--metrics",
            "psnr",
            "--out",
            str(tmp_path / "runs"),
            "--no-progress",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not pids.exists() and time.monotonic() < deadline and bench.poll() is None:
            time.sleep(0.1)
        assert pids.exists(), bench.communicate()
        bench.send_signal(signal.SIGTERM)
        _, stderr = bench.communicate(timeout=30)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, stderr
    model, helper = map(int, pids.read_text().split())
    assert _gone(model) and _gone(helper)


def test_a_new_model_version_is_a_new_run_that_names_the_one_it_follows(mini_data_root, tmp_path):
    """Issue 24.2: the command's version names the run; the new run says which version it follows."""
    from benchmark.engine.runner import RunConfig, Runner

    repo, _ = _repo(tmp_path)
    run = "{python} inference.py --face {identity} --audio {audio} --out {output} --frames {n_frames} --fps {fps}"
    outcomes, said = {}, []
    for version in ("v1", "v2"):
        config = RunConfig(
            model="command",
            dataset="mini",
            limit=1,
            metrics=("psnr",),
            data_dir=mini_data_root,
            runs_dir=tmp_path / "runs",
            name="m",
            threads=1,
            model_args={"run": run, "cwd": str(repo), "python": sys.executable, "version": version},
        )
        outcomes[version] = Runner(config, progress=False, log=said.append).run()
    assert (
        outcomes["v1"].run_dir != outcomes["v2"].run_dir
        and load_record(outcomes["v1"].run_dir)["adapter"]["model_version"] == "v1"
    )
    assert any(f"a new run: model version v2 (run {outcomes['v1'].run_dir} was made by v1)" in s for s in said), said
    assert outcomes["v2"].n_generated == 1  # another version: nothing reused


def test_the_default_label_names_the_script_not_the_interpreter():
    """`{python} det.py ...` was labelled `_python_` (the placeholder made folder-safe)."""
    from adapters.command import program_name

    assert program_name("{python} /models/det.py --audio {audio} --out {out}") == "det"
    assert program_name("python3 -u infer.py {audio}") == "infer"
    assert program_name("env CUDA_VISIBLE_DEVICES=0 bash run_model.sh {audio}") == "run_model"
    assert program_name("/opt/sadtalker/bin/talk --in {audio}") == "talk"
    assert program_name("{python} -m mymodel.infer {audio}") == "mymodel.infer"
    assert program_name("{python}") == "command"
