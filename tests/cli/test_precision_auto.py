"""``unflat depth`` with the default ``--precision auto``: one line says the choice, and the
depth is the chosen path's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import shared_path
from tests.test_cli_depth import write_photo
from unflat import device
from unflat.cli import main


@pytest.fixture
def tiny_weights() -> str:
    return str(shared_path("fixtures", "depth_pro_tiny_a"))


def test_auto_says_its_choice_in_one_line_and_runs(tmp_path, tiny_weights, capsys, monkeypatch):
    monkeypatch.setattr(device, "_SAID", set())
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    photo = write_photo(tmp_path / "p.png")
    args = ["depth", str(photo), "--weights", tiny_weights, "--no-preview", "--device", "cpu"]
    assert main([*args, "-o", str(tmp_path / "auto")]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "precision auto" in line]
    assert len(said) == 1
    chosen = said[0].split("-> ")[1].split(" ")[0]
    assert chosen in device.PRECISION_NAMES
    # The sidecar says which path made the numbers.
    assert json.loads((tmp_path / "auto" / "p.json").read_text())["precision"] == chosen
    # The tiny network is never worth measuring: nothing was timed or cached.
    assert not (tmp_path / "home" / "precision.json").exists()
    assert main([*args, "-o", str(tmp_path / chosen), "--precision", chosen]) == 0
    assert "precision auto" not in capsys.readouterr().err
    np.testing.assert_array_equal(
        np.load(tmp_path / "auto" / "p.depth.npy"), np.load(tmp_path / chosen / "p.depth.npy")
    )


def test_unknown_precision_is_one_line(tmp_path, tiny_weights, capsys):
    photo = write_photo(tmp_path / "p.png")
    argv = ["depth", str(photo), "-o", str(tmp_path / "o"), "--weights", tiny_weights]
    assert main([*argv, "--precision", "fp64"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: unknown precision 'fp64' — use one of auto, fp32, ")
    assert "Traceback" not in err


def test_every_job_defaults_to_auto():
    from unflat.cli.batch_options import stage_options
    from unflat.pipelines.depth import DepthPipeline
    from unflat.pipelines.run_context import RunSettings
    from unflat.pipelines.scene import ScenePipeline

    main(["--version"])  # registers the commands
    options = stage_options(["depth", "scene"], {"depth": [], "scene": []})
    assert options["depth"]["precision"] == options["scene"]["precision"] == "auto"
    assert DepthPipeline().precision == ScenePipeline().precision == "auto"
    assert RunSettings().precision == "auto"
