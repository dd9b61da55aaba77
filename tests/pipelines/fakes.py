"""Cheap stand-ins for batch tests: photos, depth maps, and a depth model that costs nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unflat.progress import Progress, report
from unflat.types import DepthMap, Photo


def write_photos(folder: Path, names: list[str], size: tuple[int, int] = (32, 24)) -> list[Path]:
    """Small random photos (each different, the same on every call)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, name in enumerate(names):
        rng = np.random.default_rng(index)
        rgb = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(rgb).save(folder / name)
        paths.append(folder / name)
    return paths


def write_depths(folder: Path, photos: list[Path], use_name: bool = False) -> Path:
    """A metric depth map of a tilted plane (``.depth.npy``, 1-2 m) per photo, named as
    `unflat depth` names it."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, photo in enumerate(photos):
        with Image.open(photo) as image:
            width, height = image.size
        y, x = np.mgrid[0:height, 0:width]
        # A tilted plane: its inverse depth (not its depth) is linear across the image.
        inverse = 1.0 - 0.5 * (x + y + index) / (width + height + index)
        depth = (1.0 / inverse).astype(np.float32)
        np.save(folder / f"{photo.name if use_name else photo.stem}.depth.npy", depth)
    return folder


class FakeEstimator:
    """A depth model that answers at once: a tilted plane 1-2 m away."""

    weights_sha256 = "0" * 64

    def predict(
        self, photo: Photo, f_px: float | None = None, progress: Progress | None = None
    ) -> DepthMap:
        report(progress, "Depth Pro", 1, 1)
        y, x = np.mgrid[0 : photo.height, 0 : photo.width]
        depth = (1.0 + (x + y) / (photo.width + photo.height)).astype(np.float32)
        focal = f_px or 0.8 * photo.width
        return DepthMap(depth, focal, "user" if f_px else "model", model="fake", seconds=0.0)


def use_fake_depth_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``unflat depth`` use :class:`FakeEstimator` instead of loading Depth Pro."""
    from unflat.depth.predict import DepthEstimator

    monkeypatch.setattr(
        DepthEstimator, "from_options", classmethod(lambda cls, *a, **k: FakeEstimator())
    )


def patched_main(*, fake_depth: bool = False, item_s: float = 0.0) -> int:
    """``unflat`` for subprocess tests (``python -c``): with :class:`FakeEstimator` for Depth
    Pro, and each batch item ``item_s`` seconds slower (so that two runs overlap)."""
    import sys
    import time

    from unflat.cli import main
    from unflat.depth.predict import DepthEstimator
    from unflat.pipelines.depth import DepthPipeline
    from unflat.pipelines.scene import SceneJob

    if fake_depth:
        DepthEstimator.from_options = classmethod(lambda cls, *a, **k: FakeEstimator())
    for job in (DepthPipeline, SceneJob):
        real = job.process

        def process(self, path, base, real=real) -> None:
            time.sleep(item_s)
            real(self, path, base)

        job.process = process
    return main(sys.argv[1:])
