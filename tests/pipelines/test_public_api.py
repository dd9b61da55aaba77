"""``import unflat`` reaches every capability and pipeline, lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import unflat

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "depth_pro_tiny_a"


def test_import_unflat_loads_no_torch() -> None:
    code = "import sys, unflat; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_help_loads_no_torch() -> None:
    # `unflat --help` (and any command's --help) must stay quick: torch costs seconds to import.
    code = (
        "import sys\nfrom unflat.cli import main\n"
        "for argv in (['--help'], ['models', '--help'], ['depth', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False"


def test_subpackages_and_pipelines_are_attributes() -> None:
    from unflat.pipelines.depth import DepthPipeline
    from unflat.splat.render import render

    assert unflat.splat.render is render
    assert unflat.pipelines.DepthPipeline is DepthPipeline
    assert unflat.DepthPipeline is DepthPipeline
    assert callable(unflat.face.track) and callable(unflat.sound.speech_activity)
    assert unflat.depth.DepthEstimator.__name__ == "DepthEstimator"
    with pytest.raises(AttributeError):
        _ = unflat.no_such_thing


@pytest.mark.skipif(not FIXTURE.is_dir(), reason="../shared/fixtures is absent")
def test_depth_pipeline_equals_the_estimator() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    photo = unflat.Photo(rgb)
    pipeline = unflat.DepthPipeline(weights=str(FIXTURE), focal_px=70.0)
    depth = pipeline(photo)
    direct = unflat.DepthEstimator.from_options(weights=str(FIXTURE)).predict(photo, f_px=70.0)
    assert depth.focal_source == "user" and depth.focal_px == pytest.approx(70.0)
    np.testing.assert_array_equal(depth.depth, direct.depth)


def test_focal_precedence_is_user_then_exif() -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    assert unflat.Photo(rgb, focal_px=900.0).known_focal(1200.0) == (1200.0, "user")
    assert unflat.Photo(rgb, focal_px=900.0).known_focal(None) == (900.0, "exif")
    assert unflat.Photo(rgb).known_focal() == (None, None)
