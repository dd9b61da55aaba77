"""Decoders' own messages about a damaged file, kept off stderr: the reader's ``InputError``
says what is wrong, once, and a photo read despite a harmless flaw prints nothing.

Where the messages come from, and how each is silenced at its source:

- **libtiff inside Pillow** prints its errors and warnings through process-wide handlers
  (``tempfile.tif: Using code not yet in table.``, ``LZWDecode: Not enough data at
  scanline ...``): :func:`quiet_decoders` sets both to none. Pillow reports the failure itself.
- **Pillow's log**: a few refusals are logged just before Pillow raises (``More samples per
  pixel than can be decoded``); with no logging configured, Python prints them. A
  ``NullHandler`` on the ``PIL`` logger stops that; an application's own logging still gets them.
- **libpng inside OpenCV** warns about damaged descriptive chunks (``libpng warning: bKGD:
  invalid``) through libpng's default handler, which OpenCV leaves in place and no caller can
  replace: :func:`opencv_decode` gives OpenCV only the chunks that hold the pixels.
- **OpenCV's own log** (its TIFF and EXR decoders' messages): silent while
  :func:`opencv_decode` runs.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from pathlib import Path

import cv2
import numpy as np
import PIL
from PIL import Image  # noqa: F401  (loads Pillow's C module, and with it its libtiff)

from unflat.io import png


@functools.cache
def quiet_decoders() -> None:
    """Silence Pillow's libtiff and Pillow's log fallback (once per process)."""
    logging.getLogger("PIL").addHandler(logging.NullHandler())
    for path in _loaded_libtiffs():
        try:
            library = ctypes.CDLL(path)
            for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
                setter = getattr(library, name)
                setter.argtypes, setter.restype = [ctypes.c_void_p], ctypes.c_void_p
                setter(None)
        except (OSError, AttributeError):
            continue  # a libtiff we cannot reach keeps printing; nothing else changes


def opencv_decode(source: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray | None:
    """``cv2.imdecode`` of the file, with OpenCV's log silent and, for a PNG, only the chunks
    that hold the pixels (OpenCV's result is the same: it applies none of the others)."""
    data = source.read_bytes()
    if data.startswith(png.SIGNATURE):
        data = png.critical_only(data)
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _loaded_libtiffs() -> list[str]:
    """Paths of the libtiff libraries Pillow uses: as mapped into this process (Linux), else
    where Pillow's wheels keep them (macOS). A libtiff linked into Pillow itself (Windows
    wheels) exports nothing to reach."""
    maps = Path("/proc/self/maps")
    if maps.is_file():
        fields = (line.split(maxsplit=5) for line in maps.read_text().splitlines())
        return sorted({f[5] for f in fields if len(f) == 6 and "/libtiff" in f[5]})
    folder = Path(PIL.__file__).parent
    return sorted(str(path) for path in folder.glob(".dylibs/libtiff*"))


__all__ = ["opencv_decode", "quiet_decoders"]
