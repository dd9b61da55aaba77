"""Flicker and accuracy of video depth with and without stabilisation, on clips of known depth.

Clips (:mod:`unflat.datasets.depth_clips`), ``--frames`` frames each:

- ``NAME`` (a Middlebury 2014 scene, quarter size, true depth from its disparity): a 520x400
  window panning 2 px right and 0.25 px down a frame over the left image;
- ``NAME+jitter``: the same, its per-frame depth jittered in scale and shift only;
- ``NAME+mover``: the same with a textured card 1.5 m away crossing the view at 6 px a frame
  and coming 5 mm nearer a frame (a moving object);
- ``layers-pan`` / ``layers-dolly``: a wall 6 m away, a board at 3 m and a card moving on its
  own, filmed at 640x480 (focal 500 px) by a camera moving 1 cm sideways, or 2 cm forward, a
  frame (parallax, occlusions, and for the dolly a true change of depth).

Each frame's depth is the truth with a new inverse-depth scale (log-normal, sigma 8 %), shift
(sigma 4 % of the median), low-frequency blotches (3 %) and pixel noise (2 %)
(:func:`~unflat.datasets.depth_clips.jittered_depth`), or, with ``--depth-pro``, Depth Pro's
prediction (given the true focal length, as EXIF would). Rows: the truth itself (its flicker is
the real change of depth), the per-frame depth as given, stabilised
(:class:`~unflat.depth.video.DepthStabiliser`, defaults), and stabilised with alignment only
(``temporal_weight=0``). Figures: flicker, the mean absolute frame-to-frame change of depth on
static pixels (the clip's exact correspondences; relative to depth, and in cm); AbsRel against
the truth, over all known pixels and over the moving object; the Depth Pro boundary F1 against
the truth every 10th frame; and the stabiliser's milliseconds per frame.

    python benchmarks/video_depth_flicker.py            # the table in docs/video-depth.md
    python benchmarks/video_depth_flicker.py --speed    # ms/frame at 640x480 (BENCHMARKS.md)
    python benchmarks/video_depth_flicker.py --depth-pro --device cuda --frames 30

Middlebury scenes are read from ``../shared/data/depth/middlebury`` (``--middlebury``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from unflat.datasets.depth_clips import (
    ClipFrame,
    Layer,
    Mover,
    jittered_depth,
    layered_clip,
    panned_clip,
    texture,
)
from unflat.depth.metrics import abs_rel, boundary_f1
from unflat.depth.video import DepthStabiliser, Flicker, StabiliseSettings

MIDDLEBURY = Path(__file__).resolve().parents[2] / "shared/data/depth/middlebury"
SCENES = (
    "Adirondack",
    "Motorcycle",
    "Piano",
    "Adirondack+jitter",
    "Adirondack+mover",
    "layers-pan",
    "layers-dolly",
)
#: What ``NAME+jitter`` perturbs: the scale and shift alone, no blotches or pixel noise.
JITTER_ONLY = {"blotches": 0.0, "noise": 0.0}
METHODS = {
    "truth": None,
    "per-frame depth": None,
    "stabilised": StabiliseSettings(),
    "aligned only": StabiliseSettings(temporal_weight=0.0),
}
Clip = Callable[[], Iterator[ClipFrame]]
DepthOf = Callable[[ClipFrame, int, float], np.ndarray]


def middlebury_clip(folder: Path, frames: int, mover: bool) -> tuple[Clip, float]:
    from unflat.datasets.middlebury import load_middlebury_pair

    pair = load_middlebury_pair(folder)
    card = Mover(texture(90, 90, 5), (420, 150), (-6.0, 1.0), 1.5, -0.005) if mover else None

    def clip() -> Iterator[ClipFrame]:
        return panned_clip(
            pair.left, pair.depth, size=(520, 400), frames=frames, step=(2.0, 0.25), mover=card
        )

    return clip, float(pair.K_left[0, 0])


def layered_scene(kind: str, frames: int, size: tuple[int, int] = (640, 480)) -> tuple[Clip, float]:
    layers = [
        Layer(texture(600, 900, 1), (-4, -3, 4, 3), 6.0),
        Layer(texture(200, 200, 2), (-0.9, -0.6, 0.2, 0.5), 3.0),
        Layer(texture(128, 128, 3), (0.3, -0.2, 0.8, 0.3), 3.5, (-0.02, 0.0, -0.01)),
    ]
    step = (0.01, 0.0, 0.0) if kind == "pan" else (0.0, 0.0, 0.02)

    def clip() -> Iterator[ClipFrame]:
        return layered_clip(layers, size=size, focal_px=500.0, frames=frames, camera_step=step)

    return clip, 500.0


class DepthProFrames:
    """Depth Pro's depth of each frame, given the true focal length."""

    def __init__(self, weights: str | None, device: str) -> None:
        from unflat.depth.predict import DepthEstimator

        self.estimator = DepthEstimator.from_options(weights, "depth-pro", device, "fp32")

    def __call__(self, frame: ClipFrame, index: int, focal: float) -> np.ndarray:
        from unflat.types import Photo

        return self.estimator.predict(Photo(frame.rgb), f_px=focal).depth


def per_frame_depth(source: DepthProFrames | None, jitter: dict[str, float]) -> DepthOf:
    if source is not None:
        return source
    return lambda frame, index, focal: jittered_depth(frame.depth, index, seed=1, **jitter)


class Scores:
    """Flicker, AbsRel and boundary F1 of one method on one clip, frame by frame."""

    def __init__(self) -> None:
        self.flicker = Flicker()
        self.errors: list[float] = []
        self.moving: list[float] = []
        self.boundaries: list[float] = []
        self.previous: np.ndarray | None = None

    def add(self, index: int, frame: ClipFrame, depth: np.ndarray) -> None:
        if self.previous is not None:
            self.flicker.add(self.previous, depth, frame.map_x, frame.map_y, frame.static)
        self.previous = depth
        known = np.isfinite(frame.depth)
        self.errors.append(abs_rel(depth, frame.depth, known))
        if frame.moving.sum() > 100:
            self.moving.append(abs_rel(depth, frame.depth, frame.moving))
        if index % 10 == 5:
            self.boundaries.append(boundary_f1(np.where(known, depth, np.nan), frame.depth))

    def row(self) -> dict[str, float | None]:
        def mean(values: list[float]) -> float | None:
            return float(np.mean(values)) if values else None

        return {
            "flicker_relative": self.flicker.relative,
            "flicker_cm": 100 * self.flicker.metres,
            "abs_rel": mean(self.errors),
            "abs_rel_moving": mean(self.moving),
            "boundary_f1": mean(self.boundaries),
        }


def measure(clip: Clip, focal: float, method: str, depth_of: DepthOf) -> dict[str, float | None]:
    """Run ``method`` over the clip, streaming (the stabiliser holds back its first frames)."""
    settings = METHODS[method]
    stabiliser = DepthStabiliser(focal, settings) if settings is not None else None
    scores, waiting, seconds = Scores(), deque(), []
    for index, frame in enumerate(clip()):
        depth = frame.depth if method == "truth" else depth_of(frame, index, focal)
        waiting.append((index, frame))
        if stabiliser is None:
            finished = [depth]
        else:
            start = time.perf_counter()
            finished = stabiliser.push(frame.rgb, depth)
            seconds.append(time.perf_counter() - start)
        for result in finished:
            scores.add(*waiting.popleft(), result)
    for result in stabiliser.finish() if stabiliser is not None else []:
        scores.add(*waiting.popleft(), result)
    row = scores.row()
    row["ms_per_frame"] = 1000 * statistics.median(seconds[1:]) if len(seconds) > 1 else None
    return row


def clips(
    names: list[str], frames: int, middlebury: Path
) -> Iterator[tuple[str, Clip, float, dict[str, float]]]:
    """Each named clip, its focal length and how its per-frame depth is jittered."""
    for name in names:
        if name.startswith("layers-"):
            yield (name, *layered_scene(name.removeprefix("layers-"), frames), {})
            continue
        scene, _, variant = name.partition("+")
        folder = middlebury / scene
        if not folder.is_dir():
            print(f"skipped {name}: {folder} is missing", file=sys.stderr)
            continue
        jitter = JITTER_ONLY if variant == "jitter" else {}
        yield (name, *middlebury_clip(folder, frames, variant == "mover"), jitter)


def percent(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.2f}"


def table(results: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| clip | depth | flicker % | flicker cm | AbsRel % | AbsRel % moving | boundary F1 "
        "| ms / frame |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for clip, rows in results.items():
        for method, row in rows.items():
            ms = row["ms_per_frame"]
            f1 = row["boundary_f1"]
            lines.append(
                f"| {clip} | {method} | {percent(row['flicker_relative'])} "
                f"| {row['flicker_cm']:.2f} | {percent(row['abs_rel'])} "
                f"| {percent(row['abs_rel_moving'])} | {'–' if f1 is None else f'{f1:.3f}'} "
                f"| {'–' if ms is None else f'{ms:.0f}'} |"
            )
    return "\n".join(lines)


def speed(runs: int, frames: int, middlebury: Path) -> None:
    """Median ms/frame of the stabiliser at 640x480 (a Middlebury pan), per flow preset."""
    from unflat.datasets.middlebury import load_middlebury_pair

    pair = load_middlebury_pair(middlebury / "Adirondack")
    clip = list(panned_clip(pair.left, pair.depth, size=(640, 480), frames=frames, step=(1, 0.25)))
    depths = [jittered_depth(frame.depth, i, seed=1) for i, frame in enumerate(clip)]
    for preset in ("medium", "fast"):
        medians = []
        for _ in range(runs):
            stabiliser = DepthStabiliser(pair.K_left[0, 0], StabiliseSettings(flow_preset=preset))
            seconds = []
            for frame, depth in zip(clip, depths, strict=True):
                start = time.perf_counter()
                stabiliser.push(frame.rgb, depth)
                seconds.append(time.perf_counter() - start)
            medians.append(1000 * statistics.median(seconds[1:]))
        runs_text = ", ".join(f"{m:.0f}" for m in medians)
        print(f"| {preset} | {statistics.median(medians):.0f} | {runs_text} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--scenes", nargs="+", default=list(SCENES))
    parser.add_argument("--middlebury", type=Path, default=MIDDLEBURY)
    parser.add_argument("--depth-pro", action="store_true", help="Depth Pro per frame")
    parser.add_argument("--weights", help="Depth Pro weights (default: the installed ones)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--speed", action="store_true", help="only ms/frame at 640x480")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.speed:
        speed(args.runs, 30, args.middlebury)
        return
    model = DepthProFrames(args.weights, args.device) if args.depth_pro else None
    results: dict[str, dict[str, dict]] = {}
    for name, clip, focal, jitter in clips(args.scenes, args.frames, args.middlebury):
        depth_of = per_frame_depth(model, jitter)
        results[name] = {method: measure(clip, focal, method, depth_of) for method in METHODS}
        print(f"{name} done", file=sys.stderr)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
