"""``unflat animate``: a portrait (or a few of one person) moved by a video or a motion preset."""

from __future__ import annotations

from pathlib import Path

import typer

from unflat.cli.app import app

MOTION_HELP = (
    "Procedural motion instead of a driver video: idle, nod, shake, tilt, smile, surprise, talk; "
    "combine with '+', e.g. idle+talk."
)


def bundled_portrait() -> Path:
    """The public-domain Mona Lisa that ships with unflat."""
    from importlib import resources

    return Path(str(resources.files("unflat") / "assets" / "portraits" / "mona_lisa.jpg"))


@app.command()
def animate(
    portraits: list[Path] = typer.Argument(
        None,
        help="One or more photos of the same person; the first sets the frame. "
        "Default: the bundled Mona Lisa.",
        show_default=False,
    ),
    output: Path = typer.Option(Path("animated.mp4"), "-o", "--output", help=".mp4, .webm or .gif"),
    driver: Path | None = typer.Option(
        None, "--driver", "-d", help="A video of a face: its motion, expressions and sound."
    ),
    motion: str | None = typer.Option(None, "--motion", "-m", help=MOTION_HELP),
    text: str | None = typer.Option(None, "--text", help="With --motion talk: what is said."),
    seconds: float | None = typer.Option(
        None, "--seconds", help="Length with --motion (default 6 s, or the text's length)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of --motion."),
    fps: float | None = typer.Option(None, "--fps", help="Output frame rate (default: driver's)."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="Stop after this long."),
    neutral: int = typer.Option(0, "--neutral", help="Driver frame that counts as rest."),
    face: int | None = typer.Option(None, "--face", help="Which face of the portrait (0 largest)."),
    driver_face: int | None = typer.Option(
        None, "--driver-face", help="Which face of the driver to follow (0 largest)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
) -> None:
    """Animate a portrait with a driving video (or a motion preset); keeps the driver's sound."""
    from unflat.cli.progress import track
    from unflat.errors import InputError, OutputError
    from unflat.io.images import read_photo
    from unflat.io.video import VideoWriter, probe_video

    if driver is not None and motion is not None:
        raise InputError("give either --driver or --motion, not both", "drop one of them")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} already exists", hint="pass --overwrite to replace it")
    paths = list(portraits or []) or [bundled_portrait()]
    images = [read_photo(p).rgb for p in paths]
    audio = None
    if driver is not None:
        info = probe_video(driver)
        source: object = driver
        rate = fps or info.fps
        if info.variable_frame_rate:
            typer.echo(
                f"note: {driver.name} has a variable frame rate; resampled to {rate:g} fps "
                "by timestamp",
                err=True,
            )
        audio = driver if info.has_audio else None
        length = info.duration_s
    else:
        from unflat.face.presets import generate, syllable_times

        if seconds is None:
            seconds = 6.0
            if text:
                spans = syllable_times(text, 60.0)
                seconds = max(seconds, spans[-1][1] + 0.8) if spans else seconds
        rate = fps or 25.0
        source = generate(motion or "idle+talk", seconds=seconds, fps=rate, seed=seed, text=text)
        length = seconds
    if max_seconds is not None and length is not None:
        length = min(length, max_seconds)
    total = max(round((length or 0) * rate), 1) if length else None

    from unflat.face.animate import animate as run_animation

    frames = run_animation(
        images,
        source,  # type: ignore[arg-type]
        fps=rate,
        max_seconds=max_seconds,
        neutral=neutral,
        face=face,
        driver_face=driver_face,
    )
    if driver is not None:
        typer.echo(f"tracking the face in {driver.name} ...", err=True)
    with VideoWriter(output, rate, audio=audio, overwrite=overwrite) as writer:
        for frame in track(frames, f"animating {paths[0].name}", total=total):
            writer.write(frame)
    typer.echo(f"wrote {writer.path}")
