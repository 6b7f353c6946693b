"""One explicit settings object, built once (CLI or Python API) and passed to every layer.

Everything that changes where files are read from or how tensors are computed lives here, so no
module reads or writes `os.environ` at run time and no process-wide cache is keyed on less than
the settings it depends on. The environment is consulted exactly once, in `Settings.create`,
for the documented defaults ($BENCH_DATA, $BENCH_WEIGHTS).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

DATA_ENV = "BENCH_DATA"
WEIGHTS_ENV = "BENCH_WEIGHTS"


def default_threads() -> int:
    """The CPU cores this process may use (what torch would take by default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_data_dir() -> Path:
    return Path.home() / ".cache" / "talking-head-bench"


# How every worker's torch computes, recorded with each run (provenance.device_info): float32 means
# float32 on a GPU too (cuDNN and cuBLAS default to TF32 on Ampere and later, ~1e-3 relative), and
# cuDNN picks deterministic algorithms, so a clip scores the same on every run of the same GPU.
TORCH_NUMERICS = {"tf32": False, "cudnn_deterministic": True}


def _check_folder(path: Path, given_as: str) -> None:
    """A data or weights folder that is a file (or lies under one) is one line at start, not a traceback later."""
    from benchmark.core.errors import BenchError

    for ancestor in (path, *path.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                where = "is a file" if ancestor == path else f"lies under {ancestor}, which is a file"
                raise BenchError(
                    f"{given_as} {path} {where}, not a folder",
                    hint=f"point {given_as} at a folder (it is created if missing)",
                )
            return


@dataclass(frozen=True)
class Settings:
    """Where data and weights are, which device computes, which perception backends score.

    `landmarks` / `embedder` are None for each metric's documented default backend.
    """

    data_dir: Path
    weights_dir: Path
    device: str = "cpu"
    landmarks: str | None = None
    embedder: str | None = None
    # torch intra-op threads of every worker: CPU convolutions round differently with another
    # thread count, so it is fixed per run (and recorded) for records identical across executors
    threads: int = 1

    @classmethod
    def create(
        cls,
        data_dir: str | Path | None = None,
        weights_dir: str | Path | None = None,
        device: str = "cpu",
        landmarks: str | None = None,
        embedder: str | None = None,
        environ: dict[str, str] | None = None,
        threads: int | None = None,
    ) -> "Settings":
        """Flags first, then $BENCH_DATA / $BENCH_WEIGHTS, then the defaults.

        Weights default to <data dir>/weights, so `--data-dir X` alone makes every model and
        every metric backend read X/weights.
        """
        env = os.environ if environ is None else environ
        if data_dir:
            data = Path(data_dir).expanduser()
        elif env.get(DATA_ENV):
            data = Path(env[DATA_ENV]).expanduser()
        else:
            data = default_data_dir()
        if weights_dir:
            weights = Path(weights_dir).expanduser()
        elif env.get(WEIGHTS_ENV):
            weights = Path(env[WEIGHTS_ENV]).expanduser()
        else:
            weights = data / "weights"
        _check_folder(data, "--data-dir" if data_dir else f"${DATA_ENV}" if env.get(DATA_ENV) else "the data folder")
        _check_folder(
            weights, "--weights" if weights_dir else f"${WEIGHTS_ENV}" if env.get(WEIGHTS_ENV) else "the weights folder"
        )
        return cls(
            data.resolve(), weights.resolve(), device, landmarks or None, embedder or None, threads or default_threads()
        )

    def with_device(self, device: str) -> "Settings":
        return replace(self, device=device)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_dir"], out["weights_dir"] = str(self.data_dir), str(self.weights_dir)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Settings":
        return cls(
            Path(d["data_dir"]),
            Path(d["weights_dir"]),
            d.get("device", "cpu"),
            d.get("landmarks"),
            d.get("embedder"),
            int(d.get("threads", 1)),
        )

    def apply_to_torch(self) -> None:
        """Give this process the run's torch threads and numerics (each worker calls it once)."""
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        torch.backends.cuda.matmul.allow_tf32 = TORCH_NUMERICS["tf32"]
        torch.backends.cudnn.allow_tf32 = TORCH_NUMERICS["tf32"]
        torch.backends.cudnn.deterministic = TORCH_NUMERICS["cudnn_deterministic"]
        torch.backends.cudnn.benchmark = False  # the algorithm must not depend on a timing race
