"""Adapters (models) by name; third-party packages add theirs via the entry-point group
`talking_head_bench.adapters`."""

from benchmark.registry import Registry

ADAPTERS: Registry = Registry(
    "model",
    "adapters",
    {
        "ground-truth": "adapters.ground_truth:GroundTruthAdapter",
        "still": "adapters.still:StillAdapter",
        "folder": "adapters.folder:FolderAdapter",
    },
)
