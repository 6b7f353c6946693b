"""talking-head-bench: score audio-driven talking-head generators the same way every time.

Results as pandas DataFrames: `from benchmark import load_runs, load_clips` (see benchmark.dataframes).
"""

__version__ = "0.1.0"

_RESULTS_API = ("load_runs", "load_clips")


def __getattr__(name: str):
    if name in _RESULTS_API:  # imported on first use: pandas stays out of `bench`'s start-up
        from benchmark import dataframes

        return getattr(dataframes, name)
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_RESULTS_API])
