"""The video stage of ``unflat run``: the face animated and rendered through the photo's scene
from a moving camera, with the sound muxed in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from unflat.errors import InputError
from unflat.face.motion import Motion
from unflat.io.video import VideoWriter, read_video
from unflat.pipelines import living
from unflat.pipelines.animate import rest_frame_note
from unflat.pipelines.engines import FEWSHOT, Engine, choose_engine, open_engine
from unflat.pipelines.run_context import RunContext, face_model_hashes
from unflat.pipelines.run_record import run_stage
from unflat.pipelines.run_sound import clip_seconds
from unflat.progress import note
from unflat.sound.visemes import openings_from_audio, openings_from_phones
from unflat.types import FaceTrack


def video_stage(stages: RunContext) -> None:
    """Stage 4: ``NAME.face.mp4`` (the animated photo) and ``NAME.mp4`` (the living photo)."""
    s = stages.settings
    seconds = clip_seconds(stages)
    frames = max(round(seconds * s.fps), 1)
    key = {"scene": stages.record.data["stages"]["scene"]["key"],
           "sound": stages.record.data["stages"]["sound"]["key"], "frames": frames,
           "fps": s.fps, "trajectory": s.trajectory, "motion": s.motion, "seed": s.seed,
           "no_face": s.no_face, "engine": _engine_key(s)}  # fmt: skip

    def work(info: dict[str, Any]) -> None:
        assert stages.depth_map is not None
        stage = living.Stage3D(stages.photo.rgb, stages.depth_map, stages.camera)
        if s.no_face:
            cameras = living.path_cameras(stage, s.trajectory, frames, s.fps, None)
            _write(stages, living.still_frames(stage, cameras), frames)
            info.update(files=[stages.files.video.name], frames=frames, face=False)
            return
        engine = _engine(stages)
        focus = living.face_depth(engine, stages.depth_map.depth)
        cameras = living.path_cameras(stage, s.trajectory, frames, s.fps, focus)
        driver, driver_frames = _driver(stages, frames, seconds)
        pairs = living.living_frames(stage, engine, driver, cameras, fps=s.fps,
                                     driver_frames=driver_frames)  # fmt: skip
        _write(stages, (rendered for _, rendered in _tee(pairs, stages)), frames)
        info.update(files=[stages.files.face.name, stages.files.video.name], frames=frames,
                    face=True, face_depth_m=round(focus, 3), models=face_model_hashes(),
                    drive=_drive_name(stages), engine=engine.name)  # fmt: skip

    run_stage(stages.record, "video", key, work)


def _engine_key(settings: Any) -> str | None:
    """The engine that will draw the face, and whose weights: what the frames depend on."""
    if settings.no_face:
        return None
    chosen = choose_engine(settings.engine, settings.engine_weights, settings.engine_checkpoint)
    if chosen == "classical":
        return chosen
    if chosen == FEWSHOT:
        from unflat.face.fewshot.engine import checkpoint_file
        from unflat.weights import weights_id

        return f"{chosen}:{weights_id(checkpoint_file(settings.engine_checkpoint))}"
    from unflat.weights import resolve_weights, weights_id

    return f"{chosen}:{weights_id(resolve_weights(chosen, settings.engine_weights))}"


def _engine(stages: RunContext) -> Engine:
    s = stages.settings
    try:
        return open_engine(s.engine, [stages.photo.rgb], weights=s.engine_weights,
                           device=s.device, checkpoint=s.engine_checkpoint)  # fmt: skip
    except InputError as error:
        if not error.message.startswith(("no face", "the face in")):
            raise
        raise InputError(
            f"{error.message}: `unflat run` animates a face",
            hint=f"{error.hint}; or pass --no-face to move the camera through the photo alone",
        ) from None


def _drive_name(stages: RunContext) -> str:
    s = stages.settings
    if s.driver is not None:
        return "driver"
    if s.speech_text is not None:
        return "phones"
    return "recording" if s.audio is not None else "presets"


def _driver(
    stages: RunContext, frames: int, seconds: float
) -> tuple[FaceTrack | Motion, Iterator[np.ndarray] | None]:
    """What moves the face: the driver's tracked face, or presets with the speech's mouth."""
    from unflat.face.track import track

    s = stages.settings
    if s.driver is not None:
        face_track = track(s.driver, max_frames=frames + 1, progress=stages.progress)
        note(rest_frame_note(s.driver.name, face_track))
        return face_track, _video_frames(s.driver)
    openings = None
    if stages.phones is not None:
        openings = openings_from_phones(stages.phones, s.fps, frames)
    elif s.audio is not None and stages.audio is not None:
        openings = openings_from_audio(stages.audio, s.fps, frames, source=s.audio.name)
    spec = s.motion or living.SPEAKING_MOTION
    motion = living.speech_motion(openings, fps=s.fps, seconds=seconds, spec=spec, seed=s.seed)
    return motion, None


def _video_frames(path: Any) -> Iterator[np.ndarray]:
    with read_video(path) as reader:
        yield from reader


def _tee(pairs: Iterator[tuple[np.ndarray, np.ndarray]], stages: RunContext) -> Iterator[tuple]:
    """Write each animated 2-D frame to ``NAME.face.mp4`` while passing the pair on."""
    fps = stages.settings.fps
    with VideoWriter(stages.files.face, fps, audio=stages.audio) as writer:
        for flat, rendered in pairs:
            writer.write(flat)
            yield flat, rendered


def _write(stages: RunContext, frames: Iterator[np.ndarray], total: int) -> None:
    """Encode the rendered frames with the sound into ``NAME.mp4``, reporting progress."""
    with VideoWriter(stages.files.video, stages.settings.fps, audio=stages.audio) as writer:
        for index, frame in enumerate(frames):
            writer.write(frame)
            stages.report("frames", index + 1, total)
