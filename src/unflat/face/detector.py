"""Face detection: BlazeFace short range with MediaPipe's pre- and post-processing.

The detector reproduces MediaPipe 0.10.21's ``FaceDetectionShortRange`` graph: the whole image
letterboxed (zero border) into a 128x128 tensor in [-1, 1], 896 SSD anchors with fixed unit size,
sigmoid scores clipped at +-100, threshold 0.5, and *weighted* non-maximum suppression (IoU 0.3):
overlapping candidates are averaged by score, which steadies boxes from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from unflat.errors import InputError
from unflat.face.nets import image_tensor, load_net
from unflat.face.roi import Roi, crop

INPUT_SIZE = 128
MIN_SCORE = 0.5
NMS_IOU = 0.3
# SSD anchor layout of the short-range model: strides 8, 16, 16, 16; the three stride-16 layers
# share one 8x8 grid. Each layer contributes its aspect ratio 1.0 plus the interpolated scale.
_STRIDES = (8, 16, 16, 16)
_ANCHORS_PER_LAYER = 2
# Images smaller than this on their short side are refused: the detector would see mush.
MIN_IMAGE_SIDE = 32


@dataclass(frozen=True)
class Detection:
    """A detector hit in image-normalised coordinates (x by width, y by height)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # [6,2]


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """Anchor centres ``[896,2]`` (x, y) in [0,1], in the model's output order."""
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(_STRIDES):
        stride = _STRIDES[layer]
        same = sum(1 for s in _STRIDES[layer:] if s == stride)
        per_cell = _ANCHORS_PER_LAYER * same
        side = int(np.ceil(INPUT_SIZE / stride))
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        grid = np.stack([(xs + 0.5) / side, (ys + 0.5) / side], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        layer += same
    return np.concatenate(centres).astype(np.float32)


def letterbox_roi(width: int, height: int) -> Roi:
    """The whole image padded to a square about its centre (``keep_aspect_ratio``)."""
    side = max(width, height)
    return Roi(0.5, 0.5, side / width, side / height)


def check_image(image: np.ndarray) -> np.ndarray:
    """Accept an ``HxWx3`` uint8 RGB array (or HxWx4, alpha dropped); refuse anything else."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8:
        raise InputError(
            f"expected an HxWx3 uint8 RGB image, got {array.dtype} {list(array.shape)}",
            "read photos with unflat.io.images.read_photo(path).rgb",
        )
    if min(array.shape[:2]) < MIN_IMAGE_SIDE:
        raise InputError(
            f"the image is {array.shape[1]}x{array.shape[0]} pixels: too small to find a face in",
            f"use an image at least {MIN_IMAGE_SIDE} pixels on each side",
        )
    return np.ascontiguousarray(array[..., :3])


class FaceDetector:
    """BlazeFace short range with MediaPipe's pre- and post-processing."""

    def __init__(self, min_score: float = MIN_SCORE, device: str = "cpu") -> None:
        self.net = load_net("blazeface_short", device=device)
        self.device = torch.device(device)
        self.min_score = min_score

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> list[Detection]:
        """All faces in ``image`` (uint8 RGB), best score first."""
        image = check_image(image)
        height, width = image.shape[:2]
        roi = letterbox_roi(width, height)
        tensor = crop(image, roi, (INPUT_SIZE, INPUT_SIZE), border="zero")
        regressors, logits = self.net(image_tensor(tensor, self.device, -1.0, 1.0))
        raw = regressors[0].float().cpu().numpy()
        logits = np.clip(logits[0].double().cpu().numpy(), -100.0, 100.0)
        scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        keep = np.nonzero(scores >= self.min_score)[0]
        boxes, keypoints = _decode(raw[keep], anchors()[keep])
        merged = _weighted_nms(boxes, keypoints, scores[keep])
        return [_unletterbox(d, roi) for d in merged]


def _decode(raw: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Regressor rows (x, y, w, h, 6 keypoints; pixels of the 128 tensor) to [0,1] boxes."""
    scale = np.float32(INPUT_SIZE)
    cx = raw[:, 0] / scale + centres[:, 0]
    cy = raw[:, 1] / scale + centres[:, 1]
    w = raw[:, 2] / scale
    h = raw[:, 3] / scale
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) / scale + centres[:, None, :]
    return boxes, keypoints


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where((inter > 0) & (union > 0), inter / np.maximum(union, 1e-12), 0.0)


def _weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[Detection]:
    """MediaPipe's weighted NMS: each kept box is the score-weighted mean of its cluster."""
    order = np.argsort(-scores, kind="stable")
    out: list[Detection] = []
    while order.size:
        top = order[0]
        overlap = _iou(boxes[top], boxes[order]) > NMS_IOU
        cluster = order[overlap]
        weights = scores[cluster][:, None]
        total = weights.sum()
        box = (boxes[cluster] * weights).sum(axis=0) / total
        kps = (keypoints[cluster] * weights[:, :, None]).sum(axis=0) / total
        out.append(Detection(tuple(float(v) for v in box), float(scores[top]), kps))
        order = order[~overlap]
    return out


def _unletterbox(detection: Detection, roi: Roi) -> Detection:
    """From the letterboxed tensor's [0,1] coordinates to the image's."""

    def to_image(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64)
        x = (xy[..., 0] - 0.5) * roi.width + roi.x_center
        y = (xy[..., 1] - 0.5) * roi.height + roi.y_center
        return np.stack([x, y], axis=-1)

    x0, y0, x1, y1 = detection.box
    corners = to_image(np.array([[x0, y0], [x1, y1]]))
    box = (corners[0, 0], corners[0, 1], corners[1, 0], corners[1, 1])
    keypoints = to_image(detection.keypoints).astype(np.float32)
    return Detection(tuple(float(v) for v in box), detection.score, keypoints)
