"""Judge, with MediaPipe 0.10.21 itself, whether animated mouths follow their drivers.

Run with a Python environment that has ``mediapipe==0.10.21``, ``av`` and ``numpy`` installed
(this tool deliberately does not import ``unflat``, so the judge is not the tracker it judges)::

    python tools/judge_mouth_mediapipe.py VIDEOS_DIR [--json PATH]

``VIDEOS_DIR`` is what ``unflat eval cross --videos VIDEOS_DIR`` wrote: per pair an output
``NAME.mp4`` and the driver frames it was made from, ``NAME_driver.mp4``, frame for frame. Both
are tracked with MediaPipe's face mesh (``mp.solutions.face_mesh``, video mode, iris-refined
landmarks); the mouth opening of a frame is the inner-lip gap (points 13-14) over the outer eye
corners' distance (33-263), in pixels. Printed per pair: the frames where both faces were found
and the Pearson correlation of the two openings (1: the output's mouth opens and closes with the
driver's).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import av
import mediapipe as mp
import numpy as np


def openings(path: Path) -> np.ndarray:
    """Mouth opening per frame of a video (NaN where no face was found)."""
    values = []
    with (
        av.open(str(path)) as container,
        mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True
        ) as mesh,
    ):
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            found = mesh.process(rgb).multi_face_landmarks
            if not found:
                values.append(np.nan)
                continue
            h, w = rgb.shape[:2]
            points = np.array([(p.x * w, p.y * h) for p in found[0].landmark])
            gap = np.linalg.norm(points[13] - points[14])
            values.append(gap / np.linalg.norm(points[33] - points[263]))
    return np.asarray(values)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / scale) if scale > 1e-12 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for driver in sorted(args.videos.glob("*_driver.mp4")):
        output = driver.with_name(driver.name[: -len("_driver.mp4")] + ".mp4")
        if not output.exists():
            continue
        a, b = openings(driver), openings(output)
        n = min(len(a), len(b))
        both = ~np.isnan(a[:n]) & ~np.isnan(b[:n])
        rows.append(
            {
                "pair": output.stem,
                "frames": int(both.sum()),
                "mouth_corr": correlation(a[:n][both], b[:n][both]),
            }
        )
        print(f"{output.stem}\t{rows[-1]['frames']}\t{rows[-1]['mouth_corr']:.3f}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
