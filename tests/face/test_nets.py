"""The PyTorch face nets reproduce MediaPipe's TFLite models as run by LiteRT.

References come from ``tools/record_litert_outputs.py`` (two seeded random images per model and
one real image: a letterboxed portrait, its face crop, an eye crop, the whole portrait). The
tolerances are a few times the measured max abs error (float32 here vs LiteRT/XNNPACK):
detector 8e-5 (regressors, up to ~230 px) and 1.5e-4 (logits); mesh 1.2e-4 px and 5e-6 (flag);
iris 4.2e-5 px; selfie mask 2e-5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unflat import registry
from unflat.errors import ConfigError, WeightsError
from unflat.face.nets import load_net

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "face" / "litert_outputs.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return dict(data)


def asset(name: str) -> Path:
    """The packaged weights file of face net ``name``."""
    return registry.bundled_files(registry.get_entry(name))[0]


def net(name: str) -> torch.nn.Module:
    if not asset(name).is_file():
        pytest.skip(f"{asset(name).name} is absent: run tools/convert_mediapipe.py")
    return load_net(name)


def run(name: str, reference: dict[str, np.ndarray]):
    """The net's outputs (numpy) on the recorded uint8 inputs, scaled as the recorder did."""
    x = reference[f"{name}/input"].astype(np.float32)
    x = (
        x / np.float32(127.5) - np.float32(1.0)
        if name == "blazeface_short"
        else x / np.float32(255.0)
    )
    with torch.inference_mode():
        outputs = net(name)(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    return [o.numpy() for o in outputs]


def max_err(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs.reshape(ours.shape)).max())


def test_blazeface(reference):
    regressors, logits = run("blazeface_short", reference)
    assert regressors.shape == (3, 896, 16) and logits.shape == (3, 896)
    assert max_err(regressors, reference["blazeface_short/regressors"]) < 5e-4
    assert max_err(logits, reference["blazeface_short/classificators"]) < 5e-4
    assert logits[0].max() > 0  # the portrait's face is found


def test_face_mesh(reference):
    landmarks, flag = run("face_mesh", reference)
    assert landmarks.shape == (3, 468, 3) and flag.shape == (3,)
    assert max_err(landmarks, reference["face_mesh/conv2d_21"]) < 1e-3
    assert max_err(flag, reference["face_mesh/conv2d_31"]) < 1e-4
    assert flag[0] > 0 and (flag[1:] < 0).all()  # a face, then noise


def test_iris(reference):
    contour, iris = run("iris", reference)
    assert contour.shape == (3, 71, 3) and iris.shape == (3, 5, 3)
    assert max_err(contour, reference["iris/output_eyes_contours_and_brows"]) < 2e-4
    assert max_err(iris, reference["iris/output_iris"]) < 2e-4


def test_selfie_segmentation(reference):
    (mask,) = run("selfie_segmentation", reference)
    assert mask.shape == (3, 1, 256, 256)
    assert max_err(mask, reference["selfie_segmentation/activation_10"]) < 1e-4
    assert mask[0].mean() > 0.3  # the portrait's sitter is segmented


def test_weights_keep_their_stored_precision():
    from safetensors import safe_open

    if not asset("face_mesh").is_file():
        pytest.skip("face_mesh.safetensors is absent: run tools/convert_mediapipe.py")
    with safe_open(str(asset("face_mesh")), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}  # noqa: SIM118
    assert next(load_net("face_mesh").parameters()).dtype == torch.float32


def test_unknown_net():
    with pytest.raises(ConfigError):
        load_net("nope")


def test_missing_asset_says_how_to_fix(monkeypatch, tmp_path):
    import unflat.face.nets as nets

    moved = lambda entry: [tmp_path / file.filename for file in entry.files]  # noqa: E731
    monkeypatch.setattr(nets.registry, "bundled_files", moved)
    with pytest.raises(WeightsError, match="iris") as err:
        load_net("iris")
    assert "convert_mediapipe" in str(err.value)
