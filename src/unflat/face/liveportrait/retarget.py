"""Eye and lip openings for LivePortrait's retargeting, measured on unflat's 478-point mesh.

The released eye and lip MLPs take openings in the units the published code measures on its
203-point landmarks: per eye, the gap between the middle upper and lower lid points over the
distance between the eye's corners (about 0.3 open, under 0.1 closed); for the mouth, the gap
between the middle points of the inner lips over the distance between the mouth's outer corners
(0 closed, about 0.5 wide open). Both are ratios within one feature, so they read the same at any
face size and in the crop or the full frame. Here they come from the mesh's matching points.

The MLPs' conditions are ``[source right eye, source left eye, target]`` for the eyes (the target
one number for both eyes) and ``[source, target]`` for the lips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unflat.face_mesh import (
    EYE_CORNERS,
    EYE_MIDDLE_LIDS,
    MOUTH_INNER,
    OUTER_MOUTH_CORNERS,
    face_unit,
    landmarks_xy,
)

#: A source mouth this open or more is closed before animating (the published pipeline's
#: ``lip_normalize_threshold``), so a driver at rest with lips together gives lips together.
LIPS_OPEN = 0.03


def _distance(xy: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(xy[..., a, :] - xy[..., b, :], axis=-1)


def eye_ratios(landmarks: np.ndarray) -> np.ndarray:
    """``[...,2]`` middle lid gap over corner distance, per eye (subject's right, left)."""
    xy = landmarks_xy(landmarks)
    ratios = [
        _distance(xy, *lids) / np.maximum(_distance(xy, *corners), 1e-6)
        for corners, lids in zip(EYE_CORNERS, EYE_MIDDLE_LIDS, strict=True)
    ]
    return np.stack(ratios, axis=-1)


def lip_ratio(landmarks: np.ndarray) -> np.ndarray:
    """``[...]`` inner-lip gap at the middle over the mouth's outer corner distance."""
    xy = landmarks_xy(landmarks)
    return _distance(xy, *MOUTH_INNER) / np.maximum(_distance(xy, *OUTER_MOUTH_CORNERS), 1e-6)


def eye_condition(source: np.ndarray, target: float) -> np.ndarray:
    """``float32 [1,3]`` the eye MLP's input besides the keypoints: the source face's two eye
    openings (its landmarks ``source``) and the wanted opening of both."""
    return Openings.measure(source).eye_condition(target)


def lip_condition(source: np.ndarray, target: float) -> np.ndarray:
    """``float32 [1,2]`` the lip MLP's input besides the keypoints: the source face's lip
    opening (its landmarks ``source``) and the wanted one."""
    return Openings.measure(source).lip_condition(target)


def mouth_target(
    source_canonical: np.ndarray,
    expression: np.ndarray | None = None,
    *,
    opening: float | None = None,
    closed_gap: float = 0.0,
) -> float:
    """The lip opening a frame of motion asks of a face with pose-free landmarks
    ``source_canonical``: ``opening`` (a lip gap beyond closed, in outer-eye-corner distances,
    as :class:`unflat.face.motion.Motion` carries it) over the face's mouth width in the same
    units, else what its ``expression`` offsets give the face."""
    if opening is None:
        shape = source_canonical if expression is None else source_canonical + expression
        return float(lip_ratio(shape))
    return _mouth_opening(mouth_width(source_canonical), opening, closed_gap)


def mouth_width(canonical: np.ndarray) -> float:
    """The distance between the mouth's outer corners in outer-eye-corner distances."""
    xy = landmarks_xy(canonical)
    return float(_distance(xy, *OUTER_MOUTH_CORNERS)) / max(float(face_unit(xy)), 1e-6)


def _mouth_opening(width: float, opening: float, closed_gap: float) -> float:
    return max(closed_gap + float(opening), 0.0) / max(width, 1e-6)


def eyes_target(source: np.ndarray, eye_open: np.ndarray) -> float:
    """The eye opening asked of a face (landmarks ``source``) by a motion's ``eye_open``
    ``[2]`` (1 as at rest, 0 closed): its own mean opening scaled by theirs."""
    return Openings.measure(source).eyes_target(eye_open)


@dataclass(frozen=True)
class Openings:
    """A source face's own openings, measured once: they are the same in every frame.

    ``eyes`` ``[2]`` and ``lips`` are its :func:`eye_ratios` and :func:`lip_ratio` on its
    landmarks; ``mouth_width`` (:func:`mouth_width`) and ``closed_gap`` (a lip gap beyond
    closed, as :class:`unflat.face.motion.Motion` carries it) are of its pose-free landmarks,
    where :meth:`mouth_target` needs them (``nan`` and 0 when not measured).
    """

    eyes: np.ndarray
    lips: float
    mouth_width: float = float("nan")
    closed_gap: float = 0.0

    @classmethod
    def measure(
        cls, landmarks: np.ndarray, canonical: np.ndarray | None = None, closed_gap: float = 0.0
    ) -> Openings:
        """The openings of a face with ``landmarks`` (and pose-free ``canonical`` ones)."""
        width = float("nan") if canonical is None else mouth_width(canonical)
        return cls(eye_ratios(landmarks), float(lip_ratio(landmarks)), width, closed_gap)

    def eye_condition(self, target: float) -> np.ndarray:
        """:func:`eye_condition` of this face."""
        return np.array([[*self.eyes, target]], dtype=np.float32)

    def lip_condition(self, target: float) -> np.ndarray:
        """:func:`lip_condition` of this face."""
        return np.array([[self.lips, target]], dtype=np.float32)

    def eyes_target(self, eye_open: np.ndarray) -> float:
        """:func:`eyes_target` of this face."""
        return float(self.eyes.mean() * np.clip(np.asarray(eye_open), 0.0, 1.5).mean())

    def mouth_target(
        self, canonical: np.ndarray, expression: np.ndarray | None, opening: float | None
    ) -> float:
        """:func:`mouth_target` of this face (its pose-free landmarks ``canonical``), with its
        own closed lip gap."""
        if opening is None:
            return mouth_target(canonical, expression)
        return _mouth_opening(self.mouth_width, opening, self.closed_gap)
