"""Protocols by name."""

from benchmark.registry import Registry

BUILTIN_DATASETS: dict[str, str] = {
    "mini": "protocols.mini:MiniProtocol",
    "grid": "protocols.corpora:GridProtocol",
    "grid-s29": "protocols.corpora:GridS29Protocol",
    "tcd-timit": "protocols.corpora:TcdTimitProtocol",
    "tcd-timit-official17": "protocols.corpora:TcdTimitOfficial17Protocol",
}

DATASETS: Registry = Registry("dataset", "protocols", BUILTIN_DATASETS, base="protocols.base:Protocol")
