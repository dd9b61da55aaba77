"""A landmark reader for the procedural faces, to score where a generated face put its features.

The learning proof asks how far the generated face's landmarks lie from the driving ones. A
general face tracker is not that reader at 64 px on drawn faces (MediaPipe's converted mesh
wants a real face at a usable size), but the procedural renderer knows exactly where every point
it drew lies. So this is a small convolutional regressor trained on procedural faces of
identities that neither training nor scoring uses (their own seed), with blur, noise and
colour jitter so that it also reads the softer frames a generator makes. It reads the points
that show pose and mouth (:data:`POINTS`: eye corners and irises, brows, nose tip, mouth
corners, lips, jaw sides, chin); its error on real procedural frames is the floor any generated
frame is measured against. It is a measuring device for these faces only, not a face tracker.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.progress import Progress, report

# Mesh indices read: eye corners (33, 133, 362, 263), iris centres (468, 473), brow middles
# (105, 334), nose tip (1), mouth corners (61, 291), outer and inner lip middles (0, 17, 13,
# 14), the jaw's sides (234, 454) and the chin (152).
POINTS = (33, 133, 362, 263, 468, 473, 105, 334, 1, 61, 291, 0, 17, 13, 14, 234, 454, 152)
# The reader's own identities: neither training (seed 0) nor scoring (seed 1000) uses them.
READER_SEED = 2000


class LandmarkReader(nn.Module):
    """Frames ``[B,3,S,S]`` in [0, 1] -> ``[B, len(POINTS), 2]`` pixel positions (x, y)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        inputs = 3
        for outputs in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(inputs, outputs, 3, stride=2, padding=1), nn.GroupNorm(4, outputs),
                       nn.ReLU()]  # fmt: skip
            inputs = outputs
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Linear(16 * inputs, 2 * len(POINTS))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        side = frames.shape[-1]
        # Positions are regressed as shares of the frame about its centre, so sizes share them.
        shares = self.head(self.features(frames)).reshape(len(frames), len(POINTS), 2)
        return (shares + 0.5) * side


def _roughen(frames: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Blur, colour jitter and noise: frames as soft and off-colour as a generator's."""
    count = len(frames)
    blurred = F.avg_pool2d(F.pad(frames, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    amount = torch.rand(count, 1, 1, 1, generator=generator)
    frames = frames * (1 - amount) + blurred * amount
    gain = 1 + 0.2 * (torch.rand(count, 3, 1, 1, generator=generator) - 0.5)
    noise = 0.03 * torch.randn(frames.shape, generator=generator)
    return (frames * gain + noise).clamp(0, 1)


def train_reader(
    size: int,
    *,
    identities: int = 96,
    frames: int = 24,
    steps: int = 600,
    batch_size: int = 48,
    progress: Progress | None = None,
) -> LandmarkReader:
    """A reader trained on ``identities`` procedural people of seed :data:`READER_SEED`."""
    faces = SyntheticFaces(identities, frames=frames, size=size, seed=READER_SEED)
    images, points = [], []
    for video in range(identities):
        found, landmarks = faces.video(video)
        images.append(torch.from_numpy(found).permute(0, 3, 1, 2).float() / 255.0)
        points.append(torch.from_numpy(landmarks[:, POINTS]))
    every, wanted = torch.cat(images), torch.cat(points)
    generator = torch.Generator().manual_seed(READER_SEED)
    torch.manual_seed(READER_SEED)
    reader = LandmarkReader()
    optimiser = torch.optim.Adam(reader.parameters(), 2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 2e-3, total_steps=max(steps, 1))
    for step in range(steps):
        pick = torch.randint(len(every), (batch_size,), generator=generator)
        loss = F.smooth_l1_loss(reader(_roughen(every[pick], generator)), wanted[pick])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        report(progress, "landmark reader", step + 1, steps)
    return reader.eval()


@torch.no_grad()
def landmark_error(reader: LandmarkReader, frames: torch.Tensor, landmarks: np.ndarray) -> float:
    """Mean distance in pixels between the points ``reader`` finds in ``frames`` ``[B,3,S,S]``
    and the driving ``landmarks`` ``[B, 478, 2]``."""
    found = reader(frames)
    wanted = torch.as_tensor(np.asarray(landmarks)[:, POINTS], dtype=found.dtype)
    return float((found - wanted).norm(dim=-1).mean())
