"""The portrait animators (engines) that ``unflat animate`` and ``unflat run`` can drive.

Both implement :class:`Engine`: built once for a portrait, they turn a driver (a tracked video
with its frames, or a motion stream of presets or speech) into frames of the portrait's size, each
with the :class:`~unflat.face.animate.Warp` that says which pixels changed and where they came
from (the living photo moves its scene by it).

- ``classical``: unflat's own landmark warp (:mod:`unflat.face.animate`); needs no weights.
- ``liveportrait``: the LivePortrait network (:mod:`unflat.face.liveportrait.engine`) on unflat's
  tracking, cropping and paste-back; needs its weights (``unflat models fetch liveportrait``).
- ``fewshot``: a few-shot talking-head model meta-learned by ``unflat train talking-head``
  (:mod:`unflat.face.fewshot.engine`), fine-tuned on the portraits; needs its ``checkpoint``.

``auto`` (the default) is ``fewshot`` when a checkpoint is given, else ``liveportrait`` when its
weights are installed, else ``classical``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from unflat.errors import ConfigError, WeightsError
from unflat.face.animate import Animator, Warp, animate_warped
from unflat.face.motion import Motion
from unflat.face.portrait import Portrait
from unflat.progress import Progress
from unflat.types import FaceTrack

if TYPE_CHECKING:
    from torch import nn

AUTO = "auto"
LIVEPORTRAIT = "liveportrait"
CLASSICAL = "classical"
FEWSHOT = "fewshot"
INSTALL_HINT = (
    "run `unflat models fetch liveportrait` (MIT licence), or pass --weights FOLDER "
    "(config.json + model.safetensors); or use --engine classical"
)


@runtime_checkable
class Engine(Protocol):
    """A portrait animator: ``portrait`` is the prepared first portrait (its landmarks and
    person mask); :meth:`frames` renders it under a driver."""

    name: str
    portrait: Portrait

    def frames(
        self,
        driver: FaceTrack | Motion,
        *,
        driver_frames: Iterable[np.ndarray] | None = None,
        fps: float | None = None,
        max_seconds: float | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[np.ndarray, Warp]]:
        """Each output frame (``uint8 [H,W,3]``, the portrait's size) with its warp."""
        ...


class ClassicalEngine:
    """The landmark warp of :mod:`unflat.face.animate`, as an :class:`Engine`."""

    name = CLASSICAL

    def __init__(self, portraits: Sequence[np.ndarray], *, face: int | None = None) -> None:
        self.animator = Animator(portraits, face=face)

    @property
    def portrait(self) -> Portrait:
        return self.animator.primary

    def frames(
        self,
        driver: FaceTrack | Motion,
        *,
        driver_frames: Iterable[np.ndarray] | None = None,
        fps: float | None = None,
        max_seconds: float | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[np.ndarray, Warp]]:
        yield from animate_warped(self.animator, driver, frames=driver_frames, fps=fps,
                                  max_seconds=max_seconds, progress=progress)  # fmt: skip


def liveportrait_installed() -> bool:
    """Whether LivePortrait's weights are in the cache (and this release can build it)."""
    from unflat.registry import architecture_available, find_entry
    from unflat.weights import is_cached

    entry = find_entry(LIVEPORTRAIT)
    return entry is not None and architecture_available(entry) and is_cached(LIVEPORTRAIT)


def choose_engine(
    name: str = AUTO, weights: str | None = None, checkpoint: str | None = None
) -> str:
    """The engine ``name`` stands for: ``auto`` is the few-shot model when a ``checkpoint`` is
    given, else LivePortrait when weights are given or installed, else classical; a
    ``WeightsError`` (with the install command) when LivePortrait is asked for without weights,
    a ``ConfigError`` when the few-shot engine is without its checkpoint (or another with one)."""
    if name not in ENGINES and name != AUTO:
        raise ConfigError(f"unknown engine {name!r}", f"use one of {', '.join([AUTO, *ENGINES])}")
    if checkpoint is not None or name == FEWSHOT:
        return _fewshot_choice(name, weights, checkpoint)
    installed = weights is not None or liveportrait_installed()
    if name == AUTO:
        return LIVEPORTRAIT if installed else CLASSICAL
    if name == LIVEPORTRAIT and not installed:
        raise WeightsError("the LivePortrait engine needs its weights, which are not installed",
                           INSTALL_HINT)  # fmt: skip
    if name == CLASSICAL and weights is not None:
        raise ConfigError("--weights is for the LivePortrait engine", "drop it, or use "
                          "--engine liveportrait")  # fmt: skip
    return name


def _fewshot_choice(name: str, weights: str | None, checkpoint: str | None) -> str:
    if name not in (AUTO, FEWSHOT):
        raise ConfigError(f"--checkpoint is for the few-shot engine, not {name}",
                          "drop it, or use --engine fewshot")  # fmt: skip
    if checkpoint is None:
        from unflat.face.fewshot.engine import TRAIN_HINT

        raise ConfigError("--engine fewshot needs --checkpoint (a meta-learned model)", TRAIN_HINT)
    if weights is not None:
        raise ConfigError("--weights is for the LivePortrait engine", "drop it, or use "
                          "--engine liveportrait")  # fmt: skip
    return FEWSHOT


def input_size(weights: str | nn.Module | None) -> int:
    """The network's input side: the config its weights came with may say (``"input":
    {"size": N}``, as the test fixtures' do); the released weights take 256. ``weights`` is a
    model from :func:`unflat.weights.load_model` (the config it loaded, ``unflat_config``), or
    a weights folder or file (its ``config.json``)."""
    from unflat.face.liveportrait.engine import INPUT_SIZE

    if weights is None:
        return INPUT_SIZE
    try:
        if isinstance(weights, str):
            path = Path(weights).expanduser()
            folder = path if path.is_dir() else path.parent
            config = json.loads((folder / "config.json").read_text())
        else:
            config = getattr(weights, "unflat_config", None) or {}
        size = config.get("input", {}).get("size", INPUT_SIZE)
    except (OSError, ValueError, AttributeError):
        return INPUT_SIZE
    return int(size) if isinstance(size, int) and size > 0 else INPUT_SIZE


def _liveportrait(
    portraits: Sequence[np.ndarray], *, face: int | None, weights: str | None, device: str
) -> Engine:
    from unflat.device import pick_device
    from unflat.face.liveportrait.engine import LivePortraitEngine
    from unflat.progress import note
    from unflat.weights import load_model, resolve_weights

    file = resolve_weights(LIVEPORTRAIT, weights)
    model = load_model(LIVEPORTRAIT, device=pick_device(device), weights=file)
    if len(portraits) > 1:
        note(f"the LivePortrait engine animates one portrait; {len(portraits) - 1} more left out")
    return LivePortraitEngine(model, portraits, face=face, input_size=input_size(model))


def _classical(
    portraits: Sequence[np.ndarray], *, face: int | None, weights: str | None, device: str
) -> Engine:
    return ClassicalEngine(portraits, face=face)


def _fewshot(
    portraits: Sequence[np.ndarray],
    *,
    face: int | None,
    weights: str | None,
    device: str,
    checkpoint: str,
    shots: Sequence[np.ndarray] = (),
    finetune_steps: int | None = None,
) -> Engine:
    from unflat.face.fewshot.engine import FINETUNE_STEPS, FewShotEngine, load_fewshot

    steps = FINETUNE_STEPS if finetune_steps is None else finetune_steps
    return FewShotEngine(load_fewshot(checkpoint), portraits, shots=shots, face=face,
                         finetune_steps=steps)  # fmt: skip


#: Every engine by name: a builder from the portraits, ``face``, ``weights`` and ``device``
#: (and the few-shot engine's ``checkpoint``, ``shots`` and ``finetune_steps``).
ENGINES: dict[str, Callable[..., Engine]] = {
    CLASSICAL: _classical, LIVEPORTRAIT: _liveportrait, FEWSHOT: _fewshot,
}  # fmt: skip


def open_engine(
    name: str,
    portraits: Sequence[np.ndarray],
    *,
    face: int | None = None,
    weights: str | None = None,
    device: str = "auto",
    checkpoint: str | None = None,
    shots: Sequence[np.ndarray] = (),
    finetune_steps: int | None = None,
) -> Engine:
    """The engine ``name`` (or ``auto``, see :func:`choose_engine`) ready for ``portraits``;
    ``checkpoint``, ``shots`` (more photos of the person) and ``finetune_steps`` are the
    few-shot engine's."""
    chosen = choose_engine(name, weights, checkpoint)
    extra: dict[str, object] = {}
    if chosen == FEWSHOT:
        extra = dict(checkpoint=checkpoint, shots=shots, finetune_steps=finetune_steps)
    return ENGINES[chosen](portraits, face=face, weights=weights, device=device, **extra)
