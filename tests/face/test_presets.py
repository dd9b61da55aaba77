"""Expression deformers on the canonical face and the procedural motion presets built on them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from unflat.errors import InputError
from unflat.face import expressions as ex
from unflat.face.canonical import reference_face, triangles
from unflat.face.presets import PRESETS, generate, rhythm_times, syllable_times
from unflat.face_mesh import face_unit, mouth_opening, mouth_width

FIELDS = ("rotation", "translation", "scale", "expression", "eye_open", "gaze")
LOWER_LIP = (14, 17, 87, 317)
UPPER_LIP = (13, 0, 82, 312)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 146, 91, 181, 84, 17, 314, 405, 321,
        375, 78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 95, 88, 178, 87, 14, 317, 402,
        318, 324)  # fmt: skip


def face(offsets: np.ndarray) -> np.ndarray:
    return reference_face()[None] + offsets if offsets.ndim == 3 else reference_face() + offsets


def edge_strain(offsets: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Largest relative change of a mesh edge's length (only edges with both ends in ``keep``)."""
    tri = triangles()
    pairs = np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    edges = np.unique(np.sort(pairs, axis=1), axis=0)
    if keep is not None:
        edges = edges[keep[edges[:, 0]] & keep[edges[:, 1]]]
    ref = reference_face().astype(np.float64)
    moved = ref + offsets
    before = np.linalg.norm(ref[edges[:, 0]] - ref[edges[:, 1]], axis=1)
    after = np.linalg.norm(moved[edges[:, 0]] - moved[edges[:, 1]], axis=1)
    return float(np.abs(after / before - 1).max())


def openings(motion) -> np.ndarray:
    """Frames where the mouth peaks open (local maxima clearly above the rest gap)."""
    gap = mouth_opening(face(motion.expression))
    rest = float(mouth_opening(reference_face()))
    peak = (gap[1:-1] > gap[:-2]) & (gap[1:-1] >= gap[2:]) & (gap[1:-1] > rest + 0.03)
    return np.flatnonzero(peak) + 1


def dips(eye: np.ndarray, below: float = 0.3) -> list[int]:
    """Lengths (frames) of each run of eye_open under ``below``."""
    closed = np.concatenate([[0], (eye < below).astype(int), [0]])
    starts, ends = np.flatnonzero(np.diff(closed) == 1), np.flatnonzero(np.diff(closed) == -1)
    return list(ends - starts)


# --------------------------------------------------------------------------- expressions


def test_jaw_open_opens_like_a_talking_mouth():
    offsets = ex.jaw_open(1.0)
    assert offsets.shape == (478, 3) and offsets.dtype == np.float32
    assert 0.35 <= mouth_opening(face(offsets)) <= 0.45
    lower = np.linalg.norm(offsets[list(LOWER_LIP)], axis=1).min()
    upper = np.linalg.norm(offsets[list(UPPER_LIP)], axis=1).max()
    assert upper < 0.1 * lower
    chin = offsets[152]
    assert chin[1] > 0.25 * face_unit(reference_face()) and chin[2] > 0  # down and back
    # the upper face and the irises stay put; the cheekbones and ears barely move
    assert np.abs(offsets[[10, 1, 33, 263, 105, 334]]).max() == 0
    assert np.abs(offsets[468:]).max() == 0
    assert np.linalg.norm(offsets[[234, 454, 50, 280]], axis=1).max() < 0.05
    # opening grows with the amount, and an array of amounts gives one face each
    gaps = [float(mouth_opening(face(ex.jaw_open(a)))) for a in (0.0, 0.25, 0.5, 1.0)]
    assert gaps == sorted(gaps) and gaps[0] == pytest.approx(mouth_opening(reference_face()))
    batch = ex.jaw_open(np.array([0.5, 1.0]))
    assert batch.shape == (2, 478, 3)
    np.testing.assert_allclose(batch[1], offsets, atol=1e-6)


def test_jaw_open_is_smooth_away_from_the_mouth_slit():
    near_lips = np.linalg.norm(
        reference_face()[:, None, :2] - reference_face()[None, list(LIPS), :2], axis=-1
    ).min(1)
    assert edge_strain(ex.jaw_open(1.0).astype(np.float64), near_lips > 1.0) < 0.8
    # neighbouring points take similar shares of the jaw's motion, except across the slit
    weights = ex.jaw_weights()
    assert weights[152] == pytest.approx(1.0) and weights[13] < 0.02 and weights[14] > 0.98


def test_smile_raises_and_widens_the_mouth_corners():
    offsets = ex.smile(1.0)
    ref = reference_face()
    assert offsets[61, 1] < -0.2 and offsets[291, 1] < -0.2  # up
    assert offsets[61, 0] < -0.2 and offsets[291, 0] > 0.2  # outward
    assert mouth_width(face(offsets)) > 1.1 * mouth_width(ref)
    assert offsets[[50, 280], 1].max() < -0.05  # cheeks rise
    lip_height = ref[17, 1] - ref[0, 1]
    assert (face(offsets)[17, 1] - face(offsets)[0, 1]) < lip_height  # lips thinner
    assert np.abs(offsets[[10, 105, 334]]).max() < 1e-3
    assert np.abs(offsets[468:]).max() < 0.01
    assert edge_strain(offsets.astype(np.float64)) < 0.5
    np.testing.assert_allclose(ex.smile(0.5), 0.5 * offsets, atol=1e-6)


def test_brow_raise_moves_the_brows_up_and_not_the_chin():
    offsets = ex.brow_raise(1.0)
    brows = offsets[list(RIGHT_BROW + LEFT_BROW)]
    assert brows[:, 1].max() < -0.4 and brows[:, 1].mean() < -0.7
    assert offsets[10, 1] < -0.3  # forehead
    assert np.abs(offsets[[152, 13, 14, 61, 291, 1, 159, 145, 386, 374]]).max() < 1e-3
    assert np.abs(offsets[468:]).max() < 1e-3
    assert edge_strain(offsets.astype(np.float64)) < 1.0


def test_lips_pucker_narrows_the_mouth_and_pushes_the_lips_forward():
    offsets = ex.lips_pucker(1.0)
    assert mouth_width(face(offsets)) < 0.9 * mouth_width(reference_face())
    assert offsets[[13, 14, 0, 17], 2].max() < -0.3
    assert np.abs(offsets[[10, 152, 33, 263]]).max() < 0.05
    assert edge_strain(offsets.astype(np.float64)) < 0.5


# --------------------------------------------------------------------------- presets


def test_motion_shapes_and_types():
    motion = generate("idle+talk+nod", seconds=2.02, fps=25, text="Hi there.")
    assert len(motion) == 50 and motion.fps == 25
    for name in FIELDS:
        array = getattr(motion, name)
        assert array.dtype == np.float32 and array.shape[0] == 50
    assert motion.expression.shape == (50, 478, 3)


def test_idle_blinks_sways_and_breathes():
    counts = []
    for seed in range(6):
        motion = generate("idle", seconds=20, fps=25, seed=seed)
        runs = dips(motion.eye_open[:, 0])
        counts.append(len(runs))
        assert 3 <= len(runs) <= 10
        assert all(2 <= r <= 6 for r in runs)
        assert motion.eye_open.min() < 0.05 and motion.eye_open.max() <= 1.0
        np.testing.assert_array_equal(motion.eye_open[:, 0], motion.eye_open[:, 1])
        angles = motion.euler_degrees
        assert np.abs(angles).max() < 3.0 and np.abs(angles).max(0).min() > 0.2
        # smooth sway: no jumps between frames
        assert np.abs(np.diff(angles, axis=0)).max() < 0.3
        assert 0.005 < np.abs(motion.translation[:, 1]).max() <= 0.0101
        assert np.abs(motion.gaze).max() <= 0.0501 and np.abs(motion.gaze).max() > 0.005
        assert np.abs(motion.expression).max() == 0
    assert len(set(counts)) > 1


def test_presets_are_deterministic_per_seed():
    a = generate("idle+talk", seconds=5, fps=25, seed=7)
    b = generate("idle+talk", seconds=5, fps=25, seed=7)
    c = generate("idle+talk", seconds=5, fps=25, seed=8)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.eye_open, c.eye_open)
    assert not np.array_equal(a.rotation, c.rotation)


def test_syllable_times_follow_the_text():
    times = syllable_times("Hello world, this is a test.", seconds=10)
    assert [v for _, _, v in times] == ["e", "o", "o", "i", "i", "a", "e"]
    starts = np.array([s for s, _, _ in times])
    steps = np.diff(starts)
    assert steps[2] == pytest.approx(1 / 4.5 + 0.25)  # the comma's pause
    np.testing.assert_allclose(np.delete(steps, 2), 1 / 4.5)
    # a long text is sped up to at most 7 syllables/s, then cut to the clip
    long = syllable_times("one two three four five " * 20, seconds=5)
    assert long[-1][1] <= 5 and len(long) < 100
    assert min(np.diff([s for s, _, _ in long])) == pytest.approx(1 / 7)


def test_talk_opens_the_mouth_once_per_syllable():
    text = "Hello world, this is a test."
    motion = generate("talk", seconds=4, fps=25, text=text)
    peaks = openings(motion)
    assert abs(len(peaks) - 7) <= 1
    times = syllable_times(text, 4)
    pause = (times[2][1], times[3][0])  # after "world,"
    t = np.arange(len(motion)) / motion.fps
    in_pause = (t > pause[0] + 0.01) & (t < pause[1])
    assert in_pause.sum() >= 4
    gap = mouth_opening(face(motion.expression))
    assert np.allclose(gap[in_pause], mouth_opening(reference_face()), atol=1e-4)
    assert not np.any(in_pause[peaks])
    # o/u syllables pucker the lips a little; the head bobs with the speech
    assert motion.expression[:, 13, 2].min() < -0.05
    pitch = motion.euler_degrees[:, 0]
    assert 0.5 < np.abs(pitch).max() <= 1.01
    # silence after the text: the mouth rests
    assert np.allclose(gap[t > times[-1][1] + 0.2], mouth_opening(reference_face()), atol=1e-4)


def test_talk_without_text_is_rhythmic():
    seconds, fps = 12, 25
    motion = generate("talk", seconds=seconds, fps=fps, seed=3)
    times = rhythm_times(seconds, seed=3)
    peaks = openings(motion)
    assert abs(len(peaks) - len(times)) <= 1
    speaking = sum(end - start for start, end, _ in times)
    assert 3.0 <= len(peaks) / speaking <= 6.0
    # phrases are separated by pauses of 0.3 s or more
    gaps = np.array([b[0] - a[1] for a, b in itertools.pairwise(times)])
    assert (gaps >= 0.3).sum() >= 2
    assert speaking < 0.9 * seconds


def test_gestures_and_expressions():
    nod = generate("nod", seconds=3, fps=30).euler_degrees
    assert 7.0 < nod[:, 0].max() <= 8.0 and np.abs(nod[:, 1:]).max() < 1e-3
    assert np.abs(nod[[0, -1]]).max() < 0.05  # eased in and out
    shake = generate("shake", seconds=3, fps=30).euler_degrees
    assert 11.0 < shake[:, 1].max() <= 12.0 and shake[:, 1].min() < -11.0
    tilt = generate("tilt", seconds=3, fps=30).euler_degrees
    assert tilt[-1, 2] == pytest.approx(8.0, abs=0.01) and abs(tilt[0, 2]) < 0.01
    smile = generate("smile", seconds=3, fps=30)
    width = mouth_width(face(smile.expression))
    assert width[0] == pytest.approx(mouth_width(reference_face()), abs=1e-4)
    assert width[-1] > 1.1 * width[0]
    assert np.all(np.diff(width[:20]) >= -1e-6)  # eases in
    surprise = generate("surprise", seconds=2, fps=30)
    assert surprise.eye_open.max() == pytest.approx(1.2, abs=1e-3)
    assert surprise.expression[-1, 105, 1] < -0.5
    assert mouth_opening(face(surprise.expression[-1])) > mouth_opening(reference_face()) + 0.05
    half = generate("nod", seconds=3, fps=30, strength=0.5).euler_degrees
    np.testing.assert_allclose(half[:, 0], nod[:, 0] / 2, atol=0.02)
    still = generate(list(PRESETS), seconds=2, fps=25, strength=0)
    assert np.abs(still.expression).max() == 0 and np.all(still.eye_open == 1)
    np.testing.assert_allclose(still.rotation, np.eye(3)[None].repeat(50, 0), atol=1e-6)


def test_combinations_are_sums_of_their_parts():
    both = generate("idle+smile", seconds=3, fps=25, seed=4)
    parts = generate("idle", seconds=3, fps=25, seed=4) + generate(
        "smile", seconds=3, fps=25, seed=4
    )
    listed = generate(["idle", "smile"], seconds=3, fps=25, seed=4)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(both, name), getattr(parts, name), atol=1e-6)
        np.testing.assert_array_equal(getattr(both, name), getattr(listed, name))


def test_bad_specs_are_refused():
    with pytest.raises(InputError) as error:
        generate("idle+dance", seconds=1, fps=25)
    assert "dance" in str(error.value)
    assert all(name in error.value.hint for name in PRESETS)
    for spec in ("", [], " + "):
        with pytest.raises(InputError):
            generate(spec, seconds=1, fps=25)
    for seconds in (0, -1.0):
        with pytest.raises(InputError):
            generate("idle", seconds=seconds, fps=25)
    with pytest.raises(InputError):
        generate("idle", seconds=1, fps=0)
    with pytest.raises(InputError):
        generate("talk", seconds=1, fps=25, text=" ... ")
