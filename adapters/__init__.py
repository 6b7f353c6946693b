"""Adapters (models) by name; third-party packages add theirs via the entry-point group
`talking_head_bench.adapters`."""

from benchmark.core.registry import Registry

BUILTIN_ADAPTERS: dict[str, str] = {
    "ground-truth": "adapters.ground_truth:GroundTruthAdapter",
    "still": "adapters.still:StillAdapter",
    "folder": "adapters.folder:FolderAdapter",
    "command": "adapters.command:CommandAdapter",
    "ours": "adapters.ours:OursAdapter",
    "wav2lip": "adapters.wav2lip:Wav2LipAdapter",
    "mocogan-hd": "adapters.mocogan_hd:MocoganHdAdapter",
    "man": "adapters.man:ManAdapter",
    "man-keypoint": "adapters.man:ManKeypointAdapter",
}

ADAPTERS: Registry = Registry("model", "adapters", BUILTIN_ADAPTERS, base="adapters.base:Adapter")
