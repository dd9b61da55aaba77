"""``unflat dub`` (speech fitted to the lips) and ``unflat foley`` (sound effects)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from unflat.cli.app import app

if TYPE_CHECKING:
    from unflat.sound.tts.speech import Voice


def _voices() -> None:
    from unflat.sound.tts.espeak import list_voices

    for language, name, _ in list_voices():
        typer.echo(f"{language:16} {name}")
    typer.echo("Piper voices: --voice NAME.onnx (its NAME.onnx.json beside it)")


@app.command()
def dub(
    video: Path = typer.Argument(None, help="A video in which a face speaks (e.g. from animate)."),
    output: Path = typer.Option(
        None, "-o", "--output", help="Video with speech: .mp4 .mov .mkv .webm"
    ),
    text: str | None = typer.Option(None, "--text", "-t", help="What the person says."),
    transcript: Path | None = typer.Option(
        None, "--transcript", help="A text file of what is said; each line an utterance."
    ),
    voice: str | None = typer.Option(
        None,
        "--voice",
        help="A Piper voice (.onnx, its .onnx.json beside it) or an eSpeak NG "
        "voice name. Default: eSpeak NG in --language.",
    ),
    language: str | None = typer.Option(
        None, "--language", "-l", help="eSpeak NG language (see --list-voices); default en-us."
    ),
    rate: float = typer.Option(1.0, "--rate", help="Speaking pace: 1.2 is 20% faster."),
    pitch: int | None = typer.Option(None, "--pitch", help="Voice pitch 0-99 (50 normal)."),
    replace: bool = typer.Option(False, "--replace", help="Drop the video's own sound."),
    mix: bool = typer.Option(False, "--mix", help="Keep the video's own sound under the speech."),
    wav: Path | None = typer.Option(None, "--wav", help="Also write the speech alone as WAV."),
    loudness: float = typer.Option(-16.0, "--loudness", help="Target loudness, LUFS (EBU R128)."),
    face: int | None = typer.Option(None, "--face", help="Which face speaks (0 largest)."),
    no_align: bool = typer.Option(
        False, "--no-align", help="Only stretch speech over each span (no syllable alignment)."
    ),
    effects: bool = typer.Option(
        False, "--effects", help="Add sound effects (as unflat foley) under the speech."
    ),
    list_voices: bool = typer.Option(False, "--list-voices", help="List the languages and exit."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
) -> None:
    """Speak a transcript in a video, in sync with the lips (offline: eSpeak NG or Piper)."""
    from unflat.errors import ConfigError, InputError

    if list_voices:
        _voices()
        return
    if video is None or output is None:
        raise InputError(
            "give a VIDEO and -o OUTPUT", "e.g. unflat dub clip.mp4 --text 'Hi' -o out.mp4"
        )
    if (text is None) == (transcript is None):
        raise InputError("give the words with --text or --transcript (one of them)",
                         "e.g. --text 'Hello there' or --transcript lines.txt")  # fmt: skip
    if replace and mix:
        raise InputError("give --replace or --mix, not both", "drop one of them")
    if not 0.46 <= rate <= 2.57:
        raise ConfigError(f"--rate {rate} is outside 0.46-2.57", "use 1.0 for a natural pace")
    from unflat.sound.text import parse_transcript

    if transcript is not None:
        from unflat.io.media import check_input_file

        check_input_file(transcript, "text file")
        try:
            text = transcript.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"{transcript} is not UTF-8 text", "save it as UTF-8") from error
    words = parse_transcript(text or "")
    speaker = _voice(voice, language, rate, pitch)
    from unflat.cli.progress import Bar
    from unflat.sound.soundtrack import dub_video

    with Bar() as bar:
        result = dub_video(
            video, output, words, voice=speaker,
            existing="replace" if replace else "mix" if mix else "refuse",
            wav=wav, loudness_lufs=loudness, face=face, align=not no_align, effects=effects,
            overwrite=overwrite, progress=bar.update,
        )  # fmt: skip
    spoken = sum(len(s.words) for s in result.speech.spans)
    typer.echo(
        f"spoke {spoken} words in {len(result.speech.spans)} of the face's "
        f"{len(result.activity.spans)} speech spans; loudness {result.loudness_lufs:.1f} LUFS"
    )
    if result.wav is not None:
        typer.echo(f"wrote {result.wav}")
    typer.echo(f"wrote {result.output}")


def _voice(voice: str | None, language: str | None, rate: float, pitch: int | None) -> Voice:
    """The synthesiser the options ask for: a Piper voice by path, or eSpeak NG."""
    from unflat.errors import ConfigError

    if voice is not None and voice.lower().endswith(".onnx"):
        from unflat.sound.tts.piper import PiperVoice

        if language is not None:
            raise ConfigError(
                "a Piper voice speaks its own language: --language is for eSpeak",
                "drop --language, or pick a Piper voice of that language",
            )
        if pitch is not None:
            raise ConfigError("Piper voices have no pitch control", "drop --pitch")
        return PiperVoice(voice, rate=rate)
    from unflat.sound.tts.espeak import DEFAULT_RATE_WPM, EspeakVoice

    if voice is not None and language is not None:
        raise ConfigError("give an eSpeak --voice or --language, not both",
                          "e.g. --language de, or --voice en-gb-x-rp")  # fmt: skip
    return EspeakVoice(voice or language or "en-us", round(DEFAULT_RATE_WPM * rate), pitch)


@app.command()
def foley(
    video: Path = typer.Argument(..., help="A video; its motion makes the sound."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Video with effects: .mp4 .mov .mkv .webm"
    ),
    replace: bool = typer.Option(False, "--replace", help="Drop the video's own sound."),
    mix: bool = typer.Option(False, "--mix", help="Keep the video's own sound with the effects."),
    wav: Path | None = typer.Option(None, "--wav", help="Also write the effects alone as WAV."),
    loudness: float = typer.Option(-16.0, "--loudness", help="Target loudness, LUFS (EBU R128)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
) -> None:
    """Sound effects from motion. An offline baseline, no learned model: impacts where objects
    suddenly move (optical flow, camera motion removed) and a noise bed following motion energy.
    """
    from unflat.errors import InputError

    if replace and mix:
        raise InputError("give --replace or --mix, not both", "drop one of them")
    from unflat.cli.progress import Bar
    from unflat.sound.soundtrack import foley_video

    with Bar() as bar:
        result = foley_video(
            video, output, existing="replace" if replace else "mix" if mix else "refuse",
            wav=wav, loudness_lufs=loudness, overwrite=overwrite, progress=bar.update,
        )  # fmt: skip
    effects = result.effects
    motion = effects.motion
    moving = float((motion.object_motion > 0.05).mean()) if len(motion.times) else 0.0
    typer.echo(
        f"{len(effects.onsets.times)} impacts; objects moving in {moving:.0%} of frames; "
        f"{effects.seconds:.1f} s ({effects.seconds / max(motion.duration, 1e-6):.2f} x real time)"
    )
    if len(effects.onsets.times) == 0:
        typer.echo("note: no sudden motion was found, so there are no impacts", err=True)
    if result.wav is not None:
        typer.echo(f"wrote {result.wav}")
    typer.echo(f"wrote {result.output}")
