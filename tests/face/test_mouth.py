"""The mouth's inside: the driver's mapped onto the lips' outline, or drawn in the portrait's
colours; drawn from the first opening past the portrait's own."""

from __future__ import annotations

import numpy as np
import pytest

from tests.face.test_animate import animator
from unflat.face.animate import _set_mouth
from unflat.face.mouth import (
    _SHADOW_GAMMA,
    _drawn,
    _driver_inside,
    _in_shadow,
    mouth_interior,
    skin_colour,
)
from unflat.face_mesh import INNER_LIP, OUTER_LIP


def _ellipse(centre: tuple[float, float], axes: tuple[float, float], count: int) -> np.ndarray:
    """An outline like the mesh's lip contours: from one corner along the top, back below."""
    angle = np.linspace(0, 2 * np.pi, count, endpoint=False)
    return np.stack([centre[0] + axes[0] * np.cos(angle), centre[1] - axes[1] * np.sin(angle)], 1)


def test_the_driver_s_inside_fills_the_portrait_s_inside_not_its_lips() -> None:
    # the driver: a dark inside (value 20) in an ellipse, red lips (200) all round it
    driver = np.full((120, 160, 3), 200, np.uint8)
    yy, xx = np.mgrid[:120, :160]
    inside = ((xx - 80) / 30.0) ** 2 + ((yy - 60) / 10.0) ** 2 <= 1.0
    driver[inside] = 20
    contour = _ellipse((80, 60), (30, 10), 20)
    # the portrait's mouth: wider, taller, elsewhere in its box
    target = _ellipse((50, 40), (40, 20), 20)
    mapped = _driver_inside(driver, contour, target, (80, 100))
    assert mapped is not None
    ty, tx = np.mgrid[:80, :100]
    deep = ((tx - 50) / 40.0) ** 2 + ((ty - 40) / 20.0) ** 2 <= 0.8**2
    assert mapped[deep].max() < 25  # only the inside, even in the corners
    # just past the outline the driver's lips show, so the feathered edge blends into lips
    rim = (((tx - 50) / 40.0) ** 2 + ((ty - 40) / 20.0) ** 2 >= 1.15**2) & (
        ((tx - 50) / 40.0) ** 2 + ((ty - 40) / 20.0) ** 2 <= 1.25**2
    )
    assert mapped[rim].mean() > 180


def test_a_closed_driver_mouth_lends_no_inside() -> None:
    flat = _ellipse((80, 60), (30, 0.2), 20)
    assert _driver_inside(np.zeros((120, 160, 3), np.uint8), flat, flat, (120, 160)) is None


def test_drawn_teeth_take_the_portrait_s_light_and_no_lip_tint() -> None:
    lip = _ellipse((60, 40), (40, 18), 20)
    grey_skin = np.array([100.0, 100.0, 100.0])
    lips = np.array([160.0, 70.0, 70.0])
    drawn = _drawn(lip, (80, 120), lips, grey_skin)
    teeth = drawn[24:27, 58:63].mean((0, 1))  # just under the upper lip, mid-mouth
    assert np.ptp(teeth) < 12  # neutral under a neutral light, whatever the lips' colour
    assert teeth.mean() > 2.5 * drawn[40, 60].mean()  # lighter than the cavity
    dim = _drawn(lip, (80, 120), lips, 0.5 * grey_skin)[24:27, 58:63].mean()
    assert dim < 0.6 * teeth.mean()  # a darker portrait, darker teeth


def test_driver_inside_is_relit_by_the_skin_ratio() -> None:
    # a driver lit twice as brightly as the portrait gives an inside half as bright
    rng = np.random.default_rng(0)
    skin = np.array([120.0, 100.0, 80.0])
    landmarks = np.zeros((478, 2))
    landmarks[list(OUTER_LIP)] = _ellipse((80, 60), (36, 16), 20)
    landmarks[list(INNER_LIP)] = _ellipse((80, 60), (30, 10), 20)
    driver = np.clip(2 * skin + rng.normal(0, 1, (120, 160, 3)), 0, 255).astype(np.uint8)
    driver_skin = skin_colour(driver, landmarks)
    assert np.allclose(driver_skin, 2 * skin, atol=1)
    frame = np.zeros((120, 160, 3), np.float32)
    interior, mask, _ = mouth_interior(
        frame, landmarks[list(INNER_LIP)], None, driver, landmarks, skin
    )
    centre = interior[interior.shape[0] // 2, interior.shape[1] // 2]
    # relit to the portrait's skin: as bright as the skin, so the lips' shadow leaves it be
    assert np.allclose(centre, skin, rtol=0.03)
    assert mask.max() == 1.0


def test_the_shadow_deepens_what_is_darker_than_the_skin_and_keeps_the_teeth() -> None:
    skin = np.full(3, 100.0)
    teeth, at_skin, cavity = (_in_shadow(np.full((1, 3), v), skin)[0, 0] for v in (250, 100, 50))
    assert teeth == pytest.approx(250.0)  # lighter than the skin: kept, so teeth still show
    assert at_skin == pytest.approx(100.0)
    # half the skin's brightness becomes 0.5^1.6 of it: 33.0
    assert cavity == pytest.approx(100 * 0.5**_SHADOW_GAMMA, rel=1e-3)
    # a dark painting's teeth stay lighter than its skin (an absolute gamma made them darker)
    dark_skin = np.array([150.0, 117.0, 68.0])
    assert (_in_shadow(1.3 * dark_skin[None, None], dark_skin)[0, 0] > dark_skin).all()


def test_an_inside_shows_from_the_first_opening_past_the_portrait_s_own() -> None:
    a = animator()
    p = a.primary
    centre_pose, source_centre = a._centres
    for opening in (0.04, 0.08):
        canonical = _set_mouth(p.canonical.copy(), a._closed_lips + opening)
        target = (
            p.pose.scale * (canonical - centre_pose) @ p.pose.rotation.T + source_centre
        ).astype(np.float32)
        frame = a.render(target).astype(np.float32)
        middle = target[[13, 14], :2].mean(0).round().astype(int)
        inside = frame[middle[1], middle[0] - 1 : middle[0] + 2].mean()
        lips = a._lips[0].mean()
        assert inside < 0.6 * lips, opening  # a dark gap, not the stretched lip line
