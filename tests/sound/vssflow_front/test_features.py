"""Precomputed features files: the layout docs/sound.md gives, validated on reading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from unflat.errors import InputError
from unflat.registry import architecture_available, get_entry
from unflat.sound.vssflow.features import read_features


def _arrays() -> dict[str, np.ndarray]:
    return {
        "video": np.arange(100 * 768, dtype=np.float32).reshape(100, 768),
        "synch": np.ones((30, 8, 768), np.float16),
        "lip": np.zeros((250, 1024), np.float32),
        "speaker": np.full(256, 0.5, np.float32),
    }


def test_npz_and_safetensors_read_alike(tmp_path):
    np.savez(tmp_path / "f.npz", **_arrays())
    save_file(_arrays(), str(tmp_path / "f.safetensors"))
    for name in ("f.npz", "f.safetensors"):
        features = read_features(tmp_path / name)
        assert features.video.shape == (100, 768) and features.synch.shape == (240, 768)
        assert features.synch.dtype == torch.float32 and features.speaker[0] == 0.5


def test_windows_cut_each_array_at_its_own_rate(tmp_path):
    np.savez(tmp_path / "f.npz", **_arrays())
    window = read_features(tmp_path / "f.npz").window(start=2.0, seconds=5.0)
    assert window.video.shape == (50, 768) and window.video[0, 0] == 20 * 768
    assert window.lip.shape == (125, 1024) and window.synch.shape == (120, 768)
    assert window.speaker.shape == (256,)


def test_missing_arrays_are_absent_conditions(tmp_path):
    np.savez(tmp_path / "f.npz", speaker=np.zeros(256, np.float32))
    features = read_features(tmp_path / "f.npz")
    assert features.video is None and features.lip is None


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"lips": np.zeros((2, 1024), np.float32)}, "unknown arrays"),
        ({"lip": np.zeros((2, 768), np.float32)}, r"\[\.\.\., 1024\]"),
        ({"speaker": np.zeros(256, np.int32)}, "must be float"),
        ({"video": np.full((2, 768), np.nan, np.float32)}, "NaN"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path, arrays, message):
    np.savez(tmp_path / "f.npz", **arrays)
    with pytest.raises(InputError, match=message):
        read_features(tmp_path / "f.npz")


def test_not_a_features_file(tmp_path):
    (tmp_path / "f.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read"):
        read_features(tmp_path / "f.npz")
    with pytest.raises(InputError, match="does not exist"):
        read_features(tmp_path / "none.npz")


def test_external_extractors_are_listed_with_their_terms_but_not_buildable():
    for name in ("synchformer", "av-hubert-large-vsr"):
        entry = get_entry(name)
        assert entry.licence and entry.files[0].urls
        assert not architecture_available(entry)
    assert get_entry("av-hubert-large-vsr").commercial_use is False
