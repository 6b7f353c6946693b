"""The private torch.hub folder: packages find the user's files there and can never download."""

from __future__ import annotations

import types

import pytest
import torch

from benchmark.core.errors import BenchError
from benchmark.perception.torch_hub import private_torch_hub


def test_a_file_the_package_wants_but_nobody_placed_is_a_message_not_a_download(tmp_path):
    weights = tmp_path / "net-0123abcd.pth"
    torch.save({"w": torch.ones(2)}, weights)
    imported_by_name = types.SimpleNamespace(download_url_to_file=torch.hub.download_url_to_file)
    before = (torch.hub.get_dir(), torch.hub.download_url_to_file)
    with private_torch_hub({weights.name: weights}, packages=(imported_by_name,)) as checkpoints:
        # placed: found in the private folder, read from the user's file
        state = torch.hub.load_state_dict_from_url(f"https://example.invalid/{weights.name}", weights_only=True)
        assert torch.equal(state["w"], torch.ones(2)) and (checkpoints / weights.name).resolve() == weights.resolve()
        with pytest.raises(BenchError, match="asked to download https://example.invalid/other-99.pth"):
            torch.hub.load_state_dict_from_url("https://example.invalid/other-99.pth")
        with pytest.raises(BenchError, match="nothing is downloaded"):  # a package that imported the function by name
            imported_by_name.download_url_to_file("https://example.invalid/x.pth", "/tmp/x.pth")
    assert (torch.hub.get_dir(), torch.hub.download_url_to_file) == before  # the user's settings are back
    assert not checkpoints.exists()
