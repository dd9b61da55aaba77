"""Record reference outputs of the four MediaPipe models from the TFLite runtime (LiteRT).

Dev-only: run it with a Python that has ``ai-edge-litert`` (and numpy, opencv) but not
necessarily torch, e.g.::

    python tools/record_litert_outputs.py --wheel mediapipe-0.10.21-...whl \\
        --portrait ../shared/data/faces/portraits/s0.jpg

For each model it feeds two seeded random uint8 images and one real image (a portrait
letterboxed for the detector; the face, then an eye, cropped from it using the detector's and
the mesh's own outputs; the whole portrait for selfie segmentation) and saves the uint8 inputs
and the float outputs to ``tests/data/face/litert_outputs.npz`` (``tests/face/test_nets.py``
compares the PyTorch nets against them). Inputs are fed as ``uint8 / 255`` (``[0, 1]``) or
``uint8 / 127.5 - 1`` (``[-1, 1]``, detector), computed in float32.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from convert_mediapipe import MODELS

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "data" / "face" / "litert_outputs.npz"


def to_float(name: str, images: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> the float32 range the model expects (see ``unflat.face.nets``)."""
    x = images.astype(np.float32)
    return (
        x / np.float32(127.5) - np.float32(1.0)
        if name == "blazeface_short"
        else x / np.float32(255.0)
    )


class Model:
    def __init__(self, blob: bytes) -> None:
        self.interp = Interpreter(model_content=blob)
        self.interp.allocate_tensors()
        self.input = self.interp.get_input_details()[0]["index"]
        self.outputs = [(d["name"], d["index"]) for d in self.interp.get_output_details()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        results: dict[str, list[np.ndarray]] = {name: [] for name, _ in self.outputs}
        for item in x:
            self.interp.set_tensor(self.input, item[None])
            self.interp.invoke()
            for name, index in self.outputs:
                results[name].append(self.interp.get_tensor(index)[0].copy())
        return {name: np.stack(v) for name, v in results.items()}


def random_images(seed: int, size: int, count: int = 2, block: int = 1) -> np.ndarray:
    """Seeded uniform uint8 images; ``block`` > 1 makes blocky ones (they compress)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(count, size // block, size // block, 3), dtype=np.uint8)
    return small.repeat(block, axis=1).repeat(block, axis=2)


def square_crop(image: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """Axis-aligned square crop (zero border) resized to ``size``."""
    scale = size / side
    m = np.array([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]])
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_AREA, borderValue=0)


def detector_anchors() -> np.ndarray:
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                centres += [((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell
    return np.array(centres, dtype=np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the mediapipe wheel")
    parser.add_argument("--portrait", type=Path, required=True, help="an RGB photo with a face")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    with zipfile.ZipFile(args.wheel) as z:
        models = {name: Model(z.read(path)) for name, path in MODELS.items()}
    photo = cv2.cvtColor(cv2.imread(str(args.portrait)), cv2.COLOR_BGR2RGB)
    h, w = photo.shape[:2]
    data: dict[str, np.ndarray] = {}

    def record(name: str, images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = models[name](to_float(name, images))
        data[f"{name}/input"] = images
        for key, value in outputs.items():
            data[f"{name}/{key}"] = value
        return outputs

    # Detector: the letterboxed portrait, then two random images.
    side = max(h, w)
    letterbox = square_crop(photo, w / 2, h / 2, side, 128)
    det = record("blazeface_short", np.concatenate([letterbox[None], random_images(1, 128)]))
    scores = det["classificators"][0, :, 0]
    best = int(np.argmax(scores))
    raw = det["regressors"][0, best]
    anchor = detector_anchors()[best]
    cx = (raw[0] / 128 + anchor[0] - 0.5) * side + w / 2
    cy = (raw[1] / 128 + anchor[1] - 0.5) * side + h / 2
    face = max(raw[2], raw[3]) / 128 * side
    print(f"detector: best logit {scores[best]:.2f}, face at ({cx:.0f}, {cy:.0f}), {face:.0f} px")

    # Mesh: the face crop (1.5x the box), then two random images.
    crop_side = 1.5 * face
    face_crop = square_crop(photo, cx, cy, crop_side, 192)
    mesh = record("face_mesh", np.concatenate([face_crop[None], random_images(2, 192)]))
    lm = mesh["conv2d_21"][0].reshape(-1, 3)
    print(f"mesh: face flag logit {float(mesh['conv2d_31'][0].ravel()[0]):.2f}")

    # Iris: the left eye (landmarks 33 and 133 are its corners), then two random images.
    corners = lm[[33, 133], :2] / 192 * crop_side + np.array([cx, cy]) - crop_side / 2
    ecx, ecy = corners.mean(axis=0)
    eye_side = 2.3 * np.linalg.norm(corners[0] - corners[1])
    eye = square_crop(photo, ecx, ecy, eye_side, 64)
    record("iris", np.concatenate([eye[None], random_images(3, 64)]))

    # Selfie: the portrait stretched to 256, then two blocky random images.
    portrait = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    record("selfie_segmentation", np.concatenate([portrait[None], random_images(4, 256, block=8)]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    for k, v in data.items():
        print(f"  {k}: {v.shape} {v.dtype}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
