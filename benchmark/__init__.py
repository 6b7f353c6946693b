"""talking-head-bench: score audio-driven talking-head generators the same way every time."""

__version__ = "0.1.0"
