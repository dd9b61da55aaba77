"""``unflat animate``: a portrait (or a few of one person) moved by a video or a motion preset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import AnimationEngine, Device

MOTION_HELP = (
    "Procedural motion instead of a driver video: idle, nod, shake, tilt, smile, surprise, talk; "
    "combine with '+', e.g. idle+talk."
)
Portraits = Annotated[
    list[Path] | None,
    typer.Argument(
        help="One or more photos of the same person; the first sets the frame. "
        "Default: the bundled Mona Lisa.",
        show_default=False,
    ),
]
Output = Annotated[Path, typer.Option("-o", "--output", help=".mp4, .webm or .gif")]
Driver = Annotated[
    Path | None,
    typer.Option("--driver", "-d", help="A video of a face: its motion, expressions and sound."),
]
Motion = Annotated[str | None, typer.Option("--motion", "-m", help=MOTION_HELP)]
Text = Annotated[str | None, typer.Option("--text", help="With --motion talk: what is said.")]
Seconds = Annotated[
    float | None,
    typer.Option("--seconds", help="Length with --motion (default 6 s, or the text's length)."),
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed of --motion.")]
Fps = Annotated[float | None, typer.Option("--fps", help="Output frame rate (default: driver's).")]
MaxSeconds = Annotated[float | None, typer.Option("--max-seconds", help="Stop after this long.")]
Neutral = Annotated[
    str,
    typer.Option(
        "--neutral",
        help="Driver frame that counts as rest (a number), or auto: the frame most at rest "
        "(mouth closed, eyes open, facing the camera), which a note names.",
    ),
]
Face = Annotated[int | None, typer.Option("--face", help="Which face of the portrait (0 largest).")]
DriverFace = Annotated[
    int | None,
    typer.Option("--driver-face", help="Which face of the driver to follow (0 largest)."),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
EngineWeights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="With --engine liveportrait: a folder of local weights (config.json + "
        "model.safetensors) instead of the installed ones.",
    ),
]

Checkpoint = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        help="With --engine fewshot: a run folder (or its "
        "checkpoint.pt) of `unflat train talking-head`.",
    ),
]
ShotsFrom = Annotated[
    list[Path] | None,
    typer.Option(
        "--shots-from",
        help="With --engine fewshot: more photos of the person to "
        "embed and fine-tune on (repeatable; more photos, a closer likeness).",
    ),
]
FinetuneSteps = Annotated[
    int | None,
    typer.Option(
        "--finetune-steps",
        help="With --engine fewshot: fine-tuning updates on the "
        "photos (default 40; 0: the feed-forward model).",
    ),
]


@app.command("animate")
def animate_command(
    portraits: Portraits = None,
    output: Output = Path("animated.mp4"),
    driver: Driver = None,
    motion: Motion = None,
    text: Text = None,
    seconds: Seconds = None,
    seed: Seed = 0,
    fps: Fps = None,
    max_seconds: MaxSeconds = None,
    neutral: Neutral = "auto",
    face: Face = None,
    driver_face: DriverFace = None,
    overwrite: Overwrite = False,
    engine: AnimationEngine = "auto",
    weights: EngineWeights = None,
    checkpoint: Checkpoint = None,
    shots_from: ShotsFrom = None,
    finetune_steps: FinetuneSteps = None,
    device: Device = "auto",
) -> None:
    """Animate a portrait with a driving video (or a motion preset); keeps the driver's sound."""
    from unflat.cli.progress import Bar
    from unflat.pipelines.animate import AnimatePipeline

    if driver is not None:
        options: dict[str, object] = dict(neutral=neutral, driver_face=driver_face)
    else:
        options = dict(seconds=seconds, text=text, seed=seed)
    pipeline = AnimatePipeline(portraits, face=face, engine=engine, weights=weights, device=device,
                               checkpoint=checkpoint, shots_from=shots_from,
                               finetune_steps=finetune_steps)  # fmt: skip
    with Bar() as bar:
        written = pipeline.write(output, driver=driver, motion=motion, fps=fps,
                                 max_seconds=max_seconds, overwrite=overwrite, progress=bar,
                                 **options)  # fmt: skip
    typer.echo(f"wrote {written}")
