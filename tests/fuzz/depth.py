"""Depth files: ``load_depth`` and ``read_depth`` on damaged ``.npy``, ``.npz``, 16-bit PNG,
PFM and float TIFF files (``.npy`` headers and ``.npz`` members damaged inside their zip)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from tests.fuzz.engine import Seed, View, whole, zip_member
from tests.fuzz.images import png_views
from tests.fuzz.runner import check_error
from unflat.errors import UnflatError
from unflat.io.depth_files import load_depth, read_depth, save_depth_png16, write_pfm
from unflat.io.limits import current_limits

WIDTH, HEIGHT = 40, 32


def depth_map() -> np.ndarray:
    """A tilted plane 1.3-4 m away with a hole (NaN), as a depth model would give: a plane's
    inverse depth is affine in the pixel coordinates (a depth that is, reads as disparity)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    depth = 1.0 / (0.25 + 0.5 * (x + y) / (WIDTH + HEIGHT))
    depth[3, 5] = np.nan
    return depth


def npy_header(data: bytes) -> int:
    """Length of a ``.npy`` file's magic, version, header length and header dict."""
    if data[6:7] == b"\x01" and len(data) >= 10:
        return 10 + int.from_bytes(data[8:10], "little")
    return 12 + int.from_bytes(data[8:12], "little") if len(data) >= 12 else len(data)


def pfm_header(data: bytes) -> int:
    """The three text lines of a PFM (identifier, size, scale)."""
    end = 0
    for _ in range(3):
        end = data.find(b"\n", end) + 1
    return end or len(data)


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def npz(compressed: bool, **arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(out, **arrays)
    return out.getvalue()


def seeds(folder: Path) -> list[Seed]:
    """Valid depth files of every kind the readers take."""
    folder.mkdir(parents=True, exist_ok=True)
    depth = depth_map()
    npy_views = (whole(npy_header, text=True),)
    member: tuple[View, ...] = (whole(), zip_member("depth.npy", npy_header, text=True))
    png = save_depth_png16(folder / "depth.png", depth).read_bytes()
    pfm = write_pfm(folder / "depth.pfm", depth).read_bytes()
    millimetres = np.nan_to_num(depth * 1000).astype(np.uint16)
    return [
        Seed("depth.npy", npy(depth), npy_views),
        Seed("depth-mm.npy", npy(millimetres), npy_views),
        Seed("depth-big-endian.npy", npy(depth.astype(">f8")), npy_views),
        Seed("depth.npz", npz(False, depth=depth, confidence=depth * 0), member),
        Seed("single.npz", npz(True, arr_0=depth), (whole(), zip_member("arr_0.npy", npy_header))),
        Seed("depth.png", png, png_views()),
        Seed("depth.pfm", pfm, (whole(pfm_header, text=True),)),
        Seed("depth.tif", cv2.imencode(".tiff", depth)[1].tobytes(), (whole(lambda d: 128),)),
    ]


def _check(metres: np.ndarray) -> None:
    assert metres.dtype == np.float32 and metres.ndim == 2, (metres.dtype, metres.shape)
    assert min(metres.shape) >= 1 and metres.nbytes <= current_limits().max_decoded_bytes
    valid = metres[np.isfinite(metres)]
    assert valid.size > 0, "no valid depth"


def read(path: Path) -> None:
    """Both readers: float32 [H,W] metres with some valid depth, or an ``UnflatError``."""
    refused: UnflatError | None = None
    for reader in (load_depth, lambda source: read_depth(source).metres):
        try:
            _check(reader(path))
        except UnflatError as error:
            check_error(error)
            refused = error
    if refused is not None:
        raise refused
