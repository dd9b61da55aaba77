"""``unflat eval``: measure depth, novel views and face animation; convert depth datasets."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from unflat.cli.app import app
from unflat.cli.progress import Bar

eval_app = typer.Typer(
    help="Measure depth accuracy, novel-view quality (docs/evaluation.md) and face animation "
    "quality (docs/faces.md).",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval", help="Measure depth, novel-view and face-animation quality.")


class Alignment(str, Enum):
    none = "none"
    median = "median"


class DatasetKind(str, Enum):
    middlebury = "middlebury"
    nyu = "nyu"
    kitti = "kitti"


def _check_report(json_path: Path | None, overwrite: bool) -> None:
    """Fail on an existing report before minutes of work, not after."""
    from unflat.errors import OutputError

    if json_path is not None and json_path.exists() and not overwrite:
        raise OutputError(f"{json_path} already exists", hint="pass --overwrite to replace it")


# fp32 by default: an evaluation's figures must compare across machines, and auto's choice
# depends on the processor.
PRECISION_HELP = "fp32 (the reference), auto, bf16, fp16 or int8."


@eval_app.command("depth")
def depth_command(
    dataset_dir: Path = typer.Argument(..., help="Dataset folder with rgb/ and depth/."),
    weights: str | None = typer.Option(None, "--weights", help="A weights file to use."),
    model: str = typer.Option("depth-pro", "--model", help="Depth model name."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: str = typer.Option("fp32", "--precision", help=PRECISION_HELP),
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
    from unflat.datasets import load_dataset
    from unflat.depth.evaluate import evaluate
    from unflat.depth.predict import DepthEstimator

    _check_report(json_path, overwrite)
    samples = load_dataset(dataset_dir)[:limit]  # limit None: all of them
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
    from unflat.datasets import convert_kitti, convert_middlebury, convert_nyu
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


@eval_app.command("views")
def views_command(
    scenes: list[Path] = typer.Argument(
        ...,
        help="Middlebury 2014 scene folders (im0.png, im1.png, disp0GT.pfm, calib.txt), or "
        "a folder of them.",
    ),
    depth_weights: str | None = typer.Option(
        None, "--depth-weights", help="Also score scenes built from Depth Pro's depth."
    ),
    with_depth_pro: bool = typer.Option(
        False, "--depth-pro", help="Also score Depth Pro's depth (registry weights)."
    ),
    backend: str = typer.Option("auto", "--backend", help="Renderer: auto, cpu, torch, gsplat."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the rows as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
) -> None:
    """Novel-view quality: build the scene from the left view, render the right, compare.

    PSNR/SSIM on pixels both views see and, separately, on the disoccluded pixels, for a
    z-buffered forward warp and for the Gaussian scene without and with its background layer
    (see docs/evaluation.md).
    """
    from unflat.pipelines.evaluate import novel_views
    from unflat.splat.evaluate import summarise

    _check_report(json_path, overwrite)
    with Bar() as bar:
        rows = novel_views(scenes, depth_weights=depth_weights, with_depth_pro=with_depth_pro,
                           backend=backend, progress=bar)  # fmt: skip
    Console(highlight=False, soft_wrap=True).print(_views_table([*rows, *summarise(rows)]))
    _write_report(rows, json_path, overwrite)


def _views_table(rows: list[dict]) -> object:
    from rich.table import Table

    table = Table("scene", "depth", "method", "PSNR covis.", "SSIM covis.", "PSNR disocc.",
                  "SSIM disocc.")  # fmt: skip
    for row in rows:
        table.add_row(
            str(row["scene"]), str(row["depth"]), str(row["method"]),
            f"{row['psnr_covisible']:.2f}", f"{row['ssim_covisible']:.4f}",
            f"{row['psnr_disoccluded']:.2f}", f"{row['ssim_disoccluded']:.4f}",
        )  # fmt: skip
    return table


def _write_report(rows: list[dict], json_path: Path | None, overwrite: bool = False) -> None:
    """Write ``rows`` as a JSON report (atomically) when asked to."""
    from unflat.io.atomic import write_json

    if json_path is not None:
        write_json(json_path, rows, overwrite=overwrite)
        typer.echo(f"wrote {json_path}")


def _write_face_report(
    rows: list[dict], json_path: Path | None, sheets: dict[str, object], sheet_dir: Path | None
) -> None:
    from unflat.io.images import save_rgb

    if sheet_dir is not None:
        sheet_dir.mkdir(parents=True, exist_ok=True)
        for name, sheet in sheets.items():
            save_rgb(sheet_dir / f"{name}.jpg", sheet)  # type: ignore[arg-type]
        typer.echo(f"wrote {len(sheets)} contact sheet(s) to {sheet_dir}")
    _write_report(rows, json_path, overwrite=True)


def _print_wide(table: object) -> None:
    """Print a table without squeezing its columns when the output is not a terminal."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    console.print(table)


@eval_app.command("reenact")
def reenact_command(
    videos: list[Path] = typer.Argument(..., help="Talking-head clips, one face each."),
    shots: list[int] = typer.Option(
        [1, 4, 16], "--shots", min=1, help="Shot counts to compare (repeat the option)."
    ),
    max_frames: int | None = typer.Option(None, "--max-frames", min=20, help="Use the first N."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the rows as JSON."),
    sheets: Path | None = typer.Option(
        None, "--sheets", help="Write contact sheets (truth over output) into this folder."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
) -> None:
    """Self-reenactment: animate each clip's first frame with the clip and compare to it.

    Extra shots are other frames of the clip; the frames scored are never shots (see
    docs/faces.md). L1, PSNR and SSIM on the whole frame; AKD and jitter in inter-ocular units.
    """
    from rich.table import Table

    from unflat.face.evaluate import self_reenactment

    _check_report(json_path, overwrite)
    rows, images = [], {}
    with Bar() as bar:
        for video in videos:
            counts = sorted(set(shots))
            found, made = self_reenactment(video, counts, max_frames=max_frames, progress=bar)
            rows.extend(found)
            images.update({f"{video.stem}_{k}shot": v for k, v in made.items()})
    table = Table("clip", "shots", "frames", "L1", "PSNR", "SSIM", "AKD", "pose (°)",
                  "jitter", "truth jitter", "ms/frame")  # fmt: skip
    for r in rows:
        table.add_row(
            r.clip, str(r.shots), str(r.frames), f"{r.l1:.4f}", f"{r.psnr:.2f}",
            f"{r.ssim:.4f}", f"{r.akd:.4f}", f"{r.pose_error:.2f}", f"{r.jitter:.4f}",
            f"{r.jitter_truth:.4f}", f"{r.ms_per_frame:.0f}",
        )  # fmt: skip
    _print_wide(table)
    _write_face_report([r.as_dict() for r in rows], json_path, images, sheets)


@eval_app.command("cross")
def cross_command(
    portraits: list[Path] = typer.Argument(..., help="Portraits to animate."),
    drivers: list[Path] = typer.Option(
        ..., "--driver", "-d", help="Driving videos of other people (repeat the option)."
    ),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Use the first N."),
    neutral: str = typer.Option("auto", "--neutral", help="The drivers' rest frame, or auto."),
    offsets: bool = typer.Option(False, "--offsets", help="Mouth as a change from rest (old)."),
    mid_word: bool = typer.Option(
        False, "--mid-word", help="Cut each driver to start at its first open-mouthed syllable."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the rows as JSON."),
    sheets: Path | None = typer.Option(
        None, "--sheets", help="Write contact sheets (driver over output) into this folder."
    ),
    videos: Path | None = typer.Option(None, "--videos", help="Write outputs, drivers here."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
) -> None:
    """Cross-reenactment: every portrait driven by every video; motion followed, identity kept.

    AKD compares the output's landmarks with the driver's motion retargeted to the portrait;
    identity is the landmark shape distance to the portrait; mouth is the correlation of the
    driver's and the output's mouth opening (see docs/faces.md).
    """
    from unflat.face.evaluate import CrossOptions, cross_reenactment

    _check_report(json_path, overwrite)
    options = CrossOptions(neutral, shapes=not offsets, mid_word=mid_word, videos=videos)
    rows, images = [], {}
    with Bar() as bar:
        for portrait, driver in ((p, d) for p in portraits for d in drivers):
            row, sheet = cross_reenactment(portrait, driver, max_frames=max_frames, progress=bar,
                                           options=options)  # fmt: skip
            rows.append(row)
            images[f"{row.portrait}_{row.driver}"] = sheet
    _print_wide(_cross_table(rows))
    _write_face_report([r.as_dict() for r in rows], json_path, images, sheets)


def _cross_table(rows: list) -> object:
    from rich.table import Table

    table = Table("portrait", "driver", "frames", "rest frame", "AKD", "identity, neutral",
                  "identity, rigid", "driver's shape", "mouth corr.")  # fmt: skip
    for r in rows:
        table.add_row(
            r.portrait, r.driver, str(r.frames), str(r.neutral), f"{r.akd:.4f}",
            f"{r.identity_neutral:.4f}", f"{r.identity_rigid:.4f}",
            f"{r.identity_rigid_driver:.4f}", f"{r.mouth_corr:.3f}",
        )  # fmt: skip
    return table


@eval_app.command("fewshot")
def fewshot_command(
    checkpoint: Path = typer.Argument(..., help="A run folder or checkpoint.pt of the model."),
    shots: list[int] = typer.Option(
        [0, 1, 8], "--shots", min=0, help="Shot counts (0: feed-forward; repeat the option)."
    ),
    people: int = typer.Option(3, "--people", min=1, help="Held-out synthetic people."),
    finetune_steps: int = typer.Option(40, "--finetune-steps", min=0, help="Updates per person."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the scores as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
) -> None:
    """Few-shot talking heads: L1 and PSNR on synthetic people the model never saw.

    Each person's first frames are the shots, their last 8 frames are scored (docs/fewshot.md).
    """
    from rich.table import Table

    from unflat.face.fewshot.evaluate import held_out_scores
    from unflat.face.fewshot.train import model_from_checkpoint
    from unflat.io.atomic import write_json

    _check_report(json_path, overwrite)
    model = model_from_checkpoint(checkpoint)
    frames = max(shots) + 8 + 1  # the shots, then 8 frames never shown to the model
    with Bar() as bar:
        scores = held_out_scores(model, people=people, frames=max(frames, 16), shots=shots,
                                 finetune_steps=finetune_steps, progress=bar)  # fmt: skip
    table = Table("shots", "L1", "PSNR (dB)")
    for count, row in scores.items():
        table.add_row(count, f"{row['l1']:.4f}", f"{row['psnr']:.2f}")
    _print_wide(table)
    if json_path is not None:
        write_json(json_path, {"shots": scores}, overwrite=overwrite)
