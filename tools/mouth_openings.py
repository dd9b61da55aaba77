"""Render portraits with commanded mouth openings and show how far the mouth opens.

Each portrait (a stem in ``../shared/data/faces/portraits``) is rendered with its lips parted
0, 0.033, 0.077, 0.12, 0.165 and 0.25 eye-corner distances past its own closed lips (the preset
jaw, no driver). Prints the commanded inner-lip gap and the one our tracker reads back; writes a
contact sheet of the mouths (one row per portrait) and, with ``--frames DIR``, every whole frame
as ``PORTRAIT_COMMANDED_OPENING.png`` for an outside judge (MediaPipe)::

    python tools/mouth_openings.py s9,s0,s12,s10 sheet.png [--frames DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from unflat import face_mesh
from unflat.face.animate import Animator, _set_mouth
from unflat.face.detect import detect
from unflat.face.evaluate import contact_sheet
from unflat.io.images import read_photo

OPENINGS = (0.0, 0.033, 0.077, 0.12, 0.165, 0.25)
PORTRAITS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "faces" / "portraits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portraits", help="comma-separated stems, e.g. s9,s0")
    parser.add_argument("sheet", type=Path)
    parser.add_argument("--frames", type=Path)
    parser.add_argument("--folder", type=Path, default=PORTRAITS)
    args = parser.parse_args()
    rows = []
    for name in args.portraits.split(","):
        animator = Animator([read_photo(args.folder / f"{name}.jpg").rgb])
        shot = animator.primary
        centre, source_centre = animator._centres
        row = []
        for opening in OPENINGS:
            canonical = _set_mouth(shot.canonical.copy(), animator._closed_lips + opening)
            target = shot.pose.scale * (canonical - centre) @ shot.pose.rotation.T + source_centre
            target = target.astype(np.float32)
            frame = animator.render(target)
            commanded = float(face_mesh.mouth_opening(target))
            found = detect(frame)
            read = float(face_mesh.mouth_opening(found[0].landmarks)) if found else float("nan")
            print(f"{name}\tcommanded {commanded:.3f}\tour tracker reads {read:.3f}")
            if args.frames is not None:
                args.frames.mkdir(parents=True, exist_ok=True)
                path = args.frames / f"{name}_{opening:.3f}_{commanded:.4f}.png"
                cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            lips = target[list(face_mesh.OUTER_LIP), :2]
            middle, reach = lips.mean(0), np.ptp(lips[:, 0]) * 1.3
            top, left = int(max(middle[1] - 0.8 * reach, 0)), int(max(middle[0] - reach, 0))
            row.append(frame[top : int(middle[1] + reach), left : int(middle[0] + reach)])
        rows.append(row)
    cv2.imwrite(str(args.sheet), cv2.cvtColor(contact_sheet(rows, 200), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
