"""Protocols by name."""

from benchmark.core.registry import Registry

BUILTIN_DATASETS: dict[str, str] = {
    "mini": "protocols.mini:MiniProtocol",
    "grid": "protocols.corpora:GridProtocol",
    "grid-s29": "protocols.corpora:GridS29Protocol",
    "tcd-timit": "protocols.corpora:TcdTimitProtocol",
    "tcd-timit-official17": "protocols.corpora:TcdTimitOfficial17Protocol",
    "mead": "protocols.mead_hdtf:MeadProtocol",
    "mead-m003": "protocols.mead_hdtf:MeadM003Protocol",
    "hdtf": "protocols.mead_hdtf:HdtfProtocol",
    "videos": "protocols.user_videos:VideosProtocol",
    "synthetic": "protocols.synthetic:SyntheticProtocol",  # `synthetic:N`, generated clips for engine measurements  # `videos:NAME`, prepared from the user's folder
}

DATASETS: Registry = Registry("dataset", "protocols", BUILTIN_DATASETS, base="protocols.base:Protocol")


def open_dataset(name: str, data_root, collection: str | None = None):
    """The protocol `name` over `data_root`: a registered name, or `FAMILY:NAME` for a protocol that
    takes a name (its `prepare_options` has "name", e.g. `videos:my-lab`); `collection` gives the
    name apart (`bench prepare videos --name NAME`)."""
    from pathlib import Path

    family, sep, named = name.partition(":")
    if sep and family in DATASETS.names() and "name" in DATASETS.get(family).prepare_options:
        return DATASETS.get(family).open(Path(data_root), named)
    return DATASETS.get(name).open(Path(data_root), collection)  # an unknown name: one line with suggestions
