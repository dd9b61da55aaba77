"""Depth accuracy metrics: the standard per-pixel errors, focal error and boundary sharpness.

All functions take depth in metres. Ground-truth pixels that are non-finite or ``<= 0`` are
invalid and never counted; an optional ``mask`` narrows the evaluated pixels further. Work is
done in float64 so that sums over millions of pixels do not lose digits.

The boundary metrics follow the Depth Pro paper (Bochkovskii et al., 2024) and the definitions
published with it (``eval/boundary_metrics.py`` in apple/ml-depth-pro); see ``boundary_f1``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from unflat.errors import InputError

# Depth Pro's boundary thresholds: ratios of neighbouring (inverse) depths from 5 % to 25 %.
BOUNDARY_THRESHOLDS = np.linspace(1.05, 1.25, 10)

# Depth below this is treated as this, so logs and ratios stay finite (a model may output 0).
MIN_DEPTH = 1e-6


def _valid_pairs(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The predicted and true depths (float64, 1-D) at the pixels that count."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise InputError(
            f"prediction shape {pred.shape} differs from ground truth shape {gt.shape}",
            hint="resize the prediction to the ground-truth size before measuring",
        )
    valid = np.isfinite(gt) & (gt > 0)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != gt.shape:
            raise InputError(
                f"mask shape {mask.shape} differs from ground truth shape {gt.shape}",
                hint="give a boolean mask of the same height and width as the depth",
            )
        valid &= mask.astype(bool)
    p = pred[valid].astype(np.float64)
    g = gt[valid].astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise InputError(
            f"the prediction has {int(np.count_nonzero(~np.isfinite(p)))} non-finite values",
            hint="the model overflowed; run it again with --precision fp32",
        )
    # A zero or negative prediction is a (bad) guess, not a missing one: keep it, but at a tiny
    # positive depth so that logs and ratios stay finite and penalise it heavily.
    return np.maximum(p, MIN_DEPTH), g


def abs_rel(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute relative error ``mean(|p - g| / g)``; NaN when no pixel is valid."""
    p, g = _valid_pairs(pred, gt, mask)
    return float(np.mean(np.abs(p - g) / g)) if g.size else float("nan")


def sq_rel(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared relative error ``mean((p - g)² / g)`` (metres); NaN when no pixel is valid."""
    p, g = _valid_pairs(pred, gt, mask)
    return float(np.mean((p - g) ** 2 / g)) if g.size else float("nan")


def rmse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Root mean squared error ``sqrt(mean((p - g)²))`` in metres; NaN when no pixel is valid."""
    p, g = _valid_pairs(pred, gt, mask)
    return float(np.sqrt(np.mean((p - g) ** 2))) if g.size else float("nan")


def log_rmse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMSE of natural logs ``sqrt(mean((ln p - ln g)²))``; NaN when no pixel is valid."""
    p, g = _valid_pairs(pred, gt, mask)
    return float(np.sqrt(np.mean((np.log(p) - np.log(g)) ** 2))) if g.size else float("nan")


def silog(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Scale-invariant log error ``100 * sqrt(mean(d²) - mean(d)²)`` with ``d = ln p - ln g``.

    This is Eigen et al.'s scale-invariant error with λ = 1 (the variance of the log ratio, so a
    global scale factor has no effect), times 100 as the KITTI benchmark reports it.
    """
    p, g = _valid_pairs(pred, gt, mask)
    if not g.size:
        return float("nan")
    d = np.log(p) - np.log(g)
    # sqrt(mean(d²) - mean(d)²) is the population standard deviation of d; computing it from the
    # deviations avoids the cancellation that leaves ~1e-6 for an exact rescale.
    return float(100.0 * np.std(d))


def delta_accuracy(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None, threshold: float = 1.25
) -> float:
    """Fraction of pixels with ``max(p / g, g / p) < threshold``.

    δ1, δ2 and δ3 are this with thresholds 1.25, 1.25² and 1.25³.
    """
    p, g = _valid_pairs(pred, gt, mask)
    return float(np.mean(np.maximum(p / g, g / p) < threshold)) if g.size else float("nan")


def depth_metrics(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None
) -> dict[str, float]:
    """All per-pixel metrics at once: abs_rel, sq_rel, rmse, log_rmse, silog, delta1..3."""
    return {
        "abs_rel": abs_rel(pred, gt, mask),
        "sq_rel": sq_rel(pred, gt, mask),
        "rmse": rmse(pred, gt, mask),
        "log_rmse": log_rmse(pred, gt, mask),
        "silog": silog(pred, gt, mask),
        "delta1": delta_accuracy(pred, gt, mask, 1.25),
        "delta2": delta_accuracy(pred, gt, mask, 1.25**2),
        "delta3": delta_accuracy(pred, gt, mask, 1.25**3),
    }


def focal_error(pred_f: float, gt_f: float) -> float:
    """Relative focal-length error ``|f_pred - f_gt| / f_gt``."""
    if not (np.isfinite(gt_f) and gt_f > 0):
        raise InputError(
            f"ground-truth focal length {gt_f} is not a positive number",
            hint="fix fx in the dataset's intrinsics.json",
        )
    return float(abs(pred_f - gt_f) / gt_f)


class Boundaries(NamedTuple):
    """Occlusion boundaries between 4-neighbours, one boolean map per orientation.

    ``right_front[i, j]`` says pixel ``(i, j + 1)`` is in front of pixel ``(i, j)``;
    ``left_front[i, j]`` says ``(i, j)`` is in front of ``(i, j + 1)`` (both ``[H, W-1]``).
    ``bottom_front`` and ``top_front`` are the same for the pair ``(i, j)``, ``(i + 1, j)``
    (``[H-1, W]``).
    """

    left_front: np.ndarray
    top_front: np.ndarray
    right_front: np.ndarray
    bottom_front: np.ndarray


def _inverse(depth: np.ndarray) -> np.ndarray:
    # The published metric compares inverse depths; clipping keeps a zero depth finite.
    return 1.0 / np.maximum(np.asarray(depth, dtype=np.float64), MIN_DEPTH)


def neighbour_boundaries(depth: np.ndarray, t: float) -> Boundaries:
    """The oriented occlusion boundaries of a depth map at ratio threshold ``t``.

    A pair of 4-neighbours is a boundary when the nearer pixel's inverse depth is more than
    ``t`` times the farther one's (equivalently: the farther pixel is more than ``t`` times as
    deep); the orientation records which of the two is in front.
    """
    inv = _inverse(depth)
    return Boundaries(
        left_front=(inv[:, :-1] / inv[:, 1:]) > t,
        top_front=(inv[:-1, :] / inv[1:, :]) > t,
        right_front=(inv[:, 1:] / inv[:, :-1]) > t,
        bottom_front=(inv[1:, :] / inv[:-1, :]) > t,
    )


def mask_boundaries(mask: np.ndarray) -> Boundaries:
    """The oriented boundaries of a binary object mask: the object is in front of the rest."""
    m = np.asarray(mask, dtype=bool)
    return Boundaries(
        left_front=m[:, :-1] & ~m[:, 1:],
        top_front=m[:-1, :] & ~m[1:, :],
        right_front=m[:, 1:] & ~m[:, :-1],
        bottom_front=m[1:, :] & ~m[:-1, :],
    )


def _pair_masks(valid: np.ndarray) -> Boundaries:
    """Which neighbour pairs have both pixels valid, in the layout of ``Boundaries``."""
    horizontal = valid[:, :-1] & valid[:, 1:]
    vertical = valid[:-1, :] & valid[1:, :]
    return Boundaries(horizontal, vertical, horizontal, vertical)


def _thin_rows(ratio: np.ndarray, t: float) -> np.ndarray:
    """Non-maximum suppression along rows: of each run of ``ratio > t``, keep only its maximum.

    A soft edge spread over several pixels then counts once, where its step is steepest (the
    first maximum on ties), as in the published ``nms_horizontal``.
    """
    above = ratio > t
    thinned = np.zeros_like(above)
    rows, cols = np.nonzero(above)
    if rows.size == 0:
        return thinned
    # A new run starts where the row changes or the column is not the previous one plus one.
    starts = np.ones(rows.size, dtype=bool)
    starts[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1] + 1)
    run = np.cumsum(starts) - 1
    values = ratio[rows, cols]
    run_max = np.maximum.reduceat(values, np.flatnonzero(starts))
    at_max = np.flatnonzero(values == run_max[run])
    _, first = np.unique(run[at_max], return_index=True)
    keep = at_max[first]
    thinned[rows[keep], cols[keep]] = True
    return thinned


def thinned_boundaries(depth: np.ndarray, t: float) -> Boundaries:
    """``neighbour_boundaries`` with non-maximum suppression along each pair's direction."""
    inv = _inverse(depth)
    return Boundaries(
        left_front=_thin_rows(inv[:, :-1] / inv[:, 1:], t),
        top_front=_thin_rows((inv[:-1, :] / inv[1:, :]).T, t).T,
        right_front=_thin_rows(inv[:, 1:] / inv[:, :-1], t),
        bottom_front=_thin_rows((inv[1:, :] / inv[:-1, :]).T, t).T,
    )


def _both(first: Boundaries, second: Boundaries) -> Boundaries:
    """Orientation by orientation, the pairs that are in both."""
    return Boundaries(*(a & b for a, b in zip(first, second, strict=True)))


def _mean_fraction(hits: Boundaries, totals: Boundaries) -> float:
    """Mean over the 4 orientations of ``count(hit) / count(total)``, with 0/0 counted as 0."""
    return 0.25 * sum(
        np.count_nonzero(h) / max(np.count_nonzero(n), 1) for h, n in zip(hits, totals, strict=True)
    )


def _threshold_weights(thresholds: np.ndarray) -> np.ndarray:
    # The published metric weights each threshold by its value (stricter ones count a bit more).
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return thresholds / thresholds.sum()


def boundary_f1_at(
    pred: np.ndarray, gt: np.ndarray, t: float, mask: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Boundary ``(f1, precision, recall)`` at one threshold ``t``.

    For each of the 4 orientations, precision is the fraction of predicted boundary pairs that
    are ground-truth boundary pairs of the same orientation, recall the fraction of ground-truth
    pairs predicted; each is averaged over the orientations (an orientation with no pairs
    contributes 0), and F1 = 2PR / (P + R), which is 0 when P + R = 0.
    Only pairs whose two pixels are valid in ``gt`` (finite, > 0, inside ``mask``) are counted.
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if pred.shape != gt.shape or gt.ndim != 2:
        raise InputError(
            f"boundary metrics need two depth maps of one [H, W] shape, got {pred.shape} "
            f"and {gt.shape}",
            hint="resize the prediction to the ground-truth size",
        )
    valid = np.isfinite(gt) & (gt > 0)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    pairs = _pair_masks(valid)
    # Invalid ground truth would read as an enormous step; drop those pairs on both sides.
    gt_filled = np.where(valid, gt, 1.0)
    predicted = _both(neighbour_boundaries(pred, t), pairs)
    actual = _both(neighbour_boundaries(gt_filled, t), pairs)
    hits = _both(predicted, actual)
    precision = _mean_fraction(hits, predicted)
    recall = _mean_fraction(hits, actual)
    if precision + recall == 0:
        return 0.0, precision, recall
    return 2 * precision * recall / (precision + recall), precision, recall


def boundary_f1(
    pred: np.ndarray,
    gt: np.ndarray,
    thresholds: np.ndarray = BOUNDARY_THRESHOLDS,
    mask: np.ndarray | None = None,
) -> float:
    """Scale-invariant boundary F1 of a depth prediction against a dense depth ground truth.

    ``boundary_f1_at`` at every threshold, averaged with weights proportional to the threshold
    (Depth Pro's definition). A global scale of either map has no effect: only ratios count.
    """
    weights = _threshold_weights(thresholds)
    scores = [boundary_f1_at(pred, gt, float(t), mask)[0] for t in thresholds]
    return float(np.dot(scores, weights))


def boundary_recall(
    pred: np.ndarray,
    mask: np.ndarray,
    thresholds: np.ndarray = BOUNDARY_THRESHOLDS,
    alpha_threshold: float = 0.1,
) -> float:
    """Scale-invariant boundary recall of a depth prediction against an object mask (matting).

    The mask's edges are ground-truth occlusion boundaries with the object in front. At each
    threshold the prediction's boundaries are thinned by non-maximum suppression along the pair
    direction, then recall is averaged over the 4 orientations as in ``boundary_f1_at`` and
    over thresholds with the same weights. ``mask`` is boolean or an alpha matte in [0, 1]
    (``uint8`` is read as 0..255) and counts as object where above ``alpha_threshold``.
    """
    pred = np.asarray(pred)
    mask = np.asarray(mask)
    if pred.shape != mask.shape or pred.ndim != 2:
        raise InputError(
            f"boundary recall needs a depth map and a mask of one [H, W] shape, got {pred.shape} "
            f"and {mask.shape}",
            hint="resize the prediction to the mask size",
        )
    if mask.dtype == bool:
        objects = mask
    else:
        alpha = mask.astype(np.float64) / (255.0 if mask.dtype == np.uint8 else 1.0)
        objects = alpha > alpha_threshold
    actual = mask_boundaries(objects)
    weights = _threshold_weights(thresholds)
    scores = []
    for t in thresholds:
        predicted = thinned_boundaries(pred, float(t))
        hits = _both(predicted, actual)
        scores.append(_mean_fraction(hits, actual))
    return float(np.dot(scores, weights))
