"""One Settings object decides where every backend reads its weights and on which device it runs:
nothing reads or writes the environment after `Settings.create`, and no cache outlives a change
of settings."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch

from benchmark.core.errors import BenchError
from benchmark.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("benchmark", "metrics", "adapters", "protocols")


@pytest.fixture()
def no_env(monkeypatch):
    monkeypatch.delenv("BENCH_WEIGHTS", raising=False)
    monkeypatch.delenv("BENCH_DATA", raising=False)


def test_weights_default_to_the_data_dir_without_any_environment(tmp_path):
    settings = Settings.create(data_dir=tmp_path, environ={})
    assert settings.data_dir == tmp_path.resolve() and settings.weights_dir == tmp_path.resolve() / "weights"
    assert settings.device == "cpu" and settings.landmarks is None and settings.embedder is None
    assert Settings.create(data_dir=tmp_path, environ={"BENCH_WEIGHTS": "/elsewhere"}).weights_dir == Path("/elsewhere")
    assert (
        Settings.create(
            data_dir=tmp_path, weights_dir=tmp_path / "w", environ={"BENCH_WEIGHTS": "/elsewhere"}
        ).weights_dir
        == tmp_path.resolve() / "w"
    )


def test_the_cli_helpers_resolve_folders_as_settings_do(tmp_path, no_env):
    from benchmark.core.paths import data_root, weights_root

    assert (
        weights_root(None, tmp_path) == Settings.create(data_dir=tmp_path).weights_dir == tmp_path.resolve() / "weights"
    )
    assert weights_root(tmp_path / "w", tmp_path) == tmp_path.resolve() / "w"
    assert data_root(tmp_path) == tmp_path.resolve()


def test_user_weight_backends_look_in_the_settings_weights_folder(tmp_path, no_env, monkeypatch):
    from benchmark.perception.registry import get_landmark_backend

    decoy = tmp_path / "decoy"  # an environment pointing elsewhere is not read once settings exist
    monkeypatch.setenv("BENCH_WEIGHTS", str(decoy))
    settings = Settings.create(data_dir=tmp_path / "data", environ={})
    weights = tmp_path.resolve() / "data" / "weights"
    (weights / "fan").mkdir(parents=True)
    (weights / "fan" / "2DFAN4-11f355bf06.pth.tar").write_bytes(b"not the weights")
    with pytest.raises(BenchError, match="is not the published 2DFAN4") as err:
        get_landmark_backend("fan", settings.device, settings.weights_dir)
    assert str(weights / "fan") in str(err.value) and str(decoy) not in str(err.value)

    from metrics import create_metric

    (weights / "facenet").mkdir()
    (weights / "facenet" / "20180402-114759-vggface2.pt").write_bytes(b"not the weights")
    acd = create_metric("acd", dataclasses.replace(settings, embedder="facenet-vggface2"))
    assert acd.params["embedder"] == "facenet-vggface2"
    with pytest.raises(BenchError, match="cannot be read") as err:
        acd.embedder()
    assert str(weights / "facenet") in str(err.value)


def test_the_inception_resolver_looks_in_the_settings_weights_folder(tmp_path, no_env):
    from benchmark.perception.inception import OFFICIAL_FILE
    from metrics import create_metric

    settings = Settings.create(data_dir=tmp_path, environ={})
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / OFFICIAL_FILE).write_bytes(b"not the weights")
    with pytest.raises(BenchError, match="does not start with 6726825d") as err:
        create_metric("fid", settings)
    assert str(tmp_path.resolve() / "weights" / OFFICIAL_FILE) in str(err.value)


def test_lse_reads_syncnet_from_the_settings_weights_folder(tmp_path, no_env):
    from metrics import create_metric

    with pytest.raises(BenchError, match="syncnet_v2.model") as err:
        create_metric("lse-c", Settings.create(data_dir=tmp_path, environ={}))
    assert str(tmp_path.resolve() / "weights" / "syncnet_v2.model") in str(err.value)


def _fan_weights(folder: Path, seed: int) -> Path:
    from face_alignment.models import FAN

    (folder / "fan").mkdir(parents=True)
    torch.manual_seed(seed)
    torch.save(FAN(4).state_dict(), folder / "fan" / "2DFAN4-11f355bf06.pth.tar")
    return folder


def test_backends_are_cached_per_weights_folder_and_device(tmp_path, monkeypatch):
    from benchmark.perception import fan as fan_module
    from benchmark.perception import user_weights
    from benchmark.perception.registry import get_landmark_backend

    monkeypatch.setattr(fan_module, "FAN_2D", dataclasses.replace(user_weights.FAN_2D, sha256_prefix=None))
    a, b = _fan_weights(tmp_path / "a", 0), _fan_weights(tmp_path / "b", 1)
    fan_a, fan_b = get_landmark_backend("fan", "cpu", a), get_landmark_backend("fan", "cpu", b)
    assert fan_a is not fan_b and fan_a.weights_sha256 != fan_b.weights_sha256
    assert fan_a.version() != fan_b.version() and fan_a.cache_key() != fan_b.cache_key()
    assert get_landmark_backend("fan", "cpu", a) is fan_a  # same settings: the same instance
    # a backend that reads no weights and runs on the CPU is shared whatever the settings
    assert get_landmark_backend("mediapipe", "cpu", a) is get_landmark_backend("mediapipe", "cuda", b)


def test_embedders_are_cached_per_weights_folder(tmp_path):
    from benchmark.perception.embedders import InceptionResnetV1
    from benchmark.perception.registry import get_embedder

    for folder, seed in (("a", 0), ("b", 1)):
        (tmp_path / folder / "facenet").mkdir(parents=True)
        torch.manual_seed(seed)
        torch.save(InceptionResnetV1().state_dict(), tmp_path / folder / "facenet" / "20180402-114759-vggface2.pt")
    first = get_embedder("facenet-vggface2", "cpu", tmp_path / "a")
    assert first is get_embedder("facenet-vggface2", "cpu", tmp_path / "a")
    second = get_embedder("facenet-vggface2", "cpu", tmp_path / "b")
    assert second is not first and second.version() != first.version()


def test_dlib_resnet_runs_on_the_settings_device_without_a_weights_folder(tmp_path):
    """dlib's network ships with a package (no weights folder) but is torch: it follows the device."""
    from benchmark.perception.registry import get_embedder

    on_cpu = get_embedder("dlib-resnet", "cpu", tmp_path / "a")
    assert on_cpu is get_embedder("dlib-resnet", "cpu", tmp_path / "b") and on_cpu.device == "cpu"
    elsewhere = get_embedder("dlib-resnet", "meta")  # a device this CPU build has, standing in for cuda
    assert elsewhere is not on_cpu and elsewhere.cache_key()["device"] == "meta"
    assert {buffer.device.type for buffer in elsewhere._net.buffers()} == {"meta"}
    assert elsewhere.cache_key()["backend"] == on_cpu.cache_key()["backend"]


def test_workers_compute_in_true_float32_and_record_it(tmp_path, monkeypatch):
    """TF32 (a GPU default) and cuDNN's timing-chosen algorithms would change the numbers from run to
    run and from the CPU's; every worker turns them off, and the run's record says so."""
    from benchmark.core.provenance import device_info

    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    before = (matmul.allow_tf32, cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # keep this process's threads
    try:
        matmul.allow_tf32 = cudnn.allow_tf32 = cudnn.benchmark = True
        cudnn.deterministic = False
        Settings(tmp_path, tmp_path, "cuda", threads=1).apply_to_torch()
        assert not matmul.allow_tf32 and not cudnn.allow_tf32
        assert cudnn.deterministic and not cudnn.benchmark
    finally:
        matmul.allow_tf32, cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark = before
    assert device_info("cpu")["numerics"] == {"tf32": False, "cudnn_deterministic": True}


def test_metrics_take_device_and_backends_from_settings(tmp_path):
    from metrics import create_metric

    settings = Settings(tmp_path, tmp_path / "weights", "cpu", landmarks="dlib68", embedder=None)
    lmd = create_metric("lmd", settings)
    assert lmd.settings is settings and lmd.device == torch.device("cpu") and lmd.params["landmarks"] == "dlib68"
    acd = create_metric("acd-e", settings)
    assert acd.params["embedder"] == "dlib-resnet" and acd.params["distance"] == "euclidean"  # None keeps the default
    assert create_metric("psnr", settings).params.get("landmarks") is None  # no such parameter: not added


def test_a_context_built_from_other_settings_is_refused(tmp_path, mini):
    from benchmark.core.types import Video
    from metrics import create_metric
    from metrics.context import ClipContext

    clip = mini.clips()[0]
    frames = clip.load_frames()[:2]
    metric = create_metric("psnr", Settings.create(data_dir=tmp_path / "a", environ={}))
    ctx = ClipContext(clip, Video(frames, 25.0), frames, settings=Settings.create(data_dir=tmp_path / "b", environ={}))
    with pytest.raises(ValueError, match="build both from one Settings"):
        metric.update(ctx)


def test_reference_feature_cache_folders_name_backend_weights_and_device(tmp_path, mini):
    import json

    from benchmark.core.types import Video
    from metrics.context import ClipContext

    clip = mini.clips()[0]
    frames = clip.load_frames()[:2]
    settings = Settings.create(data_dir=mini.data_root, environ={})
    ctx = ClipContext(clip, Video(frames, 25.0), frames, tmp_path, settings)
    ctx.feature("landmarks", "reference", backend="mediapipe")
    (folder,) = (tmp_path / "landmarks").iterdir()
    key = json.loads((folder / "key.json").read_text())
    assert key["backend"].startswith("mediapipe-") and key["device"] == "cpu" and "weights" in key
    assert list(folder.glob("*.npz"))


WRITES = re.compile(
    r"os\.environ\s*\[[^\]]*\]\s*=(?!=)|os\.environ\.(setdefault|update|pop|clear)\s*\("
    r"|\b(putenv|unsetenv)\s*\(|del\s+os\.environ"
)
READS = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\s*\(")


def _sources():
    for folder in SOURCE_DIRS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_source_file_writes_the_environment():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _sources()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if WRITES.search(line)
    ]
    assert not offenders, "settings travel in Settings, not os.environ:\n" + "\n".join(offenders)


def test_only_settings_reads_the_environment():
    allowed = {ROOT / "benchmark" / "core" / "settings.py"}
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _sources()
        if path not in allowed
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if READS.search(line)
    ]
    assert not offenders, "read the environment once, in Settings.create:\n" + "\n".join(offenders)
