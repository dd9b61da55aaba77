"""A meta-learned few-shot model as a portrait animator (``unflat animate --engine fewshot``).

The portrait and any further photos of the person are the shots: each is cut to the model's
square (:mod:`.framing`) with its landmark image, their embeddings are averaged into ê (more
photos, a better ê), and the model is fine-tuned on them (:mod:`.finetune`; a few steps by
default, none for the feed-forward model). Each frame then moves the portrait's landmarks as the
classical engine does (the driver's head pose and expression retargeted onto the portrait's own
face shape and place, :class:`~unflat.face.animate.Animator`), draws them as a landmark image in
the portrait's square, generates the face there and pastes it back into the portrait as the
LivePortrait engine does (:func:`~unflat.face.liveportrait.paste.paste_layout`).

The model knows no files: :func:`load_fewshot` reads a checkpoint of ``unflat train
talking-head``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from unflat.errors import ConfigError, InputError, WeightsError
from unflat.face.animate import Animator, Warp, output_indices
from unflat.face.canonical import triangles
from unflat.face.fewshot.config import ARCHITECTURE, FewShotConfig
from unflat.face.fewshot.data import to_tensors
from unflat.face.fewshot.finetune import Person, finetune
from unflat.face.fewshot.framing import cut, face_square, to_square
from unflat.face.fewshot.landmark_image import landmark_images
from unflat.face.fewshot.model import FewShotTalkingHead
from unflat.face.liveportrait.paste import paste_layout
from unflat.face.motion import Motion, from_track
from unflat.face.portrait import Portrait, prepare_portrait
from unflat.face.warp import backward_map
from unflat.face_mesh import MESH_POINTS
from unflat.progress import Progress, counted, report
from unflat.types import FaceTrack
from unflat.weights.checkpoints import read_training_state

NAME = "fewshot"
#: Fine-tuning updates on the shots when none are asked for: enough to take in the person's
#: colours and features at the tiny size in seconds, few enough not to overfit one photo.
FINETUNE_STEPS = 40
#: What ``unflat train talking-head`` writes into its run folder, and the kind it records.
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_KIND = "fewshot_meta_learning"
TRAIN_HINT = (
    "train one with `unflat train talking-head --synthetic 64 --steps 400 --out RUN` "
    "(or --data ROOT), then pass --checkpoint RUN"
)


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint of a run folder (or the file itself); an :class:`InputError` if none."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise InputError(f"no few-shot checkpoint at {path}", TRAIN_HINT)
    return path


def load_fewshot(path: str | Path) -> FewShotTalkingHead:
    """The meta-learned model of a run folder or its ``checkpoint.pt``, in eval mode.

    A missing file is an :class:`InputError`; a damaged one, another model's, or one whose
    weights do not fit its own config a :class:`WeightsError`, each with how to get a good one."""
    path = checkpoint_file(path)
    found = read_training_state(path)
    config = found.get("config") if isinstance(found, dict) else None
    ours = isinstance(config, dict) and config.get("architecture") == ARCHITECTURE
    if not ours or found.get("kind") != CHECKPOINT_KIND:
        raise WeightsError(f"{path} is not a few-shot talking-head checkpoint", TRAIN_HINT)
    try:
        model = FewShotTalkingHead(FewShotConfig.from_dict(config))
        model.load_state_dict(found["model"])
    except (ConfigError, KeyError, TypeError, ValueError, RuntimeError):
        message = f"{path}'s weights do not fit the few-shot model its config describes"
        raise WeightsError(message, TRAIN_HINT) from None
    return model.eval()


def shot_tensors(shots: Sequence[Portrait], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames and landmark images ``[K,3,size,size]`` of prepared photos, each in its square."""
    squares = [face_square(shot.landmarks) for shot in shots]
    pairs = list(zip(squares, shots, strict=True))
    frames = np.stack([cut(square, shot.image, size) for square, shot in pairs])
    points = np.stack([to_square(square, shot.landmarks, size) for square, shot in pairs])
    return to_tensors(frames, points, size)


class FewShotEngine:
    """Frames of a person from a meta-learned ``model``, fine-tuned on their photos.

    ``portraits[0]`` is the canvas (output frames have its size and background); every
    portrait and every ``shots`` photo is a shot. ``finetune_steps`` updates on the shots
    happen before the first frame (0: the feed-forward model).
    """

    name = NAME

    def __init__(
        self,
        model: FewShotTalkingHead,
        portraits: Sequence[np.ndarray] | Sequence[Portrait],
        *,
        shots: Sequence[np.ndarray] | Sequence[Portrait] = (),
        face: int | None = None,
        finetune_steps: int = FINETUNE_STEPS,
        seed: int = 0,
    ) -> None:
        if not portraits:
            raise ValueError("at least one portrait is needed")
        if finetune_steps < 0:
            raise ConfigError(f"--finetune-steps {finetune_steps} is negative", "use 0 or more")
        photos = [*portraits, *shots]
        self.shots = [
            p if isinstance(p, Portrait) else prepare_portrait(p, face=face, name=f"photo {i}")
            for i, p in enumerate(photos)
        ]
        self.portrait = self.shots[0]
        self.model, self.size = model.eval(), model.config.image_size
        self.finetune_steps, self.seed = finetune_steps, seed
        # the classical engine's retargeting: the driver's motion on this portrait's face
        self.animator = Animator([self.portrait])
        self.square = face_square(self.portrait.landmarks)
        # what pasting a square into this portrait needs is the same for every frame
        self.layout = paste_layout(self.square, self.portrait.image, self.size)
        self._person: Person | None = None

    def person(self, progress: Progress | None = None) -> Person:
        """The person's fine-tuned generator (embedded and fine-tuned on first use)."""
        if self._person is None:
            # fine-tuning learns, even when the frames are asked for under inference mode (the
            # living photo renders in it): the person's copies of the networks must be trainable
            with torch.inference_mode(False), torch.enable_grad():
                self._person = self._fine_tuned(progress)
        return self._person

    def _fine_tuned(self, progress: Progress | None) -> Person:
        frames, shapes = shot_tensors(self.shots, self.size)
        person = Person(self.model, frames, shapes)
        steps = self.finetune_steps

        def step_done(step: int, _terms: dict[str, float]) -> None:
            report(progress, "fine-tuning on the shots", step + 1, steps)

        if steps:
            finetune(person, frames, shapes, steps, seed=self.seed, on_step=step_done)
        return person.eval()

    def render(self, target: np.ndarray) -> tuple[np.ndarray, Warp]:
        """One frame: the portrait's face generated under its landmarks moved to ``target``
        ``[478,>=2]`` (canvas pixels), pasted back; its :class:`Warp` moves the face's mesh
        from where the portrait has it to ``target`` (the rest of the square stays put)."""
        points = to_square(self.square, target, self.size)
        shape = landmark_images(points[None], self.size)
        with torch.no_grad():
            made = self.person()(shape)[0]
        picture = (made.clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0).numpy()
        pasted = self.layout.paste(np.ascontiguousarray(picture))
        source = self.portrait.landmarks[:MESH_POINTS, :2]
        map_x, map_y = backward_map(source, np.asarray(target)[:MESH_POINTS, :2], triangles(),
                                    pasted.region)  # fmt: skip
        return pasted.frame, Warp(pasted.region, map_x, map_y, pasted.alpha)

    def frames(
        self,
        driver: FaceTrack | Motion,
        *,
        driver_frames: Iterable[np.ndarray] | None = None,
        fps: float | None = None,
        max_seconds: float | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[np.ndarray, Warp]]:
        """Each frame (``uint8 [H,W,3]``, the portrait's size) with its :class:`Warp`.

        Only the driver's landmarks are read (``driver_frames`` are not needed). ``fps``
        resamples the driver's rate, ``max_seconds`` cuts it short; ``progress`` hears
        ``("fine-tuning on the shots", ...)`` then ``("animating", done, total)``."""
        if isinstance(driver, Motion):
            motion, times = driver, np.arange(len(driver)) / driver.fps
        else:
            motion, times = from_track(driver), driver.times
        motion = self.animator.limited(motion)
        indices = output_indices(times, fps or motion.fps, max_seconds)
        self.person(progress)
        for t in counted(indices, progress, "animating"):
            yield self.render(self.animator.target_landmarks(motion, int(t)))
