"""Depth evaluation datasets: one simple folder format, and converters into it.

The folder format that ``unflat eval depth DATASET_DIR`` reads::

    DATASET_DIR/
      rgb/<name>.<png|jpg|...>     the photos
      depth/<name>.npy             float32 metres, 0 or non-finite = no ground truth
      depth/<name>.png             or 16-bit PNG, metres = value / depth_scale, 0 = no ground truth
      intrinsics.json              optional: {"<name>": {"fx": .., "fy": .., "cx": .., "cy": ..}}
      dataset.json                 optional: {"name", "depth_scale", "min_depth", "max_depth",
                                             "mask_dir"}
      <mask_dir>/<name>.png        optional: non-zero = evaluate this pixel

``convert_middlebury``, ``convert_nyu`` and ``convert_kitti`` turn the published layouts
(as found in ``shared/data/depth``) into this format.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from unflat.errors import InputError, OutputError
from unflat.io.depth_files import read_pfm

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


def _read_json(path: Path) -> object:
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
    manifest = _read_json(path)
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
    table = _read_json(path)
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


# ---------------------------------------------------------------------------------------------
# Converters


@contextmanager
def _staged_output(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """A fresh folder that becomes ``out_dir`` only when the conversion finished."""
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


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def middlebury_depth(disparity: np.ndarray, calib: dict[str, float]) -> np.ndarray:
    """Metres from a Middlebury disparity map (pixels) and its calib: ``baseline * f /
    (disparity + doffs)``, baseline in mm; NaN where unknown (inf disparity or no depth)."""
    denominator = np.asarray(disparity, dtype=np.float64) + calib["doffs"]
    known = np.isfinite(denominator) & (denominator > 0)
    depth = np.full(denominator.shape, np.nan)
    depth[known] = calib["baseline"] * calib["f"] / denominator[known] / 1000.0
    return depth


def read_middlebury_calib(path: Path) -> dict[str, float]:
    """``f``, ``cx``, ``cy`` (cam0), ``cx1`` (cam1), ``doffs``, ``baseline`` (mm), size.

    Pixel centres are at integer coordinates, as Middlebury gives them. ``cx1`` is ``cx + doffs``
    in every 2014 scene; it is read, not derived, in case a file disagrees.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(
            f"cannot read {path}: {error}", hint="add the scene's calib.txt"
        ) from error
    values: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    try:
        cam0 = [float(v) for v in re.findall(r"[-+0-9.eE]+", values["cam0"])]
        cam1 = [float(v) for v in re.findall(r"[-+0-9.eE]+", values.get("cam1", ""))]
        calib = {
            "f": cam0[0],
            "cx": cam0[2],
            "cy": cam0[5],
            "cx1": cam1[2] if len(cam1) == 9 else cam0[2] + float(values["doffs"]),
            "doffs": float(values["doffs"]),
            "baseline": float(values["baseline"]),
            "width": float(values["width"]),
            "height": float(values["height"]),
        }
    except (KeyError, IndexError, ValueError) as error:
        raise InputError(
            f"{path} is not a Middlebury calib.txt ({error})",
            hint="it needs cam0=[f 0 cx; 0 f cy; 0 0 1], doffs, baseline, width, height",
        ) from error
    return calib


def convert_middlebury(
    src_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    nonocc_only: bool = False,
    overwrite: bool = False,
) -> list[Sample]:
    """Convert Middlebury 2014 scenes (``<scene>/im0.png, disp0GT.pfm, calib.txt``).

    Depth of the left view is ``baseline * f / (d + doffs) / 1000`` metres; unknown disparity
    (inf) becomes 0. Every scene's ``mask0nocc.png`` (255 = non-occluded) is written to ``mask/``
    as a 0/255 mask; it restricts the evaluation only with ``nonocc_only``, because the occluded
    pixels' ground truth is valid too.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    scenes = []
    if src_dir.is_dir():
        scenes = sorted(p for p in src_dir.iterdir() if (p / "calib.txt").is_file())
    if not scenes:
        raise InputError(
            f"no Middlebury scenes in {src_dir}",
            hint="give the folder that holds <scene>/calib.txt, im0.png and disp0GT.pfm",
        )
    with _staged_output(out_dir, overwrite) as staging:
        for part in ("rgb", "depth", "mask"):
            (staging / part).mkdir()
        intrinsics = {}
        for scene in scenes:
            for required in ("im0.png", "disp0GT.pfm"):
                if not (scene / required).is_file():
                    raise InputError(f"{scene / required} is missing", hint="add the scene's files")
            calib = read_middlebury_calib(scene / "calib.txt")
            disparity = np.asarray(read_pfm(scene / "disp0GT.pfm"), dtype=np.float64)
            if disparity.ndim != 2:
                raise InputError(f"{scene / 'disp0GT.pfm'} is not single-channel", hint="use Pf")
            depth = np.nan_to_num(middlebury_depth(disparity, calib), nan=0.0).astype(np.float32)
            np.save(staging / "depth" / f"{scene.name}.npy", depth)
            shutil.copyfile(scene / "im0.png", staging / "rgb" / f"{scene.name}.png")
            if (scene / "mask0nocc.png").is_file():
                # 255 = non-occluded, 128 = occluded, 0 = unknown; our masks are non-zero = use.
                nonocc = cv2.imread(str(scene / "mask0nocc.png"), cv2.IMREAD_GRAYSCALE)
                if nonocc is None or nonocc.shape != disparity.shape:
                    raise InputError(
                        f"{scene / 'mask0nocc.png'} is unreadable or not the disparity's size",
                        hint="replace it with the scene's original mask0nocc.png",
                    )
                mask = np.where(nonocc == 255, 255, 0).astype(np.uint8)
                cv2.imwrite(str(staging / "mask" / f"{scene.name}.png"), mask)
            elif nonocc_only:
                raise InputError(
                    f"{scene / 'mask0nocc.png'} is missing",
                    hint="add it or convert without the non-occluded-only option",
                )
            intrinsics[scene.name] = {
                "fx": calib["f"],
                "fy": calib["f"],
                "cx": calib["cx"],
                "cy": calib["cy"],
            }
        _write_json(staging / "intrinsics.json", intrinsics)
        manifest: dict[str, object] = {"name": "middlebury"}
        if nonocc_only:
            manifest["mask_dir"] = "mask"
        _write_json(staging / "dataset.json", manifest)
    return load_dataset(out_dir)


def _annotated_file(src_dir: Path, listed: str, folder: str) -> Path:
    # The annotation paths carry the original repository's prefix (data/nyu_demo/rgb/...):
    # take them as given when they exist, else find the file by name in the local folder.
    direct = src_dir / listed
    return direct if direct.is_file() else src_dir / folder / Path(listed).name


def _convert_annotated(
    src_dir: Path,
    out_dir: Path,
    name: str,
    min_depth: float,
    max_depth: float,
    overwrite: bool,
) -> list[Sample]:
    """Convert the ``rgb/``, ``depth/``, ``test_annotations.json`` layout (NYU, KITTI)."""
    annotations_path = src_dir / "test_annotations.json"
    if not annotations_path.is_file():
        raise InputError(
            f"{annotations_path} is missing",
            hint="give the folder that holds rgb/, depth/ and test_annotations.json",
        )
    annotations = _read_json(annotations_path)
    files = annotations.get("files") if isinstance(annotations, dict) else None
    if not isinstance(files, list) or not files:
        raise InputError(
            f"{annotations_path} lists no files",
            hint='expected {"files": [{"rgb", "depth", "cam_in": [fx, fy, cx, cy], '
            '"depth_scale"}, ...]}',
        )
    entries = []
    for entry in files:
        try:
            rgb = _annotated_file(src_dir, entry["rgb"], "rgb")
            depth = _annotated_file(src_dir, entry["depth"], "depth")
            fx, fy, cx, cy = (float(v) for v in entry["cam_in"])
            scale = float(entry["depth_scale"])
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"{annotations_path}: malformed entry {entry!r} ({error})",
                hint="each entry needs rgb, depth, cam_in [fx, fy, cx, cy] and depth_scale",
            ) from error
        for path in (rgb, depth):
            if not path.is_file():
                raise InputError(f"{path} is missing", hint="the annotations list this file")
        entries.append((rgb, depth, {"fx": fx, "fy": fy, "cx": cx, "cy": cy}, scale))
    scales = {scale for *_, scale in entries}
    with _staged_output(out_dir, overwrite) as staging:
        (staging / "rgb").mkdir()
        (staging / "depth").mkdir()
        intrinsics = {}
        for rgb, depth, camera, scale in entries:
            sample = rgb.stem
            shutil.copyfile(rgb, staging / "rgb" / f"{sample}{rgb.suffix.lower()}")
            if len(scales) == 1:
                # One scale for all: keep the 16-bit PNGs as they are, lossless and small.
                read_png16(depth)
                shutil.copyfile(depth, staging / "depth" / f"{sample}.png")
            else:
                metres = read_png16(depth).astype(np.float32) / np.float32(scale)
                np.save(staging / "depth" / f"{sample}.npy", metres)
            intrinsics[sample] = camera
        _write_json(staging / "intrinsics.json", intrinsics)
        manifest: dict[str, object] = {
            "name": name,
            "min_depth": min_depth,
            "max_depth": max_depth,
        }
        if len(scales) == 1:
            manifest["depth_scale"] = scales.pop()
        _write_json(staging / "dataset.json", manifest)
    return load_dataset(out_dir)


def convert_nyu(
    src_dir: str | os.PathLike, out_dir: str | os.PathLike, overwrite: bool = False
) -> list[Sample]:
    """Convert NYU Depth v2 frames (depth PNG / 1000 = metres), evaluated up to 10 m."""
    return _convert_annotated(Path(src_dir), Path(out_dir), "nyu", 1e-3, 10.0, overwrite)


def convert_kitti(
    src_dir: str | os.PathLike, out_dir: str | os.PathLike, overwrite: bool = False
) -> list[Sample]:
    """Convert KITTI frames (depth PNG / 256 = metres, sparse lidar), evaluated up to 80 m."""
    return _convert_annotated(Path(src_dir), Path(out_dir), "kitti", 1e-3, 80.0, overwrite)
