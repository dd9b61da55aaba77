"""read_photo: every supported kind of file, EXIF orientation and focal length, bad inputs."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from tests.conftest import shared_path
from unflat.errors import InputError, OutputError
from unflat.io.images import MAX_PIXELS, focal_px_from_35mm, read_photo, save_rgb

# 36x24 mm film diagonal, the reference of "35 mm equivalent" focal lengths
FILM_DIAGONAL_MM = 43.266615305567875


def _pattern(height: int = 24, width: int = 32) -> np.ndarray:
    """Four flat quadrants, so each corner has a known, distinct colour."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[: height // 2, : width // 2] = (255, 0, 0)
    rgb[: height // 2, width // 2 :] = (0, 255, 0)
    rgb[height // 2 :, : width // 2] = (0, 0, 255)
    rgb[height // 2 :, width // 2 :] = (255, 255, 255)
    return rgb


def _noise(height: int = 64, width: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


# --- formats and modes -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".webp", ".tif"])
def test_lossless_rgb_formats_are_exact(tmp_path: Path, suffix: str) -> None:
    rgb = _pattern()
    path = tmp_path / f"image{suffix}"
    options = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(rgb).save(path, **options)
    photo = read_photo(path)
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (24, 32, 3)
    np.testing.assert_array_equal(photo.rgb, rgb)
    assert photo.focal_px is None and photo.source == path and "note" not in photo.metadata


def test_jpeg_colours_survive_within_compression_error(tmp_path: Path) -> None:
    path = tmp_path / "image.jpg"
    Image.fromarray(_pattern(64, 64)).save(path, quality=100)
    photo = read_photo(path)
    # corners sit inside flat 32x32 blocks, far from the edges JPEG blurs
    assert np.abs(photo.rgb[4, 4].astype(int) - (255, 0, 0)).max() <= 3
    assert np.abs(photo.rgb[60, 4].astype(int) - (0, 0, 255)).max() <= 3
    assert photo.metadata["format"] == "JPEG"


def test_rgba_drops_alpha_and_keeps_colour_under_it(tmp_path: Path) -> None:
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 100, 200)
    rgba[:10, ..., 3] = 0  # fully transparent top half keeps its stored colour, not white
    rgba[10:, ..., 3] = 255
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    photo = read_photo(path)
    assert photo.rgb.shape == (20, 20, 3)
    assert photo.rgb[0, 0].tolist() == [10, 100, 200]
    assert photo.rgb[19, 19].tolist() == [10, 100, 200]
    assert "alpha" in photo.metadata["note"]


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_greyscale_modes_become_three_equal_channels(tmp_path: Path, mode: str) -> None:
    grey = Image.new("L", (20, 16), 0)
    grey.paste(255, (10, 0, 20, 16))  # right half white
    path = tmp_path / f"grey_{mode}.png"
    grey.convert(mode).save(path)
    photo = read_photo(path)
    assert photo.rgb.shape == (16, 20, 3)
    assert photo.rgb[5, 2].tolist() == [0, 0, 0]
    assert photo.rgb[5, 15].tolist() == [255, 255, 255]


def test_palette_with_transparency_gives_palette_colours(tmp_path: Path) -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([255, 0, 0, 0, 128, 255] + [0] * 762)
    image.paste(1, (0, 10, 20, 20))
    image.info["transparency"] = 0
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    photo = read_photo(path)
    assert photo.rgb[0, 0].tolist() == [255, 0, 0]
    assert photo.rgb[15, 0].tolist() == [0, 128, 255]
    assert "alpha" in photo.metadata["note"]


# 51528 = 257 * 200 + 128: proper scaling gives round(200.498) = 200, whereas keeping the
# high byte (what Pillow does for 16-bit colour) would give 201.
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_is_scaled_not_truncated(tmp_path: Path, suffix: str) -> None:
    rgb16 = np.zeros((20, 24, 3), dtype=np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 65535, 51528, 257
    path = tmp_path / f"wide{suffix}"
    assert cv2.imwrite(str(path), rgb16[..., ::-1])  # OpenCV writes BGR
    photo = read_photo(path)
    assert photo.rgb.dtype == np.uint8
    assert photo.rgb[3, 3].tolist() == [255, 200, 1]


def test_16bit_colour_with_alpha(tmp_path: Path) -> None:
    bgra = np.zeros((20, 20, 4), dtype=np.uint16)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 51528, 1000, 0
    path = tmp_path / "wide_alpha.png"
    assert cv2.imwrite(str(path), bgra)
    photo = read_photo(path)
    assert photo.rgb[0, 0].tolist() == [4, 0, 200]  # 1000 / 257 = 3.89 -> 4
    assert "alpha" in photo.metadata["note"]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_greyscale_is_scaled(tmp_path: Path, suffix: str) -> None:
    grey = np.array([[0, 257, 51528, 65535]], dtype=np.uint16).repeat(16, axis=0).repeat(4, axis=1)
    path = tmp_path / f"grey16{suffix}"
    Image.fromarray(grey).save(path)
    photo = read_photo(path)
    assert photo.rgb[0, ::4, 0].tolist() == [0, 1, 200, 255]
    assert (photo.rgb[..., 0] == photo.rgb[..., 2]).all()


def test_cmyk_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.tif"
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(path)  # no cyan, full magenta+yellow
    photo = read_photo(path)
    assert photo.rgb[0, 0].tolist() == [255, 0, 0]
    assert "CMYK" in photo.metadata["note"]


def test_heic_reads_with_its_colour(tmp_path: Path) -> None:
    path = tmp_path / "photo.heic"
    Image.new("RGB", (64, 48), (200, 60, 20)).save(path, quality=-1)  # lossless
    photo = read_photo(path)
    assert photo.rgb.shape == (48, 64, 3)
    # lossless HEVC still goes through YCbCr, allow a couple of levels
    assert np.abs(photo.rgb[24, 32].astype(int) - (200, 60, 20)).max() <= 3


def test_animated_gif_uses_first_frame_and_says_so(tmp_path: Path) -> None:
    frames = [
        Image.new("RGB", (20, 20), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))
    ]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    photo = read_photo(path)
    assert photo.rgb[10, 10].tolist() == [255, 0, 0]
    assert photo.metadata["note"] == "first of 3 frames used"


def test_multipage_tiff_uses_first_page(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (20, 20), (0, 0, 255)), Image.new("RGB", (20, 20), (255, 255, 0))]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    photo = read_photo(path)
    assert photo.rgb[0, 0].tolist() == [0, 0, 255]
    assert "first of 2 frames" in photo.metadata["note"]


# --- EXIF ----------------------------------------------------------------------------------------


def _save_with_exif(path: Path, rgb: np.ndarray, orientation: int | None = None, focal=None):
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if focal is not None:
        exif[0x8769] = {0xA405: focal}  # FocalLengthIn35mmFilm in the Exif IFD
    Image.fromarray(rgb).save(path, exif=exif.tobytes())


def test_orientation_6_rotates_clockwise(tmp_path: Path) -> None:
    rgb = np.zeros((20, 40, 3), dtype=np.uint8)  # stored landscape, 40 wide
    rgb[0, 0] = (255, 0, 0)  # stored top-left
    path = tmp_path / "rotated.png"
    _save_with_exif(path, rgb, orientation=6)
    photo = read_photo(path)
    # Orientation 6 = "rotate 90 degrees clockwise to display": portrait, and the stored
    # top-left pixel ends up top-right.
    assert photo.rgb.shape == (40, 20, 3)
    assert photo.metadata["stored_size"] == (40, 20)
    assert photo.rgb[0, 19].tolist() == [255, 0, 0]
    assert photo.rgb[0, 0].tolist() == [0, 0, 0]
    assert photo.metadata["exif_orientation"] == 6


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow_exif_transpose(tmp_path: Path, orientation: int) -> None:
    rgb = _noise(20, 30)
    path = tmp_path / f"o{orientation}.png"
    _save_with_exif(path, rgb, orientation=orientation)
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    np.testing.assert_array_equal(read_photo(path).rgb, expected)


def test_heic_orientation_is_applied_once(tmp_path: Path) -> None:
    rgb = np.zeros((48, 64, 3), dtype=np.uint8)
    rgb[:, :32] = 255
    path = tmp_path / "rotated.heic"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(path, exif=exif.tobytes(), quality=-1)
    photo = read_photo(path)
    assert photo.rgb.shape == (64, 48, 3)  # rotated once, not twice (which would be 48x64)
    assert photo.rgb[5, 24].min() >= 250  # the white left half is now the top half
    assert photo.rgb[60, 24].max() <= 5


def test_exif_focal_35mm_gives_diagonal_based_focal_px(tmp_path: Path) -> None:
    path = tmp_path / "focal.jpg"
    _save_with_exif(path, np.full((300, 400, 3), 128, np.uint8), focal=26)
    photo = read_photo(path)
    # diagonal of 400x300 = 500 px; 26 mm / 43.2666 mm * 500 px = 300.4626 px
    assert photo.focal_px == pytest.approx(300.4626, abs=1e-3)
    assert photo.metadata["focal_35mm"] == 26
    assert focal_px_from_35mm(26, 400, 300) == pytest.approx(26 * 500 / FILM_DIAGONAL_MM)


def test_exif_focal_is_unchanged_by_rotation(tmp_path: Path) -> None:
    path = tmp_path / "focal_rotated.jpg"
    _save_with_exif(path, np.full((300, 400, 3), 128, np.uint8), orientation=6, focal=26)
    photo = read_photo(path)
    assert photo.rgb.shape == (400, 300, 3)
    assert photo.focal_px == pytest.approx(300.4626, abs=1e-3)


@pytest.mark.parametrize("focal", [0, 1, 65535])
def test_nonsense_exif_focal_is_ignored(tmp_path: Path, focal: int) -> None:
    path = tmp_path / "bad_focal.jpg"
    _save_with_exif(path, np.full((32, 32, 3), 128, np.uint8), focal=focal)
    assert read_photo(path).focal_px is None


# --- bad inputs ----------------------------------------------------------------------------------


def _assert_input_error(path: Path, *words: str) -> InputError:
    with pytest.raises(InputError) as caught:
        read_photo(path)
    message = str(caught.value).lower()
    for word in words:
        assert word in message, message
    assert caught.value.hint, "every input error needs a fix hint"
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    _assert_input_error(tmp_path / "nope.jpg", "does not exist")


def test_directory(tmp_path: Path) -> None:
    _assert_input_error(tmp_path, "is a folder")


def test_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    _assert_input_error(path, "empty")


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are my holiday notes, not a picture\n" * 10)
    _assert_input_error(path, "not an image")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # importing unflat must not relax Pillow
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(_noise(128, 128)).save(whole)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    error = _assert_input_error(cut, "is not a valid", "truncated")
    assert "damaged or incomplete" in error.hint


@pytest.mark.parametrize("size", [(1, 1), (15, 100), (100, 15)])
def test_too_small(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "tiny.png"
    Image.new("RGB", size).save(path)
    _assert_input_error(path, "too small", f"{size[0]}x{size[1]}")


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares a size but holds no pixel data: any attempt to decode would fail."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    "size",
    [(13000, 12000), (20000, 20000)],  # over MAX_PIXELS; the second also trips Pillow's limit
)
def test_huge_image_is_refused_from_its_header(tmp_path: Path, size: tuple[int, int]) -> None:
    assert size[0] * size[1] > MAX_PIXELS
    path = tmp_path / "huge.png"
    _png_header_only(path, *size)
    start = time.perf_counter()
    error = _assert_input_error(path, "too large", "150 megapixels")
    assert "downscale" in error.hint
    assert time.perf_counter() - start < 1.0  # refused before decoding or allocating


# --- save_rgb and real data --------------------------------------------------------------------


def test_save_rgb_round_trip(tmp_path: Path) -> None:
    rgb = _noise(20, 30)
    path = save_rgb(tmp_path / "out" / "copy.png", rgb)
    np.testing.assert_array_equal(read_photo(path).rgb, rgb)
    assert sorted(p.name for p in path.parent.iterdir()) == ["copy.png"]
    with pytest.raises(OutputError, match="cannot write an image"):
        save_rgb(tmp_path / "out" / "copy.xyz", rgb)
    assert sorted(p.name for p in path.parent.iterdir()) == ["copy.png"]


@pytest.mark.parametrize(
    ("relative", "shape"),
    [
        ("data/photos/david-kohler-VFRTXGw1VjU-unsplash.jpg", (875, 1200, 3)),
        ("data/photos/jonathan-borba-CnthDZXCdoY-unsplash.jpg", (1200, 800, 3)),
        ("data/depth/nyu/rgb/rgb_00000.jpg", (480, 640, 3)),
    ],
)
def test_real_photos_load(relative: str, shape: tuple[int, int, int]) -> None:
    path = shared_path(relative)
    photo = read_photo(path)
    assert photo.rgb.shape == shape and photo.rgb.dtype == np.uint8
    with Image.open(path) as image:
        np.testing.assert_array_equal(photo.rgb, np.asarray(image.convert("RGB")))
    assert 10 < photo.rgb.mean() < 245  # a real picture, not a blank decode
