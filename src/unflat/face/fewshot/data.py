"""Training data: the video-folder layout (VoxCeleb-style) and meta-learning episodes.

The layout (``docs/fewshot.md``)::

    ROOT/<person>/<video>/<clip>.mp4                face-centred clip (any square size)
    ROOT/<person>/<video>/<clip>.landmarks.npy      float32 [T, 478, 2 or 3]: each frame's mesh
                                                    in the clip's pixels (x right, y down)

Each clip is one training video (one discriminator column W_i), numbered in sorted path order.
Any source with the same three methods (:class:`VideoSet`) trains the same way, as the
procedural :class:`~unflat.face.fewshot.synthetic.SyntheticFaces` do.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from unflat.errors import InputError
from unflat.face.fewshot.landmark_image import landmark_images
from unflat.face.fewshot.meta import Episodes
from unflat.face_mesh import LANDMARKS
from unflat.io.video import read_video

LANDMARK_SUFFIX = ".landmarks.npy"
# Decoded clips kept in memory (each at most a few hundred frames at the training size).
CACHED_CLIPS = 64


class VideoSet(Protocol):
    """Videos of faces with their landmarks, at a square ``size``."""

    size: int

    def __len__(self) -> int: ...

    def frame_count(self, video: int) -> int: ...

    def frames(self, video: int, indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``uint8 [n, size, size, 3]`` frames and ``float32 [n, 478, 2]`` landmarks (pixels)."""
        ...


class VideoFolder:
    """The clips under ``root`` in the documented layout, resized to ``size``."""

    def __init__(self, root: str | Path, size: int) -> None:
        self.root, self.size = Path(root), size
        if not self.root.is_dir():
            raise InputError(f"no dataset folder at {self.root}",
                             "pass ROOT laid out as ROOT/<person>/<video>/<clip>.mp4")  # fmt: skip
        self.clips = sorted(self.root.glob("*/*/*.mp4"))
        if not self.clips:
            raise InputError(f"no clips in {self.root} (looked for ROOT/<person>/<video>/*.mp4)",
                             "see docs/fewshot.md for the layout")  # fmt: skip
        missing = [c for c in self.clips if not _landmark_file(c).is_file()]
        if missing:
            hint = f"write each clip's meshes beside it as <clip>{LANDMARK_SUFFIX}"
            raise InputError(f"{len(missing)} clips have no landmarks, e.g. {missing[0]}", hint)
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.clips)

    def frame_count(self, video: int) -> int:
        return len(np.load(_landmark_file(self.clips[video]), mmap_mode="r"))

    def frames(self, video: int, indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        frames, landmarks = self._clip(video)
        return frames[indices], landmarks[indices]

    def _clip(self, video: int) -> tuple[np.ndarray, np.ndarray]:
        if video in self._cache:
            self._cache.move_to_end(video)
            return self._cache[video]
        path = self.clips[video]
        landmarks = np.load(_landmark_file(path)).astype(np.float32)
        if landmarks.ndim != 3 or landmarks.shape[1] != LANDMARKS or landmarks.shape[2] < 2:
            raise InputError(f"{_landmark_file(path)} holds {landmarks.shape}, not [T, 478, 2]",
                             "write float32 [T, 478, 2 or 3] pixel positions")  # fmt: skip
        with read_video(path) as reader:
            decoded = [cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA)
                       for f, _ in zip(reader, range(len(landmarks)), strict=False)]  # fmt: skip
            height, width = reader.info.height, reader.info.width
        if len(decoded) != len(landmarks):
            raise InputError(f"{path} has {len(decoded)} frames, its landmarks {len(landmarks)}",
                             "track the clip again")  # fmt: skip
        scale = np.array([self.size / width, self.size / height], np.float32)
        self._cache[video] = (np.stack(decoded), landmarks[..., :2] * scale)
        if len(self._cache) > CACHED_CLIPS:
            self._cache.popitem(last=False)
        return self._cache[video]


def _landmark_file(clip: Path) -> Path:
    return clip.with_name(clip.stem + LANDMARK_SUFFIX)


def to_tensors(frames: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[torch.Tensor, ...]:
    """``[n,3,S,S]`` frames and landmark images in [0, 1]."""
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    return images, landmark_images(landmarks, size)


def sample_episodes(
    data: VideoSet, videos: Sequence[int], shots: int, generator: torch.Generator
) -> Episodes:
    """One episode per video: ``shots`` conditioning frames and a different target frame,
    drawn with ``generator`` (a clip shorter than ``shots + 1`` repeats its frames)."""
    parts: list[tuple[torch.Tensor, ...]] = []
    for video in videos:
        count = data.frame_count(video)
        if count > shots:
            picks = torch.randperm(count, generator=generator)[: shots + 1]
        else:
            picks = torch.randint(count, (shots + 1,), generator=generator)
        frames, shapes = to_tensors(*data.frames(video, picks.tolist()), data.size)
        parts.append((frames[:shots], shapes[:shots], frames[shots], shapes[shots]))
    stacked = [torch.stack(column) for column in zip(*parts, strict=True)]
    return Episodes(*stacked, torch.as_tensor(list(videos), dtype=torch.long))
