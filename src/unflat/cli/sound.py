"""``unflat dub`` (speech fitted to the lips) and ``unflat foley`` (sound effects)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Loudness, Replace
from unflat.errors import InputError

Video = Annotated[
    Path | None, typer.Argument(help="A video in which a face speaks (e.g. from animate).")
]
Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Video with speech: .mp4 .mov .mkv .webm")
]
Text = Annotated[str | None, typer.Option("--text", "-t", help="What the person says.")]
TranscriptFile = Annotated[
    Path | None,
    typer.Option("--transcript", help="A text file of what is said; each line an utterance."),
]
VOICE_HELP = (
    "A Piper voice (.onnx, its .onnx.json beside it) or an eSpeak NG voice name. "
    "Default: eSpeak NG in --language."
)
VoiceName = Annotated[str | None, typer.Option("--voice", help=VOICE_HELP)]
Language = Annotated[
    str | None,
    typer.Option("--language", "-l", help="eSpeak NG language (see --list-voices); default en-us."),
]
Rate = Annotated[float, typer.Option("--rate", help="Speaking pace: 1.2 is 20% faster.")]
Pitch = Annotated[int | None, typer.Option("--pitch", help="Voice pitch 0-99 (50 normal).")]
Mix = Annotated[bool, typer.Option("--mix", help="Keep the video's own sound under the new one.")]
SpeechWav = Annotated[
    Path | None, typer.Option("--wav", help="Also write the speech alone as WAV.")
]
FaceOption = Annotated[int | None, typer.Option("--face", help="Which face speaks (0 largest).")]
NoAlign = Annotated[
    bool,
    typer.Option("--no-align", help="Only stretch speech over each span (no syllable alignment)."),
]
Effects = Annotated[
    bool, typer.Option("--effects", help="Add sound effects (as unflat foley) under the speech.")
]
ListVoices = Annotated[bool, typer.Option("--list-voices", help="List the languages and exit.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")]


def _voices() -> None:
    from unflat.sound.tts.espeak import list_voices

    for language, name, _ in list_voices():
        typer.echo(f"{language:16} {name}")
    typer.echo("Piper voices: --voice NAME.onnx (its NAME.onnx.json beside it)")


def _existing(replace: bool, mix: bool) -> str:
    """What to do with the video's own sound."""
    if replace and mix:
        raise InputError("give --replace or --mix, not both", "drop one of them")
    return "replace" if replace else "mix" if mix else "refuse"


def _read_words(text: str | None, transcript: Path | None) -> object:
    """The transcript from ``--text`` or ``--transcript`` (exactly one of them)."""
    from unflat.sound.text import parse_transcript

    if (text is None) == (transcript is None):
        raise InputError("give the words with --text or --transcript (one of them)",
                         "e.g. --text 'Hello there' or --transcript lines.txt")  # fmt: skip
    if transcript is not None:
        from unflat.io.media import check_input_file

        check_input_file(transcript, "text file")
        try:
            text = transcript.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"{transcript} is not UTF-8 text", "save it as UTF-8") from error
    return parse_transcript(text or "")


@app.command()
def dub(
    video: Video = None,
    output: Output = None,
    text: Text = None,
    transcript: TranscriptFile = None,
    voice: VoiceName = None,
    language: Language = None,
    rate: Rate = 1.0,
    pitch: Pitch = None,
    replace: Replace = False,
    mix: Mix = False,
    wav: SpeechWav = None,
    loudness: Loudness = -16.0,
    face: FaceOption = None,
    no_align: NoAlign = False,
    effects: Effects = False,
    list_voices: ListVoices = False,
    overwrite: Overwrite = False,
) -> None:
    """Speak a transcript in a video, in sync with the lips (offline: eSpeak NG or Piper)."""
    from unflat.cli.progress import Bar
    from unflat.pipelines.dub import DubPipeline

    if list_voices:
        return _voices()
    if video is None or output is None:
        raise InputError(
            "give a VIDEO and -o OUTPUT", "e.g. unflat dub clip.mp4 --text 'Hi' -o out.mp4"
        )
    existing = _existing(replace, mix)
    pipeline = DubPipeline.from_options(voice, language, rate, pitch, loudness_lufs=loudness,
                                        face=face, align=not no_align, effects=effects)  # fmt: skip
    words = _read_words(text, transcript)
    with Bar() as bar:
        result = pipeline(video, output, words, existing=existing, wav=wav,  # type: ignore[arg-type]
                          overwrite=overwrite, progress=bar)  # fmt: skip
    _print_written(_dub_summary(result), result.wav, result.output)


def _dub_summary(result: object) -> str:
    spans, found = result.speech.spans, result.activity.spans  # type: ignore[attr-defined]
    spoken = sum(len(span.words) for span in spans)
    loudness = result.loudness_lufs  # type: ignore[attr-defined]
    return (
        f"spoke {spoken} words in {len(spans)} of the face's {len(found)} speech spans; "
        f"loudness {loudness:.1f} LUFS"
    )


def _print_written(summary: str, *paths: Path | None) -> None:
    typer.echo(summary)
    for path in paths:
        if path is not None:
            typer.echo(f"wrote {path}")


@app.command("foley")
def foley_command(
    video: Annotated[Path, typer.Argument(help="A video; its motion makes the sound.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Video with effects: .mp4 .mov .mkv .webm")
    ],
    replace: Replace = False,
    mix: Mix = False,
    wav: Annotated[
        Path | None, typer.Option("--wav", help="Also write the effects alone as WAV.")
    ] = None,
    loudness: Loudness = -16.0,
    overwrite: Overwrite = False,
) -> None:
    """Sound effects from a video's motion (offline baseline, no learned model).

    Impacts where objects suddenly move (optical flow, camera motion removed) and a noise bed
    following the motion's energy.
    """
    from unflat.cli.progress import Bar
    from unflat.pipelines.foley import FoleyPipeline

    existing = _existing(replace, mix)
    with Bar() as bar:
        result = FoleyPipeline(loudness_lufs=loudness)(
            video,
            output,
            existing=existing,
            wav=wav,
            overwrite=overwrite,
            progress=bar,  # type: ignore[arg-type]
        )
    effects, motion = result.effects, result.effects.motion
    moving = float((motion.object_motion > 0.05).mean()) if len(motion.times) else 0.0
    if len(effects.onsets.times) == 0:
        typer.echo("note: no sudden motion was found, so there are no impacts", err=True)
    speed = effects.seconds / max(motion.duration, 1e-6)
    summary = (f"{len(effects.onsets.times)} impacts; objects moving in {moving:.0%} of frames; "
               f"{effects.seconds:.1f} s ({speed:.2f} x real time)")  # fmt: skip
    _print_written(summary, result.wav, result.output)
