"""Judge, with MediaPipe 0.10.21 itself, whether animated faces follow their drivers.

Run with a Python environment that has ``mediapipe==0.10.21``, ``av`` and ``numpy`` installed
(this tool deliberately does not import ``unflat``, so the judge is not the tracker it judges)::

    python tools/judge_mouth_mediapipe.py VIDEOS_DIR [--portraits DIR] [--json PATH]
    python tools/judge_mouth_mediapipe.py --ghost-check PORTRAIT x

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
  background counts; ``background_worst``, the largest frame's mean. Far from the person it
  sees only the video encoder's noise, the same with or without a ghost;
- with ``--portraits``: ``ring`` (and ``ring_worst``), where ghosts live: the mean absolute
  change in the band from the person's edge (both segmentations, p > 0.2) out to half an
  eye-corner distance, after both pictures are smoothed over their background pixels only
  (normalised Gaussian, sigma 2 px), which removes the encoder's pixel noise but keeps an arc of
  wrong colour (the person's own pixels never leak into it), less the encoder's overall colour
  shift (the median change far from the person, about 1 level).

``--ghost-check PORTRAIT`` shows that ``ring`` tells a ghost from none: it encodes the portrait
still for 10 frames (H.264 CRF 18, as ``unflat`` writes), and again with a soft arc of the
background's mean colour pasted beside the head (outside the person, the upper half of one
side), and prints both measures for both videos.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import av
import cv2
import numpy as np

# Person probability above which a pixel is left out of the ring: low, so the soft tail of the
# hair (which moves with the head) is not mistaken for background that changed.
RING_PERSON = 0.2
# Points that no expression moves much: forehead, nose bridge and tip, eye corners, temples.
RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 127, 356, 234, 454)


def _mediapipe():
    """MediaPipe, imported on first use, so the measures below load without it."""
    import mediapipe

    return mediapipe


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
    with _mediapipe().solutions.face_mesh.FaceMesh(
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


def still_change(portrait: np.ndarray, frame: np.ndarray, person: np.ndarray, radius: int) -> float:
    """Mean |change| (0-255) of ``frame`` against ``portrait`` outside ``person`` (bool, both
    pictures' person) dilated by ``radius`` pixels: the background that should stay still."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    still = cv2.dilate(person.astype(np.uint8), kernel) == 0
    diff = np.abs(frame.astype(np.float32) - portrait.astype(np.float32)).mean(-1)
    return float(diff[still].mean()) if still.any() else 0.0


def background(portrait: np.ndarray, frames: list[np.ndarray]) -> dict[str, float]:
    """Mean and worst per-frame :func:`still_change` (``background``) and :func:`ring_change`
    (``ring``) of the frames against the portrait."""
    mp = _mediapipe()
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        base = seg.process(portrait).segmentation_mask
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as m:
            points = _points(m, portrait)
        unit = _dist(points, 33, 263) if points is not None else 36.0
        still, ring = [], []
        for rgb in frames:
            mask = seg.process(rgb).segmentation_mask
            person = (base > 0.5) | (mask > 0.5)
            still.append(still_change(portrait, rgb, person, max(int(0.25 * unit), 1)))
            person = (base > RING_PERSON) | (mask > RING_PERSON)
            ring.append(ring_change(portrait, rgb, person, max(int(0.5 * unit), 1)))
    return {"background": float(np.mean(still)), "background_worst": float(np.max(still)),
            "ring": float(np.mean(ring)), "ring_worst": float(np.max(ring))}  # fmt: skip


def ring_change(
    portrait: np.ndarray, frame: np.ndarray, person: np.ndarray, radius: int, sigma: float = 2.0
) -> float:
    """Mean |change| (0-255) of ``frame`` against ``portrait`` in the ring outside ``person``
    (bool, both pictures' person) up to ``radius`` pixels, each picture first smoothed over its
    background pixels only, so encoder noise cancels and no person pixel leaks in, less the
    encoder's overall colour shift."""
    background = ~person
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    ring = (cv2.dilate(person.astype(np.uint8), kernel) > 0) & background
    if not ring.any():
        return 0.0
    weight = cv2.GaussianBlur(background.astype(np.float32), (0, 0), sigma)[..., None]
    weight = np.maximum(weight, 1e-6)

    def smooth(image: np.ndarray) -> np.ndarray:
        masked = image.astype(np.float32) * background[..., None]
        return cv2.GaussianBlur(masked, (0, 0), sigma) / weight

    change = smooth(frame) - smooth(portrait)
    # the encoder shifts every colour a little (about 1 level, from its conversion to YUV):
    # measured on the background far from the person and taken off
    far = cv2.dilate(ring.astype(np.uint8) | person, kernel) == 0
    if far.any():
        change -= np.median(change[far], axis=0)
    return float(np.abs(change).mean(-1)[ring].mean())


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
        row.update(background(
            np.ascontiguousarray(portrait[:h, :w]), [f[:h, :w].copy() for f in made_frames]
        ))  # fmt: skip
    return row


def paste_ghost(
    portrait: np.ndarray, person: np.ndarray, nose: np.ndarray, chin_y: float, unit: float
) -> np.ndarray:
    """The portrait with a ghost: a soft arc of its far background's mean colour, up to 0.4
    eye-corner distances (``unit``) outside ``person`` (bool), left of the ``nose`` (x, y) and
    above the chin, i.e. beside the hair, at 80%."""
    radius = max(int(0.4 * unit), 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = (cv2.dilate(person.astype(np.uint8), kernel) > 0) & ~person
    rows, cols = np.mgrid[: person.shape[0], : person.shape[1]]
    arc = near & (cols < nose[0]) & (rows < chin_y)
    far_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * radius + 1, 4 * radius + 1))
    far = cv2.dilate(person.astype(np.uint8), far_kernel) == 0
    colour = portrait[far].mean(0) if far.any() else portrait.reshape(-1, 3).mean(0)
    weight = 0.8 * cv2.GaussianBlur(arc.astype(np.float32), (0, 0), 2.0)[..., None]
    out = portrait.astype(np.float32) * (1 - weight) + colour * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _encoded(frames: list[np.ndarray], path: Path) -> list[np.ndarray]:
    """The frames after H.264 at CRF 18 (yuv420p, even sizes), as unflat writes them."""
    h, w = (frames[0].shape[0] // 2) * 2, (frames[0].shape[1] // 2) * 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "18"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), "rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return _frames(path)


def ghost_check(path: Path, folder: Path) -> dict[str, dict[str, float]]:
    """Both measures for the portrait held still, without and with :func:`paste_ghost`."""
    portrait = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    mp = _mediapipe()
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        person = seg.process(portrait).segmentation_mask > 0.5
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as m:
        points = _points(m, portrait)
    if points is None:
        raise SystemExit(f"no face found in {path}")
    ghost = paste_ghost(portrait, person, points[1, :2], points[152, 1], _dist(points, 33, 263))
    h, w = (portrait.shape[0] // 2) * 2, (portrait.shape[1] // 2) * 2
    still = np.ascontiguousarray(portrait[:h, :w])
    result = {
        name: background(still, _encoded([picture] * 10, folder / f"{name}.mp4"))
        for name, picture in (("clean", portrait), ("ghost", ghost))
    }
    # how strong the ghost is: its mean |change| over the pixels it covers
    pasted = np.abs(ghost.astype(np.float32) - portrait).mean(-1)
    result["ghost"]["arc"] = float(pasted[pasted > 1].mean()) if (pasted > 1).any() else 0.0
    return result


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
    parser.add_argument("--ghost-check", type=Path, metavar="PORTRAIT",
                        help="print both background measures for the portrait still, "
                        "without and with a pasted ghost arc, and stop")  # fmt: skip
    args = parser.parse_args()
    if args.ghost_check is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            result = ghost_check(args.ghost_check, Path(folder))
        for name, measures in result.items():
            print(name, "\t".join(f"{k} {v:.3f}" for k, v in measures.items()), sep="\t")
        return 0
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
