"""gsplat backend: CUDA rasterisation by ``gsplat.rasterization`` (gsplat >= 1.0, ``[gpu]``).

gsplat implements the same 3DGS math in CUDA ("classic" mode: no antialiasing compensation) and
shares our conventions: pixel centres at +0.5, wxyz quaternions (normalised inside), OpenCV
camera axes with ``viewmats`` = world-to-camera, and "ED" depth normalised by alpha. Small
differences remain, so images agree closely but not bit for bit: gsplat stops a pixel at
T <= 1e-4 (the torch path at T < 1e-4), its near-plane test is strict, and releases before 1.5
bin by a fixed 3-sigma radius rather than the opacity-aware 1/255 footprint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from unflat.errors import ConfigError
from unflat.splat.render.view import Render
from unflat.types import Camera, Gaussians


def rasterization_arguments(
    gaussians: Gaussians, camera: Camera, background: torch.Tensor, near: float, eps2d: float
) -> dict[str, Any]:
    """Keyword arguments for ``gsplat.rasterization`` rendering one camera (C = 1)."""
    device = gaussians.means.device

    def prepared(tensor: torch.Tensor) -> torch.Tensor:
        # gsplat's CUDA kernels read contiguous float32 on the scene's device.
        return tensor.to(device, torch.float32).contiguous()

    return {
        "means": prepared(gaussians.means),
        "quats": prepared(gaussians.quats),
        "scales": prepared(gaussians.scales),
        "opacities": prepared(gaussians.opacities),
        "colors": prepared(gaussians.colors),  # post-activation RGB [N,3], hence sh_degree=None
        "viewmats": prepared(camera.world_to_camera)[None],
        "Ks": prepared(camera.K)[None],
        "width": camera.width,
        "height": camera.height,
        "near_plane": float(near),
        "eps2d": float(eps2d),
        "sh_degree": None,
        # One camera: the unpacked [C,N] intermediates are no bigger than packed ones, and faster.
        "packed": False,
        "tile_size": 16,
        "backgrounds": prepared(background)[None],
        "render_mode": "RGB+ED",
        "rasterize_mode": "classic",
    }


def render_with(
    rasterization: Callable[..., tuple[torch.Tensor, torch.Tensor, dict]],
    gaussians: Gaussians,
    camera: Camera,
    background: torch.Tensor,
    *,
    near: float = 0.01,
    eps2d: float = 0.3,
) -> Render:
    """Render with ``rasterization`` (gsplat's, or a stand-in with its signature)."""
    colors, alphas, _ = rasterization(
        **rasterization_arguments(gaussians, camera, background, near, eps2d)
    )
    # [C=1, H, W, 4] (RGB with background, expected depth) and [C=1, H, W, 1].
    return Render(color=colors[0, ..., :3], alpha=alphas[0, ..., 0], depth=colors[0, ..., 3])


def render_gsplat(
    gaussians: Gaussians,
    camera: Camera,
    background: torch.Tensor,
    *,
    near: float = 0.01,
    eps2d: float = 0.3,
) -> Render:
    """Render with gsplat on the scene's CUDA device."""
    if gaussians.means.device.type != "cuda":
        raise ConfigError(
            f"the gsplat render backend needs CUDA tensors, the scene is on "
            f"{gaussians.means.device}",
            hint="move the Gaussians to a CUDA device, or use backend='cpu' or 'torch'",
        )
    try:
        import gsplat
    except ImportError as error:
        raise ConfigError(
            f"the gsplat render backend needs gsplat, which cannot be imported ({error})",
            hint="pip install 'unflat[gpu]' (gsplat >= 1.0), or use backend='torch'",
        ) from error
    major = str(getattr(gsplat, "__version__", "0")).split(".")[0]
    if not major.isdigit() or int(major) < 1:
        raise ConfigError(
            f"gsplat {getattr(gsplat, '__version__', '?')} is too old",
            hint="pip install 'gsplat>=1.0'",
        )
    return render_with(gsplat.rasterization, gaussians, camera, background, near=near, eps2d=eps2d)
