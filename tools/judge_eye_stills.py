"""MediaPipe 0.10.21's eye opening on still frames (the judge's measure, static mode).

Reads every ``NAME_KIND_OPENNESS.png`` that ``tools/eye_openings.py --frames DIR`` wrote and
prints, per portrait and kind (stretched, drawn), the eye opening MediaPipe reads at each
openness (mean of the two middle lid gaps over each eye's corner distance, as
``tools/judge_mouth_mediapipe.py`` measures it). Run with the judge's environment::

    python tools/judge_eye_stills.py DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judge_mouth_mediapipe as judge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", type=Path)
    args = parser.parse_args()
    readings: dict[tuple[str, str], dict[str, float]] = {}
    mesh_type = judge._mediapipe().solutions.face_mesh.FaceMesh
    with mesh_type(static_image_mode=True, refine_landmarks=True) as mesh:
        for path in sorted(args.frames.glob("*_*_*.png")):
            name, kind, openness = path.stem.rsplit("_", 2)
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            points = judge._points(mesh, rgb)
            reading = judge.eyes(points) if points is not None else float("nan")
            readings.setdefault((name, kind), {})[openness] = reading
    for (name, kind), values in readings.items():
        print(name, kind, " ".join(f"{k}:{values[k]:.3f}" for k in sorted(values)))


if __name__ == "__main__":
    main()
