"""CLIP ViT-B/16 frame features: transformers' CLIPModel names and numbers, the published frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.sound.vssflow_front.conftest import manifest, read_reference, shapes
from unflat.errors import InputError
from unflat.nn.clip_vit import (
    ClipVisionConfig,
    ClipVisionModel,
    from_openai_state,
    vision_state,
)
from unflat.registry import build_model, get_entry
from unflat.sound.vssflow.clip import (
    CLIP_MEAN,
    CLIP_STD,
    clip_pixels,
    frame_features,
    frame_indices,
    is_torchscript,
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


def _as_openai(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A transformers CLIP vision state under OpenAI's names, q/k/v fused as nn.MultiheadAttention
    stores them (written independently of the converter under test)."""
    prefix = "vision_model."
    out = {
        "visual.class_embedding": state[prefix + "embeddings.class_embedding"],
        "visual.positional_embedding": state[prefix + "embeddings.position_embedding.weight"],
        "visual.conv1.weight": state[prefix + "embeddings.patch_embedding.weight"],
        "visual.proj": torch.zeros(16, 4),
        "transformer.resblocks.0.ln_1.weight": torch.zeros(8),  # text tower: dropped
    }
    for ours, theirs in (("pre_layrnorm", "ln_pre"), ("post_layernorm", "ln_post")):
        for kind in ("weight", "bias"):
            out[f"visual.{theirs}.{kind}"] = state[f"{prefix}{ours}.{kind}"]
    for layer in range(2):
        src, dst = f"{prefix}encoder.layers.{layer}.", f"visual.transformer.resblocks.{layer}."
        for kind in ("weight", "bias"):
            fused = [state[f"{src}self_attn.{p}_proj.{kind}"] for p in "qkv"]
            out[f"{dst}attn.in_proj_{kind}"] = torch.cat(fused)
            pairs = (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"))
            pairs += (("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"))
            for ours, theirs in pairs:
                out[f"{dst}{theirs}.{kind}"] = state[f"{src}{ours}.{kind}"]
    return out


def test_openai_archive_names_convert_and_match_multihead_attention():
    state, io, config = read_reference("clip_tiny.safetensors")
    converted = from_openai_state(_as_openai(state))
    assert converted.keys() == vision_state(state).keys()
    model = ClipVisionModel(ClipVisionConfig(**config)).eval()
    model.load_state_dict(converted, strict=True)
    with torch.no_grad():
        tokens = model(io["input.pixels"])
    torch.testing.assert_close(tokens, io["output.last_hidden_state"], atol=TOLERANCE, rtol=0)
    # OpenAI's blocks run nn.MultiheadAttention on the fused projection: the split must agree.
    fused = _as_openai(state)
    attention = torch.nn.MultiheadAttention(16, 2, batch_first=True).eval()
    attention.in_proj_weight.data = fused["visual.transformer.resblocks.0.attn.in_proj_weight"]
    attention.in_proj_bias.data = fused["visual.transformer.resblocks.0.attn.in_proj_bias"]
    attention.out_proj.weight.data = fused["visual.transformer.resblocks.0.attn.out_proj.weight"]
    attention.out_proj.bias.data = fused["visual.transformer.resblocks.0.attn.out_proj.bias"]
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        ours = model.vision_model.encoder.layers[0].self_attn(x)
        theirs = attention(x, x, x, need_weights=False)[0]
    torch.testing.assert_close(ours, theirs, atol=TOLERANCE, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_a_torchscript_archive_is_recognised(tmp_path):
    class Holder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.scale

    path = tmp_path / "tiny.pt"
    torch.jit.save(torch.jit.script(Holder()), str(path))
    assert is_torchscript(path)
    torch.save({"a": torch.ones(1)}, tmp_path / "plain.pt")
    assert not is_torchscript(tmp_path / "plain.pt")
