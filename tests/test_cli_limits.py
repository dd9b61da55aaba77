"""The ``--max-...`` limit options: accepted by every command, anywhere on the command line."""

from __future__ import annotations

import pytest
import torch

from unflat.cli import main
from unflat.cli.app import split_limits
from unflat.errors import ConfigError
from unflat.io.gaussians import save_splat
from unflat.io.limits import OPTIONS
from unflat.types import Gaussians


def test_limit_options_are_taken_from_anywhere() -> None:
    argv = ["--max-gaussians", "2e7", "render", "a.ply", "--max-pixels=20M", "-o", "v.mp4"]
    rest, limits = split_limits(argv)
    assert rest == ["render", "a.ply", "-o", "v.mp4"]
    assert limits == {"max_gaussians": 20_000_000, "max_pixels": 20_000_000}
    assert split_limits(["x", "--max-duration", "1.5k"])[1] == {"max_seconds": 1500.0}
    assert split_limits(["--", "--max-gaussians", "3"])[0] == ["--", "--max-gaussians", "3"]
    with pytest.raises(ConfigError, match="--max-video-frames takes a number, got 'lots'"):
        split_limits(["--max-video-frames", "lots"])


def _scene(count: int) -> Gaussians:
    generator = torch.Generator().manual_seed(0)
    return Gaussians(
        means=torch.randn(count, 3, generator=generator) + torch.tensor([0.0, 0.0, 3.0]),
        scales=torch.full((count, 3), 0.01),
        quats=torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(count, 1),
        colors=torch.full((count, 3), 0.5),
        opacities=torch.full((count,), 0.9),
    )


def test_a_scene_over_the_limit_is_refused_until_the_limit_is_raised(tmp_path, capsys) -> None:
    scene = tmp_path / "s.splat"
    save_splat(scene, _scene(50))
    target = tmp_path / "s.ply"
    assert main(["convert", str(scene), str(target), "--max-gaussians", "10"]) == 2
    err = capsys.readouterr().err
    assert "holds 50 Gaussians; the limit is 10" in err and "--max-gaussians 50" in err
    assert not target.exists()
    assert main(["--max-gaussians", "50", "convert", str(scene), str(target)]) == 0
    assert target.is_file()


@pytest.mark.parametrize(
    "command",
    [["depth"], ["splat"], ["render"], ["convert"], ["animate"], ["foley"], ["dub"],
     ["eval"], ["eval", "depth"], ["models", "fetch"]],
)  # fmt: skip
def test_every_command_help_names_the_limit_options(command: list[str], capsys) -> None:
    """They are parsed before the command (split_limits), so each command's own help would not
    list them: it ends with a line that does."""
    assert main([*command, "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # rich wraps the line
    assert "Limits, anywhere on the command line: --max-pixels N (default 150M)," in shown
    for option in OPTIONS.values():
        assert f"{option} " in shown, option
    assert "See unflat --help." in shown


def test_the_root_help_keeps_its_own_panel(capsys) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert "Limits (any command)" in shown and "See unflat --help" not in shown
