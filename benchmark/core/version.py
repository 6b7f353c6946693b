"""The harness's version, in one place below every layer (adapter code versions and provenance read it)."""

__version__ = "0.1.0"
