"""--limit subsets, the registry's typo help, and third-party adapters via entry points."""

from collections import Counter
from pathlib import Path

import pytest

from benchmark.errors import UnknownNameError
from benchmark.registry import Registry
from benchmark.subset import stratified_subset
from benchmark.types import Clip


def _clips(per_speaker):
    out = []
    for s, n in per_speaker.items():
        for k in range(n):
            out.append(Clip(f"{s}_{k:03d}", s, "p", 75, 25.0, (256, 256), 16000, Path("v"), Path("a"), Path("i"), f"fp{s}{k}"))
    return out


def test_limit_is_seeded_and_speaker_stratified_not_the_first_n():
    clips = _clips({"s1": 30, "s2": 30, "s3": 30, "s4": 5})
    subset = stratified_subset(clips, 8, seed=0)
    assert len(subset) == 8
    counts = Counter(c.speaker for c in subset)
    assert set(counts) == {"s1", "s2", "s3", "s4"} and max(counts.values()) == 2
    assert subset != clips[:8]
    assert stratified_subset(clips, 8, seed=0) == subset  # reproducible
    assert stratified_subset(clips, 8, seed=1) != subset  # the seed matters
    assert [c.id for c in subset] == sorted(c.id for c in subset)  # protocol order kept
    assert stratified_subset(clips, 3, seed=0)[0].speaker != stratified_subset(clips, 3, seed=0)[1].speaker
    assert stratified_subset(clips, None, seed=0) == clips
    with pytest.raises(ValueError):
        stratified_subset(clips, 0, seed=0)


def test_unknown_names_suggest_the_closest():
    from adapters import ADAPTERS

    with pytest.raises(UnknownNameError, match="Did you mean 'ground-truth'"):
        ADAPTERS.get("groundtruth")
    with pytest.raises(UnknownNameError, match="Known: folder, ground-truth, man, man-keypoint, mocogan-hd, ours, still, wav2lip"):
        ADAPTERS.get("xyz")


def test_registry_is_lazy():
    registry = Registry("model", "test_lazy", {"broken": "no_such_module_anywhere:Thing", "ok": "math:pi"})
    assert registry.names() == ["broken", "ok"]
    assert registry.get("ok") == pytest.approx(3.14159, abs=1e-4)
    with pytest.raises(ModuleNotFoundError):
        registry.get("broken")


def test_third_party_adapter_registers_through_an_entry_point(tmp_path, monkeypatch):
    """A package that is not this repo declares `talking_head_bench.adapters` and becomes usable by name."""
    pkg = tmp_path / "site"
    (pkg / "my_th_model").mkdir(parents=True)
    (pkg / "my_th_model" / "__init__.py").write_text(
        "from adapters.still import StillAdapter\n"
        "class MyAdapter(StillAdapter):\n    name = 'my-model'\n    description = 'third-party test adapter'\n")
    dist = pkg / "my_th_model-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-th-model\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[talking_head_bench.adapters]\nmy-model = my_th_model:MyAdapter\n")
    monkeypatch.syspath_prepend(str(pkg))
    from adapters import ADAPTERS

    fresh = Registry("model", "adapters", {})
    assert "my-model" in fresh.names()
    assert fresh.get("my-model").description == "third-party test adapter"
    assert ADAPTERS.group == fresh.group == "talking_head_bench.adapters"
