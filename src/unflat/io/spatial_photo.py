"""Apple spatial photos: a left and a right view in one HEIC, with the stereo metadata that
Apple Vision Pro reads.

What is written (see docs/splat.md, "Spatial photos", for the sources) is what Apple's own
captures hold, box for box:

- two visible ``hvc1`` image items, the left one first and primary;
- a ``ster`` entity group in ``grpl`` (ISO/IEC 23008-12 stereo pair: left item, right item);
- per item, the camera intrinsics (focal length, principal point as fractions of the coded
  width/height, fixed point) and extrinsics (the camera position in micrometres: the left
  camera at the origin, the right one ``baseline`` to its right), in the payload layout of
  ISO's ``cmin``/``cmex`` properties but under the ``uuid`` box types Apple's files use
  (libheif reads those as ``cmin``/``cmex`` too);
- the stereo group's horizontal disparity adjustment (which depth shows at the screen plane,
  as a fraction of the image width, stored in 1/10000) in Apple's third ``uuid`` property.

The HEVC coding itself is libheif's, through pillow-heif: each view is encoded as a one-image
HEIC in memory and its coded data and properties are moved into the pair. Views have at least
:data:`MIN_SIDE` pixels per side; an odd side gets its last column or row repeated (as unflat's
MP4s do), so the stored image is never cropped and the intrinsics need no translation.

Nothing here can be checked on a Vision Pro; the tests read the files back with libheif
(pillow-heif) and with :func:`read_spatial_photo`.
"""

from __future__ import annotations

import io
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unflat.errors import ConfigError
from unflat.io.atomic import atomic_write
from unflat.io.guard import decoding
from unflat.io.isobmff import (
    TRANSFORMATIVE,
    HeifItem,
    HeifLayout,
    NewItem,
    build_heif,
    item_data,
    make_uuid_box,
    read_heif_layout,
)

#: Apple's box type for camera intrinsics (payload as ISO/IEC 23008-12 ``cmin``).
INTRINSICS_UUID = bytes.fromhex("22cc04c7d6d94e079d904eb6ecbaf3a3")
#: Apple's box type for camera extrinsics (payload as ISO/IEC 23008-12 ``cmex``).
EXTRINSICS_UUID = bytes.fromhex("4363e9145b7d4aab97aebea69803b434")
#: Apple's box type for the stereo pair's horizontal disparity adjustment (int32, 1/10000).
DISPARITY_UUID = bytes.fromhex("de22508536cb436587432f8705e7c78a")

DEFAULT_QUALITY = 90
#: libheif pads smaller HEVC images to 64 px and crops them back, which would leave the
#: intrinsics' frame open to interpretation: spatial photos start at this size.
MIN_SIDE = 64


@dataclass
class SpatialPhoto:
    """Two views of one scene and the cameras that saw them.

    ``left``/``right``: ``uint8 [H,W,3]`` sRGB images of the same size. ``focal_px`` and
    ``principal_point`` (``cx, cy``) in pixels of the images, shared by both cameras (parallel
    axes, the right camera ``baseline_m`` metres to the right of the left one).
    ``disparity_adjustment`` shifts the views against each other by that fraction of the width
    when shown (-1..1): the depth whose disparity it equals appears at the screen plane.
    """

    left: np.ndarray
    right: np.ndarray
    focal_px: tuple[float, float]
    principal_point: tuple[float, float]
    baseline_m: float
    disparity_adjustment: float = 0.0

    def check(self) -> None:
        """Raise ``ConfigError`` for images or cameras that cannot make a spatial photo."""
        for name, image in (("left", self.left), ("right", self.right)):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ConfigError(
                    f"the {name} view is {image.dtype} {image.shape}", hint="give uint8 [H,W,3]"
                )
        if min(self.left.shape[:2]) < MIN_SIDE:
            raise ConfigError(
                f"a {self.left.shape[1]}x{self.left.shape[0]} view is too small for a spatial "
                f"photo",
                hint=f"render at least {MIN_SIDE} px per side",
            )
        if self.left.shape != self.right.shape:
            raise ConfigError(
                f"the views differ in size: {self.left.shape} and {self.right.shape}",
                hint="render both eyes at one size",
            )
        if not (math.isfinite(self.baseline_m) and 0 < self.baseline_m < 2000):
            raise ConfigError(f"baseline {self.baseline_m} m is not usable", hint="e.g. 0.063")
        if not all(math.isfinite(f) and f > 0 for f in self.focal_px):
            raise ConfigError(f"focal length {self.focal_px} px must be positive")
        if not (math.isfinite(self.disparity_adjustment) and -1 <= self.disparity_adjustment <= 1):
            raise ConfigError(
                f"disparity adjustment {self.disparity_adjustment} is outside -1..1",
                hint="it is a fraction of the image width",
            )


def write_spatial_photo(
    path: str | os.PathLike[str],
    photo: SpatialPhoto,
    *,
    quality: int = DEFAULT_QUALITY,
    overwrite: bool = True,
) -> Path:
    """Write ``photo`` as an Apple spatial photo (HEIC), atomically; returns the path."""
    data = spatial_photo_bytes(photo, quality=quality)
    target = Path(path).expanduser()
    with atomic_write(target, overwrite=overwrite) as temporary:
        temporary.write_bytes(data)
    return target


def spatial_photo_bytes(photo: SpatialPhoto, quality: int = DEFAULT_QUALITY) -> bytes:
    """The bytes of the spatial photo file."""
    photo.check()
    disparity = make_uuid_box(
        DISPARITY_UUID, struct.pack(">i", round(photo.disparity_adjustment * 1e4))
    )
    items = []
    for image, position_um in ((photo.left, 0), (photo.right, round(photo.baseline_m * 1e6))):
        coded, layout = _encode(_even(image), quality)
        item = layout.items[layout.primary]
        intrinsics = _intrinsics(photo, *_coded_size(item))
        extrinsics = _extrinsics(position_um)
        ours = [(intrinsics, False), (extrinsics, False), (disparity, False)]
        items.append(NewItem(b"hvc1", _with_descriptive(item, ours), item_data(coded, item)))
    return build_heif(items, groups=((b"ster", (0, 1)),))


def _even(image: np.ndarray) -> np.ndarray:
    """``image`` with its last column and/or row repeated to even sides (HEVC 4:2:0 codes
    even sizes; libheif would otherwise pad and crop)."""
    height, width = image.shape[:2]
    return np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _encode(image: np.ndarray, quality: int) -> tuple[bytes, HeifLayout]:
    """One view as a one-image HEIC from libheif, and its layout."""
    import pillow_heif

    height, width = image.shape[:2]
    heif = pillow_heif.from_bytes(mode="RGB", size=(width, height), data=image.tobytes())
    buffer = io.BytesIO()
    heif.save(buffer, quality=quality)
    coded = buffer.getvalue()
    layout = read_heif_layout(coded)
    item = layout.items[layout.primary]
    # One HEVC image of exactly this size: a grid would need its tiles carried over, and a
    # padded, cropped image would leave the intrinsics' frame open to interpretation.
    if item.item_type != b"hvc1" or _coded_size(item) != (width, height):
        raise ValueError(f"libheif coded a {width}x{height} view in another form")
    return coded, layout


def _with_descriptive(item: HeifItem, extra: list[tuple[bytes, bool]]) -> list[tuple[bytes, bool]]:
    """``item``'s properties with ``extra`` after the descriptive ones and before any crop,
    rotation or mirror (HEIF's order)."""
    descriptive = [(p.raw, e) for p, e in item.properties if p.kind not in TRANSFORMATIVE]
    transformative = [(p.raw, e) for p, e in item.properties if p.kind in TRANSFORMATIVE]
    return descriptive + extra + transformative


def _coded_size(item: HeifItem) -> tuple[int, int]:
    ispe = item.property(b"ispe")
    if ispe is None:
        raise ValueError(f"image item {item.item_id} has no ispe property")
    _, width, height = struct.unpack(">III", ispe.payload[:12])
    return width, height


def _fixed_shift(values: list[float]) -> int:
    """The most fraction bits (at most 30, as Apple writes) that keep ``values`` in int32."""
    largest = max(abs(value) for value in values)
    if largest == 0:
        return 30
    return max(0, min(30, math.floor(math.log2((2**31 - 1) / largest))))


def _intrinsics(photo: SpatialPhoto, coded_width: int, coded_height: int) -> bytes:
    """The intrinsics box: focal length and principal point relative to the coded size."""
    focal_x, focal_y = photo.focal_px
    relative = [
        focal_x / coded_width,
        photo.principal_point[0] / coded_width,
        photo.principal_point[1] / coded_height,
    ]
    anisotropic = not math.isclose(focal_x, focal_y, rel_tol=1e-9)
    if anisotropic:
        relative.append(focal_y / coded_height)  # libheif reads it against the height
    shift = _fixed_shift(relative)
    fields = [round(value * 2**shift) for value in relative]
    if anisotropic:
        fields.append(0)  # no skew (its own 0-bit shift)
    flags = (shift << 8) | int(anisotropic)
    payload = struct.pack(f">{len(fields)}i", *fields)
    return make_uuid_box(INTRINSICS_UUID, struct.pack(">I", flags) + payload)


def _extrinsics(position_x_um: int) -> bytes:
    """The extrinsics box: a camera ``position_x_um`` along x, no rotation (as Apple's)."""
    if position_x_um == 0:
        return make_uuid_box(EXTRINSICS_UUID, struct.pack(">I", 0))
    return make_uuid_box(EXTRINSICS_UUID, struct.pack(">Ii", 1, position_x_um))


def read_spatial_photo(path: str | os.PathLike[str]) -> SpatialPhoto:
    """Read a spatial photo: the ``ster`` group's left and right images and their metadata."""
    source = Path(path).expanduser()
    with decoding(source, "spatial photo (HEIC)", extra=(RuntimeError,)):
        data = source.read_bytes()
        layout = read_heif_layout(data)
        stereo = [group for group in layout.groups if group.kind == b"ster"]
        if not stereo or len(stereo[0].entities) != 2:
            raise ValueError("no stereo pair group (ster) of two images")
        left, right = (layout.items[entity] for entity in stereo[0].entities)
        focal, principal = _read_intrinsics(left)
        positions = [_read_position(item) for item in (left, right)]
        disparity = left.property(b"uuid", DISPARITY_UUID)
        return SpatialPhoto(
            left=_decode_item(data, left),
            right=_decode_item(data, right),
            focal_px=focal,
            principal_point=principal,
            baseline_m=math.dist(*positions) / 1e6,
            disparity_adjustment=struct.unpack(">i", disparity.payload[:4])[0] / 1e4
            if disparity
            else 0.0,
        )


def _read_intrinsics(item: HeifItem) -> tuple[tuple[float, float], tuple[float, float]]:
    box = item.property(b"uuid", INTRINSICS_UUID) or item.property(b"cmin")
    if box is None:
        raise ValueError(f"image {item.item_id} has no camera intrinsics")
    flags = struct.unpack(">I", box.payload[:4])[0] & 0xFFFFFF
    anisotropic = flags & 1
    count = 5 if anisotropic else 3
    values = struct.unpack(f">{count}i", box.payload[4 : 4 + 4 * count])
    scale = 2.0 ** ((flags >> 8) & 0x1F)
    width, height = _coded_size(item)
    focal_x = values[0] / scale * width
    focal_y = values[3] / scale * height if anisotropic else focal_x
    principal = (values[1] / scale * width, values[2] / scale * height)
    return (focal_x, focal_y), principal


def _read_position(item: HeifItem) -> tuple[float, float, float]:
    """The camera position (micrometres) of the extrinsics box; absent fields are 0."""
    box = item.property(b"uuid", EXTRINSICS_UUID) or item.property(b"cmex")
    if box is None:
        raise ValueError(f"image {item.item_id} has no camera extrinsics")
    flags = struct.unpack(">I", box.payload[:4])[0] & 0xFFFFFF
    position, offset = [0.0, 0.0, 0.0], 4
    for axis in range(3):
        if flags & (1 << axis):
            position[axis] = struct.unpack(">i", box.payload[offset : offset + 4])[0]
            offset += 4
    return position[0], position[1], position[2]


def _decode_item(data: bytes, item: HeifItem) -> np.ndarray:
    """One image item decoded by libheif, from a one-image HEIC holding just that item."""
    import pillow_heif

    if item.item_type != b"hvc1":
        raise ValueError(f"image {item.item_id} is {item.item_type!r}, not one HEVC image")
    properties = [(prop.raw, essential) for prop, essential in item.properties]
    single = build_heif([NewItem(b"hvc1", properties, item_data(data, item))])
    image = pillow_heif.open_heif(io.BytesIO(single), convert_hdr_to_8bit=True)
    return np.asarray(image.to_pillow().convert("RGB"))
