"""Faces: detection, 478 landmarks, person segmentation and tracking, offline.

The models are MediaPipe 0.10.21's (Apache-2.0), re-implemented in PyTorch; their converted
weights ship in ``unflat/assets/face``.
"""

from unflat.face.detect import detect
from unflat.face.segment import segment_person
from unflat.face.track import FaceTracker, track
from unflat.types import Face, FaceTrack

__all__ = ["Face", "FaceTrack", "FaceTracker", "detect", "segment_person", "track"]
