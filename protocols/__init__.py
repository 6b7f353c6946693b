"""Protocols by name."""

from benchmark.registry import Registry

DATASETS: Registry = Registry(
    "dataset",
    "protocols",
    {
        "mini": "protocols.mini:MiniProtocol",
        "grid": "protocols.corpora:GridProtocol",
        "tcd-timit": "protocols.corpora:TcdTimitProtocol",
    },
)
