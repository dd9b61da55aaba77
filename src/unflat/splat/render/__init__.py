"""Render a :class:`~unflat.types.Gaussians` scene from a :class:`~unflat.types.Camera`.

One functional entry point, :func:`render`, over plain tensors; backends share its conventions:

- Pixel ``(x, y)`` (column, row) is sampled at its centre ``(x + 0.5, y + 0.5)`` in the pixel
  coordinates of ``K``, as gsplat does; a point projecting to ``u = fx * X / Z + cx`` peaks in
  pixel ``floor(u)``.
- ``depth`` is the expected camera-frame z of the Gaussian means under the compositing weights,
  normalised by ``alpha``: ``sum(z_i w_i) / sum(w_i)`` where ``alpha > 0``, else 0. Normalising
  makes depth a distance in metres even at soft edges (gsplat's "ED" mode); multiply by ``alpha``
  to get the unnormalised "D" form back.
- ``color`` is linear RGB with the background composited behind: ``C + T_final * background``.
"""

from __future__ import annotations

import importlib.util
import math
from typing import TYPE_CHECKING

from unflat.errors import ConfigError, InputError
from unflat.splat.render.view import Render

if TYPE_CHECKING:  # a submodule is named ``torch``: keep the name free in this namespace
    import torch

    from unflat.types import Camera, Gaussians

BACKENDS = ("auto", "torch", "cpu", "gsplat")


def render(
    gaussians: Gaussians,
    camera: Camera,
    *,
    background: torch.Tensor | tuple[float, float, float] | None = None,
    near: float = 0.01,
    eps2d: float = 0.3,
    backend: str = "auto",
    check_scene: bool = True,
) -> Render:
    """Render ``gaussians`` seen by ``camera`` with 3DGS EWA splatting.

    ``background`` is an RGB colour behind the scene (black by default), ``near`` the near-plane
    distance in metres (Gaussians whose mean is closer are dropped), ``eps2d`` the low-pass
    variance in pixels² added to every projected covariance (0.3 as in 3DGS; SHARP uses 0).
    ``backend`` picks the implementation: ``"torch"`` (plain torch, any device, the reference),
    ``"cpu"`` (numba-compiled, CPU tensors; its first call in a fresh install compiles for a few
    seconds, later processes reuse the on-disk cache) or ``"gsplat"`` (CUDA, the ``[gpu]`` extra).
    ``"auto"`` takes gsplat for CUDA tensors when it is installed, numba for CPU tensors, else
    torch. ``check_scene=False`` skips :func:`check_gaussians` (a scan of every value, about
    50 ms for a SHARP-sized scene) for callers that render one checked scene many times.
    """
    if check_scene:
        check_gaussians(gaussians)
    background_tensor = check_inputs(gaussians, camera, background, near, eps2d)
    if backend not in BACKENDS:
        raise ConfigError(
            f"unknown render backend {backend!r}", hint=f"use one of {', '.join(BACKENDS)}"
        )
    device_type = gaussians.means.device.type
    if backend == "auto":
        backend = "torch"
        if device_type == "cuda" and importable("gsplat"):
            backend = "gsplat"
        elif device_type == "cpu":
            backend = "cpu"
    if backend == "gsplat":
        from unflat.splat.render.gsplat import render_gsplat

        return render_gsplat(gaussians, camera, background_tensor, near=near, eps2d=eps2d)
    if backend == "cpu":  # numba is a dependency of the package
        from unflat.splat.render.numba_cpu import render_numba

        return render_numba(gaussians, camera, background_tensor, near=near, eps2d=eps2d)
    from unflat.splat.render.torch import render_torch

    return render_torch(gaussians, camera, background_tensor, near=near, eps2d=eps2d)


def importable(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (numba and gsplat are slow)."""
    return importlib.util.find_spec(module) is not None


def check_gaussians(gaussians: Gaussians) -> None:
    """Raise a clear error for a scene whose fields have wrong shapes, devices, types or NaNs
    (:meth:`unflat.types.Gaussians.validate`), or that has zero-length quaternions."""
    gaussians.validate()
    if len(gaussians) and bool((gaussians.quats.norm(dim=-1) == 0).any()):
        raise InputError("Gaussians.quats has zero-length quaternions", hint="use unit quaternions")


def check_inputs(
    gaussians: Gaussians,
    camera: Camera,
    background: torch.Tensor | tuple[float, float, float] | None,
    near: float,
    eps2d: float,
) -> torch.Tensor:
    """Raise a clear error for an unusable camera or options; return the background as float32 [3].

    The scene itself is checked by :func:`check_gaussians`.
    """
    import torch as torch_  # local: the submodule ``torch`` would shadow a module-level import

    device = gaussians.means.device
    if not (isinstance(camera.width, int) and isinstance(camera.height, int)):
        raise InputError("Camera width and height must be ints", hint="give the image size")
    if camera.width <= 0 or camera.height <= 0:
        raise InputError(
            f"Camera size {camera.width}x{camera.height} is empty", hint="use a positive size"
        )
    for name, shape in (("K", (3, 3)), ("world_to_camera", (4, 4))):
        matrix = getattr(camera, name)
        if not isinstance(matrix, torch_.Tensor) or tuple(matrix.shape) != shape:
            raise InputError(
                f"Camera.{name} must be a {shape[0]}x{shape[1]} torch tensor",
                hint="see unflat.types.Camera",
            )
        if not bool(torch_.isfinite(matrix).all()):
            raise InputError(f"Camera.{name} has NaN or inf values", hint="fix the camera")
    K = camera.K.detach().double().cpu()
    if K[0, 0] <= 0 or K[1, 1] <= 0 or K[0, 1] != 0 or K[1, 0] != 0 or K[2].tolist() != [0, 0, 1]:
        raise InputError(
            f"Camera.K is not a pinhole intrinsics matrix: {K.tolist()}",
            hint="K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0 (no skew)",
        )

    if not (math.isfinite(near) and near > 0):
        raise ConfigError(f"near plane {near} must be a positive distance", hint="e.g. 0.01")
    if not (math.isfinite(eps2d) and eps2d >= 0):
        raise ConfigError(f"eps2d {eps2d} must be >= 0", hint="0.3 for 3DGS, 0 for SHARP")
    if background is None:
        return torch_.zeros(3, device=device)
    background_tensor = torch_.as_tensor(background, dtype=torch_.float32).to(device).flatten()
    if background_tensor.shape != (3,) or not bool(torch_.isfinite(background_tensor).all()):
        raise ConfigError(
            f"background must be 3 finite numbers (RGB), got {background!r}",
            hint="e.g. background=(1.0, 1.0, 1.0) for white",
        )
    return background_tensor
