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
    "videos": "protocols.user_videos:VideosProtocol",  # `videos:NAME`, prepared from the user's folder
}

DATASETS: Registry = Registry("dataset", "protocols", BUILTIN_DATASETS, base="protocols.base:Protocol")


def open_dataset(name: str, data_root):
    """The protocol `name` over `data_root`: a registered name, or `videos:NAME` for a prepared folder of videos."""
    from pathlib import Path

    family, _, collection = name.partition(":")
    if family == "videos":
        from benchmark.core.errors import BenchError
        from protocols.user_videos import VideosProtocol, prepared_hint

        if not collection:
            raise BenchError("--dataset videos needs the name it was prepared under: videos:NAME",
                             hint=prepared_hint(Path(data_root)))
        return VideosProtocol(Path(data_root), collection)
    return DATASETS.get(name)(data_root)
