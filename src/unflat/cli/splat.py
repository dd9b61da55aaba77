"""``unflat splat``, ``unflat render`` and ``unflat convert``: photos to 3D scenes and videos."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from unflat.cli.app import app
from unflat.cli.options import Device, FocalPx, Inputs, Overwrite, Precision


class SceneFormat(str, Enum):
    ply = "ply"
    splat = "splat"
    spz = "spz"


class VideoFormat(str, Enum):
    mp4 = "mp4"
    webm = "webm"
    gif = "gif"


class AxesChoice(str, Enum):
    opencv = "opencv"
    opengl = "opengl"


class Stereo(str, Enum):
    sbs = "sbs"
    anaglyph = "anaglyph"
    spatial = "spatial"


PATH_HELP = "swipe, shake, rotate, rotate_forward, dolly_zoom, orbit or ken_burns."
DEPTH_HELP = (
    "Metric depth map (file, or a folder matched by name: NAME.depth.npy from `unflat depth`, "
    "16-bit PNG in mm, .npy/.pfm/.exr in metres). Builds the scene from photo + depth, offline, "
    "with no model."
)
SceneFile = Annotated[Path, typer.Argument(help="A scene: .ply (3DGS / SHARP), .splat or .spz.")]
Fps = Annotated[float, typer.Option("--fps", help="Video frames per second.")]
Axes = Annotated[
    AxesChoice, typer.Option("--axes", help="opencv (y down, as 3DGS) or opengl (y up viewers).")
]

# unflat splat
SplatOutput = Annotated[Path, typer.Option("-o", "--output", help="Folder for the results.")]
DepthOption = Annotated[Path | None, typer.Option("--depth", help=DEPTH_HELP)]
DepthUnits = Annotated[
    str,
    typer.Option(
        "--depth-units",
        help="Units of --depth: auto (guessed from the values, and said; disparity refused), "
        "m, cm, mm, inverse (1/metres), or stored units per metre (256 for KITTI PNGs).",
    ),
]
Method = Annotated[
    str,
    typer.Option(
        "--method",
        help="auto (SHARP if its weights are installed, else photo + depth), sharp or rgbd.",
    ),
]
SharpWeights = Annotated[str | None, typer.Option("--weights", help="Local SHARP weights.")]
DepthWeights = Annotated[
    str | None,
    typer.Option("--depth-weights", help="Local Depth Pro weights, to estimate depth and focal."),
]
Format = Annotated[
    SceneFormat, typer.Option("--format", help="ply (3DGS), splat (antimatter15) or spz (Niantic).")
]
MaxSize = Annotated[
    int,
    typer.Option("--max-size", help="Photo + depth scenes: longer side in pixels (0: full size)."),
]
Background = Annotated[
    bool,
    typer.Option("--background/--no-background", help="Inpainted layer behind depth edges."),
]
Videos = Annotated[
    list[str],
    typer.Option("--video", help=f"Also render a camera-motion video: {PATH_HELP} Repeatable."),
]
VideoFormatOption = Annotated[VideoFormat, typer.Option("--video-format")]
VideoSeconds = Annotated[
    float | None, typer.Option("--seconds", help="Video length (default 2 s).")
]


@app.command()
def splat(
    inputs: Inputs,
    output: SplatOutput = Path("splat"),
    depth: DepthOption = None,
    depth_units: DepthUnits = "auto",
    method: Method = "auto",
    weights: SharpWeights = None,
    depth_weights: DepthWeights = None,
    focal_px: FocalPx = None,
    scene_format: Format = SceneFormat.ply,
    axes: Axes = AxesChoice.opencv,
    max_size: MaxSize = 1024,
    background: Background = True,
    video: Videos = [],  # noqa: B006 - typer reads the default; it is never mutated
    video_format: VideoFormatOption = VideoFormat.mp4,
    fps: Fps = 30.0,
    seconds: VideoSeconds = None,
    device: Device = "auto",
    precision: Precision = "auto",
    overwrite: Overwrite = False,
) -> int:
    """3D Gaussian scenes from photos, in metres, for any splat viewer.

    Per photo: NAME.ply (or .splat/.spz), NAME.PATH.mp4 per --video, and NAME.scene.json.
    With SHARP weights the scene is SHARP's; otherwise (or with --depth) it is built from the
    photo and a metric depth map, with an inpainted background layer behind depth edges.
    """
    from unflat.cli.batch import run_batch_command
    from unflat.pipelines.scene import SceneJob, ScenePipeline
    from unflat.splat.trajectories import TrajectoryOptions

    models = dict(method=method, weights=weights, depth_weights=depth_weights, device=device)
    pipeline = ScenePipeline(**models, precision=precision, focal_px=focal_px, max_size=max_size,
                             depth_units=depth_units, background=background)  # fmt: skip
    job = SceneJob(pipeline, depth=depth, scene_format=scene_format.value, axes=axes.value,
                   videos=tuple(video), video_format=video_format.value, overwrite=overwrite,
                   path_options=TrajectoryOptions(seconds=seconds, fps=fps))  # fmt: skip
    return run_batch_command(inputs, output, job, "splat")


RenderOutput = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Video file: .mp4, .webm or .gif (default SCENE.PATH.mp4); .heic for --stereo "
        "spatial (default SCENE.spatial.heic).",
    ),
]
Trajectory = Annotated[str, typer.Option("--trajectory", "-t", help=PATH_HELP)]
Width = Annotated[int | None, typer.Option("--width", help="Frame width (default: the photo's).")]
Height = Annotated[int | None, typer.Option("--height", help="Frame height.")]
CycleSeconds = Annotated[float | None, typer.Option("--seconds", help="Length of one cycle.")]
Frames = Annotated[int | None, typer.Option("--frames", help="Frames of one cycle (default 60).")]
Amplitude = Annotated[
    float | None,
    typer.Option("--amplitude", help="Sideways reach in metres (default: from the scene's depth)."),
]
StereoOption = Annotated[
    Stereo | None,
    typer.Option(
        "--stereo",
        help="sbs (side by side), anaglyph (red-cyan), or spatial: one Apple spatial photo "
        "(HEIC, for Vision Pro) from the scene's own camera instead of a video.",
    ),
]
Baseline = Annotated[float, typer.Option("--baseline", help="Stereo eye distance in metres.")]
SourceFocal = Annotated[
    float | None,
    typer.Option("--focal-px", help="Source focal length, for scenes without a camera record."),
]
Eps2d = Annotated[
    float | None,
    typer.Option(
        "--eps2d",
        help="Low-pass in px² (default: what the scene was made for; 0.3 for other 3DGS files).",
    ),
]
Backend = Annotated[str, typer.Option("--backend", help="Renderer: auto, cpu, torch, gsplat.")]
ReplaceVideo = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]


@app.command("render")
def render_command(
    scene_path: SceneFile,
    output: RenderOutput = None,
    trajectory: Trajectory = "rotate_forward",
    width: Width = None,
    height: Height = None,
    fps: Annotated[float, typer.Option("--fps", help="Frames per second.")] = 30.0,
    seconds: CycleSeconds = None,
    frames: Frames = None,
    amplitude: Amplitude = None,
    stereo: StereoOption = None,
    baseline: Baseline = 0.063,
    focal_px: SourceFocal = None,
    eps2d: Eps2d = None,
    backend: Backend = "auto",
    device: Device = "auto",
    overwrite: ReplaceVideo = False,
) -> int:
    """Render a camera-motion video of a Gaussian scene, or an Apple spatial photo (HEIC).

    Videos are MP4, WebM or GIF, mono or stereo (`--stereo spatial -o photo.heic`: a spatial
    photo from the scene's own camera). Distances are in metres; the default amplitudes follow
    SHARP (the nearest content moves by 8% of the image diagonal). The source camera comes from
    NAME.scene.json (written by `unflat splat`) or a SHARP PLY; else the origin, looking along +z.
    """
    from unflat.cli.progress import Bar
    from unflat.pipelines.render import RenderPipeline
    from unflat.splat.trajectories import TrajectoryOptions
    from unflat.splat.video import VideoOptions

    path = TrajectoryOptions(num_frames=frames, seconds=seconds, fps=fps, amplitude_m=amplitude)
    options = VideoOptions(path=trajectory, path_options=path, width=width, height=height,
                           stereo=stereo.value if stereo else None, baseline_m=baseline,
                           backend=backend)  # fmt: skip
    pipeline = RenderPipeline(options, focal_px=focal_px, eps2d=eps2d, device=device)
    with Bar() as bar:
        written, count = pipeline(scene_path, output, overwrite=overwrite, progress=bar)
    print(f"{count} Gaussians -> {written}", file=sys.stderr)
    return 0


@app.command()
def convert(
    source: SceneFile,
    target: Annotated[Path, typer.Argument(help="Where to write it: .ply, .splat or .spz.")],
    axes: Annotated[
        AxesChoice,
        typer.Option(
            "--axes",
            help="Axes of the written .ply/.splat: opencv or opengl (y up); .spz has its own.",
        ),
    ] = AxesChoice.opencv,
    input_axes: Annotated[
        AxesChoice | None,
        typer.Option("--input-axes", help="Axes of SOURCE when it is not what its header says."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing TARGET.")
    ] = False,
) -> int:
    """Convert a Gaussian scene between .ply, .splat and .spz (and between axes conventions).

    The source camera (from SOURCE's NAME.scene.json or a SHARP PLY) is kept in TARGET's
    NAME.scene.json, so `unflat render TARGET` shows the scene as `unflat render SOURCE` does.
    """
    from unflat.progress import note
    from unflat.splat.outputs import convert_scene

    chosen = None if input_axes is None else input_axes.value
    converted = convert_scene(
        source, target, axes=axes.value, input_axes=chosen, overwrite=overwrite
    )
    for line in converted.notes:
        note(line)
    camera = f" (camera in {converted.sidecar.name})" if converted.sidecar else ""
    print(f"{converted.count} Gaussians -> {target}{camera}", file=sys.stderr)
    return 0
