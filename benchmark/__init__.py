"""talking-head-bench: score audio-driven talking-head generators the same way every time.

The public Python API, imported on first use (so `bench` starts without pandas or torch):

    from benchmark import load_runs, load_clips      # results as DataFrames (benchmark.reports.frames)
    from benchmark import ClipMetric                 # a clip metric as a torchmetrics.Metric
    from benchmark import Settings, create_metric    # one settings object; any metric by name
    from benchmark import declare_metric             # a metric's declaration (spec, aggregation), nothing built

User code never needs the top-level `metrics`, `adapters` or `protocols` packages for these
(a model's own repository may have a `metrics` package that shadows ours).

Layers, one import direction (tests/test_layers.py): core <- perception <- metrics | adapters |
protocols <- engine <- reports | tools <- cli. This module sits above them all.
"""

from benchmark.core.version import __version__  # noqa: E402,F401  (one place for it)

# name -> "module:attribute", resolved on first access
_PUBLIC_API = {
    "load_runs": "benchmark.reports.frames:load_runs",
    "load_clips": "benchmark.reports.frames:load_clips",
    "export_results": "benchmark.reports.frames:export_results",
    "ClipMetric": "metrics.tracking:ClipMetric",
    "Settings": "benchmark.core.settings:Settings",
    "create_metric": "metrics:create_metric",
    "declare_metric": "metrics:declare_metric",
    "RunConfig": "benchmark.engine.runner:RunConfig",
    "Runner": "benchmark.engine.runner:Runner",
    "BenchError": "benchmark.core.errors:BenchError",
}


def __getattr__(name: str):
    if name in _PUBLIC_API:
        import importlib

        module, _, attribute = _PUBLIC_API[name].partition(":")
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC_API])


__all__ = sorted(_PUBLIC_API)
