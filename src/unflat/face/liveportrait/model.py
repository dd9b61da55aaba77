"""The LivePortrait network: F, M, W, G and S in one module, with the reference's tensor names.

``LivePortrait`` holds ``appearance_feature_extractor`` (F), ``motion_extractor`` (M),
``warping_module`` (W), ``spade_generator`` (G) and ``stitching_retargeting_module`` (S), so one
state dict with those prefixes (as the five released files assembled by
``unflat.face.liveportrait.release``) loads with ``strict=True``. Its methods are the steps of the
reference's inference: appearance, motion, keypoints, relative motion, stitching, eye and lip
retargeting, warping and decoding. Images are ``[B, 3, H, W]`` in [0, 1] (256 x 256 for the
released weights); a source of batch 1 broadcasts against a driving batch.
"""

from __future__ import annotations

import torch
from torch import nn

from unflat.face.liveportrait.appearance import AppearanceFeatureExtractor
from unflat.face.liveportrait.config import LivePortraitConfig
from unflat.face.liveportrait.motion import (
    MotionExtractor,
    motion_rotation,
    place_keypoints,
    refine,
)
from unflat.face.liveportrait.spade import SpadeDecoder
from unflat.face.liveportrait.stitching import StitchingRetargetingModule
from unflat.face.liveportrait.warping import Warp, WarpingNetwork
from unflat.registry import ModelEntry, WeightFile, register_architecture, register_model

Motion = dict[str, torch.Tensor]


class LivePortrait(nn.Module):
    """The five networks of LivePortrait and the reference's steps between them."""

    def __init__(self, config: LivePortraitConfig | None = None) -> None:
        super().__init__()
        config = config or LivePortraitConfig()
        config.validate()
        self.config = config
        params = config.model_params
        self.num_kp = config.num_kp
        self.appearance_feature_extractor = AppearanceFeatureExtractor(
            params.appearance_feature_extractor_params
        )
        self.motion_extractor = MotionExtractor(
            params.motion_extractor_params, config.motion_extractor_backbone
        )
        self.warping_module = WarpingNetwork(params.warping_module_params)
        self.spade_generator = SpadeDecoder(params.spade_generator_params)
        self.stitching_retargeting_module = StitchingRetargetingModule(
            params.stitching_retargeting_module_params
        )

    def extract_features(self, image: torch.Tensor) -> torch.Tensor:
        """F: the appearance volume ``[B, C, D, H/4, W/4]`` of a source image."""
        return self.appearance_feature_extractor(image)

    def motion(self, image: torch.Tensor) -> Motion:
        """M, refined: ``pitch``, ``yaw``, ``roll`` ``[B, 1]`` in degrees, ``t`` ``[B, 3]``,
        ``exp`` and ``kp`` ``[B, K, 3]``, ``scale`` ``[B, 1]``."""
        return refine(self.motion_extractor(image))

    @staticmethod
    def rotation(motion: Motion) -> torch.Tensor:
        """``[B, 3, 3]`` head rotation (for row vectors) of a motion dict."""
        return motion_rotation(motion)

    def keypoints(self, motion: Motion) -> torch.Tensor:
        """Posed keypoints ``x = s (kp R + exp) + t`` (no depth shift), ``[B, K, 3]``."""
        rotation = motion_rotation(motion)
        return place_keypoints(motion["kp"], rotation, motion["exp"], motion["scale"], motion["t"])

    def relative(self, source: Motion, driving: Motion, driving0: Motion) -> torch.Tensor:
        """Driving keypoints for the source by the driving frame's motion relative to frame 0.

        ``R = (R_d R_d0ᵀ) R_s``, ``exp = exp_s + exp_d - exp_d0``, ``s = s_s s_d / s_d0``,
        ``t = t_s + t_d - t_d0`` (depth dropped), on the source's canonical keypoints.
        """
        rotation_d0 = motion_rotation(driving0)
        rotation = motion_rotation(driving) @ rotation_d0.transpose(1, 2) @ motion_rotation(source)
        exp = source["exp"] + (driving["exp"] - driving0["exp"])
        scale = source["scale"] * (driving["scale"] / driving0["scale"])
        shift = source["t"] + (driving["t"] - driving0["t"])
        kp = source["kp"].expand(rotation.shape[0], -1, -1)
        return place_keypoints(kp, rotation, exp, scale, shift)

    def stitch(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """S's stitching: ``x_d`` plus the MLP's keypoint deltas and its ``(tx, ty)`` shift."""
        x_s = _batch_like(x_s, x_d)
        batch = x_d.shape[0]
        flat = torch.cat([x_s.reshape(batch, -1), x_d.reshape(batch, -1)], dim=1)
        delta = self.stitching_retargeting_module.retarget_shoulder(flat)
        points = 3 * self.num_kp
        moved = x_d + delta[:, :points].reshape(batch, self.num_kp, 3)
        shift = torch.cat([delta[:, points : points + 2], torch.zeros_like(delta[:, :1])], dim=1)
        return moved + shift[:, None, :]

    def retarget_eye(self, x_s: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """Keypoint deltas ``[B, K, 3]`` from ``ratio`` ``[B, 3]`` (the reference: the source's
        two eye-close ratios and the driving one)."""
        return self._retarget(self.stitching_retargeting_module.retarget_eye, x_s, ratio)

    def retarget_lip(self, x_s: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """Keypoint deltas ``[B, K, 3]`` from ``ratio`` ``[B, 2]`` (source, driving lip ratios)."""
        return self._retarget(self.stitching_retargeting_module.retarget_mouth, x_s, ratio)

    def _retarget(self, mlp: nn.Module, x_s: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        x_s = _batch_like(x_s, ratio)
        batch = ratio.shape[0]
        delta = mlp(torch.cat([x_s.reshape(batch, -1), ratio.to(x_s.dtype)], dim=1))
        return delta.reshape(batch, self.num_kp, 3)

    def warp(self, feature_3d: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> Warp:
        """W: the source volume warped from ``x_s`` to ``x_d``, with its occlusion and flow."""
        feature_3d = _batch_like(feature_3d, x_d)
        return self.warping_module(feature_3d, _batch_like(x_s, x_d), x_d)

    def generate(self, warped_feature: torch.Tensor) -> torch.Tensor:
        """G: the image ``[B, 3, H, W]`` in [0, 1] from a warped feature."""
        return self.spade_generator(warped_feature)

    def decode(
        self, feature_3d: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor
    ) -> torch.Tensor:
        """W then G: the source re-rendered with keypoints ``x_d`` (512 x 512 from 256 x 256)."""
        return self.generate(self.warp(feature_3d, x_s, x_d).warped_feature)

    def forward(self, source: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
        """Animate ``source`` ``[1, 3, H, W]`` by ``driving`` ``[T, 3, H, W]`` relative to its
        first frame, with stitching (no retargeting): ``[T, 3, 2H, 2W]`` for upscale 2."""
        source_motion = self.motion(source)
        driving_motion = self.motion(driving)
        first = {name: value[:1] for name, value in driving_motion.items()}
        x_s = self.keypoints(source_motion)
        x_d = self.stitch(x_s, self.relative(source_motion, driving_motion, first))
        return self.decode(self.extract_features(source), x_s, x_d)


def _batch_like(tensor: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``tensor`` with a batch of 1 expanded to ``other``'s batch."""
    if tensor.shape[0] == other.shape[0]:
        return tensor
    if tensor.shape[0] != 1:
        raise ValueError(f"batch {tensor.shape[0]} does not broadcast to {other.shape[0]}")
    return tensor.expand(other.shape[0], *tensor.shape[1:])


def build_liveportrait(config: dict | None = None) -> LivePortrait:
    """Build LivePortrait from a config dict (``models.yaml``'s schema; empty = full size)."""
    return LivePortrait(LivePortraitConfig.from_dict(config or {}))


HUB = "https://huggingface.co/KwaiVGI/LivePortrait/resolve/main/liveportrait"
# The released files, where each lives on the hub, the prefix its keys take in the one state dict,
# and its approximate size (float32 parameters of the full-size model; hashes come from the hub).
RELEASED_FILES = (
    ("appearance_feature_extractor.pth", "base_models", "appearance_feature_extractor.", 3_390_000),
    ("motion_extractor.pth", "base_models", "motion_extractor.", 112_800_000),
    ("warping_module.pth", "base_models", "warping_module.", 182_000_000),
    ("spade_generator.pth", "base_models", "spade_generator.", 221_600_000),
    (
        "stitching_retargeting_module.pth",
        "retargeting_models",
        "stitching_retargeting_module.",
        2_400_000,
    ),
)
MIT_SUMMARY = (
    "MIT License: the code and the released weights may be used, copied, modified and "
    "redistributed, commercially too, keeping the copyright and licence notice. unflat uses "
    "only the five LivePortrait networks, not the insightface detector the reference crops with "
    "(its weights are non-commercial). This is a summary, not legal advice: the licence governs."
)

register_architecture("liveportrait", build_liveportrait, LivePortraitConfig)
register_model(
    ModelEntry(
        name="liveportrait",
        task="face-animation",
        architecture={"architecture": "liveportrait"},
        description=(
            "KwaiVGI LivePortrait (human): one-shot portrait animation from a 256x256 face crop "
            "to 512x512 (appearance, ConvNeXt-V2 motion, 3D warping, SPADE decoder, stitching)."
        ),
        files=tuple(
            WeightFile(
                filename=name,
                urls=(f"{HUB}/{folder}/{name}",),
                approx_bytes=size,
                prefix=prefix,
            )
            for name, folder, prefix, size in RELEASED_FILES
        ),
        licence="MIT",
        licence_url="https://huggingface.co/KwaiVGI/LivePortrait/blob/main/LICENSE",
        licence_summary=MIT_SUMMARY,
        commercial_use=True,
        homepage="https://github.com/KwaiVGI/LivePortrait",
        paper=(
            "LivePortrait: Efficient Portrait Animation with Stitching and Retargeting Control "
            "(arXiv:2407.03168)"
        ),
    )
)
