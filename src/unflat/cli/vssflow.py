"""``unflat vssflow generate``: sound and speech for a video with VSSFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Device, Overwrite

vssflow_app = typer.Typer(no_args_is_help=True, help="VSSFlow: sound and speech for videos.")
app.add_typer(vssflow_app, name="vssflow", help="VSSFlow: sound and speech for videos.")

Output = Annotated[Path, typer.Option("-o", "--output", help="A .wav, or a video to mux into.")]
Text = Annotated[str | None, typer.Option("--text", help="Words spoken in it.")]
Span = Annotated[
    tuple[float, float] | None,
    typer.Option("--span", help="Start and end (s) of the speech; default the whole clip."),
]
Features = Annotated[
    Path | None, typer.Option("--features", help="Synchformer/AV-HuBERT/RawNet3 features (.npz).")
]
Reference = Annotated[
    Path | None, typer.Option("--reference", help="A recording of the voice to speak in.")
]
Weights = Annotated[
    Path | None, typer.Option("--weights", help="VSSFlow folder: config.json + weights.")
]
Guidance = Annotated[float, typer.Option(help="Guidance scale (published 3).")]
Steps = Annotated[int, typer.Option(help="Sampler steps (published 10).")]
Method = Annotated[str, typer.Option(help="euler, midpoint or dopri5.")]
Seed = Annotated[int, typer.Option(help="Noise seed.")]


@vssflow_app.command("generate")
def generate_command(
    video: Annotated[Path, typer.Argument(help="The video to give sound to.")],
    output: Output,
    text: Text = None,
    span: Span = None,
    features: Features = None,
    reference: Reference = None,
    weights: Weights = None,
    guidance: Guidance = 3.0,
    steps: Steps = 10,
    method: Method = "dopri5",
    seed: Seed = 0,
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Sound for a video's 10 s windows (speech too with --text), as VSSFlow generates it."""
    from unflat.cli.progress import Bar
    from unflat.pipelines.vssflow import VSSFlowPipeline

    sampling = {"guidance": guidance, "steps": steps, "method": method, "seed": seed}
    pipeline = VSSFlowPipeline.from_options(
        weights, features=features, reference=reference is not None, device=device, **sampling
    )
    with Bar() as bar:
        result = pipeline(
            video, output, text=text, span=span, features=features, reference=reference,
            overwrite=overwrite, progress=bar,  # type: ignore[arg-type]
        )  # fmt: skip
    typer.echo(f"{result.seconds:.1f} s of sound, {result.windows} windows: wrote {result.output}")
