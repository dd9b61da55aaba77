"""Middlebury 2014 stereo scenes: calibration, disparity to metres, conversion and pairs.

A scene folder holds ``im0.png``, ``im1.png`` (the rectified left and right views),
``disp0GT.pfm`` (left disparity in pixels, inf where unknown), ``mask0nocc.png`` and
``calib.txt``. :func:`convert_middlebury` turns scenes into the depth evaluation folder format;
:func:`load_middlebury_pair` reads one scene as a :class:`StereoPair` for novel-view evaluation.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from unflat.datasets.folder import Sample, load_dataset, staged_output
from unflat.errors import InputError
from unflat.io.atomic import write_json
from unflat.io.depth_files import read_pfm
from unflat.io.images import read_photo
from unflat.progress import note
from unflat.types import Camera


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
    scenes = _with_ground_truth(scenes, src_dir)
    with staged_output(out_dir, overwrite) as staging:
        for part in ("rgb", "depth", "mask"):
            (staging / part).mkdir()
        intrinsics = {scene.name: _convert_scene(scene, staging, nonocc_only) for scene in scenes}
        write_json(staging / "intrinsics.json", intrinsics)
        manifest: dict[str, object] = {"name": "middlebury"}
        if nonocc_only:
            manifest["mask_dir"] = "mask"
        write_json(staging / "dataset.json", manifest)
    return load_dataset(out_dir)


def _with_ground_truth(scenes: list[Path], src_dir: Path) -> list[Path]:
    """All but the test scenes (a photo, no ``disp0GT.pfm``), which are skipped with a note.

    A scene without even its photo is not a test scene but a broken one: it is kept, so that
    converting it fails naming the missing file.
    """
    kept = [s for s in scenes if (s / "disp0GT.pfm").is_file() or not (s / "im0.png").is_file()]
    for scene in scenes:
        if scene not in kept:
            note(f"skipping {scene.name}: no disp0GT.pfm (a test scene without ground truth)")
    if not kept:
        raise InputError(
            f"none of the {len(scenes)} Middlebury scenes in {src_dir} has ground truth "
            "(disp0GT.pfm)",
            hint="use the training scenes, which publish their disparity",
        )
    return kept


def _convert_scene(scene: Path, staging: Path, nonocc_only: bool) -> dict[str, float]:
    """Write one scene's photo, depth and mask into ``staging``; return its intrinsics."""
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
    return {
        "fx": calib["f"],
        "fy": calib["f"],
        "cx": calib["cx"],
        "cy": calib["cy"],
    }


@dataclass
class StereoPair:
    """A rectified pair: images, left depth (metres, NaN unknown), intrinsics, baseline (m).

    Intrinsics follow the renderer's convention (pixel centres at +0.5).
    """

    name: str
    left: np.ndarray
    right: np.ndarray
    depth: np.ndarray
    K_left: np.ndarray
    K_right: np.ndarray
    baseline: float

    def right_camera(self) -> Camera:
        """The right camera in the left camera's frame: shifted by the baseline along +x."""
        world_to_camera = torch.eye(4)
        world_to_camera[0, 3] = -self.baseline
        height, width = self.right.shape[:2]
        return Camera(
            K=torch.from_numpy(self.K_right).float(),
            world_to_camera=world_to_camera,
            width=width,
            height=height,
        )


def _renderer_intrinsics(f: float, cx: float, cy: float) -> np.ndarray:
    # Middlebury puts pixel centres at integers; the renderer at +0.5.
    return np.array([[f, 0.0, cx + 0.5], [0.0, f, cy + 0.5], [0.0, 0.0, 1.0]])


def load_middlebury_pair(directory: str | os.PathLike[str]) -> StereoPair:
    """Read ``im0.png``, ``im1.png``, ``disp0GT.pfm`` and ``calib.txt`` of one scene."""
    folder = Path(directory)
    files = {name: folder / name for name in ("im0.png", "im1.png", "disp0GT.pfm", "calib.txt")}
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise InputError(
            f"{folder} lacks {', '.join(missing)}",
            hint="a Middlebury 2014 scene folder has im0.png, im1.png, disp0GT.pfm, calib.txt",
        )
    calib = read_middlebury_calib(files["calib.txt"])
    K_left = _renderer_intrinsics(calib["f"], calib["cx"], calib["cy"])
    K_right = _renderer_intrinsics(calib["f"], calib["cx1"], calib["cy"])
    depth = middlebury_depth(read_pfm(files["disp0GT.pfm"]), calib)
    return StereoPair(
        name=folder.name,
        left=read_photo(files["im0.png"]).rgb,
        right=read_photo(files["im1.png"]).rgb,
        depth=depth,
        K_left=K_left,
        K_right=K_right,
        baseline=calib["baseline"] / 1000.0,
    )
