"""The 468-point face mesh and its iris refinement to 478 points (MediaPipe 0.10.21's pipeline).

From a detection: the box becomes a square 1.5x larger, turned so that the eyes are level, and
is resampled to 192x192 for the mesh model. Each eye then gets its own square, 2.3x its corner-
to-corner span and levelled on the corners, resampled to 64x64 (the subject's left eye mirrored,
since the iris model only knows right-of-image eyes), and the iris model returns 71 eye-contour
points, which replace the mesh's eye points, and 5 iris points, which are appended.
"""

from __future__ import annotations

import numpy as np
import torch

from unflat.face.detector import Detection
from unflat.face.nets import image_tensor, load_net
from unflat.face.roi import (
    Roi,
    crop,
    crop_native,
    enlarge_square,
    fit_square,
    project,
    roi_from_box,
    roi_from_points,
    rotation_between,
    unletterbox,
)
from unflat.face_mesh import EYE_CONTOUR_INDICES, EYE_CORNERS

MESH_SIZE = 192
IRIS_SIZE = 64
MESH_SCALE = 1.5
EYE_SCALE = 2.3
# The landmark model's face-presence probability below which the mesh is discarded.
MIN_PRESENCE = 0.5
# Eye corners that frame each eye crop: (outer, inner) of the image-left eye (the subject's
# right), then (inner, outer) of the other; MediaPipe measures each eye's rotation along them.
RIGHT_EYE_CORNERS = EYE_CORNERS[0]
LEFT_EYE_CORNERS = EYE_CORNERS[1][::-1]


def face_roi(detection: Detection, image_size: tuple[int, int]) -> Roi:
    """The mesh model's crop for a detection: eyes level, square, 1.5x the box."""
    x0, y0, x1, y1 = detection.box
    keypoints = detection.keypoints * np.asarray(image_size, dtype=np.float64)
    rotation = rotation_between(keypoints[0], keypoints[1])
    return enlarge_square(roi_from_box(x0, y0, x1, y1, rotation), MESH_SCALE, image_size)


def eye_roi(mesh_xy: np.ndarray, corners: tuple[int, int], image_size: tuple[int, int]) -> Roi:
    """The iris model's crop for one eye, from two normalised mesh points."""
    points = mesh_xy[list(corners)]
    return enlarge_square(roi_from_points(points, 0, 1, image_size), EYE_SCALE, image_size)


class FaceLandmarker:
    """Face mesh + iris models with MediaPipe's crops and projections."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.mesh = load_net("face_mesh", device=device)
        self.iris = load_net("iris", device=device)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray, detection: Detection) -> np.ndarray | None:
        """``float32 [478,3]`` landmarks in pixels, or None when the model sees no face."""
        height, width = image.shape[:2]
        size = (width, height)
        mesh = self.mesh_from_roi(image, face_roi(detection, size))
        if mesh is None:
            return None
        return self.refine(image, mesh) * np.array([width, height, width], dtype=np.float32)

    @torch.inference_mode()
    def mesh_from_roi(self, image: np.ndarray, roi: Roi) -> np.ndarray | None:
        """468 image-normalised mesh points from a face crop, or None below the presence bar."""
        pixels = crop(image, roi, (MESH_SIZE, MESH_SIZE))
        points, logit = self.mesh(image_tensor(pixels, self.device))
        if torch.sigmoid(logit[0].float()).item() < MIN_PRESENCE:
            return None
        points = points[0].float().cpu().numpy() / np.float32(MESH_SIZE)
        return project(points, roi)

    @torch.inference_mode()
    def refine(self, image: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """468 normalised mesh points -> 478: eye contours replaced, irises appended."""
        size = (image.shape[1], image.shape[0])
        out = mesh.copy()
        irises = []
        for corners, indices, mirrored in (
            (RIGHT_EYE_CORNERS, EYE_CONTOUR_INDICES[0], False),
            (LEFT_EYE_CORNERS, EYE_CONTOUR_INDICES[1], True),
        ):
            roi = eye_roi(mesh, corners, size)
            # The iris graph crops at full resolution, then resizes: not one warp like the mesh.
            pixels, padding = fit_square(crop_native(image, roi), IRIS_SIZE)
            if mirrored:
                pixels = np.ascontiguousarray(pixels[:, ::-1])
            contour, iris = self.iris(image_tensor(pixels, self.device))
            points = torch.cat([contour[0], iris[0]]).float().cpu().numpy()
            if mirrored:
                points[:, 0] = IRIS_SIZE - points[:, 0]
            points = unletterbox(points / np.float32(IRIS_SIZE), padding)
            points = project(points, roi)
            out[list(indices)] = points[:71]
            irises.append(points[71:])
        return np.concatenate([out, *irises]).astype(np.float32)
