"""Apple spatial photos: written, read back by libheif (pillow-heif) and by our reader, with
the stereo group, baseline and intrinsics as written, and Apple's own byte layout."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import numpy as np
import pillow_heif
import pytest

from unflat.errors import ConfigError, InputError, OutputError
from unflat.io.isobmff import read_heif_layout
from unflat.io.spatial_photo import (
    DISPARITY_UUID,
    EXTRINSICS_UUID,
    INTRINSICS_UUID,
    SpatialPhoto,
    _extrinsics,
    _intrinsics,
    read_spatial_photo,
    spatial_photo_bytes,
    write_spatial_photo,
)


def _views(width: int = 96, height: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A left view that is red on the left half, a right view that is blue everywhere: the
    two cannot be mistaken for each other after lossy coding."""
    left = np.full((height, width, 3), 200, np.uint8)
    left[:, : width // 2] = (220, 30, 30)
    right = np.zeros((height, width, 3), np.uint8)
    right[:] = (30, 30, 220)
    return left, right


def _photo(width: int = 96, height: int = 64, **changes) -> SpatialPhoto:
    left, right = _views(width, height)
    values = dict(
        left=left, right=right, focal_px=(80.0, 80.0), principal_point=(width / 2, height / 2),
        baseline_m=0.064, disparity_adjustment=0.025,
    )  # fmt: skip
    values.update(changes)
    return SpatialPhoto(**values)


def test_written_photo_reads_back_as_written(tmp_path: Path) -> None:
    path = write_spatial_photo(tmp_path / "pair.heic", _photo())
    back = read_spatial_photo(path)
    assert back.left.shape == back.right.shape == (64, 96, 3)
    # left first: red left half in the left view, blue in the right view
    assert back.left[:, :40, 0].mean() > 180 and back.left[:, :40, 2].mean() < 60
    assert back.right[..., 2].mean() > 180 and back.right[..., 0].mean() < 60
    assert back.baseline_m == pytest.approx(0.064, abs=1e-6)  # stored in micrometres
    assert back.focal_px == pytest.approx((80.0, 80.0), abs=1e-6)
    assert back.principal_point == pytest.approx((48.0, 32.0), abs=1e-6)
    assert back.disparity_adjustment == pytest.approx(0.025)  # stored in 1/10000


def test_the_file_holds_two_images_a_stereo_group_and_the_cameras() -> None:
    data = spatial_photo_bytes(_photo())
    layout = read_heif_layout(data)
    assert layout.primary == 1
    assert [(item.item_type, item.hidden) for item in layout.items.values()] == [
        (b"hvc1", False),
        (b"hvc1", False),
    ]
    (group,) = layout.groups
    assert (group.kind, group.entities) == (b"ster", (1, 2))  # left, then right
    left, right = layout.items[1], layout.items[2]
    # left camera at the origin (no position field), right one 64 000 um along +x
    assert left.property(b"uuid", EXTRINSICS_UUID).payload == bytes(4)
    assert right.property(b"uuid", EXTRINSICS_UUID).payload == struct.pack(">Ii", 1, 64000)
    for item in (left, right):
        assert item.property(b"uuid", DISPARITY_UUID).payload == struct.pack(">i", 250)
        assert item.property(b"uuid", INTRINSICS_UUID) is not None


def test_libheif_decodes_both_views_and_sees_the_cameras() -> None:
    heif = pillow_heif.open_heif(io.BytesIO(spatial_photo_bytes(_photo())))
    assert len(heif) == 2
    assert [image.size for image in heif] == [(96, 64), (96, 64)]
    first, second = (np.asarray(image.to_pillow().convert("RGB")) for image in heif)
    assert first[:, :40, 0].mean() > 180 and second[..., 2].mean() > 180
    camera = heif[0].info.get("heif", {})
    if "camera_intrinsic_matrix" not in camera:
        pytest.skip(f"pillow-heif {pillow_heif.__version__} does not report camera matrices")
    intrinsics = camera["camera_intrinsic_matrix"]
    assert intrinsics["focal_length_x"] == pytest.approx(80.0, abs=1e-6)
    assert intrinsics["principal_point_x"] == pytest.approx(48.0, abs=1e-6)
    assert intrinsics["principal_point_y"] == pytest.approx(32.0, abs=1e-6)
    identity = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert camera["camera_extrinsic_matrix_rot"] == pytest.approx(identity)


def test_libheif_reports_the_stereo_pair_left_first() -> None:
    heif = pillow_heif.open_heif(io.BytesIO(spatial_photo_bytes(_photo())))
    groups = heif[0].info.get("entity_groups")
    if groups is None:
        pytest.skip(f"pillow-heif {pillow_heif.__version__} does not report entity groups")
    assert groups == [{"id": 3, "type": "ster", "entities": [1, 2], "images": [0, 1]}]


def test_metadata_boxes_match_apples_own_capture() -> None:
    """The boxes for the values of a public Vision Pro capture (steren/stereo-img,
    examples/vision-pro.HEIC: 2560x2560, focal 1525.4446 px, baseline 63.774 mm, disparity
    adjustment 0.0293) equal the bytes that capture holds."""
    width = 2560
    focal = 0x2622D86E / 2**30 * width
    image = np.zeros((64, 64, 3), np.uint8)
    photo = SpatialPhoto(image, image, (focal, focal), (1280.0, 1280.0), 0.063774, 0.0293)
    assert _intrinsics(photo, width, width)[24:] == bytes.fromhex(
        "00001e002622d86e2000000020000000"
    )
    assert _extrinsics(0)[24:] == bytes.fromhex("00000000")
    assert _extrinsics(63774)[24:] == bytes.fromhex("000000010000f91e")
    assert struct.pack(">i", round(photo.disparity_adjustment * 1e4)) == bytes.fromhex("00000125")


def test_odd_sizes_repeat_the_last_column_and_row(tmp_path: Path) -> None:
    back = read_spatial_photo(write_spatial_photo(tmp_path / "odd.heic", _photo(99, 65)))
    assert back.left.shape == (66, 100, 3)
    assert back.principal_point == pytest.approx((49.5, 32.5), abs=1e-6)  # not moved


def test_an_anisotropic_camera_keeps_both_focal_lengths(tmp_path: Path) -> None:
    photo = _photo(focal_px=(80.0, 90.0))
    back = read_spatial_photo(write_spatial_photo(tmp_path / "a.heic", photo))
    assert back.focal_px == pytest.approx((80.0, 90.0), abs=1e-6)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"left": np.zeros((32, 96, 3), np.uint8)}, "too small"),
        ({"right": np.zeros((64, 98, 3), np.uint8)}, "differ in size"),
        ({"left": np.zeros((64, 96, 3), np.float32)}, "uint8"),
        ({"baseline_m": 0.0}, "baseline"),
        ({"baseline_m": math.nan}, "baseline"),
        ({"focal_px": (-1.0, 80.0)}, "focal"),
        ({"disparity_adjustment": 1.5}, "outside -1..1"),
    ],
)
def test_unusable_pairs_are_refused_before_writing(tmp_path: Path, changes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        write_spatial_photo(tmp_path / "bad.heic", _photo(**changes))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_photo_is_kept_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "pair.heic"
    target.write_bytes(b"mine")
    with pytest.raises(OutputError, match="already exists"):
        write_spatial_photo(target, _photo(), overwrite=False)
    assert target.read_bytes() == b"mine"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pair.heic"]


def test_a_photo_without_a_stereo_group_is_a_clear_input_error(tmp_path: Path) -> None:
    single = tmp_path / "single.heic"
    pillow_heif.from_bytes(mode="RGB", size=(64, 64), data=bytes(64 * 64 * 3)).save(single)
    with pytest.raises(InputError, match="no stereo pair group"):
        read_spatial_photo(single)
