"""``unflat depth``: metric depth maps, previews and point clouds for photos."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from unflat.cli.app import app
from unflat.cli.progress import track


@app.command()
def depth(
    inputs: list[str] = typer.Argument(
        ..., help="Photos, folders (searched recursively) or globs."
    ),
    output: Path = typer.Option(Path("depth"), "-o", "--output", help="Folder for the results."),
    weights: str | None = typer.Option(
        None, "--weights", help="Local weights: a depth_pro.pt, a .safetensors, or a model folder."
    ),
    model: str = typer.Option("depth-pro", "--model", help="Registry model name."),
    focal_px: float | None = typer.Option(
        None, "--focal-px", help="Focal length in pixels (overrides EXIF and the estimate)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    precision: str = typer.Option(
        "fp32",
        "--precision",
        help="fp32 (reference), bf16, fp16 (GPU) or int8 (CPU: about 2x faster than fp32).",
    ),
    ply: bool = typer.Option(False, "--ply", help="Also write a coloured point cloud (metres)."),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Colour-mapped preview."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo photos already done."),
) -> int:
    """Metric depth maps from photos, with previews and point clouds.

    Per photo: NAME.depth.npy (metres), NAME.depth_mm.png (16-bit millimetres),
    NAME.preview.jpg, NAME.json and, with --ply, NAME.points.ply.
    """
    from unflat.depth.batch import run_batch
    from unflat.errors import ConfigError
    from unflat.io.atomic import ensure_output_dir
    from unflat.io.inputs import collect_inputs

    if focal_px is not None and not focal_px > 0:
        raise ConfigError(f"--focal-px must be positive, got {focal_px}", "give pixels, e.g. 1200")
    paths, problems = collect_inputs(inputs)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    out_dir = ensure_output_dir(output)

    estimator = None

    def predict(photo):
        # The model loads on the first photo that needs it, so a finished batch costs nothing.
        nonlocal estimator
        if estimator is None:
            from unflat.depth.predict import DepthEstimator

            estimator = DepthEstimator.from_options(weights, model, device, precision)
        return estimator.predict(photo, f_px=focal_px)

    report = run_batch(
        paths,
        out_dir,
        predict,
        lambda: estimator.weights_sha256 if estimator else None,
        ply=ply,
        preview=preview,
        overwrite=overwrite,
        progress=lambda jobs: track(jobs, "depth"),
    )
    print(report.summary(out_dir), file=sys.stderr)
    return report.exit_code
