"""``unflat refocus`` and ``unflat measure``: what a photo's metric depth is for."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Device, FocalPx, Overwrite

Photo = Annotated[Path, typer.Argument(help="A photo (JPEG, PNG, HEIC ...).")]
Depth = Annotated[
    Path | None,
    typer.Option(
        "--depth",
        help="Its metric depth map (NAME.depth.npy from `unflat depth`, 16-bit PNG in mm, "
        ".npy/.pfm/.exr in metres). Default: Depth Pro, if its weights are installed.",
    ),
]
DepthUnits = Annotated[
    str,
    typer.Option(
        "--depth-units", help="Units of --depth: auto, m, cm, mm, inverse, or units per metre."
    ),
]
Weights = Annotated[str | None, typer.Option("--weights", help="Local Depth Pro weights.")]
Focus = Annotated[
    str | None, typer.Option("--focus", help="Focus on this pixel: X,Y from the top-left.")
]
FocusMetres = Annotated[
    float | None, typer.Option("--focus-m", help="Focus at this distance in metres.")
]
Pull = Annotated[
    str | None,
    typer.Option(
        "--pull",
        help="Focus pull video from one focus to another: two distances (1.2m,3.5m) or pixels "
        "(640,360,100,80), or one of each (640,360,3.5m). -o must end in .mp4, .webm or .gif.",
    ),
]
FNumber = Annotated[float, typer.Option("--f-number", help="Aperture: f/2.0 is 2.0.")]
FocalMm = Annotated[
    float | None,
    typer.Option(
        "--focal-mm",
        help="Lens focal length in mm. Default: the photo's 35 mm equivalent (a full-frame "
        "look, e.g. 26 for a phone's main camera); a phone's real focal length gives its "
        "small sensor's depth of field.",
    ),
]
Highlights = Annotated[
    float,
    typer.Option(
        "--highlights", help="Brighten clipped highlights by up to this factor before blurring "
        "(bokeh discs); 1 is off.",
    ),
]  # fmt: skip
Seconds = Annotated[float, typer.Option("--seconds", help="Length of the focus pull.")]
Fps = Annotated[float, typer.Option("--fps", help="Frames per second of the focus pull.")]
Output = Annotated[
    Path, typer.Option("-o", "--output", help="The refocused photo (.png, .jpg) or pull video.")
]


def _focus_choice(focus: str | None, focus_m: float | None, pull: str | None) -> object:
    """The one focus option given, parsed: a Focus, or a pull's two Focus ends."""
    from unflat.errors import ConfigError
    from unflat.pipelines.refocus import Focus as FocusPoint
    from unflat.pipelines.refocus import parse_metres, parse_pixel, parse_pull

    given = [name for name, value in (("--focus", focus), ("--focus-m", focus_m),
                                      ("--pull", pull)) if value is not None]  # fmt: skip
    if len(given) != 1:
        raise ConfigError(
            "give one of --focus X,Y, --focus-m METRES or --pull A,B"
            + (f", not {' and '.join(given)}" if given else ""),
            hint="e.g. --focus 640,360 (a pixel), --focus-m 1.5, or --pull 1.2m,3.5m",
        )
    if pull is not None:
        return parse_pull(pull)
    if focus is not None:
        return FocusPoint(pixel=parse_pixel(focus))
    return FocusPoint(metres=parse_metres(focus_m))


@app.command("refocus")
def refocus_command(
    photo: Photo, output: Output, depth: Depth = None, focus: Focus = None,
    focus_m: FocusMetres = None, pull: Pull = None, f_number: FNumber = 2.0,
    focal_mm: FocalMm = None, focal_px: FocalPx = None, depth_units: DepthUnits = "auto",
    highlights: Highlights = 3.0, seconds: Seconds = 2.0, fps: Fps = 24.0,
    weights: Weights = None, device: Device = "auto", overwrite: Overwrite = False,
) -> int:  # fmt: skip
    """Blur a photo as a real lens focused elsewhere would, from its metric depth.

    The blur disc follows the thin-lens formula for --f-number and --focal-mm; sharp
    foregrounds never bleed onto blurred backgrounds (nor the reverse); clipped highlights
    become bright discs. With --pull, a focus-pull video instead of a photo.
    """
    from unflat.cli.progress import Bar
    from unflat.pipelines.refocus import RefocusPipeline

    chosen = _focus_choice(focus, focus_m, pull)
    pipeline = RefocusPipeline.from_options(
        f_number, focal_mm, highlights, weights=weights, device=device, focal_px=focal_px,
        depth_units=depth_units,
    )  # fmt: skip
    with Bar() as bar:
        if isinstance(chosen, tuple):
            near, far, count = pipeline.pull(photo, output, chosen, depth_path=depth,
                                             seconds=seconds, fps=fps, overwrite=overwrite,
                                             progress=bar)  # fmt: skip
            summary = f"focus {near:.3g} m to {far:.3g} m, {count} frames"
        else:
            distance = pipeline(photo, output, chosen, depth_path=depth, overwrite=overwrite,
                                progress=bar)  # fmt: skip
            summary = f"focus {distance:.3g} m at f/{f_number:g}"
    print(f"{summary} -> {output}", file=sys.stderr)
    return 0


@app.command("measure")
def measure_command(
    photo: Photo,
    first: Annotated[str, typer.Argument(help="First pixel X1,Y1 (from the top-left).")],
    second: Annotated[str, typer.Argument(help="Second pixel X2,Y2.")],
    depth: Depth = None,
    focal_px: FocalPx = None,
    depth_units: DepthUnits = "auto",
    principal_point: Annotated[
        str | None,
        typer.Option(
            "--principal-point",
            help="CX,CY of a calibrated camera, in the pixels' convention (default: the centre).",
        ),
    ] = None,
    weights: Weights = None,
    device: Device = "auto",
) -> int:
    """The distance in metres between two pixels' 3D points; the last line is the distance.

    Each point's depth is the median of the valid depths around its pixel (5x5), so a point
    by a depth edge does not jump; the pixel itself needs a valid depth.
    """
    from unflat.pipelines.measure import MeasurePipeline
    from unflat.pipelines.refocus import parse_pixel

    pixels = parse_pixel(first, "X1,Y1"), parse_pixel(second, "X2,Y2")
    centre = None if principal_point is None else parse_pixel(principal_point, "--principal-point")
    pipeline = MeasurePipeline.from_options(centre, weights=weights, device=device,
                                            focal_px=focal_px, depth_units=depth_units)  # fmt: skip
    result = pipeline(photo, *pixels, depth_path=depth)
    for (x, y), point in zip(result.pixels, result.points, strict=True):
        print(f"pixel {x:g},{y:g}: depth {point[2]:.3f} m, point ({point[0]:.3f}, "
              f"{point[1]:.3f}, {point[2]:.3f}) m")  # fmt: skip
    print(f"focal length {result.focal_px:.1f} px ({result.focal_source})")
    print(f"{result.metres:.3f} m")
    return 0
