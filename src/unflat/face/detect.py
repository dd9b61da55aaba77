"""The public ``detect`` entry point: faces with their 478 landmarks, from one image.

The detector (:mod:`unflat.face.detector`) finds boxes; the landmarker
(:mod:`unflat.face.landmarks`) places the mesh and irises in each.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from unflat.face.detector import FaceDetector, check_image
from unflat.face.landmarks import FaceLandmarker
from unflat.types import Face


@lru_cache(maxsize=2)
def face_models(device: str = "cpu") -> tuple[FaceDetector, FaceLandmarker]:
    """The detector and landmarker for ``device``, loaded once per process (both stateless)."""
    return FaceDetector(device=device), FaceLandmarker(device=device)


def detect(image: np.ndarray, *, max_faces: int | None = None, device: str = "cpu") -> list[Face]:
    """Faces in an ``HxWx3`` uint8 RGB image, largest first.

    Each :class:`~unflat.types.Face` has the detector's box, score and keypoints and 478 mesh
    landmarks (468 + irises) in pixels. Faces whose mesh the landmark model rejects are left
    out. ``max_faces`` keeps the best-scoring faces before the landmark stage (MediaPipe's
    ``max_num_faces``), which saves time on crowded images.
    """
    image = check_image(image)
    detector, landmarker = face_models(device)
    height, width = image.shape[:2]
    detections = detector(image)
    if max_faces is not None:
        detections = detections[:max_faces]
    faces: list[Face] = []
    scale = np.array([width, height], dtype=np.float32)
    for det in detections:
        landmarks = landmarker(image, det)
        if landmarks is None:
            continue
        x0, y0, x1, y1 = det.box
        faces.append(
            Face(
                box=(x0 * width, y0 * height, x1 * width, y1 * height),
                score=det.score,
                keypoints=det.keypoints * scale,
                landmarks=landmarks,
            )
        )
    faces.sort(key=lambda f: f.width * f.height, reverse=True)
    return faces
