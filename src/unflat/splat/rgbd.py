"""A Gaussian scene from a photo and its metric depth map (no learned model needed).

:func:`from_rgbd` puts one Gaussian on every pixel's surface point, shaped like the patch of
surface the pixel sees: flat, lying in the surface (its tangents come from the neighbouring
pixels' 3D points), and as wide as the pixel's footprint, so that a slanted wall seen from a
nearby viewpoint stays closed instead of breaking into a fence of fronto-parallel discs. At
depth discontinuities the neighbours belong to another surface, so those pixels get discs
facing the camera instead.

A second layer sits behind occluding edges (:mod:`unflat.splat.inpaint`): the farther surface's
colour and depth grown into the band that a moving camera uncovers, so that a new viewpoint
reveals plausible background instead of a hole or stretched edges.

Conventions: ``K`` is in the renderer's pixel convention (pixel ``(x, y)`` is centred at
``(x + 0.5, y + 0.5)``, so a principal point at ``(W/2, H/2)`` is the image centre, as
:meth:`unflat.types.DepthMap.intrinsics` gives; see :mod:`unflat.geometry.unproject`); depth is
z along the optical axis, in metres.
"""

from __future__ import annotations

import numpy as np
import torch

from unflat.colour import srgb_to_linear
from unflat.errors import InputError
from unflat.geometry.rotations import rotation_to_quaternion
from unflat.geometry.unproject import unproject
from unflat.splat.inpaint import background_behind_edges
from unflat.types import Gaussians

# A disc's thickness relative to its footprint: thin enough to read as a surface, thick enough
# that the 3x3 covariance stays well conditioned in float32.
THICKNESS = 0.1
# Tangents longer than this many footprints are clipped, so a grazing-angle surface gives
# long thin discs rather than needles across the image.
MAX_STRETCH = 4.0
# The renderer's low-pass for these scenes: with discs 0.45 px wide it gives the sharpest views
# on the Middlebury pairs (docs/evaluation.md); 3DGS's 0.3 blurs them. Viewers that always use
# 0.3 still show the scene well, only softer.
RGBD_EPS2D = 0.1
# Depths above this are almost surely millimetres (or disparity), not metres.
MAX_PLAUSIBLE_METRES = 1000.0


def from_rgbd(
    image: np.ndarray,
    depth: np.ndarray,
    K: np.ndarray,
    *,
    background: bool = True,
    background_radius: int | None = None,
    edge_step: float = 0.1,
    pixel_sigma: float = 0.45,
) -> Gaussians:
    """Gaussians for a photo ``image`` (HxWx3 uint8) with metric ``depth`` (HxW) and ``K``.

    Returns the foreground layer (one Gaussian per pixel, row-major) followed, when
    ``background`` is on, by the inpainted layer behind occluding edges. ``background_radius``
    is the band (in pixels) behind each edge that gets a background, 8% of the longer image
    side by default (a sideways move of a few percent of the subject's distance uncovers about
    that much); ``edge_step`` is the relative depth jump that counts as an occluding edge;
    ``pixel_sigma`` the Gaussians' standard deviation in pixels as seen from the photo's camera
    (render with ``eps2d=RGBD_EPS2D`` for the sharpest result).
    Pixels without a valid depth (NaN, inf, <= 0) take the depth of the farthest neighbouring
    valid surface, as such holes usually are occlusions in stereo or sensor depth.
    """
    rgb, metres, intrinsics = _check(image, depth, K)
    height, width = metres.shape
    colours = srgb_to_linear(rgb.astype(np.float64) / 255.0).astype(np.float32)
    points = unproject(metres, intrinsics)
    footprint = metres / intrinsics[0, 0]  # one pixel's width on the surface, in metres

    covariances = _surface_covariances(points, footprint, edge_step, pixel_sigma)
    layers = [(points.reshape(-1, 3), covariances, colours.reshape(-1, 3))]
    if background:
        radius = background_radius
        if radius is None:
            radius = max(2, round(0.08 * max(height, width)))
        behind = background_behind_edges(colours, metres, int(radius), edge_step)
        if behind.mask.any():
            back_points = unproject(np.where(behind.mask, behind.depth, 1.0), intrinsics)
            back_footprint = behind.depth[behind.mask] / intrinsics[0, 0]
            # Camera-facing discs: the inpainted depth is too smooth to trust its tangents.
            layers.append(
                (
                    back_points[behind.mask],
                    _facing_covariances(back_footprint, pixel_sigma),
                    behind.rgb[behind.mask],
                )
            )
    means = np.concatenate([layer[0] for layer in layers]).astype(np.float32)
    covariance = np.concatenate([layer[1] for layer in layers])
    colors = np.concatenate([layer[2] for layer in layers]).astype(np.float32)
    scales, quats = _decompose(covariance)
    return Gaussians(
        means=torch.from_numpy(means),
        scales=scales,
        quats=quats,
        colors=torch.from_numpy(colors),
        opacities=torch.ones(len(means), dtype=torch.float32),
    )


def _check(image: object, depth: object, K: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the inputs; return uint8 RGB, hole-filled float32 depth and float64 K."""
    rgb = np.asarray(image)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(
            f"the photo must be an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}",
            hint="read it with unflat.read_photo(path).rgb",
        )
    metres = np.asarray(depth, dtype=np.float64)
    if metres.ndim == 3 and metres.shape[2] == 1:
        metres = metres[..., 0]
    if metres.shape != rgb.shape[:2]:
        raise InputError(
            f"the depth map is {_size(metres.shape)} but the photo is {_size(rgb.shape)}",
            hint="give the depth map of this photo, at its resolution",
        )
    valid = np.isfinite(metres) & (metres > 0)
    if valid.mean() < 0.5:
        raise InputError(
            f"only {valid.mean():.0%} of the depth map has valid depth (finite, > 0)",
            hint="give a dense depth map, e.g. from `unflat depth`",
        )
    median = float(np.median(metres[valid]))
    if median > MAX_PLAUSIBLE_METRES:
        raise InputError(
            f"the depth map's median is {median:g}: that is not a distance in metres",
            hint="depth must be in metres (divide millimetres by 1000; convert disparity first)",
        )
    intrinsics = np.asarray(K, dtype=np.float64)
    if (
        intrinsics.shape != (3, 3)
        or not np.isfinite(intrinsics).all()
        or intrinsics[0, 0] <= 0
        or intrinsics[1, 1] <= 0
        or intrinsics[1, 0] != 0
        or intrinsics[2].tolist() != [0.0, 0.0, 1.0]
    ):
        raise InputError(
            f"K is not a pinhole intrinsics matrix: {intrinsics.tolist()}",
            hint="K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in pixels, fx and fy > 0",
        )
    return rgb, fill_depth_holes(metres).astype(np.float32), intrinsics


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}" if len(shape) >= 2 else str(shape)


def fill_depth_holes(depth: np.ndarray) -> np.ndarray:
    """Give pixels without a valid depth (NaN, inf, <= 0) the farthest valid depth around them.

    Holes grow shut from their rim inwards. The farthest neighbour is taken because holes in
    stereo and sensor depth are mostly occlusions, where the hidden surface is the far one.
    """
    import cv2

    valid = np.isfinite(depth) & (depth > 0)
    filled = np.where(valid, depth, 0.0).astype(np.float32)
    known = valid.copy()
    kernel = np.ones((3, 3), np.uint8)
    while not known.all():
        grown = cv2.dilate(filled, kernel)  # max over the 3x3 neighbourhood: the farthest
        newly = ~known & (grown > 0)
        if not newly.any():
            break
        filled[newly] = grown[newly]
        known |= newly
    return filled


def _tangent(points: np.ndarray, axis: int, edge_step: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the 3D step to the next pixel along ``axis`` and whether it is on a surface.

    Of the forward and backward differences, the one with the smaller depth change is kept, so
    a pixel beside an edge still finds its own surface on the other side.
    """
    forward = np.diff(points, axis=axis, append=np.take(points, [-1], axis=axis))
    backward = np.diff(points, axis=axis, prepend=np.take(points, [0], axis=axis))
    # At the image border one of the two is zero: treat it as unusable.
    forward_change = np.abs(forward[..., 2]) / points[..., 2]
    backward_change = np.abs(backward[..., 2]) / points[..., 2]
    forward_change[np.all(forward == 0, axis=-1)] = np.inf
    backward_change[np.all(backward == 0, axis=-1)] = np.inf
    use_forward = forward_change <= backward_change
    step = np.where(use_forward[..., None], forward, backward)
    change = np.minimum(forward_change, backward_change)
    return step, change <= edge_step


def _surface_covariances(
    points: np.ndarray, footprint: np.ndarray, edge_step: float, pixel_sigma: float
) -> np.ndarray:
    """Covariances ``[H*W,3,3]`` of discs lying in the surface, one pixel wide as seen."""
    along_x, smooth_x = _tangent(points, 1, edge_step)
    along_y, smooth_y = _tangent(points, 0, edge_step)
    flat = np.zeros_like(along_x)
    flat_x = flat.copy()
    flat_x[..., 0] = footprint
    flat_y = flat.copy()
    flat_y[..., 1] = footprint
    along_x = np.where(smooth_x[..., None], along_x, flat_x)
    along_y = np.where(smooth_y[..., None], along_y, flat_y)
    for tangent in (along_x, along_y):
        length = np.linalg.norm(tangent, axis=-1, keepdims=True)
        limit = MAX_STRETCH * footprint[..., None]
        tangent *= np.minimum(1.0, limit / np.maximum(length, 1e-12))
    normal = np.cross(along_x, along_y)
    normal_length = np.linalg.norm(normal, axis=-1, keepdims=True)
    normal = normal / np.maximum(normal_length, 1e-30)
    thickness = THICKNESS * footprint[..., None, None]
    covariance = pixel_sigma**2 * (
        along_x[..., :, None] * along_x[..., None, :]
        + along_y[..., :, None] * along_y[..., None, :]
    ) + thickness**2 * (normal[..., :, None] * normal[..., None, :])
    return covariance.reshape(-1, 3, 3)


def _facing_covariances(footprint: np.ndarray, pixel_sigma: float) -> np.ndarray:
    """Covariances ``[N,3,3]`` of camera-facing discs one pixel footprint wide."""
    diagonal = np.stack(
        [(pixel_sigma * footprint) ** 2, (pixel_sigma * footprint) ** 2,
         (THICKNESS * footprint) ** 2], axis=-1
    )  # fmt: skip
    return np.einsum("ni,ij->nij", diagonal, np.eye(3))


def _decompose(covariance: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard deviations ``[N,3]`` and quaternions ``[N,4]`` of covariances ``[N,3,3]``."""
    scales = torch.empty(len(covariance), 3, dtype=torch.float32)
    quats = torch.empty(len(covariance), 4, dtype=torch.float32)
    chunk = 1 << 18  # bounds eigh's float64 workspace on multi-megapixel photos
    for start in range(0, len(covariance), chunk):
        block = torch.from_numpy(covariance[start : start + chunk])
        variances, vectors = torch.linalg.eigh(block)
        # eigh's eigenvectors may form a reflection; flipping one axis keeps the same ellipsoid.
        flip = torch.linalg.det(vectors) < 0
        vectors[flip, :, 0] = -vectors[flip, :, 0]
        scales[start : start + chunk] = variances.clamp_min(0).sqrt().float()
        quats[start : start + chunk] = rotation_to_quaternion(vectors).float()
    return scales, quats
