"""``unflat eval``: measure depth accuracy on a dataset folder, and convert datasets into one."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from unflat.cli.app import app

eval_app = typer.Typer(
    help="Measure depth accuracy on a dataset folder (see docs/evaluation.md).",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval", help="Measure depth accuracy on a dataset folder.")


class Alignment(str, Enum):
    none = "none"
    median = "median"


class DatasetKind(str, Enum):
    middlebury = "middlebury"
    nyu = "nyu"
    kitti = "kitti"


@eval_app.command("depth")
def depth_command(
    dataset_dir: Path = typer.Argument(..., help="Dataset folder with rgb/ and depth/."),
    weights: str | None = typer.Option(None, "--weights", help="A weights file to use."),
    model: str = typer.Option("depth-pro", "--model", help="Depth model name."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16, fp16 or int8."),
    gt_focal: bool = typer.Option(
        False, "--gt-focal", help="Give the model the true focal length instead of estimating it."
    ),
    align: Alignment = typer.Option(
        Alignment.none, "--align", help="median: rescale each prediction to the truth's median."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Evaluate the first N only."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
) -> None:
    """Predict depth for every photo of DATASET_DIR and print the accuracy per photo and mean."""
    from unflat.depth.datasets import load_dataset
    from unflat.depth.evaluate import evaluate
    from unflat.depth.predict import DepthEstimator
    from unflat.errors import OutputError

    # Fail on an existing report before minutes of inference, not after.
    if json_path is not None and json_path.exists() and not overwrite:
        raise OutputError(f"{json_path} already exists", hint="pass --overwrite to replace it")
    samples = load_dataset(dataset_dir)
    if limit is not None:
        samples = samples[:limit]
    estimator = DepthEstimator.from_options(
        weights=weights, model=model, device=device, precision=precision
    )
    report = evaluate(
        samples,
        estimator.predict,
        use_gt_focal=gt_focal,
        align=align.value,
        dataset=dataset_dir.name,
        model=estimator.name,
    )
    Console(highlight=False, soft_wrap=True).print(report.table(), markup=False)
    if json_path is not None:
        report.to_json(json_path, overwrite=overwrite)
        typer.echo(f"wrote {json_path}")


@eval_app.command("convert")
def convert_command(
    kind: DatasetKind = typer.Argument(..., help="The source's layout: middlebury, nyu or kitti."),
    src: Path = typer.Argument(..., help="The dataset as published (see docs/evaluation.md)."),
    out: Path = typer.Argument(..., help="The dataset folder to create."),
    nonocc: bool = typer.Option(
        False, "--nonocc", help="Middlebury: evaluate non-occluded pixels only."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT folder."),
) -> None:
    """Convert a published depth dataset into the folder format `unflat eval depth` reads."""
    from unflat.depth.datasets import convert_kitti, convert_middlebury, convert_nyu
    from unflat.errors import ConfigError

    if kind is DatasetKind.middlebury:
        samples = convert_middlebury(src, out, nonocc_only=nonocc, overwrite=overwrite)
    elif nonocc:
        raise ConfigError("--nonocc applies to Middlebury only", hint="leave it out")
    elif kind is DatasetKind.nyu:
        samples = convert_nyu(src, out, overwrite=overwrite)
    else:
        samples = convert_kitti(src, out, overwrite=overwrite)
    typer.echo(f"wrote {len(samples)} samples to {out}")
