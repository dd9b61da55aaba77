"""Photo -> DepthMap with Depth Pro: preprocessing, focal-length choice, precision."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from unflat.device import AUTO, check_precision, pick_device, resolve_precision
from unflat.nn.inference import apply_precision
from unflat.nn.precision_probe import PrecisionProbe
from unflat.nn.vit import VisionTransformer, block_progress
from unflat.progress import Progress
from unflat.types import DepthMap, Photo
from unflat.weights import check_finite

# ``auto`` measures the precision paths (a few seconds, once per machine) only for a network
# this large: Depth Pro has 952M parameters; a test fixture runs in a blink in any path.
PROBE_PARAMETERS = 100_000_000


def to_network_input(rgb: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``uint8 [H,W,3]`` -> ``[3,H,W]`` in [-1, 1], as the published transform: x / 255 * 2 - 1."""
    # A copy: arrays from Pillow can be read-only, which torch.from_numpy warns about.
    image = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).to(device).permute(2, 0, 1)
    return (image.float() / 255.0 * 2.0 - 1.0).to(dtype)


@dataclass
class DepthEstimator:
    """A loaded Depth Pro model ready to turn photos into metric depth.

    The fp32 path reproduces the published implementation. ``bf16``/``fp16`` run the network in
    that precision while the focal-length scaling and resizing stay in fp32; ``int8`` (CPU only)
    runs the transformers' linear layers in int8 and the convolutions in bf16, the fastest path
    on CPUs with AVX-512 BF16; ``int8-fp32`` keeps the convolutions in fp32, the fast path on
    CPUs without bf16 kernels (AVX2), where ``int8`` falls back to it (errors against fp32 are
    in BENCHMARKS.md). ``auto`` (the default)
    picks by the processor: :func:`unflat.device.resolve_precision`.
    """

    model: nn.Module
    device: torch.device
    dtype: torch.dtype = torch.float32
    name: str = "depth-pro"
    weights_sha256: str | None = None
    precision: str = "fp32"  # the path it runs in, ``auto`` resolved

    @classmethod
    def from_options(
        cls,
        weights: str | None = None,
        model: str = "depth-pro",
        device: str = "auto",
        precision: str = "auto",
    ) -> DepthEstimator:
        """Load from the registry (``model``) or a local ``weights`` file or folder."""
        from unflat.weights import load_model, resolve_weights, weights_id

        torch_device = pick_device(device)
        if precision != AUTO:  # auto is resolved once the network is known
            check_precision(precision, torch_device)  # before gigabytes of weights are loaded
        # Resolved once: the file loaded is the file whose hash goes into every sidecar.
        file = resolve_weights(model, weights)
        network = load_model(model, device=torch_device, weights=file)
        precision = resolve_precision(precision, torch_device, probe_for(network, torch_device))
        dtype = apply_precision(network, precision, torch_device, (VisionTransformer,))
        sha256 = weights_id(file)
        name = model if weights is None else str(weights)
        return cls(network, torch_device, dtype, name, sha256, precision)

    def predict(
        self, photo: Photo, f_px: float | None = None, progress: Progress | None = None
    ) -> DepthMap:
        """Metric depth of ``photo``.

        The focal length comes from ``f_px`` when given, else from the photo's EXIF, else from
        the network's field-of-view head. ``progress`` hears the network's forward pass, block
        by block, under the stage ``"Depth Pro"``.
        """
        focal, source = photo.known_focal(f_px)
        source = source or "model"
        start = time.perf_counter()
        image = to_network_input(photo.rgb, self.device, self.dtype)
        with torch.inference_mode(), block_progress(self.model, progress, "Depth Pro"):
            out = self.model.infer(image, f_px=focal)
        # Damaged weights give NaN; that must fail here, not become a file and a sidecar.
        check_finite(
            {"depth": out["depth"], "focal length": out["focallength_px"]}, self.name, self.dtype
        )
        depth = out["depth"].float().cpu().numpy().astype(np.float32)
        return DepthMap(
            depth=depth,
            focal_px=float(out["focallength_px"].float().cpu()),
            focal_source=source,
            model=self.name,
            seconds=time.perf_counter() - start,
            precision=self.precision,
        )

    __call__ = predict


def probe_for(network: nn.Module, device: torch.device) -> PrecisionProbe | None:
    """The probe ``auto`` may time on ``device``: for a large network on the CPU only."""
    if device.type != "cpu" or sum(p.numel() for p in network.parameters()) < PROBE_PARAMETERS:
        return None
    return PrecisionProbe(device)
