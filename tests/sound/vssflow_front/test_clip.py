"""CLIP ViT-B/16 frame features: transformers' CLIPModel names and numbers, the published frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.sound.vssflow_front.conftest import manifest, read_reference, shapes
from unflat.errors import InputError
from unflat.nn.clip_vit import ClipVisionConfig, ClipVisionModel, vision_state
from unflat.registry import build_model, get_entry
from unflat.sound.vssflow.clip import (
    CLIP_MEAN,
    CLIP_STD,
    clip_pixels,
    frame_features,
    frame_indices,
    window_pixels,
)

TOLERANCE = 1e-5


def test_vision_tower_of_a_clip_model_file_loads_strictly_and_matches():
    state, io, config = read_reference("clip_tiny.safetensors")
    assert any(k.startswith("text_model.") for k in state)  # the file is a whole CLIPModel
    model = ClipVisionModel(ClipVisionConfig(**config)).eval()
    model.load_state_dict(vision_state(state), strict=True)
    with torch.no_grad():
        tokens = model(io["input.pixels"])
        pooled = model.pooled(io["input.pixels"])
    torch.testing.assert_close(tokens, io["output.last_hidden_state"], atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(pooled, io["output.pooled"], atol=TOLERANCE, rtol=0)
    # The published feature: class token of the last block, before post_layernorm.
    features = frame_features(model, io["input.pixels"], batch=2)
    torch.testing.assert_close(
        features, io["output.last_hidden_state"][:, 0], atol=TOLERANCE, rtol=0
    )


def test_full_size_keys_and_shapes_equal_the_vision_tower_of_vit_b_16():
    with torch.device("meta"):
        model = build_model({"architecture": "clip_vision"})
    assert shapes(model) == manifest("clip_vision_keys.json")
    assert get_entry("clip-vit-b-16").licence == "MIT"


def test_frames_are_picked_with_python_rounding():
    # 25 fps: i * 2.5 rounds halves to even (2.5 -> 2, 7.5 -> 8), as the published code does.
    assert frame_indices(250, 25.0, seconds=0.5) == [0, 2, 5, 8, 10]
    assert frame_indices(30, 30.0, seconds=1.0) == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    assert frame_indices(7, 30.0, seconds=1.0) == [0, 3, 6]  # past the end: left out


def test_pixels_are_normalised_and_short_clips_padded_with_black():
    frames = np.full((3, 40, 60, 3), 255, np.uint8)
    pixels = window_pixels(frames, fps=10.0, seconds=0.5)
    assert pixels.shape == (5, 3, 224, 224)
    white = (1.0 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    black = -torch.tensor(CLIP_MEAN) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(pixels[0, :, 100, 100], white)
    torch.testing.assert_close(pixels[4, :, 100, 100], black)
    with pytest.raises(InputError, match="uint8"):
        clip_pixels(frames.astype(np.float32))
