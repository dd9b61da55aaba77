"""``predict_gaussians``: a photo and its focal length to 3D Gaussians in metres, with SHARP.

Pre- and post-processing follow the published ``sharp predict``: the photo is resized (bilinear,
corners aligned) to the network's square input, the network predicts Gaussians in a normalised
frame, and those are unprojected into the photo's OpenCV camera frame (x right, y down,
z forward; the principal point at the image centre). Unprojection scales x and y differently for
non-square photos, so each covariance is transformed and re-diagonalised (in float64) into axis
scales and a rotation, as the published code does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from unflat.errors import InputError
from unflat.geometry.rotations import rotation_to_quaternion
from unflat.nn.vit import block_progress
from unflat.progress import Progress
from unflat.splat.sharp import Sharp
from unflat.types import Gaussians
from unflat.weights import check_finite


@torch.no_grad()
def predict_gaussians(
    model: Sharp, image: np.ndarray, f_px: float, progress: Progress | None = None
) -> Gaussians:
    """Gaussians for ``image`` (``uint8 [H,W,3]`` RGB) taken with focal length ``f_px`` pixels.

    ``f_px`` is the focal length of ``image`` as given (not of the resized network input). The
    Gaussians come back in SHARP's flat order (layer, then row, then column of the output grid),
    on the model's device, in float32, colours linear RGB. ``progress`` hears the network's
    forward pass, block by block, under the stage ``"SHARP"``.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(
            f"expected an RGB image of shape [H, W, 3], got {getattr(image, 'shape', type(image))}",
            "pass the photo as a uint8 numpy array (e.g. unflat.io's loaded Photo.rgb)",
        )
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image, got {image.dtype}", "convert it to uint8 RGB")
    if not f_px > 0:
        raise InputError(f"the focal length must be positive, got {f_px}", "pass f_px in pixels")
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    height, width = image.shape[:2]
    size = model.image_size

    # A copy: the caller's array may be read-only, which torch.from_numpy warns about.
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).to(device).float()
    pixels = pixels.permute(2, 0, 1) / 255.0
    network_input = F.interpolate(
        pixels[None], size=(size, size), mode="bilinear", align_corners=True
    )
    # The network reads depth relative to the photo's own width-normalised focal length.
    disparity_factor = torch.tensor([f_px / width], dtype=torch.float32, device=device)
    with block_progress(model, progress, "SHARP"):
        flat = model(network_input.to(dtype), disparity_factor.to(dtype))
    # Damaged weights give NaN: refuse it here, before the SVD below (which fails on NaN with a
    # linear-algebra error) and before anything is written.
    weights = getattr(model, "unflat_weights", None)
    raw = {"Gaussian means": flat.means, "Gaussian scales": flat.scales}
    raw |= {"Gaussian rotations": flat.quaternions, "colours": flat.colors}
    check_finite({**raw, "opacities": flat.opacities}, weights, dtype)

    transform = unprojection(f_px, width, height, size).to(device)
    linear, offset = transform[:, :3], transform[:, 3]
    means = flat.means[0].float() @ linear.T + offset
    covariances = covariance_matrices(flat.quaternions[0].float(), flat.scales[0].float())
    covariances = linear @ covariances @ linear.T
    # A zero rotation or a huge value overflows here even when the network's output is finite.
    check_finite({"Gaussian positions": means, "Gaussian shapes": covariances}, weights, dtype)
    quaternions, scales = decompose_covariances(covariances)
    return Gaussians(
        means=means,
        scales=scales.to(device),
        quats=quaternions.to(device),
        colors=flat.colors[0].float(),
        opacities=flat.opacities[0].float(),
    )


def unprojection(f_px: float, width: int, height: int, size: int) -> torch.Tensor:
    """The affine map ``[3, 4]`` from SHARP's frame (NDC x, y times depth; depth) to the camera.

    Built as the published code builds it (float32 intrinsics of the resized image, composed with
    the pixel-to-NDC map and inverted), so it rounds the same way. With the principal point at
    the image centre it is diagonal up to rounding.
    """
    intrinsics = torch.tensor(
        [
            [f_px, 0.0, width / 2, 0.0],
            [0.0, f_px, height / 2, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ],
        dtype=torch.float32,
    )
    intrinsics[0] *= size / width
    intrinsics[1] *= size / height
    to_ndc = torch.tensor(
        [
            [2.0 / size, 0.0, -1.0, 0.0],
            [0.0, 2.0 / size, -1.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    return torch.linalg.inv(to_ndc @ intrinsics)[:3]


def rotation_matrices(quaternions: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` of (normalised) quaternions ``[..., 4]`` (w, x, y, z)."""
    quaternions = quaternions / torch.linalg.norm(quaternions, dim=-1, keepdim=True)
    real = quaternions[..., 0, None, None]
    vector = quaternions[..., 1:]
    x, y, z = vector.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack(
        [
            torch.stack([zero, -z, y], dim=-1),
            torch.stack([z, zero, -x], dim=-1),
            torch.stack([-y, x, zero], dim=-1),
        ],
        dim=-2,
    )
    eye = torch.eye(3, dtype=quaternions.dtype, device=quaternions.device)
    outer = vector[..., :, None] * vector[..., None, :]
    # R = v v^T + w^2 I + 2 w [v]x + [v]x^2, the published formula term for term.
    return outer + real.square() * eye + 2 * real * cross + cross @ cross


def covariance_matrices(quaternions: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """``R diag(scales^2) R^T`` for each Gaussian."""
    rotations = rotation_matrices(quaternions)
    variances = torch.eye(3, dtype=scales.dtype, device=scales.device) * scales[..., :, None]
    return rotations @ variances.square() @ rotations.transpose(-1, -2)


def decompose_covariances(covariances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Quaternions (w, x, y, z) and axis scales (descending) of covariance matrices, via SVD.

    Computed in float64 on the CPU and returned in the input's dtype. Where SVD returns a
    reflection, its last axis is flipped to make it a rotation.
    """
    dtype = covariances.dtype
    rotations, variances, _ = torch.linalg.svd(covariances.detach().cpu().double())
    reflections = torch.linalg.det(rotations) < 0
    rotations[reflections, :, -1] *= -1
    quaternions = rotation_to_quaternion(rotations)
    return quaternions.to(dtype), variances.sqrt().to(dtype)
