"""``unflat dub`` and ``unflat foley`` end to end on real clips, and their refusals."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.cli import main
from unflat.io.audio import read_audio, read_soundtrack, write_wav
from unflat.io.video import write_video
from unflat.sound.loudness import integrated_loudness
from unflat.sound.spans import span_iou
from unflat.sound.voice_activity import voice_activity
from unflat.types import Audio


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.dts is not None]


def test_dub_speaks_the_transcript_where_the_lips_move(tmp_path: Path, capsys) -> None:
    clip = shared_path("data", "faces", "videos", "talk_1.mp4")
    transcript = Path(__file__).parents[1] / "data" / "sound" / "talk_1.txt"
    out, wav = tmp_path / "dubbed.mp4", tmp_path / "speech.wav"
    argv = ["dub", str(clip), "--transcript", str(transcript), "-o", str(out), "--replace"]
    code = main([*argv, "--wav", str(wav)])
    assert code == 0
    said = capsys.readouterr().out
    assert "spoke 16 words in 2 of the face's 2 speech spans" in said
    # the picture is copied packet for packet, not re-encoded
    assert _packets(out) == _packets(clip)
    speech = read_audio(wav, 22050)
    assert integrated_loudness(speech) == pytest.approx(-16.0, abs=0.2)
    assert np.abs(speech.samples).max() <= 10 ** (-1 / 20) + 1e-3
    # the speech in the video is where the person's own voice was
    ours = voice_activity(read_soundtrack(out)).spans
    theirs = voice_activity(read_soundtrack(clip)).spans
    assert len(ours) == 2
    assert span_iou(ours, theirs) > 0.8


def test_dub_refuses_before_the_long_work(tmp_path: Path, capsys) -> None:
    clip = shared_path("data", "faces", "videos", "talk_2.mp4")
    out = tmp_path / "out.mp4"
    cases = {
        "already has sound": ["dub", str(clip), "--text", "Hello there", "-o", str(out)],
        "no voice 'xx-nowhere'": [
            "dub",
            str(clip),
            "--text",
            "Hi",
            "-o",
            str(out),
            "--replace",
            "--language",
            "xx-nowhere",
        ],
        "no words": ["dub", str(clip), "--text", " - ", "-o", str(out), "--replace"],
        "--text or --transcript": ["dub", str(clip), "-o", str(out)],
        "not both": ["dub", str(clip), "--text", "Hi", "-o", str(out), "--replace", "--mix"],
    }
    for message, argv in cases.items():
        assert main(argv) == 2, message
        assert message in capsys.readouterr().err
        assert not out.exists()
    sound = tmp_path / "sound.wav"
    write_wav(sound, Audio(np.zeros(8000, np.float32), 16000))
    assert main(["dub", str(sound), "--text", "Hi", "-o", str(out)]) == 2
    assert "no video stream" in capsys.readouterr().err


def test_dub_without_a_face_says_so(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    clip = tmp_path / "noise.mp4"
    write_video(clip, [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(8)], 25)
    out = tmp_path / "out.mp4"
    assert main(["dub", str(clip), "--text", "Hello there", "-o", str(out)]) == 2
    assert "no face was found" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [clip]


def test_foley_adds_effects_at_the_hammer_blows(tmp_path: Path, capsys) -> None:
    clip = shared_path("data", "audio", "av", "avsync_2.mp4")
    out = tmp_path / "hammer.mp4"
    assert main(["foley", str(clip), "-o", str(out)]) == 2
    assert "already has sound" in capsys.readouterr().err
    assert main(["foley", str(clip), "-o", str(out), "--replace"]) == 0
    said = capsys.readouterr().out
    assert "impacts" in said and f"wrote {out}" in said
    assert _packets(out) == _packets(clip)
    effects = read_soundtrack(out, 22050)
    assert integrated_loudness(effects) == pytest.approx(-16.0, abs=0.3)
