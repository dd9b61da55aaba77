"""VSSFlow: video-to-sound and visual text-to-speech in one flow-matching DiT, as published
(github vasflow1/vssflow): the same parameter names, conditions, guidance and sampler.

Modules: ``config`` (the network's shapes in the published schema), ``model`` (the network,
``condition``, ``guided_velocity``, ``training_loss``), ``ode`` (euler, midpoint and dopri5 as
torchdiffeq computes them), ``sample`` (``sample``, ``generate_latents``), ``stretch``
(``stretch_phonemes``), ``train_config`` / ``train`` / ``data`` (training on one device or under
torchrun), ``frontend`` / ``vocoder`` / ``phonemes`` (the log-mel stand-in latent, Griffin-Lim and
a phoneme vocabulary, used by the synthetic training task). The published front ends: ``mel``
(the mel spectrogram), ``vae`` (AudioLDM2's mel VAE), ``hifigan`` (its vocoder), ``codec`` (waveform
<-> packed latent), ``clip`` (CLIP ViT-B/16 frame features), ``rawnet`` (RawNet3 speaker
embeddings), ``text`` / ``numbers`` (cleaner, grapheme-to-phoneme, the 70-token list),
``features`` (precomputed Synchformer / AV-HuBERT features from a file), ``windows`` (10 s
windows and cross-fades).
"""

from __future__ import annotations

from unflat.sound.vssflow.clip import frame_features, load_clip_vision
from unflat.sound.vssflow.codec import LatentCodec
from unflat.sound.vssflow.config import VSSFlowConfig
from unflat.sound.vssflow.features import ConditionFeatures, read_features
from unflat.sound.vssflow.hifigan import HifiGan
from unflat.sound.vssflow.mel import log_mel
from unflat.sound.vssflow.model import Conditions, VSSFlow, build_vssflow
from unflat.sound.vssflow.rawnet import RawNet3, speaker_embedding
from unflat.sound.vssflow.sample import sample
from unflat.sound.vssflow.stretch import stretch_phonemes
from unflat.sound.vssflow.text import Phonemizer, text_to_ids
from unflat.sound.vssflow.train_config import MelLatentConfig, VSSFlowTrainConfig
from unflat.sound.vssflow.vae import MelVAE, pack_latent, unpack_latent

__all__ = [
    "ConditionFeatures",
    "Conditions",
    "HifiGan",
    "LatentCodec",
    "MelLatentConfig",
    "MelVAE",
    "Phonemizer",
    "RawNet3",
    "VSSFlow",
    "VSSFlowConfig",
    "VSSFlowTrainConfig",
    "build_vssflow",
    "frame_features",
    "load_clip_vision",
    "log_mel",
    "pack_latent",
    "read_features",
    "sample",
    "speaker_embedding",
    "stretch_phonemes",
    "text_to_ids",
    "unpack_latent",
]
