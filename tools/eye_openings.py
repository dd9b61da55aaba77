"""Render portraits with their eyes opened past their own and show the eyes, stretched and drawn.

Each portrait (a stem in ``../shared/data/faces/portraits``) is rendered with its lids opened
1.0, 1.2, 1.4 and 1.6 times its own opening (the last also looking a tenth of an eye width to
the side), once with the warp alone (the eye's pixels stretched, as before ``unflat.face.eyes``)
and once with the eye's inside drawn. Prints the commanded eye opening (mean lid gap over corner
distance) and the one our tracker reads back; writes a contact sheet of the eyes, two rows per
portrait (stretched, then drawn), and, with ``--frames DIR``, every whole frame as
``PORTRAIT_KIND_OPENNESS.png`` for an outside judge (MediaPipe)::

    python tools/eye_openings.py s9,s12 sheet.jpg [--frames DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from unflat import face_mesh
from unflat.face.animate import Animator
from unflat.face.detect import detect
from unflat.face.evaluate import contact_sheet
from unflat.face.motion import Motion
from unflat.io.images import read_photo

OPENNESS = (1.0, 1.2, 1.4, 1.6)
PORTRAITS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "faces" / "portraits"


def _eyes_crop(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Both eyes, a fifth of their span around them, from the brows to below the lower lids."""
    corners = landmarks[[33, 133, 263, 362], :2]
    left, right = corners[:, 0].min(), corners[:, 0].max()
    pad = 0.15 * (right - left)
    middle = corners[:, 1].mean()
    top, bottom = middle - 0.25 * (right - left), middle + 0.17 * (right - left)
    return frame[int(top) : int(bottom), int(left - pad) : int(right + pad)]


def _opening(landmarks: np.ndarray) -> float:
    return float(face_mesh.eye_aspect_ratios(landmarks).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portraits", help="comma-separated stems, e.g. s9,s12")
    parser.add_argument("sheet", type=Path)
    parser.add_argument("--frames", type=Path)
    parser.add_argument("--folder", type=Path, default=PORTRAITS)
    args = parser.parse_args()
    rows = []
    for name in args.portraits.split(","):
        animator = Animator([read_photo(args.folder / f"{name}.jpg").rgb])
        looks = animator._eye_looks
        for kind in ("stretched", "drawn"):
            animator._eye_looks = looks if kind == "drawn" else (None, None)
            row = []
            for openness in OPENNESS:
                motion = Motion.still(1, 25.0)
                motion.eye_open[0] = openness
                motion.gaze[0, :, 0] = 0.1 if openness == OPENNESS[-1] else 0.0
                target = animator.target_landmarks(animator.limited(motion), 0)
                frame = animator.render(target)
                found = detect(frame)
                read = _opening(found[0].landmarks) if found else float("nan")
                print(f"{name}\t{kind}\t{openness}\tcommanded {_opening(target):.3f}"
                      f"\tour tracker reads {read:.3f}")  # fmt: skip
                if args.frames is not None:
                    args.frames.mkdir(parents=True, exist_ok=True)
                    path = args.frames / f"{name}_{kind}_{openness:.1f}.png"
                    cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                row.append(_eyes_crop(frame, animator.primary.landmarks))
            rows.append(row)
    sheet = cv2.cvtColor(contact_sheet(rows, 110), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(args.sheet), sheet, [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    main()
