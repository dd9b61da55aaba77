"""A strip of frames from a video, for the docs: ``python tools/frame_sheet.py VIDEO OUT.jpg``.

Takes frames at the given fractions of the clip (default: its start, a third and two thirds in),
scales the strip to ``--width`` pixels and writes it as a JPEG of ``--quality``.
"""

from __future__ import annotations

import argparse

import numpy as np

from unflat.io.images import save_rgb
from unflat.io.video import read_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("output")
    parser.add_argument("--at", default="0,0.33,0.66", help="fractions of the clip")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--quality", type=int, default=82)
    args = parser.parse_args()
    with read_video(args.video) as reader:
        frames = list(reader)
    picks = [frames[min(int(float(f) * len(frames)), len(frames) - 1)] for f in args.at.split(",")]
    strip = np.concatenate(picks, axis=1)
    import cv2

    scale = args.width / strip.shape[1]
    strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    save_rgb(args.output, strip, quality=args.quality)
    print(f"wrote {args.output}: {strip.shape[1]}x{strip.shape[0]}, frames at {args.at}")


if __name__ == "__main__":
    main()
