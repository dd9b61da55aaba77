"""The five released LivePortrait files: assembled into one state dict, fetched, listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import shared_path
from unflat import registry, weights
from unflat.errors import WeightsError
from unflat.face.liveportrait import LivePortraitConfig
from unflat.face.liveportrait.model import RELEASED_FILES
from unflat.face.liveportrait.release import assemble_state_dict, load_released

STITCHING = "stitching_retargeting_module."


def _tiny() -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    folder = shared_path("fixtures", "liveportrait_tiny_a")
    return json.loads((folder / "config.json").read_text()), load_file(folder / "model.safetensors")


def _write_release(folder: Path, state: dict[str, torch.Tensor], ddp: bool) -> None:
    """The tiny weights as the five released files; ``ddp`` puts ``module.`` on their keys
    (on the whole motion file, and on each of the stitching file's three state dicts)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, _, prefix, _ in RELEASED_FILES:
        part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if prefix == STITCHING:
            nets = ("retarget_shoulder", "retarget_mouth", "retarget_eye")
            part = {
                net: {
                    ("module." if ddp else "") + k[len(net) + 1 :]: v
                    for k, v in part.items()
                    if k.startswith(net + ".")
                }
                for net in nets
            }
        elif ddp and prefix == "motion_extractor.":
            part = {f"module.{k}": v for k, v in part.items()}
        torch.save(part, folder / name)


@pytest.mark.parametrize("ddp", [False, True])
def test_five_files_assemble_into_the_prefixed_state(tmp_path: Path, ddp: bool) -> None:
    config, state = _tiny()
    _write_release(tmp_path, state, ddp)
    assembled = assemble_state_dict(tmp_path)
    assert assembled.keys() == state.keys()
    assert all(torch.equal(assembled[k], state[k]) for k in state)
    model = load_released(tmp_path, LivePortraitConfig.from_dict(config))
    assert not model.training
    assert torch.equal(
        model.state_dict()["spade_generator.fc.weight"], state["spade_generator.fc.weight"]
    )


def test_a_missing_or_foreign_file_is_a_weights_error(tmp_path: Path) -> None:
    _, state = _tiny()
    _write_release(tmp_path, state, ddp=False)
    with pytest.raises(WeightsError, match="do not match the architecture") as error:
        load_released(tmp_path)  # full-size architecture, tiny files
    assert "mis-shaped" in str(error.value) and len(str(error.value).splitlines()) == 1
    assert error.value.hint == "pass the released files, with the config they were trained with"
    (tmp_path / "warping_module.pth").unlink()
    with pytest.raises(WeightsError, match=r"has no warping_module\.pth"):
        assemble_state_dict(tmp_path)


def test_fetch_merges_hand_placed_release_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`unflat models fetch liveportrait` with the five files put in the cache by hand."""
    from safetensors.torch import load_file

    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    _, state = _tiny()
    _write_release(weights.cache_dir() / "liveportrait", state, ddp=True)
    merged = load_file(weights.fetch("liveportrait", progress=False))
    assert merged.keys() == state.keys()


def test_registry_entry_names_source_and_terms() -> None:
    entry = registry.get_entry("liveportrait")
    assert entry.architecture == {"architecture": "liveportrait"}
    assert entry.licence == "MIT" and entry.commercial_use
    assert [f.filename for f in entry.files] == [name for name, *_ in RELEASED_FILES]
    assert all(
        f.urls[0].startswith("https://huggingface.co/KwaiVGI/LivePortrait/") for f in entry.files
    )
    assert entry.files[-1].urls[0].endswith("retargeting_models/stitching_retargeting_module.pth")
    assert registry.architecture_available(entry)
