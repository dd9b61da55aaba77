"""Evaluation with fake predictors whose errors are known, and the ``unflat eval`` CLI."""

from __future__ import annotations

import json
import math
import sys
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import shared_path
from unflat.datasets import convert_kitti, convert_nyu, load_dataset
from unflat.depth.evaluate import evaluate, resize_depth
from unflat.errors import ConfigError, InputError
from unflat.types import DepthMap, Photo


@pytest.fixture(scope="module")
def nyu(tmp_path_factory):
    return convert_nyu(shared_path("data", "depth", "nyu"), tmp_path_factory.mktemp("e") / "nyu")


class ScaledTruth:
    """Predicts ``factor`` x the ground truth and ``focal_factor`` x the true focal length."""

    def __init__(self, samples, factor=1.1, focal_factor=1.05, shrink=1):
        self.samples = {s.name: s for s in samples}
        self.factor, self.focal_factor, self.shrink = factor, focal_factor, shrink
        self.calls: list[tuple[str, float | None, float | None]] = []

    def __call__(self, photo: Photo, f_px: float | None) -> DepthMap:
        sample = self.samples[photo.source.stem]
        self.calls.append((sample.name, f_px, photo.focal_px))
        depth = sample.depth()[:: self.shrink, :: self.shrink] * self.factor
        focal = sample.fx * self.focal_factor / self.shrink
        return DepthMap(depth=depth, focal_px=focal, focal_source="model")


def test_scaled_truth_has_known_errors(nyu):
    predictor = ScaledTruth(nyu)
    report = evaluate(nyu, predictor, progress=False)
    assert [r.name for r in report.samples] == ["rgb_00000", "rgb_00050", "rgb_00100"]
    # The model estimates the focal length: it gets None, and no EXIF focal either.
    assert all(f_px is None and exif is None for _, f_px, exif in predictor.calls)
    for result in report.samples:
        m = result.metrics
        assert m["abs_rel"] == pytest.approx(0.1, abs=1e-6)
        assert m["rmse"] > 0 and m["log_rmse"] == pytest.approx(math.log(1.1), abs=1e-6)
        assert m["silog"] == pytest.approx(0.0, abs=1e-4)
        assert (m["delta1"], m["delta2"], m["delta3"]) == (1.0, 1.0, 1.0)
        # Boundaries depend on depth ratios only, so a rescaled truth finds all of them.
        assert m["boundary_f1"] == pytest.approx(1.0, abs=1e-3)
        assert m["focal_error"] == pytest.approx(0.05)
        assert result.scale == 1.0 and result.focal_gt == 518.8579
    assert report.mean["abs_rel"] == pytest.approx(0.1, abs=1e-6)
    assert report.mean["focal_error"] == pytest.approx(0.05)


def test_ground_truth_focal_is_passed_and_not_scored(nyu):
    predictor = ScaledTruth(nyu[:1])
    report = evaluate(nyu[:1], predictor, use_gt_focal=True, progress=False)
    assert predictor.calls == [("rgb_00000", 518.8579, 518.8579)]
    assert math.isnan(report.samples[0].metrics["focal_error"])
    assert math.isnan(report.mean["focal_error"])


def test_median_alignment_removes_scale(nyu):
    report = evaluate(nyu[:1], ScaledTruth(nyu, factor=2.0), align="median", progress=False)
    assert report.samples[0].scale == pytest.approx(0.5)
    assert report.samples[0].metrics["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ConfigError):
        evaluate(nyu[:1], ScaledTruth(nyu), align="mean", progress=False)


def test_smaller_prediction_is_resized_bilinearly(nyu):
    # A half-size prediction: depth is resampled to the truth's size, and its focal length
    # (in half-size pixels) is doubled before it is compared.
    predictor = ScaledTruth(nyu, factor=1.0, focal_factor=1.0, shrink=2)
    result = evaluate(nyu[:1], predictor, progress=False).samples[0]
    assert result.focal_pred == pytest.approx(518.8579)
    assert result.metrics["focal_error"] == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < result.metrics["abs_rel"] < 0.1


def test_resize_depth_interpolates():
    small = np.array([[1.0, 3.0]], dtype=np.float32)
    assert resize_depth(small, 1, 4).tolist() == [[1.0, 1.5, 2.5, 3.0]]
    assert resize_depth(small, 1, 2) is small


def test_sparse_ground_truth_reports_no_boundary_f1(tmp_path):
    kitti = convert_kitti(shared_path("data", "depth", "kitti"), tmp_path / "kitti")
    report = evaluate(kitti[:1], ScaledTruth(kitti), progress=False)
    assert math.isnan(report.samples[0].metrics["boundary_f1"])
    assert math.isnan(report.mean["boundary_f1"])
    assert report.samples[0].metrics["abs_rel"] == pytest.approx(0.1, abs=1e-6)


def test_gt_focal_needs_intrinsics(nyu):
    without = [type(s)(name=s.name, rgb_path=s.rgb_path, depth_path=s.depth_path) for s in nyu]
    with pytest.raises(InputError, match="focal"):
        evaluate(without, ScaledTruth(nyu), use_gt_focal=True, progress=False)


def test_report_table_and_json(nyu, tmp_path):
    report = evaluate(nyu, ScaledTruth(nyu), progress=False, dataset="nyu", model="fake")
    table = report.table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["sample", "AbsRel", "SqRel"]
    assert lines[-1].split()[:2] == ["mean", "0.1000"]
    assert sum(line.startswith("rgb_") for line in lines) == 3
    path = report.to_json(tmp_path / "report.json")
    data = json.loads(path.read_text())
    assert data["dataset"] == "nyu" and data["align"] == "none"
    assert data["mean"]["abs_rel"] == pytest.approx(0.1, abs=1e-6)
    assert len(data["samples"]) == 3


def test_json_nan_becomes_null(nyu, tmp_path):
    report = evaluate(nyu[:1], ScaledTruth(nyu), use_gt_focal=True, progress=False)
    data = json.loads(report.to_json(tmp_path / "r.json").read_text())
    assert data["mean"]["focal_error"] is None
    assert "-" in report.table().splitlines()[-1].split()


# --- CLI -----------------------------------------------------------------------------------


def test_cli_convert_writes_a_dataset(tmp_path):
    from unflat.cli.app import app
    from unflat.cli.evaluate import eval_app  # noqa: F401  (registers ``eval``)

    source = shared_path("data", "depth", "nyu")
    out = tmp_path / "nyu"
    result = CliRunner().invoke(app, ["eval", "convert", "nyu", str(source), str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 samples" in result.output
    assert len(load_dataset(out)) == 3


def test_cli_convert_errors_are_one_line(tmp_path, capsys):
    from unflat.cli.app import app, run
    from unflat.cli.evaluate import eval_app  # noqa: F401

    source = shared_path("data", "depth", "nyu")
    out = tmp_path / "nyu"
    out.mkdir()
    (out / "x").write_text("x")
    assert run(app, ["eval", "convert", "nyu", str(source), str(out)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert run(app, ["eval", "convert", "nyu", str(source), str(out), "--nonocc"]) == 2
    assert "Middlebury only" in capsys.readouterr().err
    assert run(app, ["eval", "convert", "nyu", str(source), str(out), "--overwrite"]) == 0


def test_cli_depth_runs_the_estimator(nyu, tmp_path, monkeypatch, capsys):
    # The real estimator needs weights; a stand-in module checks the wiring of the options.
    from unflat.cli.app import app, run
    from unflat.cli.evaluate import eval_app  # noqa: F401

    options = {}

    class FakeEstimator:
        name = "depth-pro"

        @classmethod
        def from_options(cls, **kwargs):
            options.update(kwargs)
            estimator = cls()
            estimator.predict = ScaledTruth(nyu)
            return estimator

    module = types.ModuleType("unflat.depth.predict")
    module.DepthEstimator = FakeEstimator
    monkeypatch.setitem(sys.modules, "unflat.depth.predict", module)
    dataset = nyu[0].rgb_path.parent.parent
    report = tmp_path / "report.json"
    argv = ["eval", "depth", str(dataset), "--limit", "2", "--json", str(report)]
    assert run(app, [*argv, "--device", "cpu", "--align", "median"]) == 0
    assert options == {"weights": None, "model": "depth-pro", "device": "cpu", "precision": "fp32"}
    out = capsys.readouterr().out
    assert "rgb_00050" in out and "rgb_00100" not in out and "mean" in out
    data = json.loads(report.read_text())
    assert data["align"] == "median" and len(data["samples"]) == 2
    # An existing report is refused before any inference.
    options.clear()
    assert run(app, argv) == 2
    assert options == {} and "already exists" in capsys.readouterr().err
