"""The run plan: everything that decides which frames are generated and which numbers are made.

A plan is plain JSON (it is written to run.json first and shipped to every worker), so any
executor, on any machine, builds the same adapter and metrics from it. Two seeds are kept apart:
the subset seed picks the `--limit` clips, the generation seed drives the model.

A run is identified by what generates the frames: the protocol and its clip list, the adapter's
fingerprint, the generation seed, the device, the torch thread count where the adapter's frames
depend on it, and the content of the files it reads per clip (a folder's videos). The metric set
is not part of it: asking for one more metric later scores only that metric on the same run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_json

PLAN_VERSION = 2


def clip_seed(generation_seed: int, clip_id: str) -> int:
    """Per-clip seed that depends only on the generation seed and the clip: order, shard and subset don't matter."""
    return int(hashlib.sha256(f"{generation_seed}:{clip_id}".encode()).hexdigest()[:8], 16)


def shard_of(clip_id: str, n_shards: int) -> int:
    """Stable shard of a clip: sha256 of its id (never Python's salted hash), so every machine agrees."""
    return int(hashlib.sha256(clip_id.encode()).hexdigest()[:16], 16) % n_shards


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or int(m[2]) < 1 or int(m[1]) >= int(m[2]):
        raise BenchError(
            f"--shard {text!r} is not K/N with 0 <= K < N", hint="e.g. --shard 0/3, --shard 1/3, --shard 2/3"
        )
    return int(m[1]), int(m[2])


def row_key(adapter_fingerprint: str, clip_fingerprint: str, seed: int, clip_input: dict | None = None) -> str:
    """The key of a clip's row; an adapter without per-clip input keeps the keys it always had."""
    parts = [adapter_fingerprint, clip_fingerprint, seed]
    return sha256_json(parts if clip_input is None else [*parts, clip_input])


def column_id(spec: dict) -> str:
    """A metric's column in the rows: its variant plus a hash of its parameters and backend.

    Changing a parameter or backend makes a new column beside the old one, never an overwrite.
    """
    identity = {k: spec[k] for k in ("name", "variant", "params", "backend")}
    return f"{spec['variant']}@{sha256_json(identity)[:10]}"


def inputs_digest(clips: list["PlannedClip"]) -> str | None:
    """sha256 over (clip id, per-clip input) of the clips that have one; None when none has (no input files)."""
    inputs = [[c.id, c.input] for c in clips if c.input is not None]
    return sha256_json(inputs) if inputs else None


@dataclass(frozen=True)
class PlannedClip:
    id: str
    speaker: str
    fingerprint: str
    seed: int  # generation seed of this clip
    key: str  # the row key: adapter fingerprint + clip content + seed (+ the adapter's per-clip input)
    index: int  # position in the whole selection: shards merge back into protocol order
    input: dict | None = None  # the adapter's per-clip file content (folder: the video's sha256), in the key

    @classmethod
    def from_dict(cls, d: dict) -> "PlannedClip":
        return cls(d["id"], d["speaker"], d["fingerprint"], int(d["seed"]), d["key"], int(d["index"]), d.get("input"))


@dataclass
class RunPlan:
    dataset: str  # registry name of the protocol
    protocol: dict  # id, name, version, clip_list_fingerprint (of the whole selection, before sharding), n_clips
    model: str
    model_args: dict[str, Any]
    adapter: dict  # the adapter's describe(): name, config, code version, weights, fingerprint
    seeds: dict[str, int]  # {"generation": G, "subset": S}
    limit: int | None
    settings: dict  # Settings.to_dict()
    metrics: list[dict]  # one spec per requested metric, with its "column"
    clips: list[PlannedClip]  # this run's clips in protocol order (a shard's share when sharded)
    shard: list[int] | None = None  # [K, N]
    keep_videos: bool = False
    label: str = ""  # what tables and pages call the run (--name); not part of its identity
    selection: list[str] | None = (
        None  # a shard's record of the whole selection's clip ids (merge names a missing shard's)
    )
    version: int = PLAN_VERSION
    run_id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = self.identity_hash()

    def shared_identity(self) -> dict:
        """What every shard of the run shares: the identity without the per-clip files' content.

        The thread count is in it only where the adapter says its frames depend on it (a plan
        from before the adapters said so: they did); it is recorded either way (settings).
        """
        identity = {
            "protocol": self.protocol["id"],
            "clips": self.protocol["clip_list_fingerprint"],
            "adapter": self.adapter["fingerprint"],
            "generation_seed": self.seeds["generation"],
            "device": self.settings["device"],
        }
        if self.adapter.get("frames_depend_on_threads", True):
            identity["threads"] = self.settings.get("threads", 1)
        return identity

    def identity(self) -> dict:
        """What generates the frames (and so names the run): not the metrics, not the shard.

        With per-clip input files (folder), a digest of their hashes: new videos are a new run
        beside the old one, never an overwrite of it. A shard hashes only its own clips, so its
        digest is its share's; a merge recomputes it over every clip.
        """
        identity = self.shared_identity()
        digest = inputs_digest(self.clips)
        if digest is not None:
            identity["inputs"] = digest
        return identity

    def identity_hash(self) -> str:
        return sha256_json(self.identity())[:12]

    @property
    def columns(self) -> dict[str, str]:
        """variant -> column id, for the metrics this plan asks for."""
        return {m["variant"]: m["column"] for m in self.metrics}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["clips"] = [asdict(c) for c in self.clips]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunPlan":
        if d.get("version") != PLAN_VERSION:
            raise BenchError(
                f"run plan version {d.get('version')!r}, this harness reads {PLAN_VERSION}",
                hint="re-run the run with this version of the harness",
            )
        fields = {k: v for k, v in d.items() if k != "clips"}
        return cls(**fields, clips=[PlannedClip.from_dict(c) for c in d["clips"]])

    def shard_plan(self, shard: tuple[int, int] | None) -> "RunPlan":
        if shard is None:
            return self
        k, n = shard
        d = self.to_dict()
        d["selection"] = [c["id"] for c in d["clips"]]
        d["clips"] = [c for c in d["clips"] if shard_of(c["id"], n) == k]
        d["shard"] = [k, n]
        return RunPlan.from_dict(d)
