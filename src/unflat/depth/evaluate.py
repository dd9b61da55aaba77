"""Run a depth predictor over a dataset and measure it: per-sample metrics and their mean."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from unflat.datasets import Sample
from unflat.depth.metrics import boundary_f1, depth_metrics, focal_error
from unflat.errors import ConfigError, InputError
from unflat.types import DepthMap, Photo

Predictor = Callable[[Photo, float | None], DepthMap]

ALIGNMENTS = ("none", "median")
# Order and headings of the report's columns.
METRICS = {
    "abs_rel": "AbsRel",
    "sq_rel": "SqRel",
    "rmse": "RMSE",
    "log_rmse": "logRMSE",
    "silog": "SILog",
    "delta1": "δ1",
    "delta2": "δ2",
    "delta3": "δ3",
    "boundary_f1": "BoundF1",
    "focal_error": "FocalErr",
}
# Boundary F1 compares neighbouring pixels, so sparse ground truth (KITTI's lidar, ~20 % of
# pixels) leaves too few valid pairs for it to mean anything; below this it is not reported.
BOUNDARY_MIN_VALID = 0.5


@dataclass
class SampleResult:
    """The metrics of one sample; NaN marks a metric that does not apply to it."""

    name: str
    metrics: dict[str, float]
    focal_pred: float | None
    focal_gt: float | None
    scale: float
    valid_pixels: int
    seconds: float | None


@dataclass
class EvalReport:
    """Per-sample results and their mean (NaN entries are left out of the mean)."""

    samples: list[SampleResult]
    mean: dict[str, float]
    use_gt_focal: bool = False
    align: str = "none"
    dataset: str | None = None
    model: str | None = None

    def to_dict(self) -> dict:
        """Plain JSON-ready data; NaN becomes None because JSON has no NaN."""
        return _nan_to_none(asdict(self))

    def to_json(self, path: str | os.PathLike, overwrite: bool = True) -> Path:
        """Write the report as JSON (atomically) and return the path."""
        from unflat.io.atomic import write_json

        return write_json(Path(path), self.to_dict(), overwrite=overwrite)

    def table(self) -> str:
        """A plain-text table: one row per sample, then the mean."""
        headings = ["sample", *METRICS.values()]
        rows = [[s.name, *(_cell(s.metrics.get(key)) for key in METRICS)] for s in self.samples]
        rows.append(["mean", *(_cell(self.mean.get(key)) for key in METRICS)])
        widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(len(headings))]

        def line(cells: list[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
            return "  ".join([first, *rest]).rstrip()

        rule = "-" * len(line(headings))
        return "\n".join([line(headings), rule, *map(line, rows[:-1]), rule, line(rows[-1])])


def _cell(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _nan_to_none(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def resize_depth(depth: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample a predicted depth map to ``height x width`` bilinearly.

    Not nearest-neighbour: the prediction is a smooth field, and nearest turns it into blocks
    whose steps add error at every pixel and read as false occlusion boundaries to the boundary
    metric. Bilinear (pixel centres aligned, like torch's ``align_corners=False``) is also what
    the published Depth Pro inference uses to bring its output to the image size.
    """
    if depth.shape == (height, width):
        return depth
    return cv2.resize(depth.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def median_scale(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> float:
    """The factor that makes the prediction's median over ``valid`` equal the ground truth's."""
    predicted = float(np.median(pred[valid])) if valid.any() else math.nan
    if not (math.isfinite(predicted) and predicted > 0):
        raise InputError(
            "cannot align the prediction by its median: it is not positive where the "
            "ground truth is valid",
            hint="evaluate with --align none",
        )
    return float(np.median(gt[valid])) / predicted


def evaluate(
    samples: Sequence[Sample],
    predict: Predictor,
    use_gt_focal: bool = False,
    align: str = "none",
    progress: bool = True,
    dataset: str | None = None,
    model: str | None = None,
) -> EvalReport:
    """Predict every sample's depth with ``predict(photo, f_px)`` and measure it.

    ``f_px`` is the ground-truth fx when ``use_gt_focal`` is set, else None so the predictor
    estimates the focal length (whose relative error is then reported; with the ground-truth
    focal it is NaN). ``align="median"``
    rescales each prediction to the ground truth's median first, which measures shape only;
    the default ``"none"`` measures metric depth, the point of a metric model.
    """
    from rich.progress import track

    from unflat.io.images import read_photo

    if align not in ALIGNMENTS:
        raise ConfigError(f"unknown alignment {align!r}", hint=f"use one of {list(ALIGNMENTS)}")
    if use_gt_focal and any(sample.fx is None for sample in samples):
        raise InputError(
            "the dataset has no focal lengths to give the model",
            hint="add intrinsics.json to the dataset or evaluate without --gt-focal",
        )
    results = []
    for sample in track(samples, description="evaluating", disable=not progress):
        photo = read_photo(sample.rgb_path)
        # Without --gt-focal the model must estimate the focal length itself, so a focal length
        # read from the file's EXIF must not leak in.
        photo = replace(photo, focal_px=sample.fx if use_gt_focal else None)
        started = time.perf_counter()
        prediction = predict(photo, sample.fx if use_gt_focal else None)
        seconds = time.perf_counter() - started
        results.append(_measure(sample, photo, prediction, align, seconds, use_gt_focal))
    mean = {}
    for key in METRICS:
        values = [r.metrics[key] for r in results if math.isfinite(r.metrics[key])]
        mean[key] = float(np.mean(values)) if values else math.nan
    return EvalReport(
        samples=results,
        mean=mean,
        use_gt_focal=use_gt_focal,
        align=align,
        dataset=dataset,
        model=model,
    )


def _measure(
    sample: Sample,
    photo: Photo,
    prediction: DepthMap,
    align: str,
    seconds: float,
    use_gt_focal: bool,
) -> SampleResult:
    gt = sample.depth()
    valid = sample.valid_mask(gt)
    pred = resize_depth(np.asarray(prediction.depth), *gt.shape)
    scale = median_scale(pred, gt, valid) if align == "median" else 1.0
    pred = pred * scale
    metrics = depth_metrics(pred, gt, valid)
    metrics["boundary_f1"] = (
        boundary_f1(pred, gt, mask=valid) if valid.mean() >= BOUNDARY_MIN_VALID else math.nan
    )
    # The predicted focal length is in the prediction's pixels; the intrinsics are in the
    # photo's, so bring it to the photo's width before comparing.
    focal_pred = float(prediction.focal_px) * photo.width / prediction.width
    # Given the true focal length, the model's is that one: its error would measure nothing.
    estimated = sample.fx is not None and not use_gt_focal
    metrics["focal_error"] = focal_error(focal_pred, sample.fx) if estimated else math.nan
    return SampleResult(
        name=sample.name,
        metrics=metrics,
        focal_pred=focal_pred,
        focal_gt=sample.fx,
        scale=scale,
        valid_pixels=int(valid.sum()),
        seconds=prediction.seconds if prediction.seconds is not None else seconds,
    )
