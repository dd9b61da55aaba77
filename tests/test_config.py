"""``unflat.config``: the one reader of model configs (typed, nested, unknown keys refused)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from unflat.config import config_dict, read_config, read_config_file
from unflat.depth.depth_pro import DepthProConfig
from unflat.errors import ConfigError
from unflat.splat.sharp.config import SharpConfig


@dataclass
class Inner:
    width: int = 8
    scale: float = 1.5
    hooks: tuple[int, ...] = (1, 2)
    pair: tuple[int, int] = (3, 4)
    init: float | None = 1e-5
    mode: str = "a"
    flag: bool = False


@dataclass
class Outer:
    inner: Inner = field(default_factory=lambda: Inner(width=16))
    name: str = "outer"


def test_empty_config_is_the_defaults_and_nested_bases_survive() -> None:
    assert read_config(Outer, {}, "outer") == Outer()
    read = read_config(Outer, {"inner": {"scale": 2}}, "outer")
    # The nested default (width 16, not Inner's 8) is the base the override starts from.
    assert read.inner == Inner(width=16, scale=2.0)
    assert isinstance(read.inner.scale, float)


def test_values_are_converted_and_file_keys_ignored() -> None:
    values = {"architecture": "x", "seed": 3, "note": "n", "inner": {"hooks": [5, 6, 7]}}
    assert read_config(Outer, values, "outer").inner.hooks == (5, 6, 7)
    assert read_config(Outer, {"inner": {"init": None}}, "outer").inner.init is None


@dataclass
class Seeded:
    seed: int = 0


def test_a_file_key_that_is_a_field_is_read() -> None:
    assert read_config(Seeded, {"seed": 7, "note": "x"}, "seeded").seed == 7


def test_aliases_reach_nested_configs() -> None:
    read = read_config(Outer, {"inner": {"init_values": 0.5}}, "o", aliases={"init_values": "init"})
    assert read.inner.init == 0.5


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nmae": "x"}, r"unknown outer config keys: \['nmae'\]"),
        ({"inner": {"widht": 3}}, r"unknown inner config keys: \['widht'\]"),
        ({"inner": {"width": "8"}}, "inner.width must be an integer"),
        ({"inner": {"width": True}}, "inner.width must be an integer"),
        ({"inner": {"width": 8.5}}, "inner.width must be an integer"),
        ({"inner": {"scale": "big"}}, "inner.scale must be a number"),
        ({"inner": {"flag": 1}}, "inner.flag must be true or false"),
        ({"inner": {"mode": 3}}, "inner.mode must be a string"),
        ({"inner": {"mode": None}}, "inner.mode must be a string"),
        ({"inner": {"pair": [1, 2, 3]}}, "inner.pair must have 2 values, got 3"),
        ({"inner": {"hooks": 4}}, "inner.hooks must be a list"),
        ({"inner": {"hooks": [1, "2"]}}, "inner.hooks must be an integer"),
        ({"inner": 3}, "the inner config must be a JSON object"),
    ],
)
def test_bad_values_are_config_errors_that_name_the_field(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        read_config(Outer, values, "outer")
    assert caught.value.hint


def test_unknown_key_hint_lists_the_fields() -> None:
    with pytest.raises(ConfigError) as caught:
        read_config(Outer, {"nmae": 1}, "outer")
    assert caught.value.hint == "known keys: ['inner', 'name']"


@pytest.mark.parametrize("kind", [DepthProConfig, SharpConfig])
def test_model_configs_round_trip_through_the_reader(kind: type) -> None:
    config = kind()
    data = config_dict(config, "some_arch")
    assert data["architecture"] == "some_arch"
    assert kind.from_dict(data) == config


def test_depth_pro_config_reads_timm_spelling_and_refuses_typos() -> None:
    config = DepthProConfig.from_dict({"vit": {"init_values": None}})
    assert config.vit.layerscale_init is None
    with pytest.raises(ConfigError, match=r"unknown depth_pro config keys: \['decoder_feature'\]"):
        DepthProConfig.from_dict({"decoder_feature": 64})
    with pytest.raises(ConfigError, match=r"vit\.depth must be an integer"):
        DepthProConfig.from_dict({"vit": {"depth": "24"}})


def test_config_files(tmp_path: Path) -> None:
    good = tmp_path / "config.json"
    good.write_text('{"architecture": "depth_pro", "decoder_features": 64}')
    assert read_config_file(good) == {"architecture": "depth_pro", "decoder_features": 64}
    broken = tmp_path / "broken.json"
    broken.write_text('{"architecture": ')
    with pytest.raises(ConfigError, match="is not valid JSON"):
        read_config_file(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="holds a JSON list, not an object"):
        read_config_file(listed)
    with pytest.raises(ConfigError, match="cannot read"):
        read_config_file(tmp_path / "absent.json")
