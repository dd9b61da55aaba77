"""``unflat depth``: metric depth maps, previews and point clouds for photos; steady depth
sequences for videos."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Device, FocalPx, Overwrite, Precision

if TYPE_CHECKING:
    from unflat.pipelines.depth import DepthPipeline
    from unflat.pipelines.video_depth import VideoDepthPipeline

MediaInputs = Annotated[
    list[str], typer.Argument(help="Photos, videos, folders of photos (recursive) or globs.")
]
Output = Annotated[Path, typer.Option("-o", "--output", help="Folder for the results.")]
Weights = Annotated[
    str | None,
    typer.Option(
        "--weights", help="Local weights: a depth_pro.pt, a .safetensors, or a model folder."
    ),
]
Model = Annotated[str, typer.Option("--model", help="Registry model name.")]
Ply = Annotated[bool, typer.Option("--ply", help="Also write a coloured point cloud (metres).")]
Preview = Annotated[bool, typer.Option("--preview/--no-preview", help="Colour-mapped preview.")]
DepthFolder = Annotated[
    Path | None,
    typer.Option(
        "--depth",
        help="For a video: a folder with one depth file per frame (in name order), used "
        "instead of Depth Pro.",
    ),
]
DepthUnits = Annotated[
    str,
    typer.Option(
        "--depth-units",
        help="Units of the --depth files: auto (guessed once, and said), m, cm, mm, inverse "
        "(1/metres), or stored units per metre (256 for KITTI PNGs).",
    ),
]
Stabilise = Annotated[
    bool,
    typer.Option(
        "--stabilise/--no-stabilise",
        help="For a video: align each frame's depth with its neighbours along the optical "
        "flow, so it does not flicker.",
    ),
]


@app.command()
def depth(
    inputs: MediaInputs,
    output: Output = Path("depth"),
    weights: Weights = None,
    model: Model = "depth-pro",
    focal_px: FocalPx = None,
    device: Device = "auto",
    precision: Precision = "auto",
    ply: Ply = False,
    preview: Preview = True,
    depth_folder: DepthFolder = None,
    depth_units: DepthUnits = "auto",
    stabilise: Stabilise = True,
    overwrite: Overwrite = False,
) -> int:
    """Metric depth maps from photos and videos, with previews and point clouds.

    Per photo: NAME.depth.npy (metres), NAME.depth_mm.png (16-bit millimetres),
    NAME.preview.jpg, NAME.json and, with --ply, NAME.points.ply. Per video, in the folder
    NAME/: 000000.png ... (16-bit millimetres, one per frame), preview.mp4 and depth.json.
    """
    from unflat.pipelines.depth import DepthPipeline
    from unflat.pipelines.video_depth import VideoDepthPipeline

    options = dict(weights=weights, device=device, precision=precision, overwrite=overwrite)
    photos = DepthPipeline(focal_px=focal_px, ply=ply, preview=preview, model=model, **options)
    videos = VideoDepthPipeline(
        focal_px=focal_px, depth_folder=depth_folder, depth_units=depth_units,
        stabilise=stabilise, preview=preview, **options,
    )  # fmt: skip
    return run_depth_command(inputs, output, photos, videos)


def run_depth_command(
    inputs: list[str], output: Path, photos: DepthPipeline, videos: VideoDepthPipeline
) -> int:
    """Run the photos through ``photos`` and the videos (told apart by probing the files
    named) through ``videos``, each as a batch; the worse exit code of the two."""
    from unflat.cli.batch import run_batch_command
    from unflat.errors import ConfigError
    from unflat.pipelines.video_depth import is_video

    def named_video(spec: str) -> bool:
        path = Path(spec).expanduser()
        return path.is_file() and is_video(path)

    video_specs = [spec for spec in inputs if named_video(spec)]
    photo_specs = [spec for spec in inputs if spec not in video_specs]
    if photo_specs and videos.depth_folder is not None:
        raise ConfigError(
            "--depth FOLDER gives a video's depth, one file per frame, but photos were given",
            hint="run the photos without --depth, or give the video alone",
        )
    code = 0
    if photo_specs:
        code = run_batch_command(photo_specs, output, photos, "depth")
    if video_specs:
        code = max(code, run_batch_command(video_specs, output, videos, "video depth"))
    return code
