"""The web app's page: one Gradio tab per job, each a thin shell over :mod:`unflat.app.jobs`."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import Any

import gradio as gr

from unflat.app import jobs
from unflat.app.notes import caught_notes
from unflat.app.viewer import Viewers
from unflat.errors import UnflatError, format_error
from unflat.progress import Progress

INTRO = """# unflat
Flat photos and videos to depth, 3D scenes, animated portraits and sound, on this machine.
Each tab runs the same pipeline as its command (`unflat depth`, `splat`, `animate`, `dub`,
`run`); files are written to a temporary folder and offered for download."""
WEIGHTS_DEPTH = """**Weights:** depth comes from the depth file you give, else Depth Pro when its
weights are installed (`unflat models fetch depth-pro`), else, for a photo with a face, a portrait
depth built without any download. Any other photo needs one of the first two."""
WEIGHTS_SCENE = """**Weights:** SHARP makes the scene when installed (`unflat models fetch
sharp`); otherwise the scene is built from the photo and its depth (as in the Depth tab: a depth
file, Depth Pro, or a portrait depth for faces)."""
OFFLINE_FACE = """**No weights needed:** the face models ship with unflat. Without a portrait,
the bundled Mona Lisa is animated; without a driver video, the presets move it."""
MOTIONS = ["idle+talk", "idle", "nod", "shake", "tilt", "smile", "surprise", "talk", "nod+smile"]
PATHS = ["rotate_forward", "swipe", "shake", "rotate", "dolly_zoom", "orbit", "ken_burns"]


def bar(progress: gr.Progress) -> Progress:
    """unflat's ``(stage, done, total)`` reports as Gradio's progress bar."""
    return lambda stage, done, total: progress((done, total), desc=stage)


def shown(job: Callable[..., Any]) -> Callable[..., Any]:
    """``job`` with unflat's errors shown on the page as the CLI's one line, its notes as
    warnings."""

    @functools.wraps(job)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            with caught_notes() as notes:
                result = job(*args, **kwargs)
        except UnflatError as error:
            raise gr.Error(format_error(error), print_exception=False) from None
        for line in notes:  # what the CLI says as note: lines, said on the page
            gr.Warning(line, title="Note")
        return result

    return run


def depth_tab(workspace: jobs.Workspace) -> None:
    """Photo to depth: preview, depth files and point cloud; refocus and measure."""
    gr.Markdown(WEIGHTS_DEPTH)
    with gr.Row():
        photo = gr.Image(type="filepath", label="Photo (click it to pick points)", elem_id="photo")
        depth_file = gr.File(label="Depth file (optional: .npy, 16-bit PNG mm, .pfm, .exr)")
    go = gr.Button("Estimate depth", variant="primary", elem_id="depth-go")
    with gr.Row():
        preview = gr.Image(label="Depth preview (near is bright)", elem_id="depth-preview")
        with gr.Column():
            summary = gr.Textbox(label="Depth", elem_id="depth-summary")
            files = gr.File(label="Depth (.npy metres, .png mm) and point cloud (.ply)")

    @shown
    def estimate(photo_path: str, depth_path: str, progress: gr.Progress = gr.Progress()) -> tuple:
        result = jobs.depth_job(workspace, photo_path, depth_path, bar(progress))
        return str(result.preview), [str(path) for path in result.files], result.summary

    go.click(estimate, [photo, depth_file], [preview, files, summary])
    with gr.Accordion("Refocus (a lens blur from the depth)", open=False):
        with gr.Row():
            focus = gr.Textbox(label="Focus: a pixel X,Y or a distance like 1.5m", value="1.5m")
            f_number = gr.Slider(1.0, 16.0, value=2.0, step=0.1, label="f-number")
        refocus_go = gr.Button("Refocus")
        refocused = gr.Image(label="Refocused")
        refocus_note = gr.Textbox(label="Focus", show_label=False)

    @shown
    def refocus(
        photo_path: str, depth_path: str, focus_text: str, f_value: float,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str]:  # fmt: skip
        image, line = jobs.refocus_job(workspace, photo_path, focus_text, f_value, depth_path,
                                       bar(progress))  # fmt: skip
        return str(image), line

    refocus_go.click(refocus, [photo, depth_file, focus, f_number], [refocused, refocus_note])
    with gr.Accordion("Measure (click two points on the photo)", open=False):
        with gr.Row():
            first = gr.Textbox(label="First point X,Y", elem_id="first")
            second = gr.Textbox(label="Second point X,Y", elem_id="second")
        measure_go = gr.Button("Measure", elem_id="measure-go")
        distance = gr.Textbox(label="Distance", elem_id="distance")
    measure_go.click(shown(jobs.measure_job), [photo, first, second, depth_file], distance)

    def picked(previous: str, event: gr.SelectData) -> tuple[str, str, str]:
        point = f"{event.index[0]},{event.index[1]}"
        return point, previous, point  # the focus, and the last two clicks to measure

    photo.select(picked, [second], [focus, first, second])


def scene_tab(workspace: jobs.Workspace, viewers: Viewers) -> None:
    """Photo to a 3D scene: the viewer of ``unflat view`` embedded, and a camera-path video."""
    gr.Markdown(WEIGHTS_SCENE)
    with gr.Row():
        photo = gr.Image(type="filepath", label="Photo", elem_id="scene-photo")
        with gr.Column():
            depth_file = gr.File(label="Depth file (optional)")
            path = gr.Dropdown(PATHS, value="rotate_forward", label="Camera path")
            seconds = gr.Slider(
                1.0, 8.0, value=2.0, step=0.5, label="Video seconds", elem_id="scene-seconds"
            )
    go = gr.Button("Make the scene", variant="primary", elem_id="scene-go")
    viewer = gr.HTML(label="Scene", elem_id="viewer")
    with gr.Row():
        video = gr.Video(label="Camera-path video", elem_id="path-video")
        scene_file = gr.File(label="Scene (.ply, metres)")

    @shown
    def make(
        photo_path: str, depth_path: str, path_name: str, length: float,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str, str]:  # fmt: skip
        scene, movie = jobs.scene_job(workspace, photo_path, depth_path, path_name, length,
                                      bar(progress))  # fmt: skip
        address = html.escape(viewers.add(scene))
        frame = (f'<iframe src="{address}" title="unflat view" allow="xr-spatial-tracking" '
                 'style="width:100%;height:560px;border:0"></iframe>')  # fmt: skip
        return frame, str(movie), str(scene)

    go.click(make, [photo, depth_file, path, seconds], [viewer, video, scene_file])


def animate_tab(workspace: jobs.Workspace) -> None:
    """Portrait to animation: a driver video, presets, or presets timed by text."""
    gr.Markdown(OFFLINE_FACE)
    with gr.Row():
        portrait = gr.Image(
            type="filepath", label="Portrait (optional: the Mona Lisa)", elem_id="portrait"
        )
        driver = gr.Video(label="Driver video (optional: its motion and sound)")
    with gr.Row():
        motion = gr.Dropdown(MOTIONS, value="idle+talk", allow_custom_value=True,
                             label="Presets (without a driver), joined by +")  # fmt: skip
        text = gr.Textbox(label="Words the talk preset times its mouth to (optional)")
        seconds = gr.Slider(0.5, 20.0, value=3.0, step=0.5, label="Seconds (without a driver)")
    go = gr.Button("Animate", variant="primary", elem_id="animate-go")
    video = gr.Video(label="Animation", elem_id="animation")

    @shown
    def animate(
        portrait_path: str, driver_path: str, spec: str, words: str, length: float,
        progress: gr.Progress = gr.Progress(),
    ) -> str:  # fmt: skip
        return str(jobs.animate_job(workspace, portrait_path, driver_path, spec, words, length,
                                    bar(progress)))  # fmt: skip

    go.click(animate, [portrait, driver, motion, text, seconds], video)


def dub_tab(workspace: jobs.Workspace) -> None:
    """Video + text to a dubbed video (offline voice, fitted to the lips)."""
    gr.Markdown("**No weights needed:** the voice is eSpeak NG, offline.")
    with gr.Row():
        source = gr.Video(label="Video of a speaking face")
        with gr.Column():
            text = gr.Textbox(label="What the person says", lines=3)
            language = gr.Textbox(label="Language (eSpeak NG, e.g. en-us, de, fr)", value="en-us")
            keep = gr.Checkbox(label="Keep the video's own sound under the speech")
    go = gr.Button("Dub", variant="primary")
    video = gr.Video(label="Dubbed video")

    @shown
    def dub(
        video_path: str, words: str, voice_language: str, keep_sound: bool,
        progress: gr.Progress = gr.Progress(),
    ) -> str:  # fmt: skip
        return str(jobs.dub_job(workspace, video_path, words, voice_language, keep_sound,
                                bar(progress)))  # fmt: skip

    go.click(dub, [source, text, language, keep], video)


def living_tab(workspace: jobs.Workspace) -> None:
    """The living photo of ``unflat run``: a photo that speaks and moves in 3D."""
    gr.Markdown(f"{OFFLINE_FACE}\n\n{WEIGHTS_DEPTH}")
    with gr.Row():
        photo = gr.Image(type="filepath", label="Portrait (optional: the Mona Lisa)")
        with gr.Column():
            text = gr.Textbox(label="Words to speak (optional)", value="Hello, I am alive.")
            path = gr.Dropdown([*PATHS, "none"], value="rotate_forward", label="Camera path")
            depth_file = gr.File(label="Depth file (optional)")
    go = gr.Button("Bring it to life", variant="primary")
    video = gr.Video(label="Living photo")

    @shown
    def living(
        photo_path: str, words: str, path_name: str, depth_path: str,
        progress: gr.Progress = gr.Progress(),
    ) -> str:  # fmt: skip
        return str(jobs.living_job(workspace, photo_path, words, path_name, depth_path,
                                   bar(progress)))  # fmt: skip

    go.click(living, [photo, text, path, depth_file], video)


def build(workspace: jobs.Workspace, viewers: Viewers) -> gr.Blocks:
    """The page: an intro and one tab per job."""
    with gr.Blocks(title="unflat") as page:
        gr.Markdown(INTRO)
        with gr.Tab("Photo to depth", id="depth"):
            depth_tab(workspace)
        with gr.Tab("Photo to scene", id="scene"):
            scene_tab(workspace, viewers)
        with gr.Tab("Portrait to animation", id="animate"):
            animate_tab(workspace)
        with gr.Tab("Video to dubbed video", id="dub"):
            dub_tab(workspace)
        with gr.Tab("Living photo", id="living"):
            living_tab(workspace)
    return page
