"""``unflat splat``'s stages inside one photo get bars: the scene, then each video by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipelines.fakes import write_depths, write_photos
from unflat.errors import ConfigError
from unflat.pipelines.scene import SceneJob, ScenePipeline
from unflat.splat.trajectories import TrajectoryOptions


def test_scene_and_each_video_report_their_own_stage(tmp_path: Path) -> None:
    (photo,) = write_photos(tmp_path / "in", ["p.png"], size=(48, 32))
    depth = write_depths(tmp_path / "depth", [photo])
    pipeline = ScenePipeline(method="rgbd", focal_px=40.0, max_size=None)
    job = SceneJob(pipeline, depth=depth, videos=("swipe", "orbit"),
                   path_options=TrajectoryOptions(num_frames=3, fps=10))  # fmt: skip
    heard: list[tuple[str, int, int | None]] = []
    job.progress = lambda stage, done, total: heard.append((stage, done, total))
    (tmp_path / "out").mkdir()
    job.process(photo, tmp_path / "out" / "p")
    stages = list(dict.fromkeys(stage for stage, _, _ in heard))
    assert stages == ["p.png: 3D scene", "p.png: p.swipe.mp4", "p.png: p.orbit.mp4"]
    assert [(d, t) for s, d, t in heard if s == stages[0]] == [(0, 1), (1, 1)]
    assert heard[-1] == ("p.png: p.orbit.mp4", 3, 3)


def test_max_size_zero_means_full_size_and_tiny_sizes_are_refused():
    assert ScenePipeline(method="rgbd", max_size=0).max_size is None
    with pytest.raises(ConfigError, match="--max-size 8 is too small"):
        ScenePipeline(method="rgbd", max_size=8)
