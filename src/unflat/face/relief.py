"""Metric depth of a portrait from what ships with unflat: the face mesh, the person mask, a plane.

For photos without Depth Pro weights. Three surfaces, nearest first:

- **the face**: the 478-point mesh's own relief (its z column, in the same pixel units as x),
  made metric by one scale: an adult's inter-pupillary distance, :data:`INTERPUPILLARY_M`. The
  pupils are taken as the midpoints between each eye's corners, which do not follow the gaze
  (the irises do: a sideways look or a squint would change their distance); on MediaPipe's
  canonical face those midpoints are 63.0 mm apart. The same scale places the face: a length
  of ``L`` metres seen ``l`` pixels long at focal ``f`` pixels lies ``f * L / l`` metres away.
  The mesh's triangles are rasterised densely, depth interpolated barycentrically between the
  vertices, the nearest triangle winning where the face overlaps itself.
- **the person** (hair, neck, body; :func:`~unflat.face.segment.segment_person`): a rounded
  surface, :data:`BODY_BEHIND_EARS_M` behind the ears' depth, whose silhouette curves back by
  :data:`BODY_ROUNDING_M` like a body's sides; next to the face it starts at the face edge's own
  depth and settles onto that surface over :data:`FACE_TO_BODY_M`, so the forehead runs into the
  hair and the chin into the neck without a step.
- **the background**: a plane facing the camera at :data:`BACKGROUND_FACTOR` times the eyes'
  distance (a wall a sitter's distance behind them, as in most indoor portraits), and at least
  :data:`BACKGROUND_GAP_M` behind the person's silhouette.

Inside the person every change of depth is gradual; between the person and the background the
depth steps from one pixel to the next, so that a 3D scene separates the two. (Spread over a few
pixels, the step put pixels at depths in between, which a moving camera shows as a halo of
streaks floating in the gap: docs/portrait-depth.md has the renders.)

The focal length is the caller's (EXIF or the user's), else :func:`default_focal_px`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from unflat.device import small_work
from unflat.errors import InputError
from unflat.face.canonical import triangles
from unflat.face.detect import detect
from unflat.face.detector import MIN_IMAGE_SIDE
from unflat.face.segment import segment_person
from unflat.face_mesh import EYE_CORNERS, MESH_POINTS
from unflat.types import DepthMap, Face

#: The ``model`` a portrait depth records (sidecars, scene records).
MODEL_NAME = "portrait-mesh"
#: Mean adult inter-pupillary distance in metres: 63 mm (N. A. Dodgson, "Variation and extrema
#: of human interpupillary distance", Proc. SPIE 5291, 2004: most adults lie within 50-75 mm).
INTERPUPILLARY_M = 0.063
#: The 35 mm-equivalent focal length assumed without EXIF: the "normal" lens. Photos without
#: EXIF are mostly scans, paintings and edited pictures; a normal perspective sits between a
#: phone's 24-28 mm selfies (which keep their EXIF) and the 85 mm of portrait photography.
DEFAULT_FOCAL_35MM = 50.0
#: A full-frame (36 x 24 mm) sensor's diagonal: 35 mm-equivalent focal lengths refer to it.
FULL_FRAME_DIAGONAL_MM = float(np.hypot(36.0, 24.0))
#: The mesh's points beside the ears (face oval, level with the tragion), subject's right, left.
EAR_POINTS = (234, 454)
#: The nose tip (pronasale).
NOSE_TIP = 4
#: How far the hair and body surface lies behind the ears' depth, in metres.
BODY_BEHIND_EARS_M = 0.02
#: How far the person's silhouette curves back from that surface, over as many metres inwards
#: (the sides of a head or a torso), in metres.
BODY_ROUNDING_M = 0.10
#: Over how much of the person (metres, at the face's distance) the face edge's depth settles
#: onto the body surface.
FACE_TO_BODY_M = 0.08
#: The background plane's distance, in multiples of the eyes' distance.
BACKGROUND_FACTOR = 2.0
#: The background is at least this far (metres) behind the person's farthest point.
BACKGROUND_GAP_M = 0.5
#: Segmentation probability above which a pixel belongs to the person (above MediaPipe's
#: usual 0.5: on paintings, textured backgrounds hover about 0.5 in specks).
PERSON_THRESHOLD = 0.65
#: The person mask grows by this fraction of the image's long side (a pixel at 512): the hair's
#: fringe, which the mask leaves out, then moves with the person instead of being smeared into
#: the background that a moving camera uncovers behind it.
PERSON_GROWTH = 1 / 512


@dataclass
class Relief:
    """A portrait's depth and the measures it was built from (all depths in metres)."""

    depth: np.ndarray  # float32 [H,W]
    focal_px: float
    focal_source: str  # "exif", "user" or "default"
    face: Face
    metres_per_px: float  # at the eyes' distance
    eye_distance_m: float  # camera to the eyes
    landmark_depths: np.ndarray  # [468] metres, each mesh point's depth
    face_mask: np.ndarray  # bool [H,W], pixels the mesh covers
    person_mask: np.ndarray  # bool [H,W], the person (face included)
    background_m: float


def default_focal_px(width: int, height: int) -> float:
    """The focal length in pixels of a :data:`DEFAULT_FOCAL_35MM` lens for a photo this size."""
    return DEFAULT_FOCAL_35MM / FULL_FRAME_DIAGONAL_MM * float(np.hypot(width, height))


def eye_distance_px(landmarks: np.ndarray) -> float:
    """Distance in pixels (x, y and the mesh's z) between the two eyes' corner midpoints."""
    points = np.asarray(landmarks, dtype=np.float64)[:, :3]
    (right_outer, right_inner), (left_outer, left_inner) = EYE_CORNERS
    right = (points[right_outer] + points[right_inner]) / 2
    left = (points[left_outer] + points[left_inner]) / 2
    return float(np.linalg.norm(right - left))


def landmark_depths(landmarks: np.ndarray, focal_px: float) -> tuple[np.ndarray, float]:
    """Metric depth of the 468 mesh points ``[468]`` and the metres per pixel at the eyes.

    The eyes' midpoint lies at ``focal_px * metres_per_px``; every point's z offset from it,
    in the mesh's pixel units, scales by ``metres_per_px``.
    """
    span = eye_distance_px(landmarks)
    if not span > 0:
        raise InputError("the face's eyes coincide: its landmarks are unusable", _NO_FACE_HINT)
    metres_per_px = INTERPUPILLARY_M / span
    z = np.asarray(landmarks, dtype=np.float64)[:MESH_POINTS, 2]
    eyes_z = float(np.mean(np.asarray(landmarks, dtype=np.float64)[list(sum(EYE_CORNERS, ())), 2]))
    depths = (focal_px + z - eyes_z) * metres_per_px
    # Only an absurdly short focal length puts the relief in front of the camera; keep it ahead.
    return np.maximum(depths, 0.5 * focal_px * metres_per_px), metres_per_px


def rasterise_mesh(
    points: np.ndarray, values: np.ndarray, faces: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """``float32 [H,W]``: ``values`` interpolated over triangles ``faces`` of ``points [N,2]``.

    Pixel ``(x, y)`` samples the mesh at its centre ``(x + 0.5, y + 0.5)`` (the landmarks'
    convention); uncovered pixels are ``+inf``; where triangles overlap the smallest value (the
    nearest surface) wins.
    """
    height, width = shape
    out = np.full(shape, np.inf, np.float32)
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    for a, b, c in np.asarray(faces):
        corners = xy[[a, b, c]]
        x0, y0 = np.maximum(np.ceil(corners.min(axis=0) - 0.5), 0).astype(int)
        x1 = min(int(np.floor(corners[:, 0].max() - 0.5)), width - 1)
        y1 = min(int(np.floor(corners[:, 1].max() - 0.5)), height - 1)
        if x1 < x0 or y1 < y0:
            continue
        e1, e2 = corners[1] - corners[0], corners[2] - corners[0]
        area = e1[0] * e2[1] - e1[1] * e2[0]
        if abs(area) < 1e-9:
            continue
        gx, gy = np.meshgrid(np.arange(x0, x1 + 1) + 0.5, np.arange(y0, y1 + 1) + 0.5)
        dx, dy = gx - corners[0, 0], gy - corners[0, 1]
        w1 = (dx * e2[1] - dy * e2[0]) / area
        w2 = (e1[0] * dy - e1[1] * dx) / area
        w0 = 1.0 - w1 - w2
        inside = (w0 >= -1e-7) & (w1 >= -1e-7) & (w2 >= -1e-7)
        if not inside.any():
            continue
        value = (w0 * values[a] + w1 * values[b] + w2 * values[c]).astype(np.float32)
        window = out[y0 : y1 + 1, x0 : x1 + 1]
        np.minimum(window, np.where(inside, value, np.inf), out=window)
    return out


def _rounded_body(person: np.ndarray, near_m: float, rounding_px: float) -> np.ndarray:
    """Depth of the person's rounded surface: ``near_m`` inside, curving back by
    :data:`BODY_ROUNDING_M` over ``rounding_px`` pixels to its silhouette.

    The image border is not a silhouette (a body cut by the frame goes on beyond it).
    """
    pad = int(np.ceil(rounding_px)) + 1
    padded = cv2.copyMakeBorder(person.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    inside = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[pad:-pad, pad:-pad]
    t = np.clip(inside / max(rounding_px, 1e-6), 0.0, 1.0)
    # A parabola: the sides turn away at a finite slope. (An edge-on quarter circle put the
    # silhouette's pixels on surfaces seen at grazing angles, which render as streaks.)
    bulge = 1.0 - (1.0 - t) ** 2
    return (near_m + BODY_ROUNDING_M * (1.0 - bulge)).astype(np.float32)


def face_edge_outwards(face_depth: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pixel's nearest face pixel's depth, and its distance to it in pixels."""
    distance, labels = cv2.distanceTransformWithLabels(
        (~face).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # DIST_LABEL_PIXEL numbers the zero (face) pixels 1, 2, ... in raster order.
    face_values = face_depth.ravel()[np.flatnonzero(face.ravel())]
    return face_values[labels - 1], distance


def wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of ``sigma`` pixels, done on a smaller copy when ``sigma`` is wide (a
    direct 100-pixel blur of a 6-megapixel image takes seconds; this, a few milliseconds)."""
    factor = sigma / _BLUR_SIGMA
    if factor <= 1.0:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma * small_size[0] / width)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


# The widest blur done at full size, in pixels.
_BLUR_SIGMA = 4.0


def person_surface(
    face_depth: np.ndarray,
    face: np.ndarray,
    person: np.ndarray,
    near_m: float,
    pixels_per_m: float,
) -> np.ndarray:
    """Depth of the person everywhere (meaningful inside ``person``): the face where the mesh
    covers it, else the rounded body surface, eased from the face edge's depth next to it."""
    body = _rounded_body(person, near_m, BODY_ROUNDING_M * pixels_per_m)
    edge, distance = face_edge_outwards(face_depth, face)
    ease = np.clip(distance / max(FACE_TO_BODY_M * pixels_per_m, 1e-6), 0.0, 1.0)
    ease = ease * ease * (3.0 - 2.0 * ease)  # smoothstep: no kink where it meets the body
    surface = (1.0 - ease) * edge + ease * body
    # The face edge's depth varies along it, and carried straight out it draws rays through
    # the hair: smooth them more the farther they run, and not at all at the face's edge.
    blend_px = FACE_TO_BODY_M * pixels_per_m
    smooth = wide_blur(surface.astype(np.float32), max(1.0, blend_px / 4))
    reach = np.clip(distance / max(blend_px / 2, 1e-6), 0.0, 1.0)
    surface = (1.0 - reach) * surface + reach * smooth
    return np.where(face, face_depth, surface).astype(np.float32)


def _the_person(mask: np.ndarray, face: np.ndarray, faces: list[Face]) -> np.ndarray:
    """The segmentation's regions that hold a face (the chosen face's mesh, or any detected
    face's centre), with the chosen face itself: specks of background the model took for a
    person go, and so do people too small to have a face found."""
    mask = mask | face
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[face])] = True
    height, width = mask.shape
    for other in faces:
        x0, y0, x1, y1 = other.box
        column = int(np.clip((x0 + x1) / 2, 0, width - 1))
        row = int(np.clip((y0 + y1) / 2, 0, height - 1))
        keep[labels[row, column]] = True
    keep[0] = False  # outside the mask
    return keep[labels]


def _find_faces(image: np.ndarray, face: int | None) -> tuple[Face, list[Face]]:
    """The face to build on (``face``, else the largest) and every face found."""
    small = min(np.asarray(image).shape[:2]) < MIN_IMAGE_SIDE
    faces = [] if small else detect(image)
    if not faces:
        raise NoFaceError("no face was found in the photo for a portrait depth", _NO_FACE_HINT)
    if face is None:
        return faces[0], faces
    if not 0 <= face < len(faces):
        raise InputError(
            f"the photo has {len(faces)} face(s); --face {face} does not exist",
            f"choose --face from 0 to {len(faces) - 1} (0 is the largest)",
        )
    return faces[face], faces


_NO_FACE_HINT = (
    "give --depth FILE (a metric depth map, e.g. from a phone), or fetch Depth Pro: "
    "`unflat models fetch depth-pro`"
)


class NoFaceError(InputError):
    """No face in the photo: a portrait depth cannot be built."""


@small_work
def portrait_relief(
    image: np.ndarray,
    *,
    focal_px: float | None = None,
    face: int | None = None,
    focal_source: str = "user",
) -> Relief:
    """The portrait depth of ``image`` (uint8 [H,W,3]) with everything it was built from.

    ``focal_px`` is the focal length in pixels (``focal_source`` says where it came from),
    else :func:`default_focal_px`; ``face`` picks a face (0 the largest, the default).
    """
    height, width = image.shape[:2]
    if focal_px is None:
        focal_px, focal_source = default_focal_px(width, height), "default"
    if not (np.isfinite(focal_px) and focal_px > 0):
        raise InputError(f"the focal length must be positive, got {focal_px}", "e.g. 1200")
    chosen, faces = _find_faces(image, face)
    depths, metres_per_px = landmark_depths(chosen.landmarks, focal_px)
    points = chosen.landmarks[:MESH_POINTS, :2]
    face_depth = rasterise_mesh(points, depths, triangles(), (height, width))
    face_mask = np.isfinite(face_depth)
    person = _the_person(segment_person(image) > PERSON_THRESHOLD, face_mask, faces)
    grow = max(1, round(PERSON_GROWTH * max(height, width)))
    person = cv2.dilate(person.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)) > 0
    eyes_m = focal_px * metres_per_px
    ears_m = float(np.mean(depths[list(EAR_POINTS)]))
    pixels_per_m = 1.0 / metres_per_px
    if face_mask.any():
        surface = person_surface(
            face_depth, face_mask, person, ears_m + BODY_BEHIND_EARS_M, pixels_per_m
        )
    else:  # the face lies outside the image: only the body is left
        surface = _rounded_body(person, ears_m + BODY_BEHIND_EARS_M, BODY_ROUNDING_M * pixels_per_m)
    farthest = float(surface[person].max()) if person.any() else eyes_m
    background = max(BACKGROUND_FACTOR * eyes_m, farthest + BACKGROUND_GAP_M)
    depth = np.where(person, surface, np.float32(background))
    return Relief(
        depth=depth.astype(np.float32),
        focal_px=float(focal_px),
        focal_source=focal_source,
        face=chosen,
        metres_per_px=metres_per_px,
        eye_distance_m=eyes_m,
        landmark_depths=depths.astype(np.float32),
        face_mask=face_mask,
        person_mask=person,
        background_m=float(background),
    )


def portrait_depth(
    image: np.ndarray,
    *,
    focal_px: float | None = None,
    face: int | None = None,
    focal_source: str = "user",
) -> DepthMap:
    """Metric depth of a portrait (uint8 [H,W,3]) built from its face mesh, person and a plane.

    ``focal_px`` (pixels) is EXIF's or the user's (``focal_source`` says which), else the
    default of :func:`default_focal_px` (``focal_source="default"``). ``face`` picks a face
    when there are several (0 the largest, the default). A photo without a face is a
    :class:`NoFaceError` (an ``InputError``). See the module docstring for the model.
    """
    start = time.perf_counter()
    relief = portrait_relief(image, focal_px=focal_px, face=face, focal_source=focal_source)
    return DepthMap(
        relief.depth,
        relief.focal_px,
        focal_source=relief.focal_source,
        model=MODEL_NAME,
        seconds=time.perf_counter() - start,
    )
