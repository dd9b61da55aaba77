"""Piper voices: the edited graph, phone timings, per-word durations, errors, fitting to lips.

No published Piper voice can be downloaded here, so the tests run a tiny ONNX model with Piper's
inputs, outputs and duration path (tests/sound/piper_graph.py) that plays each phoneme as a
tone of its own: where a phone is said, its tone must be heard.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="Piper voices need the [piper] extra (onnx)")
pytest.importorskip("onnxruntime", reason="Piper voices need the [piper] extra (onnxruntime)")


from tests.sound import piper_graph
from tests.sound.lips import lips_after
from unflat.cli import main
from unflat.errors import ConfigError, InputError
from unflat.sound.dub import fit_speech
from unflat.sound.spans import spans_to_mask
from unflat.sound.sync import bilabial_hit_rate
from unflat.sound.text import parse_transcript
from unflat.sound.tts import PiperVoice

WORDS = ["Maybe", "the", "bamboo", "boat."]
FRAME_S = piper_graph.HOP / piper_graph.SAMPLE_RATE


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A voice whose durations have no noise (``noise_w`` 0): timings can be compared."""
    return piper_graph.build(tmp_path_factory.mktemp("piper") / "steady.onnx", noise_w=0.0)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return piper_graph.build(tmp_path_factory.mktemp("piper") / "noisy.onnx")


def _heard_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), n=1 << 15))
    return float(np.argmax(spectrum) * rate / (1 << 15))


def test_phones_lie_where_the_model_plays_them(steady: Path) -> None:
    speech = PiperVoice(steady).speak(WORDS)
    audio, rate = speech.audio.samples, speech.audio.sample_rate
    assert len(audio) % piper_graph.HOP == 0
    assert speech.phones[0].start == 0.0
    assert speech.phones[-1].end == pytest.approx(speech.audio.seconds)
    assert all(a.end == pytest.approx(b.start) for a, b in pairwise(speech.phones))
    # eSpeak's IPA for the words, with stress and length marks and diphthongs in their vowels
    voiced = [p.symbol for p in speech.phones if not p.is_pause]
    assert voiced == ["m", "ˈeɪ", "b", "iː", "ð", "ə", "b", "æ", "m", "b", "ˈuː", "b", "ˈoʊ", "t"]
    assert [p.symbol for p in speech.phones if p.is_vowel] == ["ˈeɪ", "iː", "ə", "æ", "ˈuː", "ˈoʊ"]
    assert sum(p.is_bilabial for p in speech.phones) == 6
    checked = 0
    for phone in speech.phones:
        middle = audio[round((phone.start + 0.25 * phone.duration) * rate) :
                       round((phone.end - 0.25 * phone.duration) * rate)]  # fmt: skip
        if phone.is_pause:
            assert np.sqrt(np.mean(middle**2)) < 0.01
            continue
        sound = phone.symbol.strip("ˈˌ").rstrip("ː")
        if len(sound) == 1:  # one tone (a diphthong plays two)
            heard = _heard_frequency(middle, rate)
            assert heard == pytest.approx(piper_graph.tone(sound), abs=6.0)
            checked += 1
    assert checked == 12
    starts = [s for s, _ in speech.word_times()]
    assert starts == pytest.approx([0.064, 1.008, 1.36, 2.256])


def test_word_rates_and_pauses_set_the_durations(steady: Path) -> None:
    voice = PiperVoice(steady)
    natural = voice.speak(WORDS).word_times()
    steered = voice.speak(WORDS, word_rates=[2.0, 1.0, 0.5, 1.0], pauses_after=[0.3, 0, 0, 0.2])
    times = steered.word_times()
    length = lambda t: t[1] - t[0]  # noqa: E731
    assert length(times[0]) == pytest.approx(length(natural[0]) / 2, abs=FRAME_S)
    assert length(times[1]) == pytest.approx(length(natural[1]), abs=FRAME_S)
    assert length(times[2]) == pytest.approx(length(natural[2]) * 2, abs=FRAME_S)
    gap = lambda t, i: t[i + 1][0] - t[i][1]  # noqa: E731
    assert gap(times, 0) == pytest.approx(gap(natural, 0) + 0.3, abs=FRAME_S)
    assert gap(times, 1) == pytest.approx(gap(natural, 1), abs=FRAME_S)
    # the last word's pause is silence at the end
    tail = steered.audio.seconds - times[-1][1]
    assert tail == pytest.approx(voice.speak(WORDS).audio.seconds - natural[-1][1] + 0.2,
                                 abs=FRAME_S)  # fmt: skip
    # a faster voice (Piper's length scale): shorter, though whole frames round up short phones
    fast = PiperVoice(steady, rate=1.25).speak(WORDS).audio.seconds
    assert 0.75 < fast / voice.speak(WORDS).audio.seconds < 0.92


def test_noise_is_seeded_so_a_run_repeats(noisy: Path) -> None:
    first, second = PiperVoice(noisy), PiperVoice(noisy)
    runs = [[v.speak(WORDS).audio.samples for _ in range(2)] for v in (first, second)]
    assert all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))
    # the model's own noise still varies its durations from call to call, as Piper's does
    assert len(runs[0][0]) != len(runs[0][1]) or not np.array_equal(runs[0][0], runs[0][1])
    # and a steered call gets the durations it asked for whatever the noise
    voice = PiperVoice(noisy)
    times = voice.speak(WORDS, word_rates=[1.0, 1.0, 1.0, 0.25]).word_times()
    assert times[3][1] - times[3][0] > 1.5


def test_speakers_of_a_multi_speaker_voice(tmp_path: Path) -> None:
    model = piper_graph.build(tmp_path / "many.onnx", speakers=2, noise_w=0.0)
    heard = []
    for speaker in (0, 1):
        speech = PiperVoice(model, speaker=speaker).speak(["ah"])
        vowel = next(p for p in speech.phones if p.is_vowel)
        rate = speech.audio.sample_rate
        middle = speech.audio.samples[round(vowel.start * rate) + 200 : round(vowel.end * rate)
                                      - 200]  # fmt: skip
        heard.append(_heard_frequency(middle, rate))
    assert heard[1] / heard[0] == pytest.approx(1.25, abs=0.02)
    with pytest.raises(ConfigError, match="no speaker 2"):
        PiperVoice(model, speaker=2)


def test_bad_voices_are_refused_with_a_hint(tmp_path: Path, steady: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        PiperVoice(tmp_path / "nowhere.onnx")
    with pytest.raises(InputError, match=r"not a Piper voice \(.onnx\)"):
        PiperVoice(tmp_path / "voice.pt")
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(steady.read_bytes())
    with pytest.raises(InputError, match="no config beside it") as error:
        PiperVoice(lonely)
    assert "piper-voices" in (error.value.hint or "")
    # the config may also be NAME.json
    Path(tmp_path / "lonely.json").write_text(
        Path(str(steady) + ".json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    PiperVoice(lonely).check()
    twice = piper_graph.build(tmp_path / "twice.onnx", ceils=2)
    with pytest.raises(InputError, match="2 Ceil operations"):
        PiperVoice(twice).check()
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model at all")
    Path(str(garbage) + ".json").write_text(Path(str(steady) + ".json").read_text("utf-8"), "utf-8")
    with pytest.raises(InputError, match="not an ONNX model"):
        PiperVoice(garbage).check()
    text_voice = tmp_path / "text.onnx"
    text_voice.write_bytes(steady.read_bytes())
    config = json.loads(Path(str(steady) + ".json").read_text(encoding="utf-8"))
    Path(str(text_voice) + ".json").write_text(json.dumps({**config, "phoneme_type": "text"}))
    with pytest.raises(ConfigError, match="'text' phonemes"):
        PiperVoice(text_voice)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(steady.read_bytes())
    Path(str(broken) + ".json").write_text('{"audio": {}}')
    with pytest.raises(InputError, match="not a Piper voice config"):
        PiperVoice(broken)
    with pytest.raises(InputError, match="none of the sounds"):
        PiperVoice(steady).speak(["...", "!"])


def test_fitted_speech_with_a_piper_voice_hits_the_closures(steady: Path) -> None:
    spans = [(0.5, 2.4), (3.0, 4.6)]
    text = parse_transcript("Maybe the bamboo boat.\nPeople will float by.")
    voice = PiperVoice(steady)
    activity = lips_after(voice.speak(text.words[:4]), spans)
    fitted = fit_speech(activity, text, voice, 5.0)
    assert [list(s.words) for s in fitted.spans] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert fitted.audio.sample_rate == piper_graph.SAMPLE_RATE
    rate = fitted.audio.sample_rate
    outside = ~spans_to_mask(spans, np.arange(len(fitted.audio.samples)) / rate)
    assert np.abs(fitted.audio.samples[outside]).max() < 0.01  # only the model's hiss
    hits, count = bilabial_hit_rate(activity, fitted.spans[0].phones)
    assert count == 6 and hits == 1.0
    # the timing came from the voice, phone by phone: WSOLA only evens out whole frames (16 ms)
    assert fitted.spans[0].residual < 0.06  # (word by word: 0.11)
    uniform = fit_speech(activity, text, voice, 5.0, align=False)
    assert bilabial_hit_rate(activity, uniform.spans[0].phones)[0] < 0.9


def test_cli_refuses_piper_options_it_cannot_honour(
    tmp_path: Path, steady: Path, capsys: pytest.CaptureFixture
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    base = ["dub", str(video), "--text", "hello", "-o", str(tmp_path / "out.mp4")]
    for extra, message in (
        (["--voice", str(tmp_path / "missing.onnx")], "does not exist"),
        (["--voice", str(steady), "--pitch", "40"], "no pitch control"),
        (["--voice", str(steady), "--language", "de"], "speaks its own language"),
        (["--voice", "en-gb", "--language", "de"], "not both"),
    ):
        assert main(base + extra) == 2, message
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()
