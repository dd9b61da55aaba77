"""SHARP's base Gaussians and how predicted deltas turn them into the final Gaussians.

The network works in a normalised space: x, y in NDC ((-1, -1) top-left, (1, 1) bottom-right),
inverse depth as the third coordinate, and depths rescaled so that the nearest point sits at 1.
The initializer lays out ``num_layers`` Gaussians per output pixel there; the composer adds the
predicted deltas through per-attribute activations, lifts means to camera space and scales the
result back to metres.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from unflat.colour import srgb_to_linear_tensor
from unflat.splat.sharp.config import DeltaFactor, InitializerParams
from unflat.splat.sharp.layers import activation, inverse_sigmoid, inverse_softplus

# Depth normalisation: the nearest point goes to NEAREST_DEPTH, anything beyond FARTHEST_DEPTH is
# clamped (both in the normalised units).
NEAREST_DEPTH = 1.0
FARTHEST_DEPTH = 100.0


class BaseGaussians(NamedTuple):
    """Base values, each ``[B, C, num_layers, h, w]`` (or broadcastable to it)."""

    x_ndc: torch.Tensor
    y_ndc: torch.Tensor
    inverse_depth: torch.Tensor
    scales: torch.Tensor
    quaternions: torch.Tensor
    colors: torch.Tensor
    opacities: torch.Tensor


class InitializerOutput(NamedTuple):
    """Base Gaussians, the Gaussian decoder's image input, and the factor back to metres."""

    base: BaseGaussians
    feature_input: torch.Tensor
    global_scale: torch.Tensor | None


class FlatGaussians(NamedTuple):
    """Gaussians as ``[B, N, C]`` tensors in the published order (layer, row, column)."""

    means: torch.Tensor
    scales: torch.Tensor
    quaternions: torch.Tensor
    colors: torch.Tensor
    opacities: torch.Tensor


def normalize_depth(depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale each depth map so its minimum is ``NEAREST_DEPTH``; returns (depth, factor)."""
    nearest = depth.flatten(1).min(dim=-1).values
    factor = NEAREST_DEPTH / (nearest + 1e-6)
    return (depth * factor[:, None, None, None]).clamp(max=FARTHEST_DEPTH), factor


class MultiLayerInitializer(nn.Module):
    """Base Gaussians on a stride-``stride`` grid: one per layer, on the depth surface or planes."""

    def __init__(self, params: InitializerParams) -> None:
        super().__init__()
        self.params = params
        self.num_layers = params.num_layers

    def feature_input(self, image: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Image and disparity, mapped from [0, 1] to [-1, 1]."""
        if self.params.feature_input_stop_grad:
            image, depth = image.detach(), depth.detach()
        features = torch.cat([image, self.params.disparity_factor / depth], dim=1)
        return 2.0 * features - 1.0

    def _planes(self, count: int, like: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """``count`` fronto-parallel layers, evenly spaced in disparity from ``1 / base_depth``."""
        disparity = torch.linspace(1.0 / self.params.base_depth, 0.0, count + 1, device=like.device)
        return disparity[None, None, :-1, None, None].repeat(like.shape[0], 1, 1, height, width)

    def _surface(self, depth: torch.Tensor, option: str) -> torch.Tensor:
        """Disparity pooled over each grid cell: the nearest point ("min") or the farthest."""
        stride = self.params.stride
        disparity = 1.0 / depth
        if option == "surface_min":
            disparity = F.max_pool2d(disparity, stride, stride)
        else:
            disparity = -F.max_pool2d(-disparity, stride, stride)
        return disparity[:, :, None]

    def _layer_disparity(self, depth: torch.Tensor, height: int, width: int) -> torch.Tensor:
        params = self.params
        first_option = params.first_layer_depth_option
        if first_option.startswith("surface"):
            first = self._surface(depth[:, 0:1], first_option)
        else:
            first = self._planes(1, depth, height, width)
        if self.num_layers == 1:
            return first
        rest_option = params.rest_layer_depth_option
        rest_depth = depth if depth.shape[1] == 1 else depth[:, 1:]
        if rest_option.startswith("surface"):
            rest = self._surface(rest_depth, rest_option)
        elif rest_option == "base_depth":
            rest = torch.cat(
                [self._planes(1, depth, height, width) for _ in range(self.num_layers - 1)], dim=2
            )
        else:
            rest = self._planes(self.num_layers - 1, depth, height, width)
        return torch.cat([first, rest], dim=2)

    def forward(self, image: torch.Tensor, depth: torch.Tensor) -> InitializerOutput:
        """``image [B,3,H,W]`` in [0, 1] and ``depth [B,1 or 2,H,W]`` in metres."""
        params = self.params
        image = image.contiguous()
        depth = depth.contiguous()
        batch, _, image_height, image_width = depth.shape
        stride = params.stride
        height, width = image_height // stride, image_width // stride
        global_scale = None
        if params.normalize_depth:
            depth, factor = normalize_depth(depth)
            global_scale = 1.0 / factor

        disparity = self._layer_disparity(depth, height, width)

        # Cell centres in NDC.
        xs = torch.arange(0.5 * stride, image_width, stride, device=depth.device)
        ys = torch.arange(0.5 * stride, image_height, stride, device=depth.device)
        xs = 2 * xs / image_width - 1.0
        ys = 2 * ys / image_height - 1.0
        grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")
        x_ndc = grid_x[None, None, None].repeat(batch, 1, self.num_layers, 1, 1)
        y_ndc = grid_y[None, None, None].repeat(batch, 1, self.num_layers, 1, 1)

        # A Gaussian covers about its cell: twice the cell's half-width in NDC, times the depth.
        scale_per_depth = 2 * params.scale_factor * stride / float(image_width)
        scales = torch.ones_like(disparity) / disparity * scale_per_depth

        quaternions = torch.tensor([1.0, 0.0, 0.0, 0.0], device=depth.device)
        # 1/num_layers each keeps the initial transmittance near 1/e whatever the layer count.
        opacities = torch.tensor([min(1.0 / self.num_layers, 0.5)], device=depth.device)
        colors = torch.full((batch, 3, self.num_layers, height, width), 0.5, device=depth.device)
        if params.color_option == "first_layer":
            colors[:, :, 0] = F.avg_pool2d(image, stride, stride)
        elif params.color_option == "all_layers":
            pooled = F.avg_pool2d(image, stride, stride)
            colors = pooled[:, :, None].repeat(1, 1, self.num_layers, 1, 1)

        base = BaseGaussians(
            x_ndc=x_ndc,
            y_ndc=y_ndc,
            inverse_depth=disparity,
            scales=scales,
            quaternions=quaternions[None, :, None, None, None],
            colors=colors,
            opacities=opacities,
        )
        return InitializerOutput(base, self.feature_input(image, depth), global_scale)


def scale_activation_constants(min_scale: float, max_scale: float) -> tuple[float, float]:
    """Slope and offset that make the scale activation pass through (0, 1) with slope 1."""
    slope = (max_scale - min_scale) / (1 - min_scale) / (max_scale - 1)
    # Evaluated in float32, as the published code does, so that the offset matches bit for bit.
    ratio = torch.tensor((1.0 - min_scale) / (max_scale - min_scale), device="cpu")
    offset = inverse_sigmoid(ratio).item()
    return slope, offset


class GaussianComposer(nn.Module):
    """Base values + deltas -> Gaussians (flattened, and in metres when a global scale is given)."""

    def __init__(
        self,
        delta_factor: DeltaFactor,
        min_scale: float,
        max_scale: float,
        color_activation: str,
        opacity_activation: str,
        color_space: str,
        base_scale_on_predicted_mean: bool,
        upsampling: int = 1,
    ) -> None:
        super().__init__()
        self.delta_factor = delta_factor
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.color_activation = activation(color_activation)
        self.color_activation_name = color_activation
        self.opacity_activation = activation(opacity_activation)
        self.color_space = color_space
        self.base_scale_on_predicted_mean = base_scale_on_predicted_mean
        self.upsampling = upsampling

    def _means(self, base: BaseGaussians, delta: torch.Tensor) -> torch.Tensor:
        """NDC x, y plus deltas, disparity offset in softplus space, then lifted by depth."""
        factor = self.delta_factor
        x = base.x_ndc + factor.xy * delta[:, 0:1]
        y = base.y_ndc + factor.xy * delta[:, 1:2]
        inverse_depth = F.softplus(inverse_softplus(base.inverse_depth) + factor.z * delta[:, 2:3])
        depth = 1.0 / (inverse_depth + 1e-3)
        return torch.cat([depth * x, depth * y, depth], dim=1)

    def _scales(self, base_scales: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        slope, offset = scale_activation_constants(self.min_scale, self.max_scale)
        span = self.max_scale - self.min_scale
        factor = span * torch.sigmoid(slope * self.delta_factor.scale * delta + offset)
        return base_scales * (factor + self.min_scale)

    def _colors(self, base: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        # Keep the base inside the activation's range so that its inverse stays finite.
        if self.color_activation_name == "sigmoid":
            base = base.clamp(min=0.01, max=0.99)
        elif self.color_activation_name in ("exp", "softplus"):
            base = base.clamp(min=0.01)
        pair = self.color_activation
        colors = pair.forward(pair.inverse(base) + self.delta_factor.color * delta)
        return srgb_to_linear_tensor(colors) if self.color_space == "linearRGB" else colors

    def forward(
        self, delta: torch.Tensor, base: BaseGaussians, global_scale: torch.Tensor | None
    ) -> FlatGaussians:
        """``delta [B,14,L,h,w]``: 3 mean, 3 scale, 4 quaternion, 3 colour and 1 opacity."""
        if self.upsampling != 1 and base.x_ndc.shape[-1] != delta.shape[-1]:
            batch, channels, layers, height, width = delta.shape
            delta = F.interpolate(
                delta.reshape(batch, channels * layers, height, width),
                scale_factor=self.upsampling,
            ).reshape(batch, channels, layers, height * self.upsampling, width * self.upsampling)

        means = self._means(base, delta)
        base_scales = base.scales
        if self.base_scale_on_predicted_mean:
            # The base scale was set for the base depth: follow the predicted one.
            base_scales = base.scales * base.inverse_depth * means[:, 2:3]
        scales = self._scales(base_scales, delta[:, 3:6])
        # Left unnormalised: renderers normalise quaternions themselves.
        quaternions = base.quaternions + self.delta_factor.quaternion * delta[:, 6:10]
        colors = self._colors(base.colors, delta[:, 10:13])
        opacity = self.opacity_activation
        opacities = opacity.forward(
            opacity.inverse(base.opacities) + self.delta_factor.opacity * delta[:, 13]
        )

        # [B, C, L, h, w] -> [B, L*h*w, C]: layer-major, then rows, then columns.
        def flat(values: torch.Tensor) -> torch.Tensor:
            return values.permute(0, 2, 3, 4, 1).flatten(1, 3)

        means, scales = flat(means), flat(scales)
        if global_scale is not None:
            means = global_scale[:, None, None] * means
            scales = global_scale[:, None, None] * scales
        return FlatGaussians(
            means=means,
            scales=scales,
            quaternions=flat(quaternions),
            colors=flat(colors),
            opacities=opacities.flatten(1, 3),
        )
