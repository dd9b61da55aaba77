"""Every reader's harness, by name: what CI runs and what ``python -m tests.fuzz`` runs longer.

``ci_examples`` is sized so that all harnesses together take about a minute on a slow two-core
machine (measured: the slowest examples are the configs', which build a model's shapes).
"""

from __future__ import annotations

from tests.fuzz import depth, images, media, models, splat
from tests.fuzz.runner import Harness

HARNESSES: dict[str, Harness] = {
    harness.name: harness
    for harness in (
        Harness("images", "read_photo", images.seeds, images.read, ci_examples=1200),
        Harness("depth", "load_depth, read_depth", depth.seeds, depth.read, ci_examples=800),
        Harness(
            "video", "probe_video, read_video", media.video_seeds, media.read_videos, 500
        ),
        Harness(
            "audio", "read_audio, read_soundtrack", media.audio_seeds, media.read_sounds, 500
        ),
        Harness(
            "splat", "load_gaussians, read_ply_points", splat.seeds, splat.read, ci_examples=1000
        ),
        Harness(
            "configs", "read_config_file, read_config", models.config_seeds, models.read_config,
            ci_examples=400,
        ),
        Harness(
            "builds", "build_model (meta device)", models.config_seeds, models.build,
            ci_examples=150,
        ),
        Harness(
            "weights", "load_model, read_checkpoint", models.weights_seeds, models.read_weights,
            ci_examples=600,
        ),
    )
}  # fmt: skip
