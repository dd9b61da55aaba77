"""Score a meta-learned model on held-out people: feed-forward and fine-tuned on 1 or 8 shots.

For each held-out video the first frames are the shots and the last ``eval_frames`` frames are
scored (never seen): the model draws the person under those frames' landmarks and is compared
with the real frames (mean absolute error and PSNR, images in [0, 1]). Shot count ``0`` is the
feed-forward model (ê from ``max(shots)`` frames, no fine-tuning); ``n > 0`` is ê from the first
``n`` frames, then ``finetune_steps`` fine-tuning updates on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from unflat.face.fewshot.data import VideoSet, to_tensors
from unflat.face.fewshot.finetune import DISCRIMINATOR_RATE, GENERATOR_RATE, Person, finetune
from unflat.face.fewshot.landmark_reader import LandmarkReader, landmark_error
from unflat.face.fewshot.losses import LossWeights
from unflat.face.fewshot.model import FewShotTalkingHead
from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.image_quality import psnr
from unflat.progress import Progress, report

# Held-out synthetic people are drawn from this seed; training sets use seed 0 (the default of
# SyntheticFaces), so no held-out identity was ever trained on.
HELD_OUT_SEED = 1000


def person_frames(
    model: FewShotTalkingHead, data: VideoSet, video: int, shots: int, most_shots: int,
    eval_frames: int, finetune_steps: int, *, rates: tuple[float, float] = (GENERATOR_RATE,
    DISCRIMINATOR_RATE), seed: int = 0, weights: LossWeights | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """(generated, real, landmark images) ``[eval_frames,3,S,S]`` for one held-out video;
    ``weights`` are the fine-tuning loss weights (the paper's by default)."""
    count = data.frame_count(video)
    frames, shapes = to_tensors(*data.frames(video, list(range(count))), data.size)
    used = most_shots if shots == 0 else shots
    person = Person(model.eval(), frames[:used], shapes[:used])
    if shots:
        finetune(person, frames[:shots], shapes[:shots], finetune_steps, rates=rates, seed=seed,
                 weights=weights)  # fmt: skip
    person.eval()
    with torch.no_grad():
        made = person(shapes[-eval_frames:])
    return made, frames[-eval_frames:], shapes[-eval_frames:]


def evaluate(
    model: FewShotTalkingHead,
    data: VideoSet,
    videos: Sequence[int],
    *,
    shots: Sequence[int] = (0, 1, 8),
    eval_frames: int = 8,
    finetune_steps: int = 40,
    finetune_rates: tuple[float, float] = (GENERATOR_RATE, DISCRIMINATOR_RATE),
    progress: Progress | None = None,
    finetune_weights: LossWeights | None = None,
    reader: LandmarkReader | None = None,
    outputs: dict[tuple[int, int], torch.Tensor] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Per shot count: mean ``l1``, ``psnr`` and ``landmarks`` over ``videos``' held-out frames.

    ``landmarks`` is the mean distance in pixels between the points ``reader`` finds in the
    output and the driving landmarks (None without a reader); ``outputs``, when given, receives
    each ``(shots, video)``'s generated frames."""
    scores: dict[str, dict[str, float | None]] = {}
    most = max(max(shots), 1)
    total, done = len(shots) * len(videos), 0
    for count in shots:
        l1s, psnrs, errors = [], [], []
        for video in videos:
            made, real, _ = person_frames(model, data, video, count, most, eval_frames,
                                          finetune_steps, rates=finetune_rates,
                                          weights=finetune_weights)  # fmt: skip
            l1s.append(float((made - real).abs().mean()))
            psnrs.append(psnr(made.permute(0, 2, 3, 1).numpy(), real.permute(0, 2, 3, 1).numpy()))
            if reader is not None:
                driving = data.frames(video, list(range(data.frame_count(video))))[1]
                errors.append(landmark_error(reader, made, driving[-eval_frames:]))
            if outputs is not None:
                outputs[count, video] = made
            done += 1
            report(progress, "fewshot evaluation", done, total)
        scores[str(count)] = {"l1": float(np.mean(l1s)), "psnr": float(np.mean(psnrs)),
                              "landmarks": float(np.mean(errors)) if errors else None}  # fmt: skip
    return scores


def held_out_scores(
    model: FewShotTalkingHead,
    *,
    people: int = 3,
    frames: int = 24,
    shots: Sequence[int] = (0, 1, 8),
    eval_frames: int = 8,
    finetune_steps: int = 40,
    progress: Progress | None = None,
) -> dict[str, dict[str, float | None]]:
    """:func:`evaluate` on ``people`` procedural people never trained on, at the model's size."""
    held_out = SyntheticFaces(people, frames=frames, size=model.config.image_size,
                              seed=HELD_OUT_SEED)  # fmt: skip
    return evaluate(model, held_out, range(people), shots=shots, eval_frames=eval_frames,
                    finetune_steps=finetune_steps, progress=progress)  # fmt: skip
