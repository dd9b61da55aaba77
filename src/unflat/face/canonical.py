"""MediaPipe's canonical face: the neutral reference for head pose and the mesh's triangles.

The geometry (Apache-2.0) is extracted by ``tools/extract_face_geometry.py`` into
``unflat/assets/face/canonical_face.npz``. MediaPipe stores it in centimetres with y up and z
towards the viewer; :func:`reference_face` turns it into the landmarks' frame (x right, y down,
z away from the camera) so that the identity rotation is a frontal face.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from unflat.errors import WeightsError
from unflat.face_mesh import EYE_CONTOUR_INDICES, EYE_LID_POINTS

ASSET = "canonical_face.npz"
# Human iris radius (about 5.9 mm) in the canonical face's centimetres.
_IRIS_RADIUS_CM = 0.59


@lru_cache(maxsize=1)
def _geometry() -> dict[str, np.ndarray]:
    path = resources.files("unflat") / "assets" / "face" / ASSET
    try:
        with resources.as_file(path) as file, np.load(file) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise WeightsError(
            f"the bundled face geometry {ASSET} is missing from this installation",
            "reinstall unflat, or run tools/extract_face_geometry.py in a source checkout",
        ) from None


@lru_cache(maxsize=1)
def reference_face() -> np.ndarray:
    """``float32 [478,3]`` neutral face in the landmarks' axes (centimetres).

    Points 468-477 are the irises, looking straight ahead: the centre of each eye's lid contour,
    then four points on a 5.9 mm circle in the order the iris model returns them (for the
    subject's right eye: image-right, up, image-left, down; the left eye's is mirrored).
    """
    vertices = _geometry()["vertices"] * np.array([1.0, -1.0, -1.0], dtype=np.float32)
    irises = []
    for indices, sign in ((EYE_CONTOUR_INDICES[0], 1.0), (EYE_CONTOUR_INDICES[1], -1.0)):
        centre = vertices[list(indices[:EYE_LID_POINTS])].mean(axis=0)
        r = _IRIS_RADIUS_CM
        rim = np.array([[sign * r, 0, 0], [0, -r, 0], [-sign * r, 0, 0], [0, r, 0]])
        irises.append(np.vstack([centre, centre + rim]))
    return np.vstack([vertices, *irises]).astype(np.float32)


def triangles() -> np.ndarray:
    """``int32 [898,3]`` triangles over the 468 mesh points (eyes and mouth closed over)."""
    return _geometry()["triangles"]


def uvs() -> np.ndarray:
    """``float32 [468,2]`` texture coordinates of the canonical mesh."""
    return _geometry()["uvs"]


def pose_weights() -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's 33 landmark indices and weights for fitting head pose."""
    g = _geometry()
    return g["procrustes_ids"], g["procrustes_weights"]
