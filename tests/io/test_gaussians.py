"""Gaussian splat files: round trips, SHARP's PLY, axes, colours and bad inputs."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import shared_path
from unflat.colour import SH_C0, linear_to_srgb, srgb_to_linear
from unflat.errors import InputError, OutputError
from unflat.io.gaussians import (
    load_gaussians,
    load_ply,
    load_ply_with_metadata,
    load_splat,
    load_spz,
    save_gaussians,
    save_ply,
    save_splat,
    save_spz,
)
from unflat.types import Gaussians


def random_scene(count: int = 300, seed: int = 0) -> Gaussians:
    generator = torch.Generator().manual_seed(seed)

    def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator)

    quats = torch.randn(count, 4, generator=generator)
    return Gaussians(
        means=uniform(count, 3, low=-3.0, high=3.0),
        scales=torch.exp(uniform(count, 3, low=-6.0, high=-1.0)),
        quats=quats / quats.norm(dim=1, keepdim=True),
        colors=uniform(count, 3),
        opacities=uniform(count, low=0.05, high=0.95),
    )


def covariances(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    w, x, y, z = (quats / quats.norm(dim=1, keepdim=True)).double().unbind(1)
    rotation = torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], 1),
            torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], 1),
            torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1),
        ],
        1,
    )
    return rotation @ torch.diag_embed(scales.double() ** 2) @ rotation.transpose(1, 2)


def relative_covariance_error(a: Gaussians, b: Gaussians) -> float:
    first, second = covariances(a.quats, a.scales), covariances(b.quats, b.scales)
    return float(((first - second).norm(dim=(1, 2)) / second.norm(dim=(1, 2))).max())


def select(gaussians: Gaussians, index: torch.Tensor) -> Gaussians:
    fields = Gaussians.__dataclass_fields__
    return Gaussians(*(getattr(gaussians, name)[index] for name in fields))


def sort_like(loaded: Gaussians, original: Gaussians) -> Gaussians:
    """Reorder ``loaded`` to match ``original`` by nearest means (.splat reorders)."""
    return select(loaded, torch.cdist(original.means.double(), loaded.means.double()).argmin(1))


def test_ply_round_trip_is_float_exact(tmp_path: Path) -> None:
    scene = random_scene()
    for layout in ("3dgs", "sharp"):
        path = save_ply(tmp_path / f"{layout}.ply", scene, layout=layout, sh_degree=1)
        loaded = load_ply(path)
        torch.testing.assert_close(loaded.means, scene.means, atol=1e-6, rtol=0)
        torch.testing.assert_close(loaded.colors, scene.colors, atol=1e-5, rtol=0)
        torch.testing.assert_close(loaded.opacities, scene.opacities, atol=1e-6, rtol=0)
        torch.testing.assert_close(loaded.scales, scene.scales, rtol=1e-5, atol=0)
        assert relative_covariance_error(loaded, scene) < 1e-5


def test_3dgs_ply_has_normals_and_sh_rest(tmp_path: Path) -> None:
    path = save_ply(tmp_path / "scene.ply", random_scene(5), sh_degree=3)
    header = path.read_bytes().split(b"end_header")[0].decode()
    assert "property float nx" in header and "property float f_rest_44" in header
    assert "f_rest_45" not in header and "element vertex 5" in header


def test_splat_round_trip_within_quantisation(tmp_path: Path) -> None:
    scene = random_scene()
    loaded = sort_like(load_splat(save_splat(tmp_path / "scene.splat", scene)), scene)
    torch.testing.assert_close(loaded.means, scene.means, atol=1e-6, rtol=0)
    torch.testing.assert_close(loaded.scales, scene.scales, rtol=1e-6, atol=0)
    # One 8-bit sRGB step is at most 1/255 * d(linear)/d(srgb) <= 2.4/255 near white.
    srgb = linear_to_srgb(loaded.colors.numpy())
    np.testing.assert_allclose(srgb, linear_to_srgb(scene.colors.numpy()), atol=0.5 / 255 + 1e-6)
    torch.testing.assert_close(loaded.opacities, scene.opacities, atol=0.5 / 255 + 1e-6, rtol=0)
    # Rotation bytes are steps of 1/128 per component: a few per cent of covariance at worst.
    assert relative_covariance_error(loaded, scene) < 0.1


def test_splat_is_sorted_by_size_times_opacity(tmp_path: Path) -> None:
    scene = random_scene(50)
    loaded = load_splat(save_splat(tmp_path / "scene.splat", scene))
    assert (tmp_path / "scene.splat").stat().st_size == 50 * 32
    importance = loaded.scales.prod(dim=1) * loaded.opacities
    # sorted before opacity is quantised: allow its 0.5/255 step on opacities >= 0.05
    assert bool((importance[:-1] >= importance[1:] * 0.92).all())
    assert importance[0] == importance.max()


def test_spz_round_trip_within_quantisation(tmp_path: Path) -> None:
    scene = random_scene()
    loaded = load_spz(save_spz(tmp_path / "scene.spz", scene, sh_degree=2))
    torch.testing.assert_close(loaded.means, scene.means, atol=0.5 / 4096 + 1e-6, rtol=0)
    # log scales in 1/16 steps: a relative error of at most exp(1/32) - 1.
    torch.testing.assert_close(loaded.scales, scene.scales, rtol=np.exp(1 / 32) - 1, atol=0)
    torch.testing.assert_close(loaded.opacities, scene.opacities, atol=0.5 / 255 + 1e-6, rtol=0)
    # colour bytes are 1/(0.15*255) steps of the DC coefficient, i.e. C0/(0.15*255) of sRGB.
    step = SH_C0 / (0.15 * 255)
    np.testing.assert_allclose(
        linear_to_srgb(loaded.colors.numpy()),
        linear_to_srgb(scene.colors.numpy()),
        atol=0.5 * step + 1e-6,
    )
    # Version 2 keeps x, y, z in 1/127.5 steps (w >= 0) and rebuilds w, which amplifies the
    # rounding when w is near 0: check the stored part, and covariances where w is not tiny.
    positive = torch.where(scene.quats[:, :1] < 0, -scene.quats, scene.quats)
    assert (loaded.quats[:, 1:] - positive[:, 1:]).abs().max() <= 0.6 / 127.5
    keep = positive[:, 0] > 0.3
    assert relative_covariance_error(select(loaded, keep), select(scene, keep)) < 0.1


def test_spz_header_and_rub_axes(tmp_path: Path) -> None:
    scene = random_scene(3)
    scene.means[0] = torch.tensor([1.0, 2.0, 3.0])
    data = gzip.decompress(save_spz(tmp_path / "scene.spz", scene).read_bytes())
    magic, version, count, degree, bits, flags, _ = struct.unpack_from("<IIIBBBB", data)
    assert (magic, version, count, degree, bits, flags) == (0x5053474E, 2, 3, 0, 12, 0)
    # spz stores RUB: the OpenCV point (1, 2, 3) is (1, -2, -3) on disk.
    fixed = [int.from_bytes(data[16 + 3 * i : 19 + 3 * i], "little", signed=True) for i in range(3)]
    assert fixed == [4096, -2 * 4096, -3 * 4096]


def test_spz_version_3_smallest_three_rotations(tmp_path: Path) -> None:
    # Hand-packed v3 Gaussian: identity rotation, largest component w (index 3 in x,y,z,w).
    header = struct.pack("<IIIBBBB", 0x5053474E, 3, 1, 0, 12, 0, 0)
    position = (4096).to_bytes(3, "little", signed=True) + bytes(6)
    body = position + bytes([255]) + bytes([128, 128, 128]) + bytes([160, 160, 160])
    body += (3 << 30).to_bytes(4, "little")
    path = tmp_path / "v3.spz"
    path.write_bytes(gzip.compress(header + body))
    loaded = load_spz(path)
    torch.testing.assert_close(loaded.quats, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(loaded.means, torch.tensor([[1.0, 0.0, 0.0]]))
    torch.testing.assert_close(loaded.scales, torch.full((1, 3), float(np.exp(0.0))))


def test_sharp_fixture_ply_matches_reference() -> None:
    from safetensors.torch import load_file

    directory = shared_path("fixtures", "sharp_tiny_a")
    reference = load_file(directory / "io.safetensors")
    loaded, metadata = load_ply_with_metadata(directory / "gaussians_subset.ply")
    expected = Gaussians(
        means=reference["mean_vectors"][0],
        scales=reference["singular_values"][0],
        quats=reference["quaternions"][0],
        colors=reference["colors"][0],
        opacities=reference["opacities"][0],
    )
    assert (loaded.means - expected.means).abs().max() <= 1e-3
    assert relative_covariance_error(loaded, expected) <= 1e-2
    assert (loaded.colors - expected.colors).abs().max() <= 1e-3
    assert (loaded.opacities - expected.opacities).abs().max() <= 1e-4
    assert metadata["layout"] == "sharp" and metadata["color_space"] == "srgb"
    assert metadata["image_size"].tolist() == [512, 384]
    assert metadata["intrinsic"][0, 0] == 500.0


def test_sharp_layout_matches_the_reference_writer(tmp_path: Path) -> None:
    source = shared_path("fixtures", "sharp_tiny_a", "gaussians_subset.ply")
    scene = load_ply(source)
    path = save_ply(
        tmp_path / "sharp.ply", scene, layout="sharp", focal_px=500, image_size=(512, 384)
    )
    ours, theirs = path.read_bytes(), source.read_bytes()
    strip = [line for line in ours.split(b"end_header")[0].split(b"\n") if b"comment" not in line]
    assert b"\n".join(strip) == theirs.split(b"end_header")[0]
    body_ours = np.frombuffer(ours.split(b"end_header\n", 1)[1], dtype=np.uint8)
    body_theirs = np.frombuffer(theirs.split(b"end_header\n", 1)[1], dtype=np.uint8)
    assert body_ours.size == body_theirs.size
    # the camera elements after the Gaussians agree byte for byte
    assert body_ours[4096 * 56 :].tolist() == body_theirs[4096 * 56 :].tolist()


def test_opengl_axes_flip_y_and_z(tmp_path: Path) -> None:
    scene = random_scene(4)
    scene.means[0] = torch.tensor([1.0, 2.0, 3.0])
    path = save_ply(tmp_path / "gl.ply", scene, axes="opengl")
    data = path.read_bytes()
    body = data[data.index(b"end_header\n") + len(b"end_header\n") :]
    first = np.frombuffer(body, dtype="<f4", count=3)
    assert first.tolist() == [1.0, -2.0, -3.0]
    loaded = load_ply(path)  # the header comment tells the loader to flip back
    torch.testing.assert_close(loaded.means, scene.means, atol=1e-6, rtol=0)
    assert relative_covariance_error(loaded, scene) < 1e-5
    # read as OpenCV, the covariance is F Σ F with F = diag(1, -1, -1)
    as_stored = load_ply(path, axes="opencv")
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    expected = flip @ covariances(scene.quats, scene.scales) @ flip
    torch.testing.assert_close(covariances(as_stored.quats, as_stored.scales), expected)
    splat = load_splat(save_splat(tmp_path / "gl.splat", scene, axes="opengl"), axes="opengl")
    torch.testing.assert_close(sort_like(splat, scene).means, scene.means, atol=1e-6, rtol=0)


def test_srgb_and_linear_colours(tmp_path: Path) -> None:
    # linear 0.5 -> sRGB 1.055 * 0.5 ** (1 / 2.4) - 0.055 = 0.735357; low values are linear x 12.92
    np.testing.assert_allclose(
        linear_to_srgb(np.array([0.5, 0.002])), [0.735357, 0.02584], atol=1e-6
    )
    np.testing.assert_allclose(
        srgb_to_linear(linear_to_srgb(np.linspace(0, 1, 11))), np.linspace(0, 1, 11)
    )
    scene = random_scene(1)
    scene.colors[0] = torch.tensor([0.5, 0.0, 1.0])
    for space, shown in (("srgb", 0.735357), ("linear", 0.5)):
        path = save_ply(tmp_path / f"{space}.ply", scene, color_space=space)
        data = path.read_bytes()
        body = data[data.index(b"end_header\n") + len(b"end_header\n") :]
        f_dc = np.frombuffer(body, dtype="<f4", count=9)[6:9]  # after x y z nx ny nz
        assert f_dc[0] == pytest.approx((shown - 0.5) / SH_C0, abs=1e-5)
        assert f_dc[2] == pytest.approx(0.5 / SH_C0, abs=1e-5)
        torch.testing.assert_close(load_ply(path).colors, scene.colors, atol=1e-6, rtol=0)


def test_dispatch_by_suffix(tmp_path: Path) -> None:
    scene = random_scene(20)
    for suffix in (".ply", ".splat", ".SPZ"):
        loaded = load_gaussians(save_gaussians(tmp_path / f"scene{suffix}", scene))
        assert len(loaded) == 20
    with pytest.raises(InputError, match="unknown Gaussian splat suffix"):
        load_gaussians(tmp_path / "scene.obj")
    with pytest.raises(OutputError, match="unknown Gaussian splat suffix"):
        save_gaussians(tmp_path / "scene.obj", scene)


def test_point_cloud_ply_is_not_a_splat(tmp_path: Path) -> None:
    path = tmp_path / "points.ply"
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 1\n"
    header += "property float x\nproperty float y\nproperty float z\nend_header\n"
    path.write_bytes(header.encode() + np.zeros(3, "<f4").tobytes())
    with pytest.raises(InputError, match="not a Gaussian splat file"):
        load_gaussians(path)


def test_truncated_files_are_refused(tmp_path: Path) -> None:
    scene = random_scene(10)
    for name in ("scene.ply", "scene.splat", "scene.spz"):
        data = save_gaussians(tmp_path / name, scene).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(data[: len(data) - 7])
        with pytest.raises(InputError):
            load_gaussians(cut)
    with pytest.raises(InputError, match="does not exist"):
        load_gaussians(tmp_path / "missing.ply")
    (tmp_path / "garbage.spz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"not a valid \.spz file"):
        load_gaussians(tmp_path / "garbage.spz")


def test_non_finite_values_are_refused_with_a_count(tmp_path: Path) -> None:
    scene = random_scene(10)
    path = save_ply(tmp_path / "scene.ply", scene)
    data = bytearray(path.read_bytes())
    start = data.index(b"end_header\n") + len(b"end_header\n")
    stride = 17 * 4  # x y z nx ny nz f_dc*3 opacity scale*3 rot*4
    for row in (1, 4):
        data[start + row * stride : start + row * stride + 4] = np.float32(np.nan).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="2 of 10 Gaussians with NaN or infinite"):
        load_ply(path)
    scene.scales[3, 0] = float("inf")
    with pytest.raises(OutputError, match="1 of 10 Gaussians have NaN or infinite"):
        save_splat(tmp_path / "bad.splat", scene)
    assert not (tmp_path / "bad.splat").exists()


def test_empty_scenes_are_refused(tmp_path: Path) -> None:
    empty = Gaussians(
        torch.zeros(0, 3), torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, 3), torch.zeros(0)
    )
    for name in ("scene.ply", "scene.splat", "scene.spz"):
        with pytest.raises(OutputError, match="no Gaussians"):
            save_gaussians(tmp_path / name, empty)
    (tmp_path / "empty.splat").write_bytes(b"")
    with pytest.raises(InputError, match="no Gaussians"):
        load_gaussians(tmp_path / "empty.splat")
