"""``unflat splat``, ``unflat render`` and ``unflat convert``: photos to 3D scenes and videos."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from unflat.cli.app import app
from unflat.cli.progress import track


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


PATH_HELP = "swipe, shake, rotate, rotate_forward, dolly_zoom, orbit or ken_burns."


def _path_options(fps: float, seconds: float | None, frames: int | None, amplitude: float | None):
    from unflat.splat.trajectories import TrajectoryOptions

    return TrajectoryOptions(num_frames=frames, seconds=seconds, fps=fps, amplitude_m=amplitude)


def _depth_for(photo: Path, depth: Path | None) -> Path | None:
    """The depth file of ``photo``: ``depth`` itself, or its match by name in a folder."""
    from unflat.errors import InputError

    if depth is None or depth.is_file():
        return depth
    if not depth.is_dir():
        raise InputError(f"--depth {depth} does not exist", hint="give a depth file or folder")
    for name in (
        f"{photo.stem}.depth.npy", f"{photo.stem}.depth_mm.png", f"{photo.stem}.npy",
        f"{photo.stem}.png", f"{photo.stem}.pfm", f"{photo.stem}.tif", f"{photo.stem}.exr",
    ):  # fmt: skip
        if (depth / name).is_file():
            return depth / name
    raise InputError(
        f"no depth map for {photo.name} in {depth}",
        hint=f"name it {photo.stem}.depth.npy (as `unflat depth` does) or {photo.stem}.png (mm)",
    )


@app.command()
def splat(
    inputs: list[str] = typer.Argument(..., help="Photos, folders (recursive) or globs."),
    output: Path = typer.Option(Path("splat"), "-o", "--output", help="Folder for the results."),
    depth: Path | None = typer.Option(
        None,
        "--depth",
        help="Metric depth map (file, or a folder matched by name: NAME.depth.npy from "
        "`unflat depth`, 16-bit PNG in mm, .npy/.pfm/.exr in metres). Builds the scene from "
        "photo + depth, offline, with no model.",
    ),
    method: str = typer.Option(
        "auto",
        "--method",
        help="auto (SHARP if its weights are installed, else photo + depth), sharp or rgbd.",
    ),
    weights: str | None = typer.Option(None, "--weights", help="Local SHARP weights."),
    depth_weights: str | None = typer.Option(
        None, "--depth-weights", help="Local Depth Pro weights, to estimate depth and focal."
    ),
    focal_px: float | None = typer.Option(
        None, "--focal-px", help="Focal length in pixels (overrides EXIF and estimates)."
    ),
    scene_format: SceneFormat = typer.Option(
        SceneFormat.ply, "--format", help="ply (3DGS), splat (antimatter15) or spz (Niantic)."
    ),
    axes: AxesChoice = typer.Option(
        AxesChoice.opencv, "--axes", help="opencv (y down, as 3DGS) or opengl (y up viewers)."
    ),
    max_size: int = typer.Option(
        1024, "--max-size", help="Photo + depth scenes: longer side in pixels (0: full size)."
    ),
    background: bool = typer.Option(
        True, "--background/--no-background", help="Inpainted layer behind depth edges."
    ),
    video: list[str] = typer.Option(
        [], "--video", help=f"Also render a camera-motion video: {PATH_HELP} Repeatable."
    ),
    video_format: VideoFormat = typer.Option(VideoFormat.mp4, "--video-format"),
    fps: float = typer.Option(30.0, "--fps", help="Video frames per second."),
    seconds: float | None = typer.Option(None, "--seconds", help="Video length (default 2 s)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16, fp16 or int8."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo photos already done."),
) -> int:
    """3D Gaussian scenes from photos, in metres, for any splat viewer.

    Per photo: NAME.ply (or .splat/.spz), NAME.PATH.mp4 per --video, and NAME.scene.json.
    With SHARP weights the scene is SHARP's; otherwise (or with --depth) it is built from the
    photo and a metric depth map, with an inpainted background layer behind depth edges.
    """
    from unflat.batch import run_batch
    from unflat.errors import ConfigError
    from unflat.io.atomic import ensure_output_dir
    from unflat.io.gaussians import save_gaussians
    from unflat.io.images import read_photo
    from unflat.io.inputs import collect_inputs
    from unflat.splat.outputs import SceneOutputs, write_sidecar
    from unflat.splat.scene import SceneBuilder
    from unflat.splat.trajectories import TRAJECTORIES
    from unflat.splat.video import VideoOptions, write_path_video

    for name in video:
        if name not in TRAJECTORIES:
            raise ConfigError(f"unknown camera path {name!r}", hint=f"use one of: {PATH_HELP}")
    builder = SceneBuilder(
        method=method,
        weights=weights,
        depth_weights=depth_weights,
        device=device,
        precision=precision,
        focal_px=focal_px,
        background=background,
        max_size=max_size,
    )
    path_options = _path_options(fps, seconds, None, None)
    path_options.total_frames  # noqa: B018 - validates fps/seconds before any work
    paths, problems = collect_inputs(inputs)
    if depth is not None and depth.is_file() and len(paths) > 1:
        raise ConfigError(
            f"one --depth file for {len(paths)} photos",
            hint="give a folder of depth maps named like the photos",
        )
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    out_dir = ensure_output_dir(output)

    def outputs(base: Path) -> SceneOutputs:
        return SceneOutputs(base, f".{scene_format.value}", tuple(video), f".{video_format.value}")

    def process(path: Path, base: Path) -> None:
        photo = read_photo(path)
        scene = builder.build(photo, _depth_for(path, depth))
        files = outputs(base)
        save_gaussians(files.scene, scene.gaussians, axes=axes.value)
        for name in video:
            options = VideoOptions(path=name, path_options=path_options, eps2d=scene.eps2d)
            write_path_video(files.video(name), scene.gaussians, scene.camera, options)
        record = scene.metadata() | {
            "source": str(path),
            "scene": files.scene.name,
            "axes": axes.value,
            "videos": [files.video(name).name for name in video],
            "weights_sha256": builder.weights_sha256 if scene.method == "sharp" else None,
        }
        write_sidecar(files.sidecar, record)

    report = run_batch(
        paths,
        out_dir,
        process,
        lambda base: outputs(base).done(),
        overwrite=overwrite,
        progress=lambda jobs: track(jobs, "splat"),
    )
    print(report.summary(out_dir), file=sys.stderr)
    return report.exit_code


@app.command("render")
def render_command(
    scene_path: Path = typer.Argument(..., help="A scene: .ply (3DGS / SHARP), .splat or .spz."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Video file: .mp4, .webm or .gif (default SCENE.PATH.mp4)."
    ),
    trajectory: str = typer.Option("rotate_forward", "--trajectory", "-t", help=PATH_HELP),
    width: int | None = typer.Option(None, "--width", help="Frame width (default: the photo's)."),
    height: int | None = typer.Option(None, "--height", help="Frame height."),
    fps: float = typer.Option(30.0, "--fps", help="Frames per second."),
    seconds: float | None = typer.Option(None, "--seconds", help="Length of one cycle."),
    frames: int | None = typer.Option(None, "--frames", help="Frames of one cycle (default 60)."),
    amplitude: float | None = typer.Option(
        None, "--amplitude", help="Sideways reach in metres (default: from the scene's depth)."
    ),
    stereo: Stereo | None = typer.Option(
        None, "--stereo", help="sbs (side by side) or anaglyph (red-cyan)."
    ),
    baseline: float = typer.Option(0.063, "--baseline", help="Stereo eye distance in metres."),
    focal_px: float | None = typer.Option(
        None, "--focal-px", help="Source focal length, for scenes without a camera record."
    ),
    eps2d: float | None = typer.Option(
        None,
        "--eps2d",
        help="Low-pass in px² (default: what the scene was made for; 0.3 for other 3DGS files).",
    ),
    backend: str = typer.Option("auto", "--backend", help="Renderer: auto, cpu, torch, gsplat."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing video."),
) -> int:
    """Render a camera-motion video of a Gaussian scene (MP4, WebM or GIF; stereo optional).

    Distances are in metres; the default amplitudes follow SHARP (the nearest content moves by
    8% of the image diagonal). The source camera comes from NAME.scene.json (written by
    `unflat splat`) or a SHARP PLY; other scenes are viewed from the origin along +z.
    """
    import torch

    from unflat.device import pick_device
    from unflat.errors import OutputError
    from unflat.splat.outputs import default_camera, load_scene
    from unflat.splat.scene import photo_camera
    from unflat.splat.video import VideoOptions, write_path_video

    target = output or scene_path.with_name(f"{scene_path.stem}.{trajectory}.mp4")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists", hint="pass --overwrite to replace it")
    options = VideoOptions(
        path=trajectory,
        path_options=_path_options(fps, seconds, frames, amplitude),
        width=width,
        height=height,
        stereo=stereo.value if stereo else None,
        baseline_m=baseline,
        backend=backend,
    )
    options.check()
    options.path_options.total_frames  # noqa: B018 - validates the length before loading
    gaussians, camera, metadata = load_scene(scene_path)
    if focal_px is not None:
        base = camera or default_camera()
        camera = photo_camera(base.width, base.height, focal_px)
    if camera is None:
        camera = default_camera()
        print(
            "note: no camera record for this scene; viewing it from the origin along +z "
            "with a 60° field of view (give --focal-px to change it)",
            file=sys.stderr,
        )
    if eps2d is None:
        eps2d = metadata.get("render_eps2d", 0.0 if metadata.get("layout") == "sharp" else 0.3)
    options.eps2d = float(eps2d)
    torch_device = pick_device(device)
    gaussians = gaussians.to(torch_device)
    camera.K = camera.K.to(torch_device)
    camera.world_to_camera = camera.world_to_camera.to(torch_device)
    with torch.inference_mode():
        written = write_path_video(
            target,
            gaussians,
            camera,
            options,
            overwrite=overwrite,
            progress=lambda items, total: track(items, "render", total=total),
        )
    print(f"{len(gaussians)} Gaussians -> {written}", file=sys.stderr)
    return 0


@app.command()
def convert(
    source: Path = typer.Argument(..., help="A scene: .ply (3DGS / SHARP), .splat or .spz."),
    target: Path = typer.Argument(..., help="Where to write it: .ply, .splat or .spz."),
    axes: AxesChoice = typer.Option(
        AxesChoice.opencv,
        "--axes",
        help="Axes of the written .ply/.splat: opencv or opengl (y up); .spz has its own.",
    ),
    input_axes: AxesChoice | None = typer.Option(
        None, "--input-axes", help="Axes of SOURCE when it is not what its header says."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing TARGET."),
) -> int:
    """Convert a Gaussian scene between .ply, .splat and .spz (and between axes conventions)."""
    from unflat.errors import OutputError
    from unflat.io.gaussians import load_gaussians, save_gaussians

    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists", hint="pass --overwrite to replace it")
    options = {} if input_axes is None else {"axes": input_axes.value}
    gaussians = load_gaussians(source, **options)
    save_gaussians(target, gaussians, axes=axes.value, overwrite=overwrite)
    print(f"{len(gaussians)} Gaussians -> {target}", file=sys.stderr)
    return 0
