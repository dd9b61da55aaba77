"""The refocus figure of docs/depth-uses.md: the bundled Mona Lisa and `unflat refocus`'s result.

No depth model ships with unflat, so the figure's depth is built from what does: the bundled
person segmentation (MediaPipe's selfie model) puts the sitter ``--person`` metres away and the
landscape ``--background`` metres behind her, the mask's soft edge blended in inverse depth.
It is a picture's depth, not a measurement: enough to show the lens blur, nothing more. Then
``unflat refocus`` focuses on her face at f/1.4, and the photo and the result are put side by
side (768x480 JPEG).

    python tools/make_refocus_figure.py docs/images/refocus_mona_lisa.jpg
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from unflat.cli import main as unflat
from unflat.face.segment import segment_person
from unflat.io.images import read_photo, save_rgb

PORTRAIT = Path(__file__).resolve().parents[1] / "src/unflat/assets/portraits/mona_lisa.jpg"
REFOCUS = ["--focal-px", "700", "--focus", "256,260", "--f-number", "1.4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="The figure (.jpg).")
    parser.add_argument("--person", type=float, default=1.0, help="Metres to the sitter.")
    parser.add_argument("--background", type=float, default=12.0, help="Metres to the land.")
    options = parser.parse_args()
    photo = read_photo(PORTRAIT).rgb
    person = segment_person(photo)
    inverse = person / options.person + (1 - person) / options.background
    with tempfile.TemporaryDirectory() as folder:
        depth, refocused = Path(folder) / "depth.npy", Path(folder) / "refocused.png"
        np.save(depth, (1.0 / inverse).astype(np.float32))
        command = ["refocus", str(PORTRAIT), "--depth", str(depth), *REFOCUS, "-o", str(refocused)]
        print("unflat " + " ".join(command))
        if unflat(command) != 0:
            raise SystemExit(1)
        pair = np.concatenate([photo, read_photo(refocused).rgb], axis=1)
    save_rgb(options.output, cv2.resize(pair, (768, 480), interpolation=cv2.INTER_AREA), 85)
    print(f"{options.output}: {options.output.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
