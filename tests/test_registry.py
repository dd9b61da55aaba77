"""``unflat.registry``: one table of architectures and models, filled beside each model's code."""

from __future__ import annotations

import ast
import dataclasses
from importlib import metadata
from pathlib import Path

import pytest
import torch
from torch import nn

import unflat
from unflat import registry, weights
from unflat.errors import ConfigError

SRC = Path(__file__).resolve().parents[1] / "src" / "unflat"
OURS = {
    "depth_pro",
    "sharp",
    "vssflow",
    "blazeface_short",
    "face_mesh",
    "iris",
    "selfie_segmentation",
}


def test_every_architecture_is_in_the_one_table_with_its_config() -> None:
    table = registry.architectures()
    assert set(table) >= OURS
    for name in ("depth_pro", "sharp", "vssflow"):
        # A model-fields-only dataclass whose defaults are the published full size.
        assert dataclasses.is_dataclass(table[name].config)
    assert table["depth_pro"].config.__name__ == "DepthProConfig"
    assert table["sharp"].config.__name__ == "SharpConfig"
    assert table["vssflow"].config.__name__ == "VSSFlowConfig"
    assert unflat.build_model is registry.build_model


def test_every_model_entry_can_be_built() -> None:
    entries = registry.list_entries()
    assert {"depth-pro", "sharp", "face-mesh", "iris"} <= {e.name for e in entries}
    for entry in entries:
        # Entries marked unavailable list extractors whose outputs are read from files (VSSFlow).
        assert registry.architecture_available(entry) or not entry.available, entry.name
        assert entry.licence and entry.licence_url.startswith("https://")


def test_full_size_builds_from_the_architecture_name_alone() -> None:
    with torch.device("meta"):
        depth = registry.build_model({"architecture": "depth_pro"})
    assert sum(p.numel() for p in depth.parameters()) > 900e6  # the published 952M


@pytest.mark.parametrize(
    ("name", "net"),
    [("blazeface_short", "BlazeFace"), ("face_mesh", "FaceMesh"), ("iris", "IrisLandmark")],
)
def test_bundled_face_nets_are_registered_with_their_files(name: str, net: str) -> None:
    entry = registry.get_entry(name)
    assert entry.bundled == "assets/face" and entry.commercial_use
    (path,) = registry.bundled_files(entry)
    assert path.name == f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path.name} is absent: run tools/convert_mediapipe.py")
    assert weights.weights_path(name) == path == weights.fetch(name)
    assert weights.is_cached(name) and entry.size_bytes == path.stat().st_size
    model = weights.load_model(name)
    assert type(model).__name__ == net and not model.training


def test_unknown_architecture_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown architecture 'nope'") as caught:
        registry.build_model({"architecture": "nope"})
    assert "face_mesh" in caught.value.hint and "vssflow" in caught.value.hint
    with pytest.raises(ConfigError, match="needs an 'architecture' key"):
        registry.build_model({"depth": 3})


def test_registering_twice() -> None:
    entry = registry.get_entry("sharp")
    assert registry.register_model(entry) is entry  # the same entry again (a re-import) is fine
    other = dataclasses.replace(entry, description="another model")
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model(other)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_architecture("sharp", lambda config: nn.Identity())


class _Point:
    def __init__(self, value: str, load) -> None:
        self.value, self.load = value, load


def test_plug_ins_register_through_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_discovered", False)
    monkeypatch.setattr(registry, "_ARCHITECTURES", dict(registry._ARCHITECTURES))

    def good() -> None:
        registry.register_architecture("toy", lambda config: nn.Linear(2, config["width"]))

    def broken() -> None:
        raise ImportError("no module named toy_extras")

    points = [_Point("toy_extras:register", broken), _Point("toy:register", good)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: points)
    with pytest.warns(UserWarning, match="toy_extras:register failed"):
        model = registry.build_model({"architecture": "toy", "width": 3})
    assert model.out_features == 3
    assert "depth_pro" in registry.architectures()


def test_models_list_shows_bundled_and_downloadable(monkeypatch, tmp_path: Path, capsys) -> None:
    from unflat.cli import main

    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert rows["face-mesh"].rstrip().endswith("bundled")
    assert rows["depth-pro"].rstrip().endswith("no")


def test_the_registry_imports_no_capability() -> None:
    tree = ast.parse((SRC / "registry.py").read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    capabilities = ("unflat.depth", "unflat.splat", "unflat.face", "unflat.sound", "unflat.cli")
    assert not [name for name in imported if name.startswith(capabilities)]
