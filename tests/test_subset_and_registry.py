"""--limit subsets, the registry's typo help, and third-party adapters via entry points."""

import re
from collections import Counter
from pathlib import Path

import pytest

from benchmark.core.errors import RegistryError, UnknownNameError
from benchmark.core.registry import Registry
from benchmark.core.subset import stratified_subset
from benchmark.core.types import Clip


def _clips(per_speaker):
    out = []
    for s, n in per_speaker.items():
        for k in range(n):
            out.append(
                Clip(f"{s}_{k:03d}", s, "p", 75, 25.0, (256, 256), 16000, Path("v"), Path("a"), Path("i"), f"fp{s}{k}")
            )
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
    with pytest.raises(UnknownNameError) as raised:
        ADAPTERS.get("xyz")
    known = str(raised.value).split("Known: ", 1)[1].split(".", 1)[0].split(", ")
    assert known == sorted(ADAPTERS.names())  # every registered model, in order, none invented
    assert {"folder", "ground-truth", "still", "ours"} <= set(known)


def test_registry_is_lazy():
    registry = Registry("model", "test_lazy", {"broken": "no_such_module_anywhere:Thing", "ok": "math:pi"})
    assert registry.names() == ["broken", "ok"]
    assert registry.get("ok") == pytest.approx(3.14159, abs=1e-4)
    with pytest.raises(ModuleNotFoundError):
        registry.get("broken")


def _plugin(tmp_path, monkeypatch, package: str, source: str, entry_points: str):
    """An installed third-party distribution `package` (not this repo) with `entry_points.txt`."""
    site = tmp_path / "site"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(source)
    dist = site / f"{package}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(site))


def test_third_party_adapter_registers_through_an_entry_point(tmp_path, monkeypatch):
    """A package that is not this repo declares `talking_head_bench.adapters` and becomes usable by name."""
    _plugin(
        tmp_path,
        monkeypatch,
        "my_th_model",
        "from adapters.still import StillAdapter\n"
        "class MyAdapter(StillAdapter):\n    name = 'my-model'\n    description = 'third-party test adapter'\n",
        "[talking_head_bench.adapters]\nmy-model = my_th_model:MyAdapter\n",
    )
    from adapters import ADAPTERS

    fresh = Registry("model", "adapters", {})
    assert "my-model" in fresh.names()
    assert fresh.get("my-model").description == "third-party test adapter"
    assert ADAPTERS.group == fresh.group == "talking_head_bench.adapters"


def test_a_taken_name_is_not_silently_re_registered():
    registry = Registry("model", "test_collisions", {"pi": "math:pi"})
    registry.register("pi", "math:pi")  # the same target again: nothing changes
    with pytest.raises(
        RegistryError, match="'pi' is already registered to math:pi .*refusing to register it to math:e"
    ):
        registry.register("pi", "math:e")
    registry.register("e", "math:e")
    assert registry.names() == ["e", "pi"] and registry.get("pi") == pytest.approx(3.14159, abs=1e-4)


def test_a_plugin_claiming_a_built_in_name_is_refused_and_listed_as_failed(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import adapters
    from adapters.still import StillAdapter
    from benchmark.cli import cli

    _plugin(
        tmp_path,
        monkeypatch,
        "my_th_clash",
        "from adapters.still import StillAdapter\nclass Impostor(StillAdapter):\n    description = 'impostor'\n",
        "[talking_head_bench.adapters]\nstill = my_th_clash:Impostor\n",
    )
    fresh = Registry("model", "adapters", dict(adapters.BUILTIN_ADAPTERS), base="adapters.base:Adapter")
    assert fresh.get("still") is StillAdapter  # the built-in keeps its name
    [(name, why)] = fresh.refused()
    assert (
        name == "still"
        and "my_th_clash:Impostor" in why
        and "my-th-clash" in why
        and "adapters.still:StillAdapter" in why
    )
    monkeypatch.setattr(adapters, "ADAPTERS", fresh)
    result = CliRunner().invoke(cli, ["list", "models"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^still\s+\(failed: refused plugin my_th_clash:Impostor", result.output, re.M)
    assert re.search(r"^still\s+The identity image held", result.output, re.M)


def test_what_a_name_loads_must_subclass_the_registrys_base(tmp_path):
    from adapters import ADAPTERS
    from metrics import METRICS
    from protocols import DATASETS

    assert (ADAPTERS.base, METRICS.base, DATASETS.base) == (
        "adapters.base:Adapter",
        "metrics.base:Metric",
        "protocols.base:Protocol",
    )
    registry = Registry(
        "model",
        "test_base",
        {"pi": "math:pi", "still": "adapters.still:StillAdapter", "psnr": "metrics.psnr:PSNR"},
        base="adapters.base:Adapter",
    )
    assert registry.get("still").name == "still"
    for name in ("pi", "psnr"):
        with pytest.raises(RegistryError, match=f"model '{name}' .* is not a subclass of adapters.base:Adapter"):
            registry.get(name)


def test_variants_are_names_learnt_from_the_metric_classes(tmp_path, monkeypatch):
    """A plugin metric's variants work with --metrics; one that takes a built-in variant's name is refused."""
    import metrics
    from benchmark.core.settings import Settings

    _plugin(
        tmp_path,
        monkeypatch,
        "my_th_metric",
        "from metrics.psnr import PSNR\n"
        "class MyPSNR(PSNR):\n    name = 'my-psnr'\n"
        "    variants = {'my-psnr-low-cap': {'cap_db': 50.0}, 'lmd-centered': {}}\n",
        "[talking_head_bench.metrics]\nmy-psnr = my_th_metric:MyPSNR\n",
    )
    fresh = Registry(
        "metric", "metrics", dict(metrics.BUILTIN_METRICS), base="metrics.base:Metric", variants="variants"
    )
    monkeypatch.setattr(metrics, "METRICS", fresh)
    assert metrics.family_of("lmd-centered") == "lmd" and metrics.family_of("acd-e") == "acd"
    assert metrics.family_of("psnr") == "psnr" and metrics.family_of("my-psnr-low-cap") == "my-psnr"
    metric = metrics.create_metric("my-psnr-low-cap", Settings(tmp_path, tmp_path / "weights"))
    assert metric.variant == "my-psnr-low-cap" and metric.params["cap_db"] == 50.0
    [(name, why)] = fresh.refused()
    assert name == "lmd-centered" and "my_th_metric:MyPSNR" in why and "metrics.lmd:LMD" in why
    with pytest.raises(UnknownNameError, match="Did you mean 'lmd-centered'"):
        metrics.create_metric("lmd-centred", Settings(tmp_path, tmp_path / "weights"))


def test_two_built_ins_declaring_one_variant_is_an_error():
    registry = Registry(
        "metric",
        "test_variants",
        {"lmd": "metrics.lmd:LMD", "lmd2": "metrics.lmd:LMD"},
        base="metrics.base:Metric",
        variants="variants",
    )
    with pytest.raises(RegistryError, match="variant 'lmd-centered' of metric 'lmd2' .* of 'lmd'"):
        registry.resolve("lmd-centered")
