"""The synthetic protocol (issue 27): N generated clips of any shape, for measuring the engine at scale."""

import json

import numpy as np
import pytest

from benchmark.core.errors import BenchError
from benchmark.core.media import read_video, read_wav
from protocols import open_dataset


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    protocol = open_dataset("synthetic:24x20x32", tmp_path_factory.mktemp("synthetic"))
    protocol.prepare(workers=1)
    return protocol


def test_the_shape_comes_from_the_name_and_every_clip_is_readable(small):
    assert small.id == "synthetic:24x20x32/v1"
    clips = small.clips()
    assert [c.id for c in clips] == [f"syn{i:07d}" for i in range(24)]
    assert len({c.speaker for c in clips}) == 10
    for clip in clips[:3]:
        frames = read_video(clip.video_path).frames
        audio, rate = read_wav(clip.audio_path)
        assert frames.shape == (20, 32, 32, 3) and clip.n_frames == 20 and clip.size == (32, 32)
        assert rate == 16000 and audio.size == round(20 / 25 * 16000)
        truth = clip.load_annotations()
        assert set(truth["phones"]) == {"p", "a", "_"} and truth["phone_end"].max() <= 20 / 25
    # clips differ from one another (distinct content, distinct fingerprints)
    assert len({c.fingerprint for c in clips}) == 24
    first, second = (read_video(c.video_path).frames.astype(int) for c in clips[:2])
    assert np.abs(first - second).mean() > 5


def test_a_rebuild_gives_the_same_fingerprint(small, tmp_path):
    again = open_dataset("synthetic:24x20x32", tmp_path)
    again.prepare(workers=2)
    assert again.fingerprint() == small.fingerprint()
    manifest = json.loads((again.prepared_dir / "manifest.json").read_text())
    assert manifest["shape"] == {"clips": 24, "frames": 20, "size": 32}


def test_names_are_canonical_and_bad_shapes_are_refused_with_the_form_to_use(tmp_path):
    assert open_dataset("synthetic", tmp_path).id == "synthetic:1000/v1"
    assert open_dataset("synthetic:500x75x64", tmp_path).id == "synthetic:500/v1"  # the defaults dropped
    for bad in ("synthetic:lots", "synthetic:0", "synthetic:10x3"):
        with pytest.raises(BenchError, match="synthetic:") as caught:
            open_dataset(bad, tmp_path)
        message, fix = str(caught.value).splitlines()
        assert bad.partition(":")[2] in message and "synthetic:10000" in fix


def test_a_run_on_it_scores_psnr_and_counts_every_clip(small, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner

    config = RunConfig(
        model="still",
        dataset="synthetic:24x20x32",
        metrics=("psnr",),
        data_dir=small.data_root,
        runs_dir=tmp_path / "runs",
        threads=1,
    )
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    assert outcome.exit_code == 0 and outcome.record["clips"]["scored"] == 24
    assert outcome.record["protocol"]["id"] == "synthetic:24x20x32/v1"
    assert 0 < outcome.record["results"]["psnr"]["value"] < 40
