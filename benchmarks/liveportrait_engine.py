"""Per-frame time of the LivePortrait engine's parts on this machine's CPU (or a GPU).

A driving clip's first frames animate the bundled Mona Lisa (512x640) through the engine:
``tracking`` (unflat's face tracker on the driver frame, at its own size), ``crop`` (the driver
square resampled to the network's input), ``motion`` (the motion extractor, then relative motion
and stitching), ``network`` (warping and decoding), ``paste`` (the picture back into the frame).
The portrait's one-off encoding (its crop, appearance volume and keypoints) is timed apart.
Weights are random (time does not depend on their values): the released full size by default,
or a fixture's config with ``--weights FOLDER``. Medians over the frames.

    python benchmarks/liveportrait_engine.py --video ../shared/data/faces/videos/lp_d0.mp4
    python benchmarks/liveportrait_engine.py --video ... \\
        --weights ../shared/fixtures/liveportrait_tiny_a
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

PARTS = ("tracking", "crop", "motion", "network", "paste")


def _model(weights: str | None, device: str) -> tuple[torch.nn.Module, int]:
    from unflat.pipelines.engines import input_size
    from unflat.registry import build_model

    config = {"architecture": "liveportrait"}
    if weights is not None:
        config = json.loads((Path(weights) / "config.json").read_text())
    torch.manual_seed(0)
    model = build_model(config).eval().requires_grad_(False).to(device)
    return model, input_size(weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", default=None, help="a fixture folder (its config only)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from unflat.face.liveportrait.engine import LivePortraitEngine
    from unflat.face.track import FaceTracker, build_track
    from unflat.io.images import read_photo
    from unflat.io.video import read_video
    from unflat.pipelines.animate import bundled_portrait

    model, size = _model(args.weights, args.device)
    engine = LivePortraitEngine(model, [read_photo(bundled_portrait()).rgb], input_size=size)
    start = time.perf_counter()
    engine.source  # noqa: B018 - the portrait's one-off encoding
    encode_s = time.perf_counter() - start

    with read_video(args.video) as reader:
        frames = [frame for _, frame in zip(range(args.frames), reader, strict=False)]
    tracker, results, per_frame = FaceTracker(), [], {part: [] for part in PARTS}
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        results.append(tracker.update(frame, index / 25.0))
        per_frame["tracking"].append(time.perf_counter() - start)
    face_track = build_track(results, 25.0, (frames[0].shape[1], frames[0].shape[0]), neutral=0)
    for index in range(len(frames)):
        before = dict(engine.timings)
        face_track.neutral = index  # one driver frame read per output frame
        readings = engine.driver_motions(face_track, frames, np.array([index]))
        driving = engine.driver_keypoints(readings, index, index)
        engine.render(driving)
        for part in ("crop", "motion", "network", "paste"):
            per_frame[part].append(engine.timings[part] - before.get(part, 0.0))
    medians = {part: statistics.median(values) * 1000 for part, values in per_frame.items()}
    label = "tiny fixture" if args.weights else "full size"
    print(f"{label}, input {size}, {args.device}, {args.threads} threads, "
          f"{len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]}")  # fmt: skip
    print(f"portrait encoding (once): {encode_s * 1000:.0f} ms")
    print("| part | ms / frame (median) |\n|---|---|")
    for part in PARTS:
        print(f"| {part} | {medians[part]:.1f} |")
    print(f"| **all** | **{sum(medians.values()):.1f}** |")


if __name__ == "__main__":
    main()
