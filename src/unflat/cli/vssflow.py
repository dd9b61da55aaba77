"""``unflat vssflow generate``: sound and speech for a video with VSSFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Overwrite

vssflow_app = typer.Typer(no_args_is_help=True, help="VSSFlow: sound and speech for videos.")
app.add_typer(vssflow_app, name="vssflow", help="VSSFlow: sound and speech for videos.")


@vssflow_app.command("generate")
def generate_command(
    video: Annotated[Path, typer.Argument(help="The video to give sound to.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="A .wav, or a video to mux into.")],
    text: Annotated[str | None, typer.Option("--text", help="Words spoken in it.")] = None,
    span: Annotated[
        tuple[float, float] | None,
        typer.Option("--span", help="Start and end (s) of the speech; default the whole clip."),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option("--features", help="Synchformer/AV-HuBERT/RawNet3 features (.npz)."),
    ] = None,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="VSSFlow folder: config.json + weights.")
    ] = None,
    guidance: Annotated[float, typer.Option(help="Guidance scale (published 3).")] = 3.0,
    steps: Annotated[int, typer.Option(help="Sampler steps (published 10).")] = 10,
    method: Annotated[str, typer.Option(help="euler, midpoint or dopri5.")] = "dopri5",
    seed: Annotated[int, typer.Option(help="Noise seed.")] = 0,
    overwrite: Overwrite = False,
) -> None:
    """Sound for a video's 10 s windows (speech too with --text), as VSSFlow generates it."""
    from unflat.cli.progress import Bar
    from unflat.pipelines.vssflow import VSSFlowPipeline

    pipeline = VSSFlowPipeline.from_options(
        weights, features=features, guidance=guidance, steps=steps, method=method, seed=seed
    )
    with Bar() as bar:
        result = pipeline(
            video, output, text=text, span=span, features=features, overwrite=overwrite,
            progress=bar,  # type: ignore[arg-type]
        )  # fmt: skip
    typer.echo(
        f"{result.seconds:.1f} s of sound in {result.windows} windows; wrote {result.output}"
    )
