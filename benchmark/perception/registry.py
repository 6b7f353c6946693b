"""Perception backends by name: registries of landmark backends, identity embedders and networks.

Names point at classes lazily ("module:Class"), so asking for mediapipe imports neither torch nor
dlib, and this module imports none of the backends: fan, which takes its face boxes from the
mediapipe backend, asks `get_landmark_backend` for it without an import circle. Third-party
packages add backends through the entry-point groups talking_head_bench.landmarks,
talking_head_bench.embedders and talking_head_bench.networks (subclasses of base.LandmarkBackend /
base.Embedder / base.Network).

`get_landmark_backend(name, device, weights_dir)`, `get_embedder(...)` and `get_network(...)` return one shared
instance per everything the backend depends on, so two settings never share a model loaded for
the other, and a backend that reads no weights is shared whatever the settings.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from benchmark.core.errors import BenchError
from benchmark.perception.base import Embedder, LandmarkBackend, Network, PerceptionBackend
from benchmark.core.registry import Registry

LANDMARK_BACKENDS: Registry = Registry(
    "landmark backend",
    "landmarks",
    {
        "mediapipe": "benchmark.perception.landmarks:MediapipeLandmarks",
        "dlib68": "benchmark.perception.landmarks:Dlib68Landmarks",
        "dlib68-up0": "benchmark.perception.landmarks:Dlib68Up0Landmarks",
        "fan": "benchmark.perception.fan:FanLandmarks",
        "fan-s3fd": "benchmark.perception.fan:FanS3fdLandmarks",
    },
    base="benchmark.perception.base:LandmarkBackend",
    hint="choose one with --landmarks",
)

EMBEDDERS: Registry = Registry(
    "identity embedder",
    "embedders",
    {
        "dlib-resnet": "benchmark.perception.identity:DlibResnetEmbedder",
        "facenet-vggface2": "benchmark.perception.embedders:FacenetEmbedder",
        "arcface": "benchmark.perception.embedders:ArcfaceEmbedder",
    },
    base="benchmark.perception.base:Embedder",
    hint="choose one with --embedder",
)

# the other networks the metrics run, each on its weight file (names as the metrics' parameters say them)
NETWORKS: Registry = Registry(
    "network",
    "networks",
    {
        "inception": "benchmark.perception.inception:InceptionNetwork",
        "pytorch-fid-inception": "benchmark.perception.pytorch_fid_inception:PytorchFidInception",
        "syncnet": "benchmark.perception.syncnet:SyncNetBackend",
        "i3d-torchscript": "benchmark.perception.i3d:TorchscriptI3D",
        "pytorch-i3d": "benchmark.perception.i3d:PytorchI3D",
        "lpips-alex": "benchmark.perception.lpips_net:LpipsAlex",
        "lpips-vgg": "benchmark.perception.lpips_net:LpipsVgg",
    },
    base="benchmark.perception.base:Network",
    hint="the metrics name the networks they run",
)


def get_landmark_backend(name: str, device: str = "cpu", weights_dir: str | Path | None = None) -> LandmarkBackend:
    """The shared landmark backend for (name, device, weights folder); fan must be given its weights folder."""
    return _shared(LANDMARK_BACKENDS, name, device, weights_dir)


def get_embedder(name: str, device: str = "cpu", weights_dir: str | Path | None = None) -> Embedder:
    """The shared identity embedder for (name, device, weights folder); dlib-resnet reads no weights folder."""
    return _shared(EMBEDDERS, name, device, weights_dir)


def get_network(name: str, device: str, weights_dir: str | Path | None) -> Network:
    """The shared network for (name, device, weights folder), e.g. get_network("inception", settings.device,
    settings.weights_dir); a missing or wrong weight file is a BenchError naming it."""
    return _shared(NETWORKS, name, device, weights_dir)


def _shared(registry: Registry, name: str, device: str, weights_dir: str | Path | None) -> PerceptionBackend:
    backend = registry.get(name)
    if not backend.reads_weights:
        return _instance(registry, name, str(device) if backend.follows_device else "cpu", None)
    if weights_dir is None:  # nothing reads the environment: the caller passes the settings' folder
        raise BenchError(
            f"the {name} {registry.kind} needs the weights folder it reads from",
            hint="pass Settings.weights_dir (bench run --weights / --data-dir)",
        )
    return _instance(registry, name, str(device), Path(weights_dir).expanduser().resolve())


@lru_cache(maxsize=None)
def _instance(registry: Registry, name: str, device: str, weights_dir: Path | None) -> PerceptionBackend:
    return registry.get(name).build(device, weights_dir)
