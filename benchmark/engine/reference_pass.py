"""The ground truth's features as a pass of their own (`bench features`), before any model's run.

A run computes a clip's ground-truth features (landmarks, Inception and I3D activations, identity
embeddings, VAD intervals) inside the first clip that needs them and caches them beside the prepared
protocol (metrics.context), so every later run only reads them. On a cluster that first time happens in
every job started before the cache is full: M models x N workers may each compute the same ground truth.
This pass computes them once per protocol and metric set, ahead of the runs:

- sharded like a run (`--shard K/N`, the same stable split of clip ids), so N machines share the work
  without computing any clip twice;
- resumable: each shard appends one line per finished clip to its log in
  `<prepared protocol>/features/passes/<tag>/`, the tag naming the metric specs (backends, parameters,
  weights); a pass skips the clips any log of that tag has finished, and a clip whose metric raised is
  tried again next time.

How the features are made: each metric that keeps a ground-truth feature on disk scores the clip against
itself in a `GroundTruthContext`, where both sides are the ground truth, so the metric asks for exactly
the features (and parameters) a run asks for, and each is computed once and cached; the scores are thrown
away. Metrics with nothing cached (PSNR, SSIM, LPIPS, CPBD) have nothing to prepare and are left out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import BenchError
from benchmark.core.settings import Settings
from benchmark.core.subset import stratified_subset
from benchmark.engine.plan import shard_of
from benchmark.engine.runner import declare_metrics, progress_bar
from benchmark.engine.worker import open_protocol, score_metric


@dataclass
class PassOutcome:
    log_dir: Path | None  # where the shards' logs are (None: no metric keeps ground-truth features)
    metrics: list[str]  # the metrics whose ground-truth features were prepared
    left_out: list[str]  # those with nothing to prepare
    clips: int = 0  # this shard's clips
    already: int = 0  # finished by an earlier pass (any shard's log)
    done: int = 0  # finished now
    computed: int = 0  # features computed now (cache files written), over all clips
    failed: dict[str, str] = field(default_factory=dict)  # clip id -> why (tried again next pass)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 3 if self.failed else 0


def reference_pass(
    dataset: str,
    metric_names: tuple[str, ...],
    settings: Settings,
    shard: tuple[int, int] | None = None,
    limit: int | None = None,
    subset_seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> PassOutcome:
    """Compute and cache the ground-truth features `metric_names` need on `dataset`'s clips (this shard's)."""
    from metrics import expand_metric_names
    from metrics.context import FEATURES, keeps_reference_cache

    names = expand_metric_names(tuple(metric_names), settings, log, [])
    if not names:
        raise BenchError("no metric named", hint="e.g. --metrics lmd,fid (see `bench list metrics`)")
    needs, left_out = [], []
    for metric in declare_metrics(names, settings):
        keeps = any(keeps_reference_cache(FEATURES.get(f)) for f in metric.features)
        (needs if keeps else left_out).append(metric)
    outcome = PassOutcome(None, [m.variant for m in needs], [m.variant for m in left_out])
    if not needs:
        return outcome
    protocol = open_protocol(dataset, settings, log)
    clips = stratified_subset(protocol.clips(), limit, subset_seed)
    if shard is not None:
        clips = [c for c in clips if shard_of(c.id, shard[1]) == shard[0]]
    outcome.clips = len(clips)
    cache_dir = protocol.prepared_dir / "features"
    outcome.log_dir = _log_dir(cache_dir, protocol.id, [m.spec().to_dict() for m in needs])
    finished = _finished(outcome.log_dir)
    todo = [c for c in clips if (c.id, c.fingerprint) not in finished]
    outcome.already = len(clips) - len(todo)
    log_file = outcome.log_dir / ("all.jsonl" if shard is None else f"shard-{shard[0]}-of-{shard[1]}.jsonl")
    scorers = [m.build() for m in needs]
    start = time.perf_counter()
    bar = progress_bar(len(todo), 0, "ground-truth features", progress)
    try:
        with open(log_file, "a", encoding="utf-8") as out:
            for clip in todo:
                line = _one_clip(clip, scorers, cache_dir, settings)
                out.write(json.dumps(line, sort_keys=True) + "\n")
                out.flush()
                outcome.computed += line["computed"]
                if "error" in line:
                    outcome.failed[clip.id] = line["error"]
                else:
                    outcome.done += 1
                bar.update(1)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        bar.close()
        outcome.seconds = time.perf_counter() - start
    return outcome


def _one_clip(clip, scorers, cache_dir: Path, settings: Settings) -> dict:
    """Score the clip against itself with every scorer; the log line says what it cost."""
    from benchmark.core.types import Video
    from metrics.context import GroundTruthContext

    t0 = time.perf_counter()
    line: dict = {"clip": clip.id, "fingerprint": clip.fingerprint, "computed": 0}
    try:
        frames = clip.load_frames()
    except Exception as exc:  # a broken file fails its clip, never the pass
        line["error"] = f"reading {clip.video_path}: {exc}"
        return line
    ctx = GroundTruthContext(clip, Video(frames, clip.fps), frames, cache_dir=cache_dir, settings=settings)
    for scorer in scorers:
        scored = score_metric(scorer, ctx)
        if scored.traceback:  # the metric raised: its features may be missing, so the clip is tried again
            line["error"] = f"{scorer.variant}: {scored.outcome.reason}"
            break
    line["computed"] = ctx.cache_misses
    line["seconds"] = round(time.perf_counter() - t0, 3)
    return line


def _log_dir(cache_dir: Path, protocol_id: str, specs: list[dict]) -> Path:
    """The passes' log folder of this protocol and metric set, named as the feature caches are."""
    from metrics.context import described_folder

    folder = described_folder(cache_dir, "passes", {"protocol": protocol_id, "metrics": specs})
    folder.mkdir(parents=True, exist_ok=True)  # the logs must be writable, unlike the key's description
    return folder


def _finished(log_dir: Path) -> set[tuple[str, str]]:
    """(clip id, fingerprint) of every clip a log of this tag finished; a torn last line is ignored."""
    done = set()
    for path in sorted(log_dir.glob("*.jsonl")):
        for text in path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue
            if "error" not in line:
                done.add((line["clip"], line["fingerprint"]))
    return done
