"""The real-face part of the few-shot proof: self-reenactment of a talking clip, as the paper
evaluates, against the classical engine.

A clip is tracked once and cut to one upright square for all its frames (:mod:`.framing`) at the
model's size. ``most_shots`` frames spread evenly over the clip are the shots (the first of them
alone for one shot); every ``every``-th other frame is scored, never shown to either method:

- few-shot: the meta-learned model embeds the shots, is fine-tuned on them and draws each scored
  frame from that frame's own landmarks;
- classical: ``unflat animate``'s default engine with the first shot frame as the portrait and
  the clip as the driver (its rest frame the portrait's), the output cut to the same square.

Scores per method, over the scored frames: ``l1`` (mean absolute error, images in [0, 1]),
``psnr`` (dB, over all scored pixels at once) and ``landmarks``: our tracker run on each output
crop against the driving frame's tracked landmarks, the mean distance over the 478 points in
pixels of the crop (``faces_found``: the share of outputs where the tracker found a face; the
error is over those). ``landmarks_floor`` is the same tracker on the real crops: the error a
perfect output would get, which is the tracker's own noise at this size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from unflat.face.animate import Animator
from unflat.face.detect import detect
from unflat.face.fewshot.data import to_tensors
from unflat.face.fewshot.finetune import DISCRIMINATOR_RATE, GENERATOR_RATE, Person, finetune
from unflat.face.fewshot.framing import clip_square, cut, to_square
from unflat.face.fewshot.losses import LossWeights
from unflat.face.fewshot.model import FewShotTalkingHead
from unflat.face.liveportrait.crop import FaceCrop
from unflat.face.motion import from_track
from unflat.face.track import track
from unflat.image_quality import psnr
from unflat.io.video import read_video
from unflat.progress import Progress, counted, prefixed, report
from unflat.types import FaceTrack

#: Output crops are enlarged to this side before our tracker reads them: its detector does not
#: find faces a few dozen pixels across.
TRACKER_SIDE = 256


@dataclass
class Clip:
    """A tracked clip: the frames kept (by index), its track, its square and, for every frame,
    the crop ``uint8 [S,S,3]`` and its landmarks in crop pixels ``[478,2]``."""

    frames: dict[int, np.ndarray]
    track: FaceTrack
    square: FaceCrop
    crops: np.ndarray
    points: np.ndarray


def pick_frames(count: int, most_shots: int = 8, every: int = 5) -> tuple[list[int], list[int]]:
    """(shot frames spread evenly over ``count`` frames, every ``every``-th other frame)."""
    shots = sorted({int(i) for i in np.round(np.linspace(0, count - 1, most_shots))})
    scored = [t for t in range(0, count, every) if t not in shots]
    return shots, scored


def read_clip(path: str | Path, face_track: FaceTrack, size: int, keep: Sequence[int]) -> Clip:
    """The tracked clip ``path`` cut to its square at ``size``, keeping the full frames in
    ``keep`` (for the classical engine)."""
    square = clip_square(face_track.landmarks)
    crops, frames, wanted = [], {}, set(keep)
    with read_video(path) as reader:
        for index, frame in zip(range(len(face_track)), reader, strict=False):
            crops.append(cut(square, frame, size))
            if index in wanted:
                frames[index] = frame
    points = to_square(square, face_track.landmarks[: len(crops)], size)
    return Clip(frames, face_track, square, np.stack(crops), points)


def fewshot_outputs(
    model: FewShotTalkingHead, clip: Clip, shots: Sequence[int], scored: Sequence[int],
    steps: int, rates: tuple[float, float], seed: int = 0, progress: Progress | None = None,
    weights: LossWeights | None = None,
) -> np.ndarray:  # fmt: skip
    """``uint8 [n,S,S,3]``: the model fine-tuned on ``shots`` drawing the ``scored`` frames."""
    size = model.config.image_size
    frames, shapes = to_tensors(clip.crops[list(shots)], clip.points[list(shots)], size)
    person = Person(model.eval(), frames, shapes)

    def step_done(step: int, _terms: dict[str, float]) -> None:
        report(progress, f"fine-tuning on {len(shots)} shots", step + 1, steps)

    if steps:
        finetune(person, frames, shapes, steps, rates=rates, seed=seed, weights=weights,
                 on_step=step_done)  # fmt: skip
    _, targets = to_tensors(clip.crops[list(scored)], clip.points[list(scored)], size)
    with torch.no_grad():
        made = person.eval()(targets)
    return (made.clamp(0, 1) * 255 + 0.5).byte().permute(0, 2, 3, 1).numpy()


def classical_outputs(
    clip: Clip, portrait: int, scored: Sequence[int], progress: Progress | None = None
) -> np.ndarray:
    """``uint8 [n,S,S,3]``: the classical engine, frame ``portrait`` as the portrait and the
    clip (at rest in that frame) as the driver, its frames cut to the clip's square."""
    animator = Animator([clip.frames[portrait]])
    motion = animator.limited(from_track(clip.track, neutral=portrait))
    size = clip.crops.shape[1]
    made = []
    for t in counted(scored, progress, "classical engine"):
        target = animator.target_landmarks(motion, t)
        frame = animator.render(target, driver_frame=clip.frames[t],
                                driver_landmarks=clip.track.landmarks[t])  # fmt: skip
        made.append(cut(clip.square, frame, size))
    return np.stack(made)


def landmark_error(images: np.ndarray, expected: np.ndarray) -> tuple[float | None, float]:
    """(mean distance over the 478 points, pixels of the crop, where a face was found; the
    share of ``images`` where our tracker found one) for crops ``[n,S,S,3]``."""
    size = images.shape[1]
    errors = []
    for image, points in zip(images, expected, strict=True):
        large = cv2.resize(image, (TRACKER_SIDE, TRACKER_SIDE), interpolation=cv2.INTER_CUBIC)
        faces = detect(large, max_faces=1)
        if faces:
            found = faces[0].landmarks[:, :2] * (size / TRACKER_SIDE)
            errors.append(float(np.linalg.norm(found - points, axis=1).mean()))
    mean = float(np.mean(errors)) if errors else None
    return mean, len(errors) / max(len(images), 1)


def score(made: np.ndarray, clip: Clip, scored: Sequence[int]) -> dict[str, float | None]:
    """``l1``, ``psnr``, ``landmarks``, ``faces_found`` of outputs against the real crops."""
    real = clip.crops[list(scored)].astype(np.float32) / 255
    output = made.astype(np.float32) / 255
    error, found = landmark_error(made, clip.points[list(scored)])
    return {"l1": float(np.abs(output - real).mean()), "psnr": psnr(output, real),
            "landmarks": error, "faces_found": found, "frames": len(scored)}  # fmt: skip


def real_face_scores(
    model: FewShotTalkingHead,
    clip: str | Path,
    *,
    shots: Sequence[int] = (1, 8),
    every: int = 5,
    finetune_steps: int = 40,
    finetune_rates: tuple[float, float] = (GENERATOR_RATE, DISCRIMINATOR_RATE),
    finetune_weights: LossWeights | None = None,
    max_frames: int | None = None,
    progress: Progress | None = None,
) -> dict[str, dict[str, float | None]]:
    """``{"1": {...}, "8": {...}, "classical": {...}}``: self-reenactment of ``clip`` (its first
    ``max_frames`` frames) at the model's size by the model fine-tuned on each shot count
    (``finetune_steps`` updates at ``finetune_rates`` with the loss terms ``finetune_weights``,
    the paper's by default), and by the classical engine."""
    face_track = track(clip, neutral=0, max_frames=max_frames,
                       progress=prefixed(progress, "real faces: "))  # fmt: skip
    spread, scored = pick_frames(len(face_track), max(shots), every)
    data = read_clip(clip, face_track, model.config.image_size, [spread[0], *scored])
    scored = [t for t in scored if t < len(data.crops)]
    results: dict[str, dict[str, float | None]] = {}
    for number in shots:
        made = fewshot_outputs(model, data, spread[:number], scored, finetune_steps,
                               finetune_rates, progress=progress,
                               weights=finetune_weights)  # fmt: skip
        results[str(number)] = score(made, data, scored)
    results["classical"] = score(classical_outputs(data, spread[0], scored, progress), data, scored)
    floor, _ = landmark_error(data.crops[scored], data.points[scored])
    for row in results.values():
        row["landmarks_floor"] = floor
    return results
