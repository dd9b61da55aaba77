"""The one folder format of depth evaluation datasets: reading it, and writing it safely.

The folder format that ``unflat eval depth DATASET_DIR`` reads::

    DATASET_DIR/
      rgb/<name>.<png|jpg|...>     the photos
      depth/<name>.npy             float32 metres, 0 or non-finite = no ground truth
      depth/<name>.png             or 16-bit PNG, metres = value / depth_scale, 0 = no ground truth
      intrinsics.json              optional: {"<name>": {"fx": .., "fy": .., "cx": .., "cy": ..}}
      dataset.json                 optional: {"name", "depth_scale", "min_depth", "max_depth",
                                             "mask_dir"}
      <mask_dir>/<name>.png        optional: non-zero = evaluate this pixel

The converters in :mod:`unflat.datasets.middlebury` and :mod:`unflat.datasets.annotated` turn
the published layouts (as found in ``shared/data/depth``) into this format, through
:func:`staged_output`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from unflat.errors import InputError, OutputError

RGB_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".heic")
DEPTH_SUFFIXES = (".npy", ".png")
MANIFEST_KEYS = {"name", "depth_scale", "min_depth", "max_depth", "mask_dir"}
INTRINSICS_KEYS = ("fx", "fy", "cx", "cy")


@dataclass(frozen=True)
class Sample:
    """One evaluation photo with its ground truth; depth and mask load on demand."""

    name: str
    rgb_path: Path
    depth_path: Path
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    mask_path: Path | None = None
    depth_scale: float | None = None
    min_depth: float = 0.0
    max_depth: float = math.inf

    def depth(self) -> np.ndarray:
        """Ground-truth depth in metres, ``float32 [H, W]``, with 0 where there is none."""
        if self.depth_path.suffix.lower() == ".npy":
            try:
                raw = np.load(self.depth_path, allow_pickle=False)
            except (OSError, ValueError) as error:
                raise InputError(
                    f"cannot read depth file {self.depth_path}: {error}",
                    hint="save depth with numpy.save as a float32 [H, W] array",
                ) from error
            if raw.ndim != 2 or not np.issubdtype(raw.dtype, np.floating):
                raise InputError(
                    f"{self.depth_path} holds a {raw.dtype} array of shape {raw.shape}",
                    hint="depth .npy files must be float [H, W] arrays in metres",
                )
            metres = raw.astype(np.float32)
        else:
            raw = read_png16(self.depth_path)
            if self.depth_scale is None:
                raise InputError(
                    f"{self.depth_path} is a PNG but the dataset gives no depth_scale",
                    hint='add "depth_scale" (PNG units per metre) to dataset.json',
                )
            metres = raw.astype(np.float32) / np.float32(self.depth_scale)
        metres[~np.isfinite(metres) | (metres <= 0)] = 0.0
        return metres

    def mask(self) -> np.ndarray | None:
        """The evaluation mask (True = evaluate), or None when the dataset has none."""
        if self.mask_path is None:
            return None
        image = cv2.imread(str(self.mask_path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(f"cannot read mask {self.mask_path}", hint="masks are PNG images")
        if image.ndim == 3:
            image = image[..., 0]
        return image > 0

    def valid_mask(self, depth: np.ndarray | None = None) -> np.ndarray:
        """Pixels that count: ground truth present, inside [min_depth, max_depth] and the mask."""
        depth = self.depth() if depth is None else depth
        valid = np.isfinite(depth) & (depth > 0)
        valid &= (depth >= self.min_depth) & (depth <= self.max_depth)
        mask = self.mask()
        if mask is not None:
            if mask.shape != depth.shape:
                raise InputError(
                    f"mask {self.mask_path} is {mask.shape[::-1]} pixels but the depth is "
                    f"{depth.shape[::-1]}",
                    hint="masks must match the ground-truth depth size",
                )
            valid &= mask
        return valid


def read_png16(path: Path) -> np.ndarray:
    """A single-channel 16-bit PNG as ``uint16 [H, W]``."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"cannot read image {path}", hint="check that the file is a PNG")
    if image.dtype != np.uint16 or image.ndim != 2:
        raise InputError(
            f"{path} is {image.dtype} with shape {image.shape}, not a 16-bit single-channel PNG",
            hint="depth PNGs must be 16-bit greyscale; or save float metres as .npy",
        )
    return image


def read_json(path: Path) -> object:
    """A JSON file of a dataset; unreadable or malformed is an :class:`InputError`."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}", hint="fix the JSON syntax") from error


def _positive(value: object, what: str, where: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"{what} in {where} is {value!r}", hint=f"give {what} as a number > 0")
    return float(value)


def _manifest(directory: Path) -> dict:
    path = directory / "dataset.json"
    if not path.exists():
        return {}
    manifest = read_json(path)
    if not isinstance(manifest, dict):
        raise InputError(f"{path} is not a JSON object", hint="see docs/evaluation.md")
    unknown = set(manifest) - MANIFEST_KEYS
    if unknown:
        raise InputError(
            f"{path} has unknown keys {sorted(unknown)}",
            hint=f"dataset.json understands {sorted(MANIFEST_KEYS)}",
        )
    for key in ("depth_scale", "max_depth"):
        if manifest.get(key) is not None:
            manifest[key] = _positive(manifest[key], key, path)
    if manifest.get("min_depth") is not None:
        value = manifest["min_depth"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError(f"min_depth in {path} is {value!r}", hint="give a number >= 0")
        manifest["min_depth"] = float(value)
    return manifest


def _intrinsics(directory: Path) -> dict[str, dict[str, float]] | None:
    path = directory / "intrinsics.json"
    if not path.exists():
        return None
    table = read_json(path)
    if not isinstance(table, dict):
        raise InputError(
            f"{path} is not a JSON object",
            hint='write {"<name>": {"fx": .., "fy": .., "cx": .., "cy": ..}}',
        )
    result = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or any(key not in entry for key in INTRINSICS_KEYS):
            raise InputError(
                f"{path}: the entry for {name!r} lacks one of {list(INTRINSICS_KEYS)}",
                hint='write {"fx": .., "fy": .., "cx": .., "cy": ..} for every photo',
            )
        result[name] = {key: _positive(entry[key], key, path) for key in INTRINSICS_KEYS}
    return result


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in found:
                raise InputError(
                    f"two files named {path.stem!r} in {folder}: {found[path.stem].name}, "
                    f"{path.name}",
                    hint="keep one file per name",
                )
            found[path.stem] = path
    return found


def load_dataset(directory: str | os.PathLike) -> list[Sample]:
    """The samples of a dataset folder (see the module docstring), sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(
            f"dataset folder {directory} does not exist",
            hint="give a folder with rgb/ and depth/, or make one with `unflat eval convert`",
        )
    for part in ("rgb", "depth"):
        if not (directory / part).is_dir():
            raise InputError(
                f"{directory} has no {part}/ folder",
                hint="a dataset folder holds rgb/<name>.jpg and depth/<name>.npy (or .png)",
            )
    manifest = _manifest(directory)
    intrinsics = _intrinsics(directory)
    photos = _by_stem(directory / "rgb", RGB_SUFFIXES)
    depths = _by_stem(directory / "depth", DEPTH_SUFFIXES)
    if not photos:
        raise InputError(f"{directory / 'rgb'} holds no images", hint="add the photos to rgb/")
    missing = [name for name in photos if name not in depths]
    if missing:
        raise InputError(
            f"no ground truth for {len(missing)} photo(s) in {directory}, e.g. {missing[0]!r}",
            hint="add depth/<name>.npy or depth/<name>.png for every rgb/<name>",
        )
    if intrinsics is not None:
        unknown = [name for name in photos if name not in intrinsics]
        if unknown:
            raise InputError(
                f"intrinsics.json has no entry for {unknown[0]!r}",
                hint="give fx, fy, cx, cy for every photo, or remove intrinsics.json",
            )
    mask_dir = manifest.get("mask_dir")
    if mask_dir is not None and not (directory / mask_dir).is_dir():
        raise InputError(
            f"dataset.json names mask_dir {mask_dir!r} but {directory / mask_dir} is no folder",
            hint="add the masks or remove mask_dir from dataset.json",
        )
    samples = []
    for name, rgb_path in photos.items():
        depth_path = depths[name]
        if depth_path.suffix.lower() == ".png" and manifest.get("depth_scale") is None:
            raise InputError(
                f"{depth_path} is a PNG but dataset.json gives no depth_scale",
                hint='add "depth_scale" (PNG units per metre, e.g. 1000) to dataset.json',
            )
        mask_path = None
        if mask_dir is not None:
            mask_path = directory / mask_dir / f"{name}.png"
            if not mask_path.is_file():
                raise InputError(f"mask {mask_path} is missing", hint="add one mask per photo")
        camera = intrinsics.get(name, {}) if intrinsics is not None else {}
        samples.append(
            Sample(
                name=name,
                rgb_path=rgb_path,
                depth_path=depth_path,
                fx=camera.get("fx"),
                fy=camera.get("fy"),
                cx=camera.get("cx"),
                cy=camera.get("cy"),
                mask_path=mask_path,
                depth_scale=manifest.get("depth_scale"),
                min_depth=manifest.get("min_depth") or 0.0,
                max_depth=manifest.get("max_depth") or math.inf,
            )
        )
    return samples


@contextmanager
def staged_output(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """A fresh folder that becomes ``out_dir`` only when a converter finished writing it."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise OutputError(
            f"{out_dir} already exists and is not empty",
            hint="choose another output folder or pass --overwrite",
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out_dir.exists():
        if out_dir.is_dir():
            shutil.rmtree(out_dir)
        else:
            out_dir.unlink()
    staging.rename(out_dir)
