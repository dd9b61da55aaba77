"""Person segmentation (MediaPipe's general selfie-segmentation model, 256x256)."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch

from unflat.face.detector import check_image
from unflat.face.nets import image_tensor, load_net
from unflat.face.roi import Roi, crop

INPUT_SIZE = 256


@lru_cache(maxsize=2)
def _net(device: str) -> torch.nn.Module:
    return load_net("selfie_segmentation", device=device)


@torch.inference_mode()
def segment_person(image: np.ndarray, *, device: str = "cpu") -> np.ndarray:
    """Probability that each pixel shows a person: ``float32 [H,W]`` in [0, 1].

    As in MediaPipe: the whole image is squeezed to 256x256 (aspect ratio not kept), and the
    model's mask is stretched back with bilinear interpolation.
    """
    image = check_image(image)
    height, width = image.shape[:2]
    pixels = crop(image, Roi(0.5, 0.5, 1.0, 1.0), (INPUT_SIZE, INPUT_SIZE), border="zero")
    mask = _net(device)(image_tensor(pixels, device))[0, 0].float().cpu().numpy()
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
