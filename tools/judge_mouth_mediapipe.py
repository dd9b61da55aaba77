"""Judge, with MediaPipe 0.10.21 itself, whether animated faces follow their drivers.

Run with a Python environment that has ``mediapipe==0.10.21``, ``av`` and ``numpy`` installed
(this tool deliberately does not import ``unflat``, so the judge is not the tracker it judges)::

    python tools/judge_mouth_mediapipe.py VIDEOS_DIR [--portraits DIR] [--json PATH]

``VIDEOS_DIR`` is what ``unflat eval cross --videos VIDEOS_DIR`` wrote: per pair an output
``NAME.mp4`` and the driver frames it was made from, ``NAME_driver.mp4``, frame for frame. Both
are tracked with MediaPipe's face mesh (``mp.solutions.face_mesh``, video mode, iris-refined
landmarks). Per pair, over the frames where both faces were found:

- ``mouth_corr``: Pearson correlation of the two mouth openings (inner-lip gap, points 13-14,
  over the outer eye corners' distance, 33-263, in pixels); 1 when the output's mouth opens and
  closes with the driver's;
- ``eye_corr``: the same for the eye opening (mean of the two eyes' middle lid gaps, 159-145 and
  386-374, over each eye's corner distance);
- ``pose_error``: mean angle (degrees) between the driver's head rotation since its first frame
  and the output's since its first (each rotation a Kabsch fit of MediaPipe's 3-D points on the
  forehead, nose, eye corners and temples to the first frame's);
- with ``--portraits DIR`` (``NAME`` begins with the portrait's file stem, then ``_``):
  ``background``, the mean absolute change (0-255) of the pixels outside the person against the
  portrait: outside MediaPipe's selfie segmentation of the portrait and of the frame (p > 0.5),
  dilated by a quarter of the portrait's eye-corner distance, so only what should be still
  background counts; ``background_worst``, the largest frame's mean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import av
import cv2
import mediapipe as mp
import numpy as np

# Points that no expression moves much: forehead, nose bridge and tip, eye corners, temples.
RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 127, 356, 234, 454)


def _points(mesh: object, rgb: np.ndarray) -> np.ndarray | None:
    found = mesh.process(rgb).multi_face_landmarks  # type: ignore[attr-defined]
    if not found:
        return None
    h, w = rgb.shape[:2]
    return np.array([(p.x * w, p.y * h, p.z * w) for p in found[0].landmark])


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def track(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """MediaPipe's landmarks (x, y, z in pixels) per frame, None where no face was found."""
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, max_num_faces=1, refine_landmarks=True
    ) as mesh:
        return [_points(mesh, rgb) for rgb in frames]


def _dist(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a, :2] - points[b, :2]))


def mouth(points: np.ndarray) -> float:
    return _dist(points, 13, 14) / _dist(points, 33, 263)


def eyes(points: np.ndarray) -> float:
    return 0.5 * (_dist(points, 159, 145) / _dist(points, 33, 133)
                  + _dist(points, 386, 374) / _dist(points, 263, 362))  # fmt: skip


def rotation(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Kabsch rotation taking the reference's rigid points onto these."""
    a = reference[list(RIGID)] - reference[list(RIGID)].mean(0)
    b = points[list(RIGID)] - points[list(RIGID)].mean(0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def angle(a: np.ndarray, b: np.ndarray) -> float:
    cos = (np.trace(a @ b.T) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / scale) if scale > 1e-12 else float("nan")


def background(portrait: np.ndarray, frames: list[np.ndarray]) -> tuple[float, float]:
    """Mean and worst per-frame mean |change| of the still background against the portrait."""
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        base = seg.process(portrait).segmentation_mask > 0.5
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as m:
            points = _points(m, portrait)
        radius = max(int(0.25 * _dist(points, 33, 263)), 1) if points is not None else 9
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        changes = []
        for rgb in frames:
            person = base | (seg.process(rgb).segmentation_mask > 0.5)
            still = cv2.dilate(person.astype(np.uint8), kernel) == 0
            diff = np.abs(rgb.astype(np.float32) - portrait.astype(np.float32)).mean(-1)
            changes.append(float(diff[still].mean()) if still.any() else 0.0)
    return float(np.mean(changes)), float(np.max(changes))


def judge(driver: Path, output: Path, portrait: np.ndarray | None) -> dict[str, float | int | str]:
    made_frames = _frames(output)
    a, b = track(_frames(driver)), track(made_frames)
    n = min(len(a), len(b))
    both = [t for t in range(n) if a[t] is not None and b[t] is not None]
    row: dict[str, float | int | str] = {"pair": output.stem, "frames": len(both)}
    if len(both) < 2:
        return row
    row["mouth_corr"] = correlation(
        np.array([mouth(a[t]) for t in both]), np.array([mouth(b[t]) for t in both])
    )
    row["eye_corr"] = correlation(
        np.array([eyes(a[t]) for t in both]), np.array([eyes(b[t]) for t in both])
    )
    first = both[0]
    errors = [angle(rotation(a[t], a[first]), rotation(b[t], b[first])) for t in both]
    row["pose_error"] = float(np.mean(errors))
    if portrait is not None:
        # the encoder may pad or crop odd sizes by a pixel: compare what both cover
        h = min(portrait.shape[0], made_frames[0].shape[0])
        w = min(portrait.shape[1], made_frames[0].shape[1])
        row["background"], row["background_worst"] = background(
            np.ascontiguousarray(portrait[:h, :w]), [f[:h, :w].copy() for f in made_frames]
        )
    return row


def _portrait(folder: Path | None, stem: str) -> np.ndarray | None:
    if folder is None:
        return None
    for path in sorted(folder.iterdir()):
        if stem.startswith(path.stem + "_"):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("--portraits", type=Path, help="folder of the portraits, for background")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for driver in sorted(args.videos.glob("*_driver.mp4")):
        output = driver.with_name(driver.name[: -len("_driver.mp4")] + ".mp4")
        if not output.exists():
            continue
        rows.append(judge(driver, output, _portrait(args.portraits, output.stem)))
        print("\t".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                        for v in rows[-1].values()), flush=True)  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
