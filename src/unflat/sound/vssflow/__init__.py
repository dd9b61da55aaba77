"""VSSFlow: video-to-sound and visual text-to-speech in one flow-matching DiT (trainable).

Published weights do not exist; train with ``python -m unflat.sound.vssflow.train`` and
generate with ``python -m unflat.sound.vssflow.sample``. Modules: ``config`` (the model's
shapes and generation defaults), ``train_config`` (training settings), ``model`` (the DiT),
``flow`` (loss and guided sampler), ``frontend`` / ``vocoder`` (log-mel latent and Griffin-Lim),
``phonemes`` (vocabulary, stretching), ``data`` (datasets), ``train`` (the loop, checkpoints,
``model_from_checkpoint``), ``sample`` (``generate_audio``, ``write_normalised_wav``).
"""

from __future__ import annotations

from unflat.sound.vssflow.config import VSSFlowConfig
from unflat.sound.vssflow.flow import flow_loss, guided_velocity, sample_latents
from unflat.sound.vssflow.frontend import LatentFrontend, MelFrontend, mel_filterbank
from unflat.sound.vssflow.model import VSSFlow, build_vssflow
from unflat.sound.vssflow.phonemes import FILLER_ID, PhonemeVocab, stretch_phonemes
from unflat.sound.vssflow.train_config import VSSFlowTrainConfig
from unflat.sound.vssflow.vocoder import GriffinLimVocoder, Vocoder, griffin_lim

__all__ = [
    "FILLER_ID",
    "GriffinLimVocoder",
    "LatentFrontend",
    "MelFrontend",
    "PhonemeVocab",
    "VSSFlow",
    "VSSFlowConfig",
    "VSSFlowTrainConfig",
    "Vocoder",
    "build_vssflow",
    "flow_loss",
    "griffin_lim",
    "guided_velocity",
    "mel_filterbank",
    "sample_latents",
    "stretch_phonemes",
]
