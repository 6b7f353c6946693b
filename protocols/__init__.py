"""Protocols by name."""

from benchmark.registry import Registry

DATASETS: Registry = Registry(
    "dataset",
    "protocols",
    {
        "mini": "protocols.mini:MiniProtocol",
        "grid": "protocols.corpora:GridProtocol",
        "grid-s29": "protocols.corpora:GridS29Protocol",
        "tcd-timit": "protocols.corpora:TcdTimitProtocol",
        "tcd-timit-official17": "protocols.corpora:TcdTimitOfficial17Protocol",
    },
)
