"""Model adapters: official checkpoint layouts load strictly, wrong files are named, runs end to end.

The key counts and example shapes below are the official files' (../shared/MODELS.md and the
official repositories), written out by hand: they check our modules, not the other way round.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from adapters import ADAPTERS
from adapters.nets.psp import GradualStyleEncoder
from adapters.nets.stylegan2 import Generator
from adapters.nets.wav2lip import Wav2Lip
from adapters.official_formats import load_mocogan_motion, load_psp, load_rosinality_checkpoint, load_wav2lip
from adapters import random_weights
from benchmark.core.errors import BenchError
from benchmark.core.types import GenerationRequest
from tests.conftest import run_bench

MODELS = ["ours", "wav2lip", "mocogan-hd", "man", "man-keypoint"]


def shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


# ---- official layouts ---------------------------------------------------------------------


def test_wav2lip_generator_has_the_official_keys_and_size():
    state = shapes(Wav2Lip().state_dict())
    assert len(state) == 352
    n = sum(int(np.prod(s)) for k, s in state.items() if not k.endswith("num_batches_tracked"))
    assert round(n / 1e6, 2) == 36.32  # parameters + BatchNorm running statistics, as the file holds them
    assert state["face_encoder_blocks.0.0.conv_block.0.weight"] == (16, 6, 7, 7)
    assert state["face_encoder_blocks.6.1.conv_block.0.weight"] == (512, 512, 1, 1)
    assert state["audio_encoder.12.conv_block.1.running_var"] == (512,)
    assert state["face_decoder_blocks.1.0.conv_block.0.weight"] == (1024, 512, 3, 3)  # ConvTranspose: (in, out, k, k)
    assert state["face_decoder_blocks.6.0.conv_block.0.weight"] == (160, 64, 3, 3)
    assert state["output_block.0.conv_block.0.weight"] == (32, 80, 3, 3)
    assert state["output_block.1.weight"] == (3, 32, 1, 1)


def test_stylegan2_generator_has_the_rosinality_keys():
    with torch.device("meta"):
        state = shapes(Generator(1024).state_dict())
    assert len(state) == 171
    assert state["style.1.weight"] == (512, 512) and "style.8.bias" in state and "style.9.weight" not in state
    assert state["input.input"] == (1, 512, 4, 4)
    assert state["conv1.conv.modulation.bias"] == (512,)
    assert state["convs.0.conv.blur.kernel"] == (4, 4)
    assert state["convs.15.conv.weight"] == (1, 32, 32, 3, 3)
    assert state["to_rgbs.7.conv.weight"] == (1, 3, 32, 1, 1) and state["to_rgbs.7.upsample.kernel"] == (4, 4)
    assert state["noises.noise_16"] == (1, 1, 1024, 1024)
    with torch.device("meta"):
        assert len(Generator(256).state_dict()) == 135 and Generator(256).n_latent == 14


def test_psp_encoder_has_the_official_keys():
    with torch.device("meta"):
        state = shapes(GradualStyleEncoder(n_styles=18).state_dict())
    assert len(state) == 621
    assert state["input_layer.0.weight"] == (64, 3, 3, 3) and state["input_layer.2.weight"] == (64,)
    assert state["body.3.shortcut_layer.0.weight"] == (128, 64, 1, 1)
    assert state["body.0.res_layer.5.fc1.weight"] == (4, 64, 1, 1)
    assert state["body.23.res_layer.4.running_mean"] == (512,)
    assert state["styles.0.convs.6.weight"] == (512, 512, 3, 3) and "styles.0.convs.8.weight" not in state
    assert state["styles.17.convs.10.weight"] == (512, 512, 3, 3)
    assert state["styles.17.linear.weight"] == (512, 512)
    assert state["latlayer1.weight"] == (512, 256, 1, 1) and state["latlayer2.weight"] == (512, 128, 1, 1)


def test_wav2lip_checkpoint_loads_with_and_without_module_prefix(tmp_path):
    path = random_weights.wav2lip_file(tmp_path / "wav2lip.pth", data_parallel=True)
    net = load_wav2lip(path)
    out = net(torch.zeros(1, 1, 80, 16), torch.zeros(1, 6, 96, 96))
    assert out.shape == (1, 3, 96, 96)
    ckpt = torch.load(path, weights_only=True)
    plain = {k.removeprefix("module."): v for k, v in ckpt["state_dict"].items()}
    torch.save({**ckpt, "state_dict": plain}, tmp_path / "plain.pth")
    loaded = load_wav2lip(tmp_path / "plain.pth").state_dict()
    assert all(torch.equal(loaded[k], plain[k]) for k in plain)


def test_a_wrong_or_missing_key_is_named(tmp_path):
    path = random_weights.wav2lip_file(tmp_path / "wav2lip.pth", data_parallel=False)
    ckpt = torch.load(path, weights_only=True)
    state = dict(ckpt["state_dict"])
    del state["audio_encoder.3.conv_block.0.weight"]
    torch.save({**ckpt, "state_dict": state}, tmp_path / "missing.pth")
    with pytest.raises(BenchError, match=r"missing key 'audio_encoder.3.conv_block.0.weight'"):
        load_wav2lip(tmp_path / "missing.pth")
    state = dict(ckpt["state_dict"], **{"output_block.1.weight": torch.zeros(3, 16, 1, 1)})
    torch.save({**ckpt, "state_dict": state}, tmp_path / "shape.pth")
    with pytest.raises(BenchError, match=r"'output_block.1.weight' has shape \(3, 16, 1, 1\)"):
        load_wav2lip(tmp_path / "shape.pth")
    state = dict(ckpt["state_dict"], extra_head=torch.zeros(1))
    torch.save({**ckpt, "state_dict": state}, tmp_path / "extra.pth")
    with pytest.raises(BenchError, match=r"unexpected key 'extra_head'"):
        load_wav2lip(tmp_path / "extra.pth")
    torch.save(ckpt["state_dict"], tmp_path / "bare.pth")
    with pytest.raises(BenchError, match=r"no 'state_dict' entry"):
        load_wav2lip(tmp_path / "bare.pth")


def test_stylegan2_checkpoints_converted_and_training_form(tmp_path):
    path = random_weights.stylegan2_file(tmp_path / "g.pt", 256)
    g = load_rosinality_checkpoint(path)
    assert g.size == 256 and g.n_latent == 14
    ckpt = torch.load(path, weights_only=True)
    torch.save(
        {"g": ckpt["g_ema"], "d": {}, "g_ema": ckpt["g_ema"], "g_optim": {}, "d_optim": {}, "args": {}},
        tmp_path / "train.pt",
    )
    g2 = load_rosinality_checkpoint(tmp_path / "train.pt")
    w = torch.randn(1, 512)
    assert torch.equal(g(w), g2(w))  # fixed noise: deterministic
    del ckpt["g_ema"]["convs.3.activate.bias"]
    torch.save(ckpt, tmp_path / "broken.pt")
    with pytest.raises(BenchError, match=r"missing key 'convs.3.activate.bias'"):
        load_rosinality_checkpoint(tmp_path / "broken.pt")


def test_psp_checkpoint_full_size_loads_strictly(tmp_path):
    """The FFHQ pSp file: 621 encoder and 171 decoder tensors (saved in half precision to keep the test light)."""
    path = random_weights.psp_file(tmp_path / "psp.pt", 1024, dtype=torch.float16)
    state = torch.load(path, weights_only=True)["state_dict"]
    assert sum(k.startswith("encoder.") for k in state) == 621 and sum(k.startswith("decoder.") for k in state) == 171
    encoder, decoder, latent_avg = load_psp(path)
    assert encoder.n_styles == 18 and decoder.size == 1024 and latent_avg.shape == (18, 512)
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"]["encoder.styles.5.linear.weight"] = torch.zeros(512, 256)
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(BenchError, match=r"'encoder.styles.5.linear.weight' has shape \(512, 256\)"):
        load_psp(tmp_path / "bad.pt")


def test_mocogan_motion_generator_official_state_dict(tmp_path):
    official = {  # the keys and shapes of modelR_epoch_N.pth, written out by hand
        "w": (384, 384),
        "b": (384,),
        "enc_cell.weight_ih": (1536, 512),
        "enc_cell.weight_hh": (1536, 384),
        "enc_cell.bias_ih": (1536,),
        "enc_cell.bias_hh": (1536,),
        "cell.weight_ih": (1536, 512),
        "cell.weight_hh": (1536, 384),
        "cell.bias_ih": (1536,),
        "cell.bias_hh": (1536,),
        "fc1.weight": (512, 768),
        "fc1.bias": (512,),
        "fc2.weight": (512, 512),
        "fc2.bias": (512,),
    }
    state = {f"module.{k}": torch.randn(s) * 0.05 for k, s in official.items()}
    torch.save(state, tmp_path / "modelR_epoch_5.pth")
    motion = load_mocogan_motion(tmp_path / "modelR_epoch_5.pth")
    assert torch.equal(motion.w, state["module.w"])
    del state["module.cell.bias_hh"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(BenchError, match=r"missing key 'cell.bias_hh'"):
        load_mocogan_motion(tmp_path / "broken.pth")


def test_checkpoints_are_read_with_weights_only(tmp_path):
    import argparse

    torch.save(
        {"state_dict": {}, "args": argparse.Namespace(lr=1)}, tmp_path / "pickled.pth"
    )  # arbitrary pickled object
    with pytest.raises(BenchError, match=r"weights_only=True"):
        load_wav2lip(tmp_path / "pickled.pth")


class _TouchOnLoad:
    """A checkpoint entry that would create a file if unpickling ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("payload,refused", [("namespace", "argparse"), ("touch", "getattr"), ("getcwd", "getcwd")])
def test_a_malicious_checkpoint_is_refused_in_one_complete_line(tmp_path, payload, refused):
    import argparse
    import os

    marker = tmp_path / "ran"
    entry = {
        "namespace": argparse.Namespace(lr=1),
        "touch": _TouchOnLoad(marker),
        "getcwd": type("Cwd", (), {"__reduce__": lambda self: (os.getcwd, ())})(),
    }[payload]
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": entry}, path)
    with pytest.raises(BenchError) as err:
        load_wav2lip(path)
    message, fix = str(err.value).split("\n")
    assert message.startswith(f"{path}: refused to load a Wav2Lip checkpoint with torch.load(weights_only=True)")
    assert refused in message and message.endswith(")") and "Weights only load failed" not in message
    assert "wav2lip.pth" in fix and "never load an untrusted file with weights_only=False" in fix
    assert not marker.exists()


@pytest.mark.parametrize(
    "text,reason",
    [
        (
            "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely succeed. "
            "Please file an issue with the following so that we can make `weights_only=True` compatible with your use case: "
            "WeightsUnpickler error: Unsupported global: GLOBAL argparse.Namespace was not an allowed global by default. "
            "Please use `torch.serialization.add_safe_globals([Namespace])` to allowlist it.",
            "Unsupported global: GLOBAL argparse.Namespace was not an allowed global by default",
        ),
        (
            "Weights only load failed. In PyTorch 2.6, we changed the default.\n\n\nTrying to load unsupported GLOBAL "
            "posix.system whose module posix is blocked.\n\nCheck the documentation of torch.load to learn more.",
            "Trying to load unsupported GLOBAL posix.system whose module posix is blocked",
        ),
    ],
)
def test_the_refusal_reason_is_found_in_each_torch_wording(text, reason):
    import pickle

    from benchmark.core.checkpoints import unpickling_reason

    assert unpickling_reason(pickle.UnpicklingError(text)) == reason


# ---- behaviour of the tiny configurations ----------------------------------------------------


@pytest.fixture(scope="module")
def request_for(mini):
    clip = mini.clips()[0]

    def make(n_frames=12):
        return GenerationRequest.for_clip(clip, n_frames)

    return make


@pytest.mark.parametrize("model", MODELS)
def test_tiny_configuration_is_deterministic(model, request_for, tmp_path):
    def video(seed):
        extra = {"project_steps": "3"} if model == "mocogan-hd" else {}
        adapter = ADAPTERS.get(model)(tiny="1", **extra)
        adapter.bind_weights(tmp_path)  # tiny: needs nothing there
        adapter.setup("cpu")
        return adapter.generate(request_for(), seed=seed)

    a, b = video(7), video(7)
    assert a.n_frames == 12 and np.array_equal(a.frames, b.frames)
    assert a.frames.std() > 0  # not a constant image
    if model == "mocogan-hd":  # seeded motion: another seed, another trajectory
        assert not np.array_equal(a.frames, video(8).frames)


def test_audio_drives_the_audio_models(request_for):
    for model in ("ours", "wav2lip", "man"):
        adapter = ADAPTERS.get(model)(tiny="1")
        adapter.setup("cpu")
        req = request_for(40)  # past the leading silence
        silent = dataclasses.replace(req, audio=np.zeros_like(req.audio))
        assert not np.array_equal(adapter.generate(req, 0).frames, adapter.generate(silent, 0).frames), model


def test_the_fingerprint_follows_the_perception_backends_an_adapter_runs(monkeypatch):
    """wav2lip's face boxes come from the mediapipe backend (benchmark.perception): a new detector version
    is a new fingerprint, so scores made with the old boxes are never reused."""
    from benchmark.perception.landmarks import MediapipeLandmarks
    from benchmark.perception.registry import get_landmark_backend

    adapter = ADAPTERS.get("wav2lip")(tiny="1")
    assert adapter.perception() == {"face_box": get_landmark_backend("mediapipe").version()}
    before = adapter.fingerprint()
    monkeypatch.setattr(MediapipeLandmarks, "version", lambda self: "mediapipe-next")
    assert adapter.perception() == {"face_box": "mediapipe-next"} and adapter.fingerprint() != before
    assert ADAPTERS.get("still")().perception() == {}  # runs no detector: its fingerprint has no perception part


def test_ground_truth_delay_shows_the_reference_k_frames_late():
    from adapters.ground_truth import delayed

    frames = np.arange(6)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    assert delayed(frames, 3)[:, 0, 0, 0].tolist() == [0, 0, 0, 0, 1, 2]
    assert delayed(frames, -2)[:, 0, 0, 0].tolist() == [2, 3, 4, 5, 5, 5]
    assert delayed(frames, 0)[:, 0, 0, 0].tolist() == list(range(6))
    gt = ADAPTERS.get("ground-truth")
    assert gt(delay="3").delay == 3 and gt().delay == 0
    assert gt(delay="3").fingerprint() != gt().fingerprint()
    with pytest.raises(BenchError, match="not a whole number"):
        gt(delay="three")


def test_unknown_model_option_is_refused():
    with pytest.raises(BenchError, match=r"unknown option 'projct_steps'"):
        ADAPTERS.get("mocogan-hd")(tiny="1", projct_steps="3")


@pytest.mark.parametrize(
    "model,args,accepted",
    [
        ("still", {"size": "512"}, "it accepts none"),
        ("ground-truth", {"tiny": "1"}, "it accepts delay"),
        ("folder", {"dir": "/", "rate": "25"}, "it accepts dir, fps, max_length_diff, resize, video_stream"),
        ("wav2lip", {"tiny": "1", "checkpont": "x"}, "it accepts checkpoint, tiny"),
    ],
)
def test_every_builtin_adapter_refuses_an_option_it_does_not_take(model, args, accepted):
    unknown = sorted(set(args) - {"dir", "tiny"} or args)[0]
    with pytest.raises(BenchError) as err:
        ADAPTERS.get(model)(**args)
    assert err.value.message == f"{model}: unknown option {unknown!r} in --model-args ({accepted})"


# ---- through the CLI ------------------------------------------------------------------------


def test_missing_weights_stop_the_run_before_any_work(mini_data_root, tmp_path):
    proc = run_bench(
        "run",
        "--model",
        "mocogan-hd",
        "--dataset",
        "mini",
        "--weights",
        str(tmp_path / "w"),
        "--out",
        str(tmp_path / "runs"),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    err = proc.stderr
    assert "Traceback" not in err
    for name in ("modelR.pth", "pca_comp.npy", "pca_stdev.npy", "g_ema.pt"):
        assert str(tmp_path / "w" / "mocogan-hd" / name) in err
    assert "snap-research/MoCoGAN-HD" in err and "nothing is downloaded" in err
    assert not (tmp_path / "runs").exists()


def test_bench_weights_lists_present_and_missing(mini_data_root, tmp_path):
    random_weights.man_file(tmp_path / "w" / "man" / "man.pt", size=64, ngf=8, heatmap_size=32, hidden=16, audio_dim=32)
    out = run_bench("weights", "--weights", str(tmp_path / "w"), data_root=mini_data_root, cwd=tmp_path).stdout
    assert f"present  man           {tmp_path / 'w' / 'man' / 'man.pt'}" in out
    assert f"MISSING  wav2lip       {tmp_path / 'w' / 'wav2lip' / 'wav2lip.pth'}" in out
    assert "Rudrabha/Wav2Lip" in out


def test_bench_weights_does_not_call_a_file_with_the_wrong_hash_present(mini_data_root, tmp_path, monkeypatch):
    """A file a run would refuse (its sha256 is not the published one) is listed as WRONG, never as present."""
    from adapters import weights as W

    fan = tmp_path / "w" / "fan" / "2DFAN4-11f355bf06.pth.tar"
    fan.parent.mkdir(parents=True)
    fan.write_bytes(b"not the published 2DFAN4 weights")
    out = run_bench("weights", "--weights", str(tmp_path / "w"), data_root=mini_data_root, cwd=tmp_path).stdout
    line = next(line for line in out.splitlines() if str(fan) in line)
    assert line.startswith("  WRONG    fan, fan-s3fd") and "is not the published 11f355bf06" in line, line
    assert "1 file(s) with the wrong sha256" in out
    # model files with a published hash are judged the same way
    spec = W.WeightFile("man", "man.pt", "test", "source", "licence", sha256="0" * 64)
    monkeypatch.setitem(W.MANIFEST, "man", (spec,))
    (tmp_path / "w" / "man").mkdir()
    (tmp_path / "w" / "man" / "man.pt").write_bytes(b"other bytes")
    row = next(r for r in W.weights_status(tmp_path / "w") if r["adapter"] == "man")
    assert row["state"] == "wrong-hash" and row["present"] is False


@pytest.mark.parametrize("model", MODELS)
def test_tiny_run_end_to_end(model, mini_data_root, tmp_path):
    run_bench(
        "run",
        "--model",
        model,
        "--dataset",
        "mini",
        "--limit",
        "1",
        "--model-args",
        "tiny=1",
        "--metrics",
        "psnr,ssim",
        "--out",
        str(tmp_path),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    run_dir = next((tmp_path / "mini").iterdir())
    record = json.loads((run_dir / "record.json").read_text())
    assert record["clips"] == {"total": 1, "scored": 1, "failed": 0}
    assert record["adapter"]["weights"] == {"tiny-random-config": "torch.manual_seed(0)"}
    row = json.loads((run_dir / "clips.jsonl").read_text().splitlines()[0])
    assert row["n_frames"] > 0
    if model != "wav2lip":  # 64² tiny generators are resized to the 256² reference, and the row says so
        assert row["resized"] == {"from": [64, 64], "to": [256, 256], "filter": "PIL Lanczos"}


@pytest.mark.slow  # full-size wav2lip and a 256² StyleGAN2 on CPU
def test_official_format_weights_run_end_to_end(mini_data_root, tmp_path):
    """wav2lip at full official size, mocogan-hd with a 256² rosinality g_ema, man in its documented format."""
    weights = tmp_path / "w"
    random_weights.wav2lip_file(weights / "wav2lip" / "wav2lip.pth")
    random_weights.mocogan_files(weights / "mocogan-hd", 256)
    random_weights.man_file(weights / "man" / "man.pt", size=64, ngf=8, heatmap_size=32, hidden=16, audio_dim=32)
    for model, args in (("wav2lip", ""), ("mocogan-hd", "project_steps=2"), ("man", "")):
        run_bench(
            "run",
            "--model",
            model,
            "--dataset",
            "mini",
            "--limit",
            "1",
            "--weights",
            str(weights),
            "--model-args",
            args,
            "--metrics",
            "psnr",
            "--out",
            str(tmp_path / "runs"),
            "--no-progress",
            data_root=mini_data_root,
            cwd=tmp_path,
        )
        run_dir = next((tmp_path / "runs" / "mini").glob(f"{model}-seed0-*"))
        record = json.loads((run_dir / "record.json").read_text())
        assert record["clips"]["scored"] == 1, model
        assert len(record["adapter"]["weights"]) == {"wav2lip": 1, "mocogan-hd": 4, "man": 1}[model]


def test_documented_formats_name_a_wrong_tag_or_missing_key(tmp_path):
    from adapters.man import load_man_checkpoint
    from adapters.ours import load_ours_checkpoint

    torch.save({"format": "something-else"}, tmp_path / "x.pt")
    with pytest.raises(BenchError, match=r"format is 'something-else', expected 'talking-head-bench/man-v1'"):
        load_man_checkpoint(tmp_path / "x.pt", "flow")
    torch.save({"format": "talking-head-bench/ours-second-v1", "config": {}}, tmp_path / "y.pt")
    with pytest.raises(BenchError, match=r"missing key 'audio_encoder'"):
        load_ours_checkpoint(tmp_path / "y.pt", 14)
