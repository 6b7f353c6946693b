"""The clip metrics as torchmetrics Metrics: the same numbers a run records for the same clips,
states that merge like DDP's sum reduction, and failures counted instead of raised."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark import load_clips
from metrics.tracking import ClipMetric, as_uint8_frames

TRACKED = ("psnr", "ssim", "lmd", "cpbd", "blink", "blink-vougioukas", "bilabial", "acd")


def _phones(clip):
    truth = clip.load_annotations()
    return list(zip(truth["phones"].tolist(), truth["phone_start"].tolist(), truth["phone_end"].tolist()))


@pytest.fixture(scope="module")
def still_run(mini_data_root, tmp_path_factory):
    from benchmark.engine.runner import RunConfig, Runner

    config = RunConfig(
        model="still",
        dataset="mini",
        metrics=TRACKED,
        limit=3,
        data_dir=mini_data_root,
        runs_dir=tmp_path_factory.mktemp("runs"),
    )
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    return outcome.record, list(load_clips(outcome.run_dir)["clip_id"])


def test_tracked_values_equal_the_runs(still_run, mini):
    record, ids = still_run
    clips = {c.id: c for c in mini.clips()}
    for name in TRACKED:
        metric = ClipMetric(name)
        for clip_id in ids:
            clip = clips[clip_id]
            identity = clip.load_identity()
            still = np.repeat(identity[None], clip.n_frames, axis=0)
            metric.update(still, clip.load_frames(), identity=identity, phones=_phones(clip))
        assert int(metric.clips) == len(ids) and int(metric.clips_failed) == 0
        assert float(metric.compute()) == pytest.approx(record["results"][name]["value"], rel=1e-9, abs=1e-12), name


def test_states_sum_across_processes_like_ddp(mini):
    """Two 'ranks' each see half the clips; summing their states (DDP's reduction) gives the whole."""
    clips = mini.clips()[:4]
    whole, ranks = ClipMetric("blink"), [ClipMetric("blink"), ClipMetric("blink")]
    for k, clip in enumerate(clips):
        frames = clip.load_frames()
        whole.update(frames, frames)
        ranks[k % 2].update(frames, frames)
    merged = ranks[0]
    merged.merge_state(ranks[1])  # torchmetrics' own merge: each state by its dist_reduce_fx (sum)
    assert float(merged.compute()) == pytest.approx(float(whole.compute()), rel=1e-12)
    assert merged.higher_is_better is None and ClipMetric("lmd").higher_is_better is False


def test_a_faceless_clip_is_counted_not_raised(mini):
    clip = mini.clips()[0]
    frames = clip.load_frames()
    metric = ClipMetric("lmd")
    metric.update(np.zeros_like(frames), frames)
    metric.update(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0, frames)  # channels first, [0, 1]
    assert int(metric.clips_failed) == 1 and int(metric.clips) == 1 and float(metric.compute()) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="distribution metric"):
        ClipMetric("fid")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_uint8_frames(np.full((1, 4, 4, 3), 2.0))
