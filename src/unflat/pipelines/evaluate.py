"""``unflat eval views``: novel-view quality of scenes built from Middlebury's left views.

Depth Pro (a depth capability) and the scene builder and scorer (splat) meet here: the scene is
built from the true depth and, when asked, from Depth Pro's depth, then scored on the right view.
"""

from __future__ import annotations

from pathlib import Path

from unflat.datasets import load_middlebury_pair
from unflat.errors import InputError
from unflat.progress import Progress, counted
from unflat.splat.evaluate import evaluate_pair
from unflat.types import Photo


def scene_folders(paths: list[Path]) -> list[Path]:
    """Middlebury scene folders (holding ``calib.txt``) among ``paths`` and their children."""
    folders: list[Path] = []
    for path in paths:
        if (path / "calib.txt").is_file():
            folders.append(path)
        elif path.is_dir():
            folders.extend(sorted(p for p in path.iterdir() if (p / "calib.txt").is_file()))
    if not folders:
        raise InputError(
            "no Middlebury scene folders found", hint="give folders holding calib.txt, im0.png…"
        )
    return folders


def novel_views(
    scenes: list[Path],
    *,
    depth_weights: str | None = None,
    with_depth_pro: bool = False,
    backend: str = "auto",
    progress: Progress | None = None,
) -> list[dict]:
    """Rows of :func:`~unflat.splat.evaluate.evaluate_pair` for every scene in ``scenes``."""
    folders = scene_folders(scenes)
    estimator = None
    if depth_weights is not None or with_depth_pro:
        from unflat.depth.predict import DepthEstimator

        estimator = DepthEstimator.from_options(weights=depth_weights)
    rows: list[dict] = []
    for folder in counted(folders, progress, "views"):
        pair = load_middlebury_pair(folder)
        estimated = None
        if estimator is not None:
            # The true focal length, so that depth errors are not scale errors of the focal.
            estimated = estimator.predict(Photo(pair.left), f_px=float(pair.K_left[0, 0])).depth
        rows.extend(evaluate_pair(pair, estimated, backend=backend))
    return rows
