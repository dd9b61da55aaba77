"""``unflat depth``: metric depth maps, previews and point clouds for photos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Device, FocalPx, Inputs, Overwrite

PRECISION_HELP = "fp32 (reference), bf16, fp16 (GPU) or int8 (CPU: about 2x faster than fp32)."


@app.command()
def depth(
    inputs: Inputs,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the results.")] = Path(
        "depth"
    ),
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights", help="Local weights: a depth_pro.pt, a .safetensors, or a model folder."
        ),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="Registry model name.")] = "depth-pro",
    focal_px: FocalPx = None,
    device: Device = "auto",
    precision: Annotated[str, typer.Option("--precision", help=PRECISION_HELP)] = "fp32",
    ply: Annotated[
        bool, typer.Option("--ply", help="Also write a coloured point cloud (metres).")
    ] = False,
    preview: Annotated[
        bool, typer.Option("--preview/--no-preview", help="Colour-mapped preview.")
    ] = True,
    overwrite: Overwrite = False,
) -> int:
    """Metric depth maps from photos, with previews and point clouds.

    Per photo: NAME.depth.npy (metres), NAME.depth_mm.png (16-bit millimetres),
    NAME.preview.jpg, NAME.json and, with --ply, NAME.points.ply.
    """
    from unflat.cli.batch import run_batch_command
    from unflat.pipelines.depth import DepthPipeline

    options = dict(weights=weights, model=model, device=device, precision=precision)
    job = DepthPipeline(focal_px=focal_px, ply=ply, preview=preview, overwrite=overwrite, **options)
    return run_batch_command(inputs, output, job, "depth")
