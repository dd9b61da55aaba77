"""How good is the portrait depth (``unflat.face.relief``) that replaces Depth Pro without weights?

On the bundled Mona Lisa, the shared portraits, the shared photos that show a face and three
frames (10 %, 50 %, 90 %) of each shared talking clip, it measures:

a. consistency: the dense surface at each landmark's pixel against that landmark's own metric
   depth (RMS in mm over the 468 mesh points, and over the visible ones: "hidden" points are
   those whose pixel shows a nearer part of the face, as the far side of a turned face);
b. depth order: automatically, nose tip < eye corners < ears (cheek edge) < body <
   background, each as a median over its region, and the share of hair/body pixels in front
   of the face edge nearest them; and by hand, points marked on each image by looking at it
   (person or background, and pairs "this is in front of that"), in :data:`HAND_MARKS`;
c. plausibility: the eyes' distance from the camera for the focal length used, the frame's
   width at that distance, and the nose-to-ears depth (in the head's frame) against adults'
   90-130 mm;
d. with Depth Pro weights installed (``unflat models fetch depth-pro``) or given
   (``--depth-pro-weights``), the ordinal agreement of the two depths over random pixel pairs
   that Depth Pro orders clearly, and Depth Pro's own nose-to-ears depth. Without them this
   part is skipped, and the table says so.

``--speed`` times the portrait depth instead (median of 5). ``--sheet OUT.jpg --views VIDEO``
composes the figure of docs/portrait-depth.md instead: the photo, its portrait depth and three
views from a 4-frame video that ``unflat render -t rotate --frames 4`` made of its scene.

    python benchmarks/portrait_depth_check.py [--shared ../shared] [--json results.json]
    python benchmarks/portrait_depth_check.py --speed
    python benchmarks/portrait_depth_check.py --sheet docs/images/portrait-depth-mona-lisa.jpg \\
        --views /tmp/x/mona_lisa.rotate.mp4 --photo src/unflat/assets/portraits/mona_lisa.jpg
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from unflat.face.canonical import reference_face
from unflat.face.pose import head_pose
from unflat.face.relief import (
    EAR_POINTS,
    FACE_TO_BODY_M,
    NOSE_TIP,
    Relief,
    face_edge_outwards,
    portrait_relief,
)
from unflat.face_mesh import EYE_CORNERS, MESH_POINTS
from unflat.io.images import read_photo
from unflat.io.video import probe_video, read_video

SHARED = Path(__file__).resolve().parents[2] / "shared"
# Adults' nose tip (pronasale) to tragion depth, the range this check accepts.
RELIEF_RANGE_MM = (90.0, 130.0)
# Frames of each clip, as fractions of its length; hand marks are on the middle one.
CLIP_FRACTIONS = (0.1, 0.5, 0.9)

# Points marked by looking at each image (x, y as fractions of its width and height): "person"
# or "background" ("background" is anything that is not the person: a wall, a landscape, the
# chair she sits in), and pairs (near, far) of points whose order is plain to see.
HAND_MARKS: dict[str, dict[str, list]] = {
    "mona_lisa.jpg": {
        "person": [(0.42, 0.40), (0.45, 0.75), (0.20, 0.95), (0.85, 0.85), (0.25, 0.55),
                   (0.75, 0.45)],
        "background": [(0.05, 0.10), (0.95, 0.12), (0.05, 0.45), (0.95, 0.45), (0.06, 0.62)],
        "pairs": [((0.42, 0.40), (0.25, 0.55)), ((0.45, 0.30), (0.75, 0.45))],
    },
    "s0.jpg": {
        "person": [(0.52, 0.18), (0.50, 0.45), (0.30, 0.80), (0.85, 0.52)],
        "background": [(0.90, 0.10), (0.92, 0.30), (0.10, 0.08), (0.12, 0.35)],
        "pairs": [((0.52, 0.20), (0.12, 0.35))],
    },
    "s10.jpg": {
        "person": [(0.40, 0.45), (0.55, 0.85), (0.75, 0.60), (0.55, 0.25)],
        "background": [(0.10, 0.10), (0.10, 0.60), (0.90, 0.20), (0.90, 0.90), (0.50, 0.05)],
        "pairs": [((0.38, 0.48), (0.72, 0.30))],
    },
    "s12.jpg": {
        "person": [(0.50, 0.35), (0.50, 0.85), (0.15, 0.85), (0.90, 0.80), (0.40, 0.10)],
        "background": [(0.10, 0.10), (0.90, 0.10), (0.10, 0.45), (0.92, 0.45)],
        "pairs": [((0.50, 0.40), (0.30, 0.20))],
    },
    "s9.jpg": {
        "person": [(0.48, 0.28), (0.50, 0.60), (0.40, 0.88), (0.20, 0.75)],
        "background": [(0.05, 0.10), (0.95, 0.10), (0.05, 0.35), (0.95, 0.35)],
        "pairs": [((0.48, 0.30), (0.33, 0.35))],
    },
    "lp_d0.mp4@50%": {
        "person": [(0.50, 0.45), (0.45, 0.20), (0.30, 0.88)],
        "background": [(0.10, 0.30), (0.90, 0.30), (0.10, 0.70), (0.90, 0.60), (0.50, 0.05),
                       (0.30, 0.20)],
        "pairs": [((0.50, 0.55), (0.47, 0.17))],
    },
    "lp_d3.mp4@50%": {
        "person": [(0.60, 0.55), (0.20, 0.60), (0.82, 0.45), (0.50, 0.97)],
        "background": [(0.05, 0.10), (0.95, 0.10), (0.05, 0.60), (0.95, 0.60)],
        "pairs": [((0.60, 0.65), (0.20, 0.60))],
    },
    "lp_d6.mp4@50%": {
        "person": [(0.50, 0.55), (0.40, 0.05), (0.50, 0.96)],
        "background": [(0.05, 0.10), (0.95, 0.10), (0.05, 0.50), (0.95, 0.50), (0.05, 0.95)],
        "pairs": [((0.50, 0.60), (0.27, 0.25))],
    },
    "talk_1.mp4@50%": {
        "person": [(0.55, 0.35), (0.30, 0.85), (0.80, 0.85), (0.55, 0.12)],
        "background": [(0.05, 0.10), (0.95, 0.10), (0.10, 0.60), (0.95, 0.60), (0.50, 0.05)],
        "pairs": [((0.57, 0.37), (0.15, 0.75))],
    },
    "talk_2.mp4@50%": {
        "person": [(0.50, 0.45), (0.50, 0.90), (0.25, 0.88), (0.45, 0.25)],
        "background": [(0.05, 0.10), (0.95, 0.10), (0.05, 0.60), (0.95, 0.55), (0.50, 0.05),
                       (0.60, 0.17)],
        "pairs": [((0.50, 0.50), (0.37, 0.25))],
    },
}  # fmt: skip


@dataclass
class Row:
    """One image's measures."""

    name: str
    size: tuple[int, int]
    rms_mm: float = float("nan")
    rms_visible_mm: float = float("nan")
    hidden: int = 0
    off_mesh: int = 0
    in_front: float = float("nan")
    order: dict[str, float] = field(default_factory=dict)
    order_ok: bool = False
    hand: tuple[int, int] | None = None  # agreeing, marked
    eyes_m: float = float("nan")
    frame_width_m: float = float("nan")
    relief_mm: float = float("nan")
    ears_mm: tuple[float, float] = (float("nan"), float("nan"))
    depth_pro: dict[str, float] | None = None
    note: str = ""


def images(shared: Path) -> list[tuple[str, np.ndarray]]:
    """(name, rgb) of every image the check runs on."""
    bundled = resources.files("unflat") / "assets" / "portraits" / "mona_lisa.jpg"
    with resources.as_file(bundled) as file:
        found = [("mona_lisa.jpg", read_photo(file).rgb)]
    for folder in ("data/faces/portraits", "data/photos"):
        for path in sorted((shared / folder).glob("*.jpg")):
            found.append((path.name, read_photo(path).rgb))
    for clip in sorted((shared / "data/faces/videos").glob("*.mp4")):
        count = probe_video(clip).frame_count
        wanted = {round(fraction * (count - 1)): fraction for fraction in CLIP_FRACTIONS}
        with read_video(clip) as reader:
            for index, frame in enumerate(reader):
                if index in wanted:
                    found.append((f"{clip.name}@{wanted[index]:.0%}", frame))
                if index >= max(wanted):
                    break
    return found


def sample(depth: np.ndarray, x: float, y: float, radius: int = 1) -> float:
    """Median depth in the (2 radius + 1)² window around pixel (x, y)."""
    height, width = depth.shape
    column, row = int(np.clip(x, 0, width - 1)), int(np.clip(y, 0, height - 1))
    window = depth[
        max(row - radius, 0) : row + radius + 1, max(column - radius, 0) : column + radius + 1
    ]
    return float(np.median(window))


def consistency(relief: Relief) -> tuple[float, float, int, int]:
    """Surface minus landmark depth (mm) over the landmarks whose pixel the mesh covers: RMS
    over all of them and over the visible ones, how many are hidden (their pixel shows a nearer
    part of the face by over 5 mm: the far side of a turned face, behind the nose), and how
    many fall off the mesh (on its rim, between pixel centres)."""
    height, width = relief.depth.shape
    points = relief.face.landmarks[:MESH_POINTS, :2]
    columns = np.clip(points[:, 0].astype(int), 0, width - 1)
    rows = np.clip(points[:, 1].astype(int), 0, height - 1)
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0)
    inside &= (points[:, 1] < height) & relief.face_mask[rows, columns]
    surface = relief.depth[rows[inside], columns[inside]]
    error = 1000 * (surface - relief.landmark_depths[inside])
    visible = error >= -5.0
    rms = float(np.sqrt(np.mean(error**2)))
    rms_visible = float(np.sqrt(np.mean(error[visible] ** 2)))
    return rms, rms_visible, int((~visible).sum()), int((~inside).sum())


def depth_order(relief: Relief) -> tuple[dict[str, float], float]:
    """Median depth of the regions that should come in this order, nearest first, and the
    share of hair/body pixels in front of the face edge nearest them (by over 1 mm).

    "body" is the person beyond the band where the face edge's depth eases onto the body
    surface (:data:`~unflat.face.relief.FACE_TO_BODY_M`): inside it, hair just above the
    forehead is rightly nearer than the ears.
    """
    landmarks, depth = relief.landmark_depths, relief.depth
    edge, distance = face_edge_outwards(depth, relief.face_mask)
    band_px = FACE_TO_BODY_M / relief.metres_per_px
    around = relief.person_mask & ~relief.face_mask
    body = around & (distance >= band_px)
    order = {
        "nose": float(landmarks[NOSE_TIP]),
        "eye corners": float(np.mean(landmarks[list(sum(EYE_CORNERS, ()))])),
        "ears": float(np.mean(landmarks[list(EAR_POINTS)])),
        "body": float(np.median(depth[body])) if body.any() else float("nan"),
        "background": float(np.median(depth[~relief.person_mask]))
        if (~relief.person_mask).any()
        else float("nan"),
    }
    in_front = float(np.mean(depth[around] < edge[around] - 0.001)) if around.any() else 0.0
    return order, in_front


def head_frame_relief_mm(relief: Relief) -> float:
    """Nose tip to the ears' line along the head's own front-to-back axis, in mm: the head
    pose removed (a fit to MediaPipe's canonical face), so that a turned head, whose ears lie
    at different depths, measures like a frontal one."""
    landmarks = relief.face.landmarks
    pose = head_pose(landmarks, reference_face())
    frontal = pose.invert(landmarks)  # reference units: pixels / pose.scale
    depth = np.mean(frontal[list(EAR_POINTS), 2]) - frontal[NOSE_TIP, 2]
    return float(1000 * depth * pose.scale * relief.metres_per_px)


def hand_agreement(relief: Relief, marks: dict[str, list]) -> tuple[int, int]:
    """(agreeing, marked) over the hand marks: person or background, and near/far pairs."""
    height, width = relief.depth.shape

    def at(point: tuple[float, float]) -> float:
        return sample(relief.depth, point[0] * width, point[1] * height)

    on_plane = relief.background_m * 0.999
    checks = [(f"person {p}", at(p) < on_plane) for p in marks["person"]]
    checks += [(f"background {p}", at(p) >= on_plane) for p in marks["background"]]
    checks += [(f"{near} before {far}", at(near) < at(far)) for near, far in marks["pairs"]]
    for what, agrees in checks:
        if not agrees:
            print(f"  hand mark not met: {what}", file=sys.stderr)
    return sum(agrees for _, agrees in checks), len(checks)


def depth_pro_comparison(estimator, rgb: np.ndarray, relief: Relief) -> dict[str, float]:
    """Ordinal agreement with Depth Pro over random pixel pairs it orders clearly (> 5 %)."""
    from unflat.types import Photo

    reference = estimator.predict(Photo(rgb=rgb, focal_px=relief.focal_px)).depth
    rng = np.random.default_rng(0)
    height, width = reference.shape
    a = rng.integers(0, height * width, 20000)
    b = rng.integers(0, height * width, 20000)
    ref_a, ref_b = reference.ravel()[a], reference.ravel()[b]
    ours_a, ours_b = relief.depth.ravel()[a], relief.depth.ravel()[b]
    clear = np.maximum(ref_a, ref_b) > 1.05 * np.minimum(ref_a, ref_b)
    strict = clear & (ours_a != ours_b)
    agree = np.sign(ref_a - ref_b)[strict] == np.sign(ours_a - ours_b)[strict]
    landmarks = relief.face.landmarks
    nose = sample(reference, *landmarks[NOSE_TIP, :2])
    ears = np.mean([sample(reference, *landmarks[i, :2]) for i in EAR_POINTS])
    return {
        "ordinal_agreement": float(agree.mean()) if agree.size else float("nan"),
        "ties": float(1 - strict.sum() / max(clear.sum(), 1)),
        "relief_mm": float(1000 * (ears - nose)),
        "eyes_m": sample(reference, *np.mean(landmarks[list(sum(EYE_CORNERS, ())), :2], axis=0)),
    }


def measure(name: str, rgb: np.ndarray, estimator=None) -> Row:
    """Every measure of one image (a row with only a note when it shows no face)."""
    from unflat.face.relief import NoFaceError

    row = Row(name, (rgb.shape[1], rgb.shape[0]))
    try:
        relief = portrait_relief(rgb)
    except NoFaceError:
        row.note = "no face: WeightsError, as designed"
        return row
    row.rms_mm, row.rms_visible_mm, row.hidden, row.off_mesh = consistency(relief)
    row.order, row.in_front = depth_order(relief)
    values = [v for v in row.order.values() if np.isfinite(v)]
    row.order_ok = all(a < b for a, b in itertools.pairwise(values))
    if name in HAND_MARKS:
        row.hand = hand_agreement(relief, HAND_MARKS[name])
    row.eyes_m = relief.eye_distance_m
    row.frame_width_m = rgb.shape[1] * relief.metres_per_px
    nose = relief.landmark_depths[NOSE_TIP]
    ears = [float(1000 * (relief.landmark_depths[i] - nose)) for i in EAR_POINTS]
    row.ears_mm = (ears[0], ears[1])
    row.relief_mm = head_frame_relief_mm(relief)
    if estimator is not None:
        row.depth_pro = depth_pro_comparison(estimator, rgb, relief)
    return row


def table(rows: list[Row]) -> str:
    """The Markdown table of docs/portrait-depth.md."""
    lines = [
        "| image | size | (a) RMS mm: all, visible | hidden, off mesh | (b) order "
        "| before face edge | (b) by hand | (c) eyes m | frame width m "
        "| nose-ears mm: head frame (camera axis right, left) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        size = f"{row.size[0]}x{row.size[1]}"
        if row.note:
            lines.append(f"| {row.name} | {size} | {row.note} | | | | | | | |")
            continue
        hand = f"{row.hand[0]}/{row.hand[1]}" if row.hand else "-"
        relief = f"{row.relief_mm:.0f} ({row.ears_mm[0]:.0f}, {row.ears_mm[1]:.0f})"
        lines.append(
            f"| {row.name} | {size} | {row.rms_mm:.1f}, {row.rms_visible_mm:.1f} "
            f"| {row.hidden}, {row.off_mesh} | {'yes' if row.order_ok else 'NO'} "
            f"| {row.in_front:.1%} | {hand} | {row.eyes_m:.2f} "
            f"| {row.frame_width_m:.2f} | {relief} |"
        )
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    faces = [row for row in rows if not row.note]
    hand = [row.hand for row in faces if row.hand]
    in_range = [RELIEF_RANGE_MM[0] <= row.relief_mm <= RELIEF_RANGE_MM[1] for row in faces]
    lines = [
        f"images with a face: {len(faces)} of {len(rows)}",
        f"(a) median RMS {statistics.median(r.rms_mm for r in faces):.1f} mm, "
        f"worst {max(r.rms_mm for r in faces):.1f} mm; over visible landmarks "
        f"{statistics.median(r.rms_visible_mm for r in faces):.1f} and "
        f"{max(r.rms_visible_mm for r in faces):.1f} mm",
        f"(b) automatic order holds on {sum(r.order_ok for r in faces)} of {len(faces)}; "
        f"hand marks agree {sum(h[0] for h in hand)} of {sum(h[1] for h in hand)}",
        f"(c) nose-to-ears depth (head frame) in {RELIEF_RANGE_MM[0]:.0f}-"
        f"{RELIEF_RANGE_MM[1]:.0f} mm on {sum(in_range)} of {len(faces)} "
        f"(median {statistics.median(r.relief_mm for r in faces):.0f} mm)",
    ]
    compared = [row.depth_pro for row in faces if row.depth_pro]
    if compared:
        agreement = statistics.median(c["ordinal_agreement"] for c in compared)
        lines.append(f"(d) ordinal agreement with Depth Pro: median {agreement:.1%}")
    else:
        lines.append("(d) Depth Pro comparison skipped: no Depth Pro weights here")
    return "\n".join(lines)


def depth_pro_estimator(weights: str | None):
    """Depth Pro when its weights are given or installed, else None."""
    from unflat.weights import is_cached

    if weights is None and not is_cached("depth-pro"):
        return None
    from unflat.depth.predict import DepthEstimator

    return DepthEstimator.from_options(weights, "depth-pro", "auto", "fp32")


def depth_colours(depth: np.ndarray) -> np.ndarray:
    """Inverse depth as a colour map (near bright), RGB uint8; the colours span the person (all
    but the farthest plane), so the face's relief shows, and the background plane is black."""
    inverse = 1.0 / depth
    person = depth < depth.max()
    low, high = (inverse[person].min(), inverse.max()) if person.any() else (0.0, inverse.max())
    scaled = np.clip((inverse - low) / max(float(high - low), 1e-9), 0.0, 1.0) * 0.85 + 0.15
    scaled[~person] = 0.0
    return cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]


def sheet(out: Path, photo: Path, views: Path, height: int = 320) -> None:
    """The photo, its portrait depth and three views (frames 3, 1, 2 of a 4-frame ``rotate``
    video: from the left, from the right, from above) side by side, as a JPEG."""
    rgb = read_photo(photo).rgb
    with read_video(views) as reader:
        frames = reader.read_all()
    tiles = [rgb, depth_colours(portrait_relief(rgb).depth), frames[3], frames[1], frames[2]]
    scaled = [
        cv2.resize(tile, (round(tile.shape[1] * height / tile.shape[0]), height),
                   interpolation=cv2.INTER_AREA)
        for tile in tiles
    ]  # fmt: skip
    gap = np.full((height, 4, 3), 255, np.uint8)
    row = np.hstack([part for tile in scaled for part in (tile, gap)][:-1])
    cv2.imwrite(str(out), row[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{out}: {row.shape[1]}x{row.shape[0]}, {out.stat().st_size / 1024:.0f} KB")


def speed(shared: Path, repeats: int = 5) -> str:
    """Seconds per portrait depth (median of ``repeats``, after one warm-up) at three sizes."""
    bundled = resources.files("unflat") / "assets" / "portraits" / "mona_lisa.jpg"
    with resources.as_file(bundled) as file:
        mona = read_photo(file).rgb
    pearl = read_photo(shared / "data/faces/portraits/s10.jpg").rgb
    cases = [
        ("mona_lisa.jpg", mona),
        ("s10.jpg", pearl),
        ("s10.jpg x2", cv2.resize(pearl, None, fx=2, fy=2)),
    ]
    lines = ["| image | size | seconds |", "|---|---|---|"]
    for name, rgb in cases:
        portrait_relief(rgb)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            portrait_relief(rgb)
            times.append(time.perf_counter() - start)
        size = f"{rgb.shape[1]}x{rgb.shape[0]}"
        lines.append(f"| {name} | {size} | {statistics.median(times):.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--json", type=Path, help="also write every measure here")
    parser.add_argument("--depth-pro-weights", help="Depth Pro weights to compare against")
    parser.add_argument("--sheet", type=Path, help="compose the docs figure here instead")
    parser.add_argument("--views", type=Path, help="with --sheet: the rendered 4-frame video")
    parser.add_argument("--photo", type=Path, help="with --sheet: the photo of the scene")
    parser.add_argument("--speed", action="store_true", help="time portrait depth instead")
    args = parser.parse_args()
    if args.speed:
        print(speed(args.shared))
        return 0
    if args.sheet:
        sheet(args.sheet, args.photo, args.views)
        return 0
    estimator = depth_pro_estimator(args.depth_pro_weights)
    rows = []
    for name, rgb in images(args.shared):
        print(name, file=sys.stderr)
        rows.append(measure(name, rgb, estimator))
    print(table(rows))
    print()
    print(summary(rows))
    if args.json:
        args.json.write_text(json.dumps([row.__dict__ for row in rows], indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
