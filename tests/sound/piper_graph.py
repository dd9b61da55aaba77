"""A tiny ONNX model shaped like a Piper voice, for tests (no published voice is downloadable here).

Same inputs and outputs as Piper's VITS export (``input``, ``input_lengths``, ``scales``,
optionally ``sid``; ``output`` ``[1, 1, samples]``) and the same duration path: a log-duration
per phoneme plus seeded-less random noise scaled by ``noise_w``, ``exp``, times
``length_scale``, one ``Ceil``. The "decoder" plays each phoneme as a sine tone of its own
frequency for its frames, so a test can hear where every phoneme lies.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SAMPLE_RATE, HOP = 16000, 256
PAD, BOS, EOS, SPACE = "_", "^", "$", " "
SEPARATORS = [PAD, BOS, EOS, SPACE, ",", ".", "!", "?"]
PHONEMES = [*"abdefhijklmnoprstuvwzæðŋɐɑɔəɚɛɜɡɪɹɾʃʊʌʒθ", "ˈ", "ˌ", "ː"]
SYMBOLS = SEPARATORS + PHONEMES
VOWELS = set("aeiouæɐɑɔəɚɛɜɪʊʌ")


def tone(symbol: str) -> float:
    """The frequency (Hz) the model plays for ``symbol``; 0 for silence."""
    if symbol in SEPARATORS or symbol in "ˈˌː":
        return 0.0
    return 300.0 + 40.0 * PHONEMES.index(symbol)


def _tables(speakers: int) -> dict[str, np.ndarray]:
    frames = []  # natural duration (frames) of each symbol
    for symbol in SYMBOLS:
        if symbol in (PAD, BOS, EOS):
            frames.append(1.4)
        elif symbol in SEPARATORS:
            frames.append(6.0 if symbol != SPACE else 2.5)
        elif symbol in "ˈˌ":
            frames.append(0.6)
        else:
            frames.append(7.5 if symbol in VOWELS else 4.5)
    return {
        "log_frames": np.log(np.array(frames, np.float32)),
        "freq": np.array([tone(s) for s in SYMBOLS], np.float32),
        "speaker_pitch": (1.0 + 0.25 * np.arange(speakers)).astype(np.float32),
    }


def build(path: Path, *, speakers: int = 1, ceils: int = 1, noise_w: float = 0.8) -> Path:
    """Write ``path`` (.onnx) and its Piper config (``path.onnx.json``); return ``path``."""
    from onnx import TensorProto, checker, helper, numpy_helper, save

    tables = _tables(speakers)
    init = [numpy_helper.from_array(v, k) for k, v in tables.items()]

    def const(name: str, value: object, dtype: type = np.int64) -> None:
        init.append(numpy_helper.from_array(np.array(value, dtype), name))

    const("axes0", [0])
    const("axes01", [0, 1])
    const("axis0", 0)
    const("axis1", [1])
    const("flat", [-1])
    const("out_shape", [1, 1, -1])
    const("one_f", 1.0, np.float32)
    const("zero_f", 0.0, np.float32)
    const("i0", 0)
    const("i1", 1)
    const("i2", 2)
    const("hop_shape", [1, HOP])
    const("two_pi_over_sr", 2 * np.pi / SAMPLE_RATE, np.float32)
    const("dur_noise", 0.3, np.float32)
    const("amp", 0.3, np.float32)
    const("audio_noise", 0.002, np.float32)
    n = helper.make_node
    nodes = [
        n("Squeeze", ["input", "axes0"], ["ids"]),
        n("Gather", ["log_frames", "ids"], ["logw0"]),
        n("RandomNormalLike", ["logw0"], ["eps"], dtype=TensorProto.FLOAT),
        n("Gather", ["scales", "i2"], ["noise_w"]),
        n("Mul", ["eps", "noise_w"], ["eps_w"]),
        n("Mul", ["eps_w", "dur_noise"], ["eps_s"]),
        n("Add", ["logw0", "eps_s"], ["logw"]),
        n("Exp", ["logw"], ["w0"]),
        n("Gather", ["scales", "i1"], ["length_scale"]),
        n("Mul", ["w0", "length_scale"], ["w1"]),
        n("Unsqueeze", ["w1", "axes01"], ["w"]),
        n("Ceil", ["w"], ["w_ceil"]),
    ]
    durations = "w_ceil"
    for k in range(1, ceils):  # a graph that is not Piper's: a second Ceil
        nodes.append(n("Ceil", [durations], [f"w_ceil{k}"]))
        durations = f"w_ceil{k}"
    nodes += [
        n("Reshape", [durations, "flat"], ["dur"]),
        n("CumSum", ["dur", "axis0"], ["ends"]),
        n("ReduceSum", ["dur"], ["total"], keepdims=0),
        n("Range", ["zero_f", "total", "one_f"], ["frame"]),
        n("Unsqueeze", ["frame", "axis1"], ["frame_col"]),
        n("Unsqueeze", ["ends", "axes0"], ["ends_row"]),
        n("GreaterOrEqual", ["frame_col", "ends_row"], ["passed"]),
        n("Cast", ["passed"], ["passed_f"], to=TensorProto.FLOAT),
        n("ReduceSum", ["passed_f", "axis1"], ["which_f"], keepdims=0),
        n("Cast", ["which_f"], ["which"], to=TensorProto.INT64),
        n("Gather", ["freq", "ids"], ["phone_freq"]),
        n("Gather", ["phone_freq", "which"], ["frame_freq"]),
        n("Unsqueeze", ["frame_freq", "axis1"], ["frame_freq_col"]),
        n("Expand", ["frame_freq_col", "hop_shape"], ["sample_freq2"]),
        n("Reshape", ["sample_freq2", "flat"], ["sample_freq0"]),
    ]
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    if speakers > 1:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
        nodes += [
            n("Gather", ["speaker_pitch", "sid"], ["pitch"]),
            n("Mul", ["sample_freq0", "pitch"], ["sample_freq"]),
        ]
    else:
        nodes.append(n("Identity", ["sample_freq0"], ["sample_freq"]))
    nodes += [
        n("Mul", ["sample_freq", "two_pi_over_sr"], ["step"]),
        n("CumSum", ["step", "axis0"], ["phase"]),
        n("Sin", ["phase"], ["wave"]),
        n("Greater", ["sample_freq", "zero_f"], ["sounding"]),
        n("Cast", ["sounding"], ["gate"], to=TensorProto.FLOAT),
        n("Mul", ["wave", "gate"], ["gated"]),
        n("Mul", ["gated", "amp"], ["clean"]),
        n("RandomNormalLike", ["clean"], ["hiss"], dtype=TensorProto.FLOAT),
        n("Gather", ["scales", "i0"], ["noise_scale"]),
        n("Mul", ["hiss", "noise_scale"], ["hiss_s"]),
        n("Mul", ["hiss_s", "audio_noise"], ["hiss_a"]),
        n("Add", ["clean", "hiss_a"], ["audio"]),
        n("Reshape", ["audio", "out_shape"], ["output"]),
    ]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])
    graph = helper.make_graph(nodes, "piper_like", inputs, [output], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    checker.check_model(model)
    save(model, str(path))
    config = {
        "audio": {"sample_rate": SAMPLE_RATE, "quality": "test"},
        "espeak": {"voice": "en-us"},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": noise_w},
        "phoneme_type": "espeak",
        "phoneme_id_map": {s: [i] for i, s in enumerate(SYMBOLS)},
        "num_symbols": len(SYMBOLS),
        "num_speakers": speakers,
    }
    Path(str(path) + ".json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path
