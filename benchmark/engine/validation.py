"""`bench validate --model folder`: check every output file as scoring would read it, scoring nothing.

A model run elsewhere writes hundreds or thousands of files; a wrong size, rate, length or a
broken file is cheaper to find now, in seconds, than clip by clip in a long run. Each file is
found, decoded and conformed under the same options the run will get, so what this lists is
what the run will do.
"""

from __future__ import annotations

from benchmark.engine.worker import build_adapter, open_protocol
from benchmark.core.errors import BenchError
from benchmark.core.settings import Settings
from benchmark.core.subset import stratified_subset


def validate_outputs(
    model: str,
    model_args: dict,
    dataset: str,
    settings: Settings,
    limit: int | None = None,
    subset_seed: int = 0,
    progress=None,
    log=print,
) -> list[dict]:
    """One entry per selected clip: {clip_id, file, status (ok | conformed | failed), conformed, problem}."""
    if limit is not None and limit < 1:
        raise BenchError(f"--limit {limit}: must be a positive number of clips", hint="e.g. --limit 4")
    adapter = build_adapter(model, model_args, settings)
    clips = stratified_subset(open_protocol(dataset, settings, log).clips(), limit, subset_seed)
    results = []
    for clip in clips:
        found = adapter.inspect_clip(clip)
        if found is None:  # the adapter's declared default: it reads no file made before the run
            raise BenchError(
                f"bench validate checks files a model already wrote; {model} writes none before a run",
                hint="point --model folder --model-args dir=... at the outputs, or try `bench run --limit 1`",
            )
        results.append(found)
        if progress is not None:
            progress(1)
    return results


def summarize(results: list[dict]) -> dict:
    """Counts by status and by kind of conforming."""
    counts = {"ok": 0, "conformed": 0, "failed": 0}
    kinds: dict[str, int] = {}
    for r in results:
        counts[r["status"]] += 1
        for kind in r.get("conformed") or {}:
            kinds[kind] = kinds.get(kind, 0) + 1
    return {**counts, "total": len(results), "kinds": kinds}


CLIP_PLACEHOLDER = "<clip id>"


def group_failures(results: list[dict]) -> list[tuple[str, list[str]]]:
    """Failed clips grouped by their problem with the clip's own id (its file name) taken out, in
    first-seen order: (problem, clip ids). One problem shared by every file is printed once, not once a file.
    A problem only one clip has keeps its own text."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        if r["status"] == "failed":
            groups.setdefault(r["problem"].replace(r["clip_id"], CLIP_PLACEHOLDER), []).append(r)
    return [
        (text if len(members) > 1 else members[0]["problem"], [m["clip_id"] for m in members])
        for text, members in groups.items()
    ]
