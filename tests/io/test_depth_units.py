"""read_depth's units: given, or guessed from the values (millimetres, metres) and refused when
the map is disparity or inverse depth; every guess says what it assumed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.errors import ConfigError, InputError
from unflat.io.depth_files import parse_depth_units, read_depth, read_pfm, save_depth_png16


def room(seed: int, height: int = 240, width: int = 320, noise: float = 0.0) -> np.ndarray:
    """Metric depth of a made-up room: floor, walls, tilted panels and balls, at a random scale
    (a table top to a street) and focal length; ``noise`` is relative, per pixel."""
    rng = np.random.default_rng(seed)
    focal = width * rng.uniform(0.6, 1.4)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack(
        [
            (columns + 0.5 - width / 2) / focal,
            (rows + 0.5 - height / 2) / focal,
            np.ones_like(rows),
        ],
        axis=-1,
    )
    scale = rng.uniform(0.5, 20.0)
    depth = np.full((height, width), scale * 50.0)  # far away where nothing is hit

    def hit(distance: np.ndarray, where: np.ndarray | bool = True) -> None:
        keep = where & np.isfinite(distance) & (distance > 0)
        np.minimum(depth, np.where(keep, distance, np.inf), out=depth)

    def plane(normal: np.ndarray, point: np.ndarray, radius: float = np.inf) -> None:
        normal = normal / np.linalg.norm(normal)
        with np.errstate(divide="ignore", invalid="ignore"):
            distance = (normal @ point) / (rays @ normal)
        near = np.linalg.norm(rays * distance[..., None] - point, axis=-1) < radius
        hit(distance, near)

    plane(np.array([0.0, 1.0, 0.0]), np.array([0.0, scale * rng.uniform(0.3, 1.0), 0.0]))
    plane(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, scale * rng.uniform(2.0, 6.0)]))
    for _ in range(rng.integers(0, 5)):
        centre = np.array([rng.uniform(-1, 1), rng.uniform(-0.6, 0.6), 1.0])
        normal = np.array([rng.normal(), rng.normal(), -abs(rng.normal()) - 0.2])
        plane(normal, centre * scale * rng.uniform(0.8, 3.0), scale * rng.uniform(0.2, 0.8))
    for _ in range(rng.integers(0, 4)):
        centre = np.array([rng.uniform(-1, 1), rng.uniform(-0.5, 0.5), 1.0]) * scale * 2.0
        radius = scale * rng.uniform(0.1, 0.5)
        along = rays @ centre
        squared = (rays * rays).sum(-1)
        disc = along**2 - squared * (centre @ centre - radius**2)
        with np.errstate(invalid="ignore"):
            hit((along - np.sqrt(disc)) / squared, disc > 0)
    if noise:
        depth *= 1.0 + noise * rng.standard_normal(depth.shape)
    return depth.astype(np.float32)


def _save(tmp_path: Path, name: str, array: np.ndarray) -> Path:
    path = tmp_path / name
    np.save(path, array)
    return path


# --- guessed units ------------------------------------------------------------------------------


def test_metres_are_read_as_metres_and_said(tmp_path: Path) -> None:
    depth = room(1)
    read = read_depth(_save(tmp_path, "d.npy", depth))
    assert read.units == "metres"
    np.testing.assert_array_equal(read.metres, depth)
    assert read.assumed.startswith("depth read as metres (floating-point values, median ")


def test_millimetre_png_is_read_as_millimetres(tmp_path: Path) -> None:
    depth = room(2)
    path = save_depth_png16(tmp_path / "d.png", depth)
    read = read_depth(path)
    assert read.units == "millimetres" and "16-bit whole numbers" in read.assumed
    near = depth < 65.0
    np.testing.assert_allclose(read.metres[near], depth[near], atol=0.0005 + 1e-6)


@pytest.mark.parametrize("offset", [0.0, 0.3])
def test_millimetres_as_floats_are_read_as_millimetres(tmp_path: Path, offset: float) -> None:
    # Whole numbers (a sensor's values saved as floats), or a median past a kilometre.
    depth = room(3) * 0.5 + 2.5  # a scene from 2.5 m: over 1000 when in millimetres
    stored = np.round(depth * 1000.0) + offset
    read = read_depth(_save(tmp_path, "d.npy", stored.astype(np.float32)))
    assert read.units == "millimetres"
    assert ("whole numbers" if offset == 0 else "too far for metres") in read.assumed
    np.testing.assert_allclose(read.metres, stored / 1000.0, rtol=1e-6)


def test_far_metres_are_kept_but_the_guess_is_flagged(tmp_path: Path) -> None:
    landscape = (room(4) / np.median(room(4)) * 400.0).astype(np.float32) + 0.25
    read = read_depth(_save(tmp_path, "d.npy", landscape))
    assert read.units == "metres" and "--depth-units mm" in read.assumed


def test_implausible_guess_is_refused_with_the_option(tmp_path: Path) -> None:
    path = tmp_path / "d.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(1, 6, (40, 50)).astype(np.uint16))
    with pytest.raises(InputError, match=r"median depth would be 0\.00\d m") as caught:
        read_depth(path)
    assert "--depth-units" in caught.value.hint
    assert read_depth(path, "m").units == "metres"


# --- disparity and inverse depth ----------------------------------------------------------------


def test_disparity_is_refused_not_read_as_metres(tmp_path: Path) -> None:
    disparity = 700.0 * 0.12 / room(5)  # focal 700 px, baseline 12 cm: 1-60 "metres"
    path = _save(tmp_path, "disparity.npy", disparity)
    with pytest.raises(InputError, match="looks like disparity or inverse depth") as caught:
        read_depth(path)
    assert "focal_px x baseline_m / d" in caught.value.hint
    assert "--depth-units inverse" in caught.value.hint
    forced = read_depth(path, "m")  # the user's word is final
    assert forced.units == "metres" and forced.assumed == ""


def test_inverse_depth_is_read_when_named(tmp_path: Path) -> None:
    depth = room(1)
    path = _save(tmp_path, "inverse.npy", (1.0 / depth).astype(np.float32))
    with pytest.raises(InputError, match="disparity or inverse depth"):
        read_depth(path)
    read = read_depth(path, "inverse")
    assert read.units == "inverse metres"
    np.testing.assert_allclose(read.metres, depth, rtol=1e-5)


def test_the_rule_holds_over_many_scenes() -> None:
    # General, not tuned to one file: over random rooms at several scales and noise levels,
    # depth is never taken for disparity, and noise-free disparity is nearly always caught.
    from unflat.io.depth_files import _surface_votes

    caught = 0
    for seed in range(12):
        for noise in (0.0, 0.003, 0.01):
            depth = room(100 + seed, noise=noise)
            depth_votes, disparity_votes = _surface_votes(depth)
            assert not (disparity_votes >= 30 and disparity_votes >= 4 * depth_votes), seed
            inverse_votes, straight_votes = _surface_votes(1.0 / depth)
            assert not (inverse_votes >= 30 and inverse_votes >= 4 * straight_votes), seed
            if noise == 0.0:
                caught += straight_votes >= 30 and straight_votes >= 4 * inverse_votes
    assert caught >= 9


@pytest.mark.parametrize("scene", ["Adirondack", "Jadeplant", "Motorcycle", "Piano"])
def test_middlebury_disparity_is_caught_and_its_depth_is_not(tmp_path: Path, scene: str) -> None:
    # The newcomer's case: a disparity map read as a scene 20-55 m deep instead of 1-2 m.
    folder = shared_path("data", "depth", "middlebury", scene)
    with pytest.raises(InputError, match="looks like disparity"):
        read_depth(folder / "disp0GT.pfm")
    calib = dict(
        line.strip().split("=", 1) for line in (folder / "calib.txt").read_text().splitlines()
    )
    focal = float(calib["cam0"].strip("[ ").split()[0])
    disparity = read_pfm(folder / "disp0GT.pfm")
    metres = float(calib["baseline"]) * focal / (disparity + float(calib["doffs"])) / 1000.0
    read = read_depth(_save(tmp_path, "depth.npy", metres.astype(np.float32)))
    assert read.units == "metres"
    assert 0.5 < float(np.nanmedian(read.metres)) < 5.0


def test_nyu_depth_png_is_millimetres() -> None:
    path = shared_path("data", "depth", "nyu", "depth", "sync_depth_00000.png")
    read = read_depth(path)
    assert read.units == "millimetres" and 0.3 < float(np.nanmedian(read.metres)) < 10.0


# --- given units --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "units", "factor"),
    [("mm", "millimetres", 1e-3), ("cm", "centimetres", 1e-2), (256, "1/256 m", 1 / 256)],
)
def test_given_units_are_applied(tmp_path: Path, given, units: str, factor: float) -> None:
    stored = np.full((20, 30), 512.0, np.float32)
    read = read_depth(_save(tmp_path, "d.npy", stored), given)
    assert read.units == units and read.assumed == ""
    np.testing.assert_allclose(read.metres, 512.0 * factor, rtol=1e-6)


@pytest.mark.parametrize("text", ["furlongs", "-1", "0", "nan", "inf", ""])
def test_unknown_units_are_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="unknown depth units"):
        parse_depth_units(text)
    assert parse_depth_units(" MM ") == 1000.0 and parse_depth_units("256") == 256.0
