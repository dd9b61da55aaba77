"""The refocus figure of docs/depth-uses.md: the bundled Mona Lisa and `unflat refocus`'s result.

The depth is what a fresh install gives a portrait without weights: the portrait estimate from
the bundled face mesh and person segmentation (docs/portrait-depth.md). ``unflat refocus``
focuses on her face at f/1.4, and the photo and the result are put side by side (768x480 JPEG).

    python tools/make_refocus_figure.py docs/images/refocus_mona_lisa.jpg
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from unflat.cli import main as unflat
from unflat.io.images import read_photo, save_rgb

PORTRAIT = Path(__file__).resolve().parents[1] / "src/unflat/assets/portraits/mona_lisa.jpg"
REFOCUS = ["--focal-px", "700", "--focus", "256,260", "--f-number", "1.4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="The figure (.jpg).")
    options = parser.parse_args()
    photo = read_photo(PORTRAIT).rgb
    with tempfile.TemporaryDirectory() as folder:
        refocused = Path(folder) / "refocused.png"
        command = ["refocus", str(PORTRAIT), *REFOCUS, "-o", str(refocused)]
        print("unflat " + " ".join(command))
        if unflat(command) != 0:
            raise SystemExit(1)
        pair = np.concatenate([photo, read_photo(refocused).rgb], axis=1)
    save_rgb(options.output, cv2.resize(pair, (768, 480), interpolation=cv2.INTER_AREA), 85)
    print(f"{options.output}: {options.output.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
