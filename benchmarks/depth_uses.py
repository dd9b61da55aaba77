"""The tables of docs/depth-uses.md: refocus leakage, blur size against the thin lens, measuring.

    python benchmarks/depth_uses.py                       # all three, Markdown on stdout
    python benchmarks/depth_uses.py --only leakage --middlebury ../shared/data/depth/middlebury

- **leakage**: every Middlebury scene (true depth, quarter size), focused on its near objects
  (5th percentile of depth) and its far ones (95th), at f/1.4 and f/0.5 with the photo's 35 mm
  equivalent focal length. Mean absolute difference (8-bit sRGB) from the per-layer reference
  (:func:`unflat.lens.evaluate.layered_reference`) in the bands beside depth edges (as wide as
  the largest blur radius + 1), near side and far side, for unflat's layers alone, for its
  refocus (layers and hidden fill) and for the two depth-blind blurs. With near focus the near
  side is sharp: its change from the photo is shown.
- **thin lens**: a point and a step edge at a known depth, blurred; the measured disc diameter
  against the formula. Then a blurred foreground's edge over a sharp background against the
  lens's ramp, with and without the hidden fill (:mod:`unflat.lens.hidden`).
- **measure**: 30 random pixel pairs on surfaces per scene (every depth within 3 px valid and
  within 2% of the others); relative error of the measured distance against the distance of
  the true points (true depth at the exact pixels, Middlebury's own intrinsics), on the true
  depth and on the true depth with 1% and 3% per-pixel noise: with the 5x5 median depth and
  with the pixel's own depth (Middlebury's principal point), and with the 5x5 median and the
  principal point at the image centre (``unflat measure`` without ``--principal-point``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from unflat.datasets.middlebury import load_middlebury_pair
from unflat.lens.evaluate import (
    disc_diameter,
    edge_bands,
    edge_diameter,
    layered_reference,
    leakage,
    naive_gather,
    naive_scatter,
    occluding_edge_error,
    pair_errors,
    surface_pairs,
)
from unflat.lens.hidden import hidden_samples
from unflat.lens.refocus import Lens, blur_radius, fill_missing_depth, to_linear, to_srgb8
from unflat.lens.scatter import layer_of, scatter_layers
from unflat.types import DepthMap

DEFAULT_MIDDLEBURY = Path(__file__).resolve().parents[2] / "shared/data/depth/middlebury"
THIN_LENS_SETTINGS = [  # (focal_px, focal_mm, f-number, focus m, object m)
    (1000, 26, 2.0, 1.0, 3.0),
    (1000, 50, 1.4, 2.0, 4.0),
    (1500, 35, 2.8, 0.5, 5.0),
    (800, 85, 1.8, 3.0, 2.0),
    (1000, 26, 8.0, 1.0, 10.0),
    (3000, 26, 1.8, 0.8, 100.0),
]


def scenes(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p / "disp0GT.pfm").is_file())


def leakage_rows(scene: Path, f_number: float) -> list[str]:
    """Two table rows (near and far focus) for one scene."""
    pair = load_middlebury_pair(scene)
    depth = fill_missing_depth(pair.depth.astype(np.float32))
    focal_px = float(pair.K_left[0, 0])
    linear = to_linear(pair.left)
    rows = []
    for side, percentile in (("near", 5), ("far", 95)):
        focus = float(np.percentile(depth, percentile))
        radius, _, _ = blur_radius(depth, focal_px, focus, Lens(f_number))
        reference = to_srgb8(layered_reference(linear, radius))
        near, far = edge_bands(depth, math.ceil(np.abs(radius).max()) + 1)
        layers = layer_of(radius)
        hidden = hidden_samples(radius, layers, linear)
        ours = to_srgb8(scatter_layers(linear, radius, layers, hidden=hidden))
        images = [to_srgb8(scatter_layers(linear, radius, layers)), ours]
        images += [to_srgb8(blur(linear, radius)) for blur in (naive_gather, naive_scatter)]
        scores = [leakage(image, reference, near, far) for image in images]
        sharp = near & (np.abs(radius) <= 0.5)
        unchanged = (
            f"{np.abs(ours.astype(float) - pair.left)[sharp].mean():.2f}" if side == "near" else ""
        )
        cells = " | ".join(f"{s.near:.2f} / {s.far:.2f}" for s in scores)
        rows.append(
            f"| {scene.name} | {side} {focus:.2f} m | {np.abs(radius).max():.1f} | {cells} "
            f"| {unchanged} |"
        )
    return rows


def leakage_table(folder: Path) -> None:
    for f_number in (1.4, 0.5):
        print(f"\nf/{f_number:g}, the photo's 35 mm equivalent focal length:\n")
        print("| scene | focus | largest radius px | unflat, layers near / far | unflat, with "
              "hidden fill | naive gather | naive scatter | sharp side vs photo |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for scene in scenes(folder):
            for row in leakage_rows(scene, f_number):
                print(row)


def thin_lens_table() -> None:
    print("\n| focal px | focal mm | f-number | focus m | object m | formula px | point px "
          "| edge px |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    from unflat.lens.refocus import refocus_linear

    for focal_px, focal_mm, f_number, focus, distance in THIN_LENS_SETTINGS:
        f = focal_mm / 1000
        formula = focal_px * (f / f_number) * abs(distance - focus) / (distance * (focus - f))
        size = max(201, int(8 * formula))  # the radius cap (5% of the diagonal) stays away
        depth = np.full((size, size), distance, np.float32)
        point = np.zeros((size, size, 3), np.uint8)
        point[size // 2, size // 2] = 255
        step = np.zeros((size, size, 3), np.uint8)
        step[:, size // 2 :] = 255
        lens = Lens(f_number, focal_mm)
        disc = refocus_linear(point, depth, focal_px, focus, lens)[..., 0]
        edge = refocus_linear(step, depth, focal_px, focus, lens)[size // 2, :, 0]
        print(f"| {focal_px} | {focal_mm} | {f_number:g} | {focus:g} | {distance:g} "
              f"| {formula:.3f} | {disc_diameter(disc, (size // 2, size // 2)):.3f} "
              f"| {edge_diameter(edge):.3f} |")  # fmt: skip


def occlusion_table() -> None:
    print("\n| foreground blur radius px | error without hidden fill | error with it |")
    print("|---|---|---|")
    for radius in (3.0, 6.0, 12.0, 24.0):
        print(f"| {radius:g} | {occluding_edge_error(radius, fill_hidden=False):.3f} "
              f"| {occluding_edge_error(radius):.3f} |")  # fmt: skip


def measure_rows(scene: Path, count: int) -> list[str]:
    pair = load_middlebury_pair(scene)
    height, width = pair.depth.shape
    # unflat measure's view of a photo: the depth map's focal length, principal point at the
    # centre; Middlebury's rectified crops have theirs tens of pixels away from it
    centred = DepthMap(pair.depth.astype(np.float32), float(pair.K_left[0, 0])).intrinsics()
    pairs = surface_pairs(pair.depth, count, seed=0)
    rng = np.random.default_rng(1)
    rows = []
    for noise in (0.0, 0.01, 0.03):
        depth = pair.depth * (1 + noise * rng.standard_normal(pair.depth.shape))
        cells = []
        for K, window in ((pair.K_left, 2), (pair.K_left, 0), (centred, 2)):
            errors = 100 * pair_errors(depth, K, pair.depth, pair.K_left, pairs, window=window)
            cells.append(f"{np.median(errors):.2f} / {errors.max():.2f}")
        offset = np.hypot(*(pair.K_left[:2, 2] - centred[:2, 2]))
        start = f"| {scene.name} | {width}x{height} | {offset:.0f} | {noise:.0%} |"
        rows.append(f"{start} {' | '.join(cells)} |")
    return rows


def measure_table(folder: Path, count: int) -> None:
    print(f"\n{count} pairs per scene; relative error in %, median / worst:\n")
    print("| scene | size | principal point off centre px | depth noise | 5x5 median depth "
          "| pixel's own depth | 5x5 median, centred principal point |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for scene in scenes(folder):
        for row in measure_rows(scene, count):
            print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--middlebury", type=Path, default=DEFAULT_MIDDLEBURY)
    parser.add_argument("--only", choices=("leakage", "thin-lens", "measure"))
    parser.add_argument("--pairs", type=int, default=30)
    options = parser.parse_args()
    if options.only in (None, "leakage"):
        leakage_table(options.middlebury)
    if options.only in (None, "thin-lens"):
        thin_lens_table()
        occlusion_table()
    if options.only in (None, "measure"):
        measure_table(options.middlebury, options.pairs)


if __name__ == "__main__":
    main()
