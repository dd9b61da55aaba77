"""Feature networks for the content loss, plugged in from exported files."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unflat.errors import InputError, WeightsError
from unflat.face.fewshot.feature_nets import content_loss, load_feature_net
from unflat.face.fewshot.losses import ImagePyramid


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 4, 3, padding=1)
        self.second = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = torch.relu(self.first(images))
        return first, self.second(first)


def test_exported_network_is_the_content_loss(tmp_path) -> None:
    torch.manual_seed(0)
    net = TwoLayers()
    path = tmp_path / "features.pt2"
    torch.export.save(torch.export.export(net, (torch.rand(2, 3, 16, 16),)), path)
    loaded = load_feature_net(path)
    fake, real = torch.rand(2, 3, 16, 16, requires_grad=True), torch.rand(2, 3, 16, 16)
    loss = content_loss([f"{path}=0.5"])
    with torch.no_grad():
        wanted = 0.5 * sum((a - b).abs().mean() for a, b in zip(net(fake), net(real), strict=True))
    torch.testing.assert_close(loss(fake, real), wanted)
    loss(fake, real).backward()  # gradients reach the images, not the frozen network
    assert fake.grad is not None and all(not p.requires_grad for p in loaded.parameters())
    assert isinstance(content_loss().pairs[0][0], ImagePyramid)


def test_bad_feature_networks_are_refused(tmp_path) -> None:
    with pytest.raises(InputError, match="no feature network"):
        content_loss([f"{tmp_path / 'none.pt2'}=1"])
    junk = tmp_path / "junk.pt2"
    junk.write_bytes(b"not a network")
    with pytest.raises(WeightsError, match="cannot read"):
        load_feature_net(junk)
    with pytest.raises(InputError, match="PATH=WEIGHT"):
        content_loss([f"{junk}=heavy"])
