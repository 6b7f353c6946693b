"""`bench features`: the ground truth's features computed once ahead of the runs, sharded and resumable.

On a private copy of mini without its feature cache (the session's mini is shared), 4 clips, LMD on
mediapipe (one landmark track per clip is the only ground-truth feature it keeps)."""

import shutil

import numpy as np
import pytest

from benchmark.core.settings import Settings
from benchmark.engine import reference_pass as RP
from tests.conftest import run_bench

CLIPS = 4


@pytest.fixture
def fresh_mini(mini, mini_data_root, tmp_path):
    """A copy of the prepared mini protocol with an empty feature cache: its data root."""
    root = tmp_path / "data"
    target = root / mini.prepared_dir.relative_to(mini_data_root)
    shutil.copytree(mini.prepared_dir, target, ignore=shutil.ignore_patterns("features"))
    return root


def _landmark_files(root):
    return sorted(root.rglob("features/landmarks/*/*.npz"))


def _pass(root, **kw):
    return RP.reference_pass("mini", ("lmd", "psnr"), Settings.create(root), limit=CLIPS, progress=False, **kw)


def test_shards_split_the_work_and_a_second_pass_computes_nothing(fresh_mini, monkeypatch):
    from benchmark.perception.landmarks import MediapipeLandmarks

    detected = []
    real_detect = MediapipeLandmarks.detect
    monkeypatch.setattr(
        MediapipeLandmarks, "detect", lambda self, frames: detected.append(1) or real_detect(self, frames)
    )
    first = _pass(fresh_mini, shard=(0, 2))
    second = _pass(fresh_mini, shard=(1, 2))
    assert len(detected) == CLIPS  # the metric's "generated" side is the ground truth's cached track, not a second one
    assert first.metrics == second.metrics == ["lmd"] and first.left_out == ["psnr"]  # psnr keeps nothing
    assert first.done + second.done == CLIPS and first.already == second.already == 0
    assert first.computed == first.done and second.computed == second.done  # one landmark track per clip
    assert len(_landmark_files(fresh_mini)) == CLIPS
    # the whole selection again, unsharded: every clip is finished in some shard's log
    again = _pass(fresh_mini)
    assert (again.already, again.done, again.computed, again.exit_code) == (CLIPS, 0, 0, 0)


def test_a_clip_whose_metric_raised_is_tried_again_and_a_run_then_reads_every_feature(fresh_mini, monkeypatch):
    real = RP.score_metric
    broken = {}

    def flaky(metric, ctx):
        if not broken:  # the first clip's metric crashes once
            broken[ctx.clip.id] = True
            return real(_Raising(), ctx)
        return real(metric, ctx)

    monkeypatch.setattr(RP, "score_metric", flaky)
    first = _pass(fresh_mini)
    assert first.exit_code == 3 and list(first.failed) == list(broken)
    assert "RuntimeError: backend crashed" in next(iter(first.failed.values()))
    monkeypatch.setattr(RP, "score_metric", real)
    second = _pass(fresh_mini)
    assert (second.already, second.done, second.exit_code) == (CLIPS - 1, 1, 0)

    files = {p: p.stat().st_mtime_ns for p in _landmark_files(fresh_mini)}
    assert len(files) == CLIPS
    from benchmark.engine.runner import RunConfig, Runner

    config = RunConfig(
        model="ground-truth",
        dataset="mini",
        metrics=("lmd",),
        limit=CLIPS,
        data_dir=fresh_mini,
        runs_dir=fresh_mini / "runs",
    )
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    assert outcome.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in _landmark_files(fresh_mini)} == files  # read, not written again
    assert np.isclose(outcome.record["results"]["lmd"]["value"], 0.0)


class _Raising:
    variant = "lmd"

    def score_clip(self, ctx):
        ctx.feature("landmarks", "reference", backend="mediapipe")  # computed and cached before the crash
        raise RuntimeError("backend crashed")


def test_the_command_prints_what_it_did_and_says_when_a_metric_keeps_nothing(fresh_mini, tmp_path):
    done = run_bench(
        "features",
        "--dataset",
        "mini",
        "--metrics",
        "lmd",
        "--limit",
        "2",
        "--no-progress",
        data_root=fresh_mini,
        cwd=tmp_path,
    )
    assert "2 clips done now, 0 done before, 0 failed, of 2; 2 features computed" in done.stdout
    nothing = run_bench("features", "--dataset", "mini", "--metrics", "psnr,ssim", data_root=fresh_mini, cwd=tmp_path)
    assert "nothing to prepare for psnr, ssim" in nothing.stdout
    bad = run_bench(
        "features", "--dataset", "mini", "--shard", "2/2", data_root=fresh_mini, cwd=tmp_path, check_codes=(1, 2)
    )
    assert "--shard '2/2'" in bad.stderr and "Traceback" not in bad.stderr
