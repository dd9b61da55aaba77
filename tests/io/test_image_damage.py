"""read_photo on damaged and hostile files: one InputError each, limits before decoding."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.io.damaged_images import (
    DAMAGED,
    encode,
    exif_block,
    jpeg_claiming,
    jpeg_cut_with_end_marker,
    jpeg_with_segment,
    picture,
    png16,
    png_header,
    png_interlaced,
    tiff,
)
from unflat.errors import InputError
from unflat.io.images import read_photo
from unflat.io.limits import use_limits


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refused(path: Path, *words: str) -> InputError:
    with pytest.raises(InputError) as caught:
        read_photo(path)
    message = caught.value.message
    assert message.startswith(str(path)), message  # names the file
    assert "\n" not in message and caught.value.hint, message
    for word in words:
        assert word in message, message
    return caught.value


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_every_damaged_image_is_one_input_error(
    tmp_path: Path, name: str, capfd: pytest.CaptureFixture
) -> None:
    suffix, build = DAMAGED[name]
    _refused(_write(tmp_path, "damaged" + suffix, build()))
    assert capfd.readouterr().err == ""  # no library's own messages besides ours


def test_tiff_page_without_dimensions_stops_nothing_but_itself(tmp_path: Path) -> None:
    # Pillow raises TypeError("Missing dimensions") while counting the frames: once a
    # traceback that killed the batch, now the file's own InputError.
    _refused(_write(tmp_path, "a.tif", tiff(((), (256, 257)))), "not a valid TIFF image")
    _refused(_write(tmp_path, "b.tif", tiff(((256, 257),))), "not a valid TIFF image")
    good = read_photo(_write(tmp_path, "c.tif", tiff(((), ()))))
    assert good.rgb.shape == (32, 32, 3) and good.metadata["note"] == "first of 2 frames used"


def test_cut_jpeg_with_end_marker_is_refused_not_padded(tmp_path: Path) -> None:
    data = jpeg_cut_with_end_marker(0.5)
    with Image.open(io.BytesIO(data)) as image:  # what Pillow alone does: grey padding
        assert (np.asarray(image.convert("RGB"))[-8:] == 128).all()
    _refused(_write(tmp_path, "cut.jpg", data), "truncated")


def test_tiny_jpeg_claiming_12000x12000_is_refused_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "claims.jpg", jpeg_claiming(12000, 12000))
    assert path.stat().st_size < 10_000
    start = time.perf_counter()
    _refused(path, "truncated")
    assert time.perf_counter() - start < 2.0  # no 432 MB grey picture was decoded


def _jpeg_variants() -> dict[str, bytes]:
    rgb = picture(57, 91)  # not a multiple of the 16-pixel block
    exif = Image.Exif()
    exif[0x0112] = 1
    whole = encode("JPEG", rgb)
    cmyk = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(cmyk, "JPEG")
    return {
        "baseline": whole,
        "progressive": encode("JPEG", rgb, progressive=True),
        "optimized": encode("JPEG", rgb, optimize=True),
        "4:4:4 q100": encode("JPEG", rgb, quality=100, subsampling=0),
        "restart markers": encode("JPEG", rgb, restart_marker_blocks=2),
        "grey": encode("JPEG", rgb[:, :, 0]),
        "grey progressive": encode("JPEG", rgb[:, :, 0], progressive=True),
        "cmyk": cmyk.getvalue(),
        "opencv progressive": cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1],
        "opencv restart": cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_RST_INTERVAL, 1])[1],
        "exif and data after the end": encode("JPEG", rgb, exif=exif.tobytes()) + b"trailer",
        "fill bytes before the end": whole[:-2] + b"\xff\xff\xff\xd9",
    }


@pytest.mark.parametrize("kind", sorted(_jpeg_variants()))
def test_complete_jpegs_of_every_kind_are_read(tmp_path: Path, kind: str) -> None:
    data = bytes(_jpeg_variants()[kind])
    photo = read_photo(_write(tmp_path, "ok.jpg", data))
    with Image.open(io.BytesIO(data)) as image:
        np.testing.assert_array_equal(photo.rgb, np.asarray(image.convert("RGB")))


@pytest.mark.parametrize(
    "kind", ["interlaced", "1-bit", "4-bit palette", "grey+alpha", "16-bit grey", "rgba"]
)
def test_complete_pngs_of_every_layout_are_read(tmp_path: Path, kind: str) -> None:
    rgb = picture(37, 53)  # odd sizes: partial bytes and empty interlace passes
    data = {
        "interlaced": lambda: png_interlaced(rgb),
        "1-bit": lambda: encode("PNG", rgb[:, :, 0] > 100),
        "4-bit palette": lambda: _save(Image.fromarray(rgb).quantize(16), bits=4),
        "grey+alpha": lambda: _save(Image.fromarray(rgb).convert("LA")),
        "16-bit grey": lambda: encode("PNG", rgb[:, :, 0].astype(np.uint16) * 257),
        "rgba": lambda: _save(Image.fromarray(rgb).convert("RGBA")),
    }[kind]()
    photo = read_photo(_write(tmp_path, "ok.png", data))
    assert photo.rgb.shape == (37, 53, 3)
    if kind == "interlaced":
        np.testing.assert_array_equal(photo.rgb, rgb)


def _save(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def test_png_checksums_are_checked(tmp_path: Path) -> None:
    from tests.io.damaged_images import png_bad_crc, png_flipped_idat_bit

    # Pillow does not check the pixel chunks' CRC: a flipped bit could decode to other pixels.
    _refused(_write(tmp_path, "a.png", png_bad_crc(b"IDAT")), "checksum of its IDAT chunk")
    _refused(_write(tmp_path, "b.png", png_flipped_idat_bit()), "checksum")


# --- EXIF: damage loses the EXIF, not the photo ------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        (".png", encode("PNG", exif=b"Exif\x00\x00garbage!garbage!")),
        (".webp", encode("WEBP", exif=b"garbage!garbage!", lossless=True)),
    ],
)
def test_unreadable_exif_block_keeps_the_photo_and_says_so(
    tmp_path: Path, suffix: str, data: bytes
) -> None:
    photo = read_photo(_write(tmp_path, "photo" + suffix, data))
    assert photo.rgb.shape == (96, 128, 3) and photo.focal_px is None
    assert "EXIF block unreadable" in photo.metadata["note"]
    assert "orientation" in photo.metadata["note"]


def test_damaged_colour_profiles_are_harmless(tmp_path: Path) -> None:
    # No colour management is done, so a broken ICC profile cannot cost the photo.
    bad_order = jpeg_with_segment(0xE2, b"ICC_PROFILE\x00" + bytes([5, 2]) + b"junk" * 10)
    garbage = jpeg_with_segment(0xE2, b"ICC_PROFILE\x00" + bytes([1, 1]) + b"junk" * 10)
    png = encode("PNG", icc_profile=b"garbage" * 10)
    for name, data in [("a.jpg", bad_order), ("b.jpg", garbage), ("c.png", png)]:
        assert read_photo(_write(tmp_path, name, data)).rgb.shape == (96, 128, 3)


def test_damaged_exif_fields_are_noted_not_printed(tmp_path: Path, capfd) -> None:
    far = exif_block((0x0112, 3, 1, struct.pack("<HH", 1, 0)))
    far = far[:-4] + struct.pack("<I", 10**9)  # next-IFD offset far past the block
    huge = exif_block((0x0112, 3, 10**8, struct.pack("<I", 8)))  # count past the end
    bad = exif_block((0x0112, 3, 1, struct.pack("<HH", 9, 0)))  # orientation 9
    notes = []
    for index, block in enumerate((far, huge, bad)):
        photo = read_photo(_write(tmp_path, f"{index}.jpg", jpeg_with_segment(0xE1, block)))
        assert photo.rgb.shape == (96, 128, 3)
        notes.append(photo.metadata.get("note", ""))
    assert "damaged metadata ignored" in notes[1]
    assert "EXIF orientation 9 is not 1-8" in notes[2]
    assert capfd.readouterr().err == ""  # Pillow's warnings became notes


# --- limits, from the header, before decoding --------------------------------------------------


def test_pixel_limit_is_the_one_in_force(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.png", encode("PNG"))
    with use_limits(max_pixels=10_000):
        error = _refused(path, "too large", "128x96")
    assert "--max-pixels 12288" in error.hint
    # Raised past the default, a 156 MP header is no longer "too large": decoding it is tried
    # (and this one has no pixels, so it is damaged).
    huge = _write(tmp_path, "huge.png", png_header(13000, 12000))
    _refused(huge, "too large")
    with use_limits(max_pixels=200_000_000):
        _refused(huge, "not a valid PNG image")


def test_decoded_bytes_limit_refuses_before_decoding(tmp_path: Path) -> None:
    # 16-bit RGBA: 8 bytes a pixel. The file has no pixel data at all, so the only way to get
    # the limit's message rather than a decoding error is to refuse before decoding.
    path = _write(tmp_path, "deep.png", png_header(4000, 3000, bit_depth=16, colour=6, rows=2))
    with use_limits(max_decoded_bytes=50_000_000):
        error = _refused(path, "96,000,000 bytes once decoded", "4 x 16-bit", "limit is 50,000,000")
    assert "--max-decoded-bytes 96000000" in error.hint
    _refused(path, "truncated", "64,002 of the 96,003,000 bytes")  # under the default limit


def test_16bit_colour_decodes_in_memory_proportional_to_its_pixels(tmp_path: Path) -> None:
    # The 437 KB PNG that took 7 GB: 16-bit colour went through four float64 copies of every
    # sample (13x its decoded size). Now the OpenCV array, the uint8 result and small blocks.
    height, width = 900, 1200
    path = _write(tmp_path, "deep.png", png16(3, height, width))
    decoded = height * width * 3 * 2
    tracemalloc.start()
    try:
        photo = read_photo(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert photo.rgb.shape == (height, width, 3)
    assert peak < 2.2 * decoded, f"peak {peak / decoded:.1f}x the decoded size"
