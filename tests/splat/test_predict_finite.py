"""SHARP Gaussians with NaN (damaged weights) are refused before the SVD and before any file.

One forward pass of the tiny SHARP (a 1536x1536 input) takes about 30 s on two CPU cores, so
this is the only one; ``check_finite`` itself is tested in tests/test_weights_integrity.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import shared_path
from unflat import registry, weights
from unflat.errors import WeightsError
from unflat.splat import predict_gaussians


def test_nan_weights_give_a_weights_error_naming_them(tmp_path: Path) -> None:
    config = json.loads((shared_path("fixtures", "sharp_tiny_a") / "config.json").read_text())
    state = registry.build_model(config).state_dict()
    nan_state = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
        for k, v in state.items()
    }
    folder = tmp_path / "nan_sharp"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    save_file(nan_state, str(folder / "model.safetensors"))
    file = folder / "model.safetensors"
    # Loading refuses them at once, before any forward pass or precision path.
    with pytest.raises(WeightsError) as loading:
        weights.load_model(folder)
    total = sum(v.numel() for v in nan_state.values() if v.is_floating_point())
    assert loading.value.message.startswith(
        f"the model with weights {file} has NaN or infinite weights ({total} values in "
    )
    assert "pass other --weights" in loading.value.hint
    # A model that produces NaN anyway (here: built around the loader) is refused after it ran.
    model = registry.build_model(config).eval().requires_grad_(False)
    model.load_state_dict(nan_state)
    model.unflat_weights = str(file)
    image = np.full((48, 64, 3), 100, np.uint8)
    with pytest.raises(WeightsError) as caught:
        predict_gaussians(model, image, f_px=60.0)
    assert caught.value.message.startswith(
        f"the model with weights {file} produced NaN or infinite"
    )
    assert "pass other --weights" in caught.value.hint
