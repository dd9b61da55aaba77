"""Crashes the fuzzing suite found in readers already merged, each as a plain regression test
(the shrunk input, made here), fixed with the smallest change to the reader."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from tests.fuzz import images
from tests.fuzz.engine import Mutation, Op, png_chunks, png_file
from tests.fuzz.media import write_media
from tests.fuzz.models import Tiny
from unflat.config import read_config, read_config_file
from unflat.depth.depth_pro import DepthProConfig
from unflat.errors import ConfigError, InputError, WeightsError
from unflat.io.audio import read_audio
from unflat.io.depth_files import load_depth, save_depth_png16
from unflat.io.images import read_photo
from unflat.registry import build_model
from unflat.weights import load_model


def test_heic_whose_stream_libheif_refuses_is_an_input_error(tmp_path: Path) -> None:
    """pillow-heif raises RuntimeError for every libheif refusal (was: a traceback). The shrunk
    case: one bit of the HEVC parameter sets, so the coded picture is 64x5722 pixels while the
    file's boxes say 40x32, which libheif refuses as a security limit when decoding."""
    try:
        seed = next(seed for seed in images.seeds(tmp_path) if seed.name == "photo.heic")
    except StopIteration:
        pytest.skip("this libheif has no HEIF encoder")
    path = tmp_path / "photo.heic"
    path.write_bytes(Mutation(seed, seed.views[0], (Op("flip", at=257, value=0),)).bytes())
    try:
        read_photo(path)  # another encoder's bytes may differ there: then the file may read
    except InputError as error:
        assert "is not a valid HEIF image" in str(error)


def test_npz_member_flagged_as_encrypted_is_an_input_error(tmp_path: Path) -> None:
    """zipfile raises RuntimeError for an encrypted member (was: a traceback)."""
    out = io.BytesIO()
    np.savez(out, depth=np.ones((16, 16), np.float32))
    data = bytearray(out.getvalue())
    for offset in (6, data.rfind(b"PK\x01\x02") + 8):  # general purpose flags, both headers
        data[offset] |= 1
    path = tmp_path / "depth.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="is not a valid depth archive"):
        load_depth(path)
    with zipfile.ZipFile(path) as archive, pytest.raises(RuntimeError):
        archive.read("depth.npy")  # what the reader met


def test_depth_png_past_pillows_own_limit_is_refused_by_ours(tmp_path: Path) -> None:
    """Pillow raises DecompressionBombError before our header check (was: a traceback)."""
    save_depth_png16(tmp_path / "good.png", np.ones((16, 16), np.float32))
    chunks = png_chunks((tmp_path / "good.png").read_bytes())
    header = bytearray(chunks[0][1])
    header[0:8] = struct.pack(">II", 32_768, 16_384)  # 537 M pixels, CRC made right again
    path = tmp_path / "depth.png"
    path.write_bytes(png_file([(b"IHDR", bytes(header)), *chunks[1:]]))
    with pytest.raises(InputError, match=r"holds 536,870,912 depth pixels.*--max-pixels"):
        load_depth(path)
    assert zlib.crc32(b"IHDR" + bytes(header))  # the file passed PNG's own check


def test_config_nested_past_pythons_recursion_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"architecture": "depth_pro", "vit": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match="nests JSON too deeply"):
        read_config_file(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 10**400])
def test_float_config_fields_refuse_nan_infinity_and_overflow(value: object) -> None:
    """``1e400`` written as an integer made ``float()`` raise OverflowError (a traceback)."""
    document = json.loads(json.dumps({"vit": {"mlp_ratio": value}}))
    with pytest.raises(ConfigError, match=r"vit\.mlp_ratio must be a finite number"):
        read_config(DepthProConfig, document, "depth_pro")


def test_an_architecture_that_is_not_a_string_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown architecture"):
        build_model({"architecture": ["depth_pro"]})  # was: TypeError, unhashable list


def test_a_tensor_name_with_a_newline_keeps_the_weights_error_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One byte of a checkpoint's pickle turned ``steps`` into ``\\nteps``: the mismatch
    message listed it as it was, on two lines."""
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    state = Tiny().state_dict()
    state["\nteps"] = state.pop("steps")
    path = tmp_path / "model.pt"
    torch.save(state, path)
    with pytest.raises(WeightsError) as caught:
        load_model(path, builder=lambda config: Tiny(), progress=False)
    assert "1 unexpected ('\\nteps')" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_float_wav_with_nan_samples_is_an_input_error(tmp_path: Path) -> None:
    """Found after the media fixes merged: a float WAV's NaN came out as samples (and went
    into mixes); one inserted byte shifts the data so that a NaN pattern lines up."""
    samples = np.zeros((1, 1600), np.float32)
    samples[0, 800] = np.nan
    path = tmp_path / "float.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_f32le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(InputError, match=r"NaN or infinite samples \(the first at 0\.050 s\)"):
        read_audio(path)


def test_a_wav_claiming_a_huge_sample_rate_is_refused_before_resampling(tmp_path: Path) -> None:
    """Found after the media fixes merged: one flipped bit (bit 7 of byte 26) made a stereo
    WAV's rate 8,432,708 Hz, and resampling it to 16 kHz took 68 MB; 100,000,007 Hz took
    0.8 GB and 7 s and gave no samples at all."""
    data = bytearray(write_media(tmp_path / "stereo.wav", audio="pcm_s16le", channels=2))
    data[24:32] = struct.pack("<II", 100_000_007, 400_000_028)  # rate, bytes a second
    path = tmp_path / "damaged.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"plays 100,000,007 samples a second"):
        read_audio(path)


def _config(base: dict, path: str, value: object) -> dict:
    """``base`` with the field at the dotted ``path`` (``name[index]`` for a list slot) set."""
    config = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = config
    for name in parents:
        node = node.setdefault(name, {})
    if last.endswith("]"):
        name, index = last[:-1].split("[")
        node[name][int(index)] = value
    else:
        node[last] = value
    return config


# (architecture's base config, field, damaged value, the range the error names). The first four
# are the shrunk crashes of the ``builds`` harness: a negative width (torch's RuntimeError), an
# odd time embedding (a torch check), 2**31 alignment steps (a build that never ended), 2**63 (an
# integer torch cannot unpack); the others are their neighbours.
DAMAGED_SIZES = [
    ("depth_pro", "encoder_feature_dims[0]", -1, "1..65536"),
    ("vssflow", "dit_config.time_proj_dim", -1, "2..65536"),
    ("sharp", "params.depth_alignment.steps", 2**31, "1..16"),
    ("depth_pro", "encoder_feature_dims[0]", 2**63, "1..65536"),
    ("depth_pro", "decoder_features", 0, "8..65536"),
    ("depth_pro", "decoder_features", -32, "8..65536"),
    ("depth_pro", "last_dims[1]", 0, "1..65536"),
    ("depth_pro", "vit.num_classes", -1, "0..1000000"),
    ("sharp", "monodepth_encoder_dims[3]", 2**40, "1..65536"),
    ("sharp", "params.monodepth.dims_decoder[0]", 1, "2..65536"),
    ("sharp", "params.gaussian_decoder.dims_decoder[4]", -8, "2..65536"),
    ("sharp", "params.gaussian_decoder.dim_out", 0, "1..65536"),
    ("sharp", "params.initializer.num_layers", 10**6, "1..64"),
    ("sharp", "params.depth_alignment.base_width", 2**20, "1..65536"),
    ("vssflow", "fixed_raw_input_dims.phone_vocab", 0, "1..1000000"),
    ("vssflow", "vaflow_params.dit_num_layers", -2, "1..1024"),
    ("vssflow", "vaflow_params.original_channel", 2**62, "1..65536"),
    ("vssflow", "vaflow_params.sample_steps", 0, "1..10000"),
    ("vssflow", "vaflow_params.audio_duration_sec", 0.0, "(0, 3600.0]"),
]


@pytest.mark.parametrize(("architecture", "field", "value", "allowed"), DAMAGED_SIZES)
def test_a_damaged_model_size_is_a_config_error_naming_field_and_range(
    architecture: str, field: str, value: object, allowed: str
) -> None:
    from tests.fuzz.models import TINY_DEPTH_PRO
    from unflat.sound.vssflow.config import VSSFlowConfig
    from unflat.splat.sharp.config import SharpConfig

    base = {
        "depth_pro": TINY_DEPTH_PRO,
        "vssflow": VSSFlowConfig.tiny().to_dict(),
        "sharp": SharpConfig().to_dict(),  # full size: refused before anything is built
    }[architecture]
    with pytest.raises(ConfigError) as caught, torch.device("meta"):
        build_model(_config(base, field, value))
    name = field.split("[")[0]
    assert caught.value.message.startswith(f"{name} is ") and allowed in caught.value.message
    assert caught.value.hint and "\n" not in caught.value.message


def test_sizes_at_the_bounds_still_build() -> None:
    """The smallest widths the rules allow build (on the meta device)."""
    from tests.fuzz.models import TINY_DEPTH_PRO

    config = _config(TINY_DEPTH_PRO, "decoder_features", 8)
    config = _config(config, "last_dims", [1, 1])
    with torch.device("meta"):
        assert build_model(config).config.decoder_features == 8


def test_a_checkpoint_of_another_pickle_protocol_reads_without_torchs_warning(
    tmp_path: Path,
) -> None:
    """torch warned on stderr (the ``weights`` harness's noise: a damaged protocol byte) about a
    protocol other than its default; the checkpoint reads all the same."""
    from unflat.weights import read_checkpoint

    path = tmp_path / "model.pt"
    state = Tiny().state_dict()
    torch.save(state, path, pickle_protocol=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = read_checkpoint(path)
    assert read.keys() == state.keys()
    assert all(torch.equal(read[key], state[key]) for key in state)
