"""Layer 0, the floor every other layer stands on: typed records (clips, videos, specs), media I/O,
settings, errors, hashing, the registry, statistics, checkpoints and run-record files.

It imports nothing else of the project, so perception, the domain packages (metrics, adapters,
protocols), the engine, reports and the CLI can all use it.
"""
