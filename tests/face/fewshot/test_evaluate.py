"""Scoring held-out people: the shot counts, and fine-tuning that helps on the person's frames."""

from __future__ import annotations

import math

import torch

from unflat.face.fewshot.config import tiny_config
from unflat.face.fewshot.evaluate import evaluate, person_frames
from unflat.face.fewshot.landmark_reader import LandmarkReader, landmark_error
from unflat.face.fewshot.losses import LossWeights
from unflat.face.fewshot.model import FewShotTalkingHead
from unflat.face.fewshot.synthetic import SyntheticFaces

torch.set_num_threads(1)


def test_scores_per_shot_count() -> None:
    torch.manual_seed(0)
    model = FewShotTalkingHead(tiny_config(videos=1, image_size=32))
    data = SyntheticFaces(1, frames=6, size=32, seed=9)
    steps: list[tuple[str, int, int | None]] = []
    scores = evaluate(model, data, [0], shots=(0, 2), eval_frames=2, finetune_steps=2,
                      progress=lambda *event: steps.append(event))  # fmt: skip
    assert set(scores) == {"0", "2"} and steps[-1] == ("fewshot evaluation", 2, 2)
    for values in scores.values():
        assert (
            0 < values["l1"] < 1 and math.isfinite(values["psnr"]) and values["landmarks"] is None
        )
    made, real, shapes = person_frames(model, data, 0, 0, 2, 2, 0)
    assert made.shape == real.shape == shapes.shape == (2, 3, 32, 32)
    # The scored frames are the video's last ones, never its shots.
    torch.testing.assert_close(
        real[-1], torch.from_numpy(data.video(0)[0][-1]).permute(2, 0, 1) / 255
    )


def test_landmark_error_and_outputs_when_asked() -> None:
    torch.manual_seed(0)
    model = FewShotTalkingHead(tiny_config(videos=1, image_size=32))
    data = SyntheticFaces(1, frames=5, size=32, seed=9)
    reader = LandmarkReader().eval()
    outputs: dict = {}
    scores = evaluate(model, data, [0], shots=(0, 1), eval_frames=2, finetune_steps=1,
                      reader=reader, outputs=outputs,
                      finetune_weights=LossWeights().content_only())  # fmt: skip
    made = outputs[0, 0]
    assert set(outputs) == {(0, 0), (1, 0)} and made.shape == (2, 3, 32, 32)
    wanted = landmark_error(reader, made, data.video(0)[1][-2:])
    assert abs(scores["0"]["landmarks"] - wanted) < 1e-5
