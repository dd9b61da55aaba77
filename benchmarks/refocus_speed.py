"""Seconds and peak memory of ``unflat.lens.refocus`` on a 12 MP photo (4032x3024).

The photo is a smooth random texture with clipped highlights; its depth a phone portrait's: a
person (an ellipse) at 1 m, a floor rising from 1.2 m at the bottom edge to a wall at 4 m, and
a background at 20 m through a window. The lens is the photo's 26 mm equivalent (3028 px),
focused on the person (1 m: the background blurred) and on the wall (4 m: the person blurred in
front of it, with what lies behind her edges filled in). After one warm-up call (numba's compile
or cache load) the median of ``--runs`` calls is reported, wall and CPU seconds, with the
largest blur radius.

    NUMBA_NUM_THREADS=2 python benchmarks/refocus_speed.py --runs 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import cv2
import numpy as np

from unflat.lens.refocus import Lens, blur_radius, refocus

WIDTH, HEIGHT = 4032, 3024
FOCAL_PX = 26 * np.hypot(WIDTH, HEIGHT) / np.hypot(36, 24)


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (HEIGHT // 16, WIDTH // 16, 3), dtype=np.uint8)
    rgb = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    rgb[rng.integers(0, HEIGHT, 3000), rng.integers(0, WIDTH, 3000)] = 255  # highlights
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    depth = np.full((HEIGHT, WIDTH), 4.0, np.float32)
    floor = rows > 0.55 * HEIGHT
    depth[floor] = 4.0 - 2.8 * (rows[floor] / HEIGHT - 0.55) / 0.45
    window = (rows < 0.4 * HEIGHT) & (columns > 0.6 * WIDTH)
    depth[window] = 20.0
    person = ((columns - WIDTH / 2) / (0.18 * WIDTH)) ** 2 + (
        (rows - 0.6 * HEIGHT) / (0.45 * HEIGHT)
    ) ** 2 < 1
    depth[person] = 1.0
    return rgb, depth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--f-numbers", type=float, nargs="+", default=[2.0, 1.4])
    parser.add_argument("--focus", type=float, nargs="+", default=[1.0, 4.0], help="Metres.")
    options = parser.parse_args()
    rgb, depth = scene()
    for focus in options.focus:
        for f_number in options.f_numbers:
            run(rgb, depth, focus, Lens(f_number), options.runs)


def run(rgb: np.ndarray, depth: np.ndarray, focus: float, lens: Lens, runs: int) -> None:
    radius, _, _ = blur_radius(depth, FOCAL_PX, focus, lens)
    refocus(rgb, depth, FOCAL_PX, focus, lens)  # warm-up
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        refocus(rgb, depth, FOCAL_PX, focus, lens)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"focus {focus:g} m, f/{lens.f_number:g}: largest radius {np.abs(radius).max():.1f} px, "
          f"wall {statistics.median(walls):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}), "
          f"CPU {statistics.median(cpus):.2f} s, peak RSS {peak:.0f} MiB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
