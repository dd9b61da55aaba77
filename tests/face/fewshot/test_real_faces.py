"""The real-face proof's pieces: frame picking, scoring, and a short run on a shared clip."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.face.fewshot.config import tiny_config
from unflat.face.fewshot.model import FewShotTalkingHead
from unflat.face.fewshot.prepare import clip_ranges, prepare_video
from unflat.face.fewshot.real_faces import pick_frames, real_face_scores
from unflat.face_mesh import LANDMARKS


def test_shots_are_spread_and_never_scored() -> None:
    shots, scored = pick_frames(135, 8, 5)
    assert shots == [0, 19, 38, 57, 77, 96, 115, 134]
    assert scored[:4] == [5, 10, 15, 20] and not set(shots) & set(scored)
    assert len(scored) == 27 - 2  # 27 multiples of 5 from 0 to 130, of which 0 and 115 are shots
    assert pick_frames(3, 8, 1) == ([0, 1, 2], [])


def test_clip_ranges_cut_videos_into_utterances() -> None:
    assert clip_ranges(10, 25.0, None) == [range(10)]
    assert clip_ranges(100, 25.0, 2.0) == [range(0, 50), range(50, 100)]
    # a tail under half a clip joins the clip before it
    assert clip_ranges(110, 25.0, 2.0) == [range(0, 50), range(50, 110)]
    assert clip_ranges(130, 25.0, 2.0) == [range(0, 50), range(50, 100), range(100, 130)]


def test_real_face_scores_on_the_start_of_a_clip() -> None:
    clip = shared_path("data", "faces", "videos", "talk_1.mp4")
    model = FewShotTalkingHead(tiny_config(image_size=32))
    scores = real_face_scores(model, clip, shots=(1, 2), every=6, finetune_steps=1,
                              max_frames=14)  # fmt: skip
    assert set(scores) == {"1", "2", "classical"}
    for row in scores.values():
        assert row["frames"] == 2  # frames 6 and 12: 0 and 13 are the shots
        assert 0 < row["l1"] < 1 and 0 < row["psnr"] < 60
        assert 0 <= row["faces_found"] <= 1
    # the classical engine warps the real first frame: far closer than an untrained model
    assert scores["classical"]["l1"] < scores["1"]["l1"]
    assert scores["classical"]["psnr"] > scores["1"]["psnr"]
    floor = scores["classical"]["landmarks_floor"]
    assert floor is not None and floor < 2.0  # the tracker on real 32 px crops, in pixels


def test_prepare_writes_the_training_layout(tmp_path) -> None:
    from unflat.face.fewshot.data import VideoFolder

    video = shared_path("data", "faces", "videos", "lp_d0.mp4")
    clips = prepare_video(video, tmp_path, size=48, clip_seconds=0.2, max_frames=10)
    assert [c.relative_to(tmp_path).as_posix() for c in clips] == [
        "lp_d0/lp_d0/000.mp4",
        "lp_d0/lp_d0/001.mp4",
    ]
    data = VideoFolder(tmp_path, 48)
    assert len(data) == 2 and data.frame_count(0) == 5
    frames, landmarks = data.frames(1, [0, 4])
    assert frames.shape == (2, 48, 48, 3) and landmarks.shape == (2, LANDMARKS, 2)
    # the face fills the square as the framing says: the mesh 0.62 of the side high
    height = np.ptp(landmarks[0, :468, 1])
    assert height == pytest.approx(0.62 * 48, rel=0.15)
