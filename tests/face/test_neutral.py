"""The driver's rest frame: chosen closed-mouthed, open-eyed, frontal and still; overridable."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from unflat.errors import InputError
from unflat.face.canonical import reference_face
from unflat.face.expressions import jaw_open
from unflat.face.neutral import describe_frame, pick_rest_frame, rest_costs
from unflat.face.track import FrameFace, build_track, describe, parse_neutral
from unflat.face_mesh import EYE_LIDS, lip_gap
from unflat.geometry.rotations import euler_to_rotation
from unflat.pipelines.animate import rest_frame_note

FPS = 25.0


@lru_cache(maxsize=1)
def _gaps() -> tuple[np.ndarray, np.ndarray]:
    """Jaw amounts and the lip gaps they make on the canonical face (rising)."""
    amounts = np.linspace(-0.3, 1.0, 131)
    return amounts, lip_gap(reference_face() + jaw_open(amounts))


def face(gap: float, *, blink: bool = False, yaw: float = 0.0) -> np.ndarray:
    """The canonical face in pixels with its lips ``gap`` eye-corner distances apart, its eyes
    closed or open, its head turned by ``yaw`` degrees."""
    amounts, gaps = _gaps()
    points = (reference_face() + jaw_open(float(np.interp(gap, gaps, amounts)))).astype(float)
    if blink:
        for lids in EYE_LIDS:
            for upper, lower in lids:
                points[upper] = points[lower]
    points = points @ euler_to_rotation(0.0, yaw, 0.0).T
    return (points * 12 + [320, 240, 0]).astype(np.float32)


def clip(segments: list[tuple[int, dict]]) -> np.ndarray:
    """Landmarks ``[T,478,3]`` from (frames, face options) segments."""
    return np.stack([face(**options) for count, options in segments for _ in range(count)])


def as_track(landmarks: np.ndarray):
    times = np.arange(len(landmarks)) / FPS
    return describe(landmarks, np.ones(len(landmarks), bool), times, FPS, (640, 480))


def talking(count: int, start: float = 0.0) -> list[tuple[int, dict]]:
    """Frames of a mouth opening and closing mid-word (never closed)."""
    return [(1, {"gap": 0.08 + 0.08 * abs(np.sin(start + 0.9 * i))}) for i in range(count)]


def test_picks_the_closed_mouthed_frontal_still_frame_not_blinks_or_turns() -> None:
    # the blink and the turned head press the lips tighter than the true rest does, so a picker
    # that looked at the mouth alone would take them
    landmarks = clip(
        [
            *talking(8),  # the clip starts mid-word
            (6, {"gap": 0.0, "blink": True}),
            *talking(6, 2.0),
            (6, {"gap": 0.0, "yaw": 35.0}),
            *talking(5, 4.0),
            (6, {"gap": 0.01}),  # frames 31-36: at rest
            *talking(6, 6.0),
        ]
    )
    tr = as_track(landmarks)
    rest = pick_rest_frame(tr)
    assert 31 <= rest.index <= 36
    assert rest.mouth_closed and rest.eyes_open and rest.frontal and not rest.never_closed
    assert rest.describe() == "mouth closed, eyes open, facing the camera"
    costs = rest_costs(tr)
    assert costs.shape == (len(tr), 6)
    assert costs[0, 0] > 2  # mid-word: far from closed
    assert costs[10, 1] > 3  # a blink: the eyes far from their usual opening
    assert costs[23, 4] > 3  # the head turned 35 degrees


def test_a_clip_that_never_closes_its_mouth_takes_the_most_closed_frame() -> None:
    landmarks = clip([*talking(10), (5, {"gap": 0.06}), *talking(10, 3.0)])
    rest = pick_rest_frame(as_track(landmarks))
    assert 10 <= rest.index <= 14
    assert not rest.mouth_closed and rest.never_closed
    assert rest.describe().startswith("mouth nearly closed (the clip never closes it)")


def test_the_rest_frame_is_never_a_frame_without_a_face() -> None:
    landmarks = clip([*talking(5), (6, {"gap": 0.0}), *talking(5, 2.0)])
    results = [FrameFace(i, i / FPS, points) for i, points in enumerate(landmarks)]
    for i in range(5, 11):
        results[i].landmarks = None  # lost: bridged from frames 4 and 11
    tr = build_track(results, FPS, (640, 480), smooth=False)
    assert tr.detected[tr.neutral]


def test_neutral_auto_by_default_and_a_number_overrides() -> None:
    landmarks = clip([*talking(6), (6, {"gap": 0.0}), *talking(6, 2.0)])
    results = [FrameFace(i, i / FPS, points) for i, points in enumerate(landmarks)]
    chosen = build_track(results, FPS, (640, 480), smooth=False).neutral
    assert 6 <= chosen <= 11
    for given in (5, "5", "auto"):
        tr = build_track(results, FPS, (640, 480), neutral=given, smooth=False)
        assert tr.neutral == (chosen if given == "auto" else 5)
    with pytest.raises(InputError, match="outside the video's 18 frames"):
        build_track(results, FPS, (640, 480), neutral=18)
    assert parse_neutral("auto") is None and parse_neutral(" AUTO ") is None
    assert parse_neutral(0) == 0 and parse_neutral("12") == 12
    for bad in ("first", "-1", -2):
        with pytest.raises(InputError, match="neutral"):
            parse_neutral(bad)


def test_the_note_names_the_frame_its_time_and_the_override() -> None:
    landmarks = clip([*talking(6), (6, {"gap": 0.0}), *talking(6, 2.0)])
    tr = as_track(landmarks)
    tr.neutral = 7
    assert rest_frame_note("talk.mp4", tr) == (
        "talk.mp4: frame 7 (0.28 s) taken as the rest face (mouth closed, eyes open, facing the "
        "camera); --neutral N to choose another"
    )
    assert describe_frame(tr, 0).describe().startswith("mouth slightly open")
