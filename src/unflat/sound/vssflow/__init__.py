"""VSSFlow: video-to-sound and visual text-to-speech in one flow-matching DiT, as published
(github vasflow1/vssflow): the same parameter names, conditions, guidance and sampler.

Modules: ``config`` (the network's shapes in the published schema), ``model`` (the network,
``condition``, ``guided_velocity``, ``training_loss``), ``ode`` (euler, midpoint and dopri5 as
torchdiffeq computes them), ``sample`` (``sample``, ``generate_latents``), ``stretch``
(``stretch_phonemes``), ``train_config`` / ``train`` / ``data`` (training on one device or under
torchrun), ``frontend`` / ``vocoder`` / ``phonemes`` (the log-mel stand-in latent, Griffin-Lim and
a phoneme vocabulary, used by the synthetic training task).
"""

from __future__ import annotations

from unflat.sound.vssflow.config import VSSFlowConfig
from unflat.sound.vssflow.model import Conditions, VSSFlow, build_vssflow
from unflat.sound.vssflow.sample import sample
from unflat.sound.vssflow.stretch import stretch_phonemes
from unflat.sound.vssflow.train_config import MelLatentConfig, VSSFlowTrainConfig

__all__ = [
    "Conditions",
    "MelLatentConfig",
    "VSSFlow",
    "VSSFlowConfig",
    "VSSFlowTrainConfig",
    "build_vssflow",
    "sample",
    "stretch_phonemes",
]
