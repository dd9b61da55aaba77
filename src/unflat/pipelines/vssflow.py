"""``unflat vssflow generate``: VSSFlow's sound (and speech, given a transcript) for a video.

The models load once (``from_options``): the VSSFlow network from ``--weights`` (none are
published yet), the AudioLDM2 mel VAE and vocoder and CLIP ViT-B/16 from the registry. For each
10 s window (longer clips in windows overlapping by ``overlap`` s) the conditions are built as the
published inference builds them - CLIP features of the window's frames at 10 fps, the phoneme
track of the transcript over its speech span, and Synchformer / AV-HuBERT / RawNet3 features from
a ``--features`` file when given (zeros otherwise) - then sampled, decoded to 16 kHz and joined
with cross-fades; the sound is written as WAV or muxed into a copy of the video.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from unflat.errors import ConfigError, InputError, OutputError, WeightsError
from unflat.io.audio import read_audio, write_wav
from unflat.io.mux import mux_audio
from unflat.io.video import probe_video, read_video
from unflat.nn.clip_vit import ClipVisionModel
from unflat.progress import Progress, report
from unflat.registry import get_entry
from unflat.sound.vssflow.clip import frame_features, frame_indices, window_pixels
from unflat.sound.vssflow.codec import LatentCodec
from unflat.sound.vssflow.config import AUDIOLDM2_LATENT, latent_kind
from unflat.sound.vssflow.features import ConditionFeatures, read_features
from unflat.sound.vssflow.model import VSSFlow
from unflat.sound.vssflow.rawnet import RawNet3, speaker_embedding
from unflat.sound.vssflow.sample import generate_latents
from unflat.sound.vssflow.text import Phonemizer, text_to_ids
from unflat.sound.vssflow.windows import cross_fade, phoneme_track, window_starts
from unflat.types import Audio
from unflat.weights import cache_dir, is_cached, load_model, offline
from unflat.weights.cache import CONFIG_NAME, SAFETENSORS_NAME

FRONT_ENDS = ("audioldm2-vae", "audioldm2-vocoder")
CLIP_MODEL = "clip-vit-b-16"


def missing_weights(
    weights: str | os.PathLike[str] | None, need_clip: bool, need_speaker: bool = False
) -> list[str]:
    """Each weight file the job lacks, with where to put it (empty when all are there)."""
    missing = []
    folder = Path(weights).expanduser() if weights is not None else None
    if folder is None or not (folder / SAFETENSORS_NAME).is_file():
        where = f"in {folder}" if folder is not None else "in a folder passed as --weights"
        missing.append(
            f"VSSFlow {CONFIG_NAME} + {SAFETENSORS_NAME} {where} (not published yet: train "
            "them with unflat train vssflow)"
        )
    names = (
        FRONT_ENDS + ((CLIP_MODEL,) if need_clip else ()) + (("rawnet3",) if need_speaker else ())
    )
    for name in names:
        # Online, a missing file is downloaded; offline, it must already be in the cache.
        if not is_cached(name) and offline():
            entry = get_entry(name)
            missing.append(f"{entry.files[0].filename} ({name}) in {cache_dir() / name}")
    return missing


@dataclass
class VSSFlowResult:
    """What :class:`VSSFlowPipeline` wrote."""

    output: Path
    seconds: float
    windows: int


class VSSFlowPipeline:
    """Sound for videos with loaded models; ``__call__`` does one video."""

    def __init__(
        self,
        flow: VSSFlow,
        codec: LatentCodec,
        clip: ClipVisionModel | None,
        *,
        speaker: RawNet3 | None = None,
        guidance: float | None = None,
        method: str | None = None,
        steps: int | None = None,
        seed: int = 0,
        overlap: float = 1.0,
        phonemizer: Phonemizer | None = None,
    ) -> None:
        kind = latent_kind(getattr(flow, "unflat_config", None))
        if kind != AUDIOLDM2_LATENT:
            raise ConfigError(
                f"these VSSFlow weights model the {kind!r} latent, not the AudioLDM2 VAE's that "
                "this command decodes",
                "use weights trained on the published latent (a run of `unflat train vssflow` "
                "samples with python -m unflat.sound.vssflow.sample --checkpoint RUN)",
            )
        if flow.cfg.latent_channels != codec.latent_channels or flow.cfg.latent_fps != 25:
            raise ConfigError(
                f"this VSSFlow network models {flow.cfg.latent_channels} channels at "
                f"{flow.cfg.latent_fps:g} frames/s, not the AudioLDM2 latent's 128 at 25",
                "use weights trained on the published latent",
            )
        self.flow, self.codec, self.clip, self.speaker = flow, codec, clip, speaker
        self.sampling = {"guidance": guidance, "method": method, "steps": steps}
        self.seed, self.overlap, self.phonemizer = seed, overlap, phonemizer

    @classmethod
    def from_options(
        cls,
        weights: str | os.PathLike[str] | None,
        *,
        features: str | os.PathLike[str] | None = None,
        reference: bool = False,
        device: str = "cpu",
        **options: object,
    ) -> VSSFlowPipeline:
        """Check every weight file first (one error naming all that are missing), then load on
        ``device`` (``auto``, ``cpu``, ``cuda``...). ``reference``: a reference voice will be
        given (RawNet3 is then needed)."""
        from unflat.device import pick_device

        device = pick_device(device)
        need_clip = features is None or read_features(features).video is None
        missing = missing_weights(weights, need_clip, reference)
        if missing:
            raise WeightsError(
                "missing weights: " + "; ".join(missing),
                "put each file where named, or run `unflat models fetch NAME` while online",
            )
        flow = load_model(Path(weights), device=device)  # type: ignore[arg-type]
        vae, vocoder = (load_model(name, device=device) for name in FRONT_ENDS)
        codec = LatentCodec(vae, vocoder)  # type: ignore[arg-type]
        clip = None
        if need_clip:
            from unflat.sound.vssflow.clip import load_clip_vision

            clip = load_clip_vision(device=device)
        speaker = load_model("rawnet3", device=device) if reference else None
        return cls(flow, codec, clip, speaker=speaker, **options)  # type: ignore[arg-type]

    def __call__(
        self,
        video: str | os.PathLike[str],
        output: str | os.PathLike[str],
        *,
        text: str | None = None,
        span: tuple[float, float] | None = None,
        features: str | os.PathLike[str] | None = None,
        reference: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> VSSFlowResult:
        """Generate ``video``'s sound into ``output`` (``.wav``, or a video to mux it into);
        ``reference``: a recording of the voice to speak in (RawNet3 embedding)."""
        source, target = Path(video).expanduser(), Path(output).expanduser()
        if target.exists() and not overwrite:
            raise OutputError(f"{target} already exists", "pass --overwrite to replace it")
        info = probe_video(source)
        duration = info.duration_s or (info.frame_count or 0) / max(info.fps, 1e-6)
        if duration <= 0:
            raise InputError(f"{source} has no frames to follow", "pass a video")
        given = read_features(features) if features is not None else ConditionFeatures()
        if reference is not None:
            given = replace(given, speaker=self._speaker(reference))
        window = self.flow.cfg.vaflow_params.audio_duration_sec
        starts = window_starts(duration, window, self.overlap)
        frames = self._frames(source, info.fps, starts, window) if given.video is None else {}
        ids = text_to_ids(text, self.phonemizer) if text else None
        fps = self.flow.cfg.latent_fps
        track = phoneme_track(ids, int(np.ceil((starts[-1] + window) * fps)), fps, span)
        pieces = []
        for index, start in enumerate(starts):
            report(progress, "VSSFlow windows", index, len(starts))
            pieces.append(self._window(start, window, info.fps, frames, given, track, index))
        report(progress, "VSSFlow windows", len(starts), len(starts))
        rate = self.codec.sample_rate
        offsets = [round(s * rate) for s in starts]
        joined = cross_fade(pieces, offsets, round(duration * rate), round(self.overlap * rate))
        audio = Audio(joined, rate)
        if target.suffix.lower() == ".wav":
            write_wav(target, audio, overwrite=overwrite)
        else:
            mux_audio(source, audio, target, overwrite=overwrite)
        return VSSFlowResult(target, audio.seconds, len(starts))

    def _speaker(self, reference: str | os.PathLike[str]) -> torch.Tensor:
        """The published reference embedding of a voice recording (mono, 16 kHz)."""
        if self.speaker is None:
            raise ConfigError("no RawNet3 is loaded", "build the pipeline with reference=True")
        voice = read_audio(reference, sample_rate=16000)
        return speaker_embedding(self.speaker, voice.samples)

    def _frames(
        self, source: Path, fps: float, starts: list[float], window: float
    ) -> dict[int, np.ndarray]:
        """The frames the windows' 10 fps sampling picks, resized to 224 px as published."""
        wanted = {round(s * fps) + i for s in starts for i in frame_indices(1 << 30, fps, window)}
        kept = {}
        with read_video(source) as reader:
            for index, frame in enumerate(reader):
                if index in wanted:
                    kept[index] = np.asarray(
                        Image.fromarray(frame).resize((224, 224), Image.Resampling.BICUBIC)
                    )
        return kept

    def _window(
        self,
        start: float,
        window: float,
        fps: float,
        frames: dict[int, np.ndarray],
        given: ConditionFeatures,
        track: torch.Tensor,
        index: int,
    ) -> np.ndarray:
        """The 16 kHz sound of one window."""
        cut = given.window(start, window)
        video = cut.video
        if video is None:
            first = round(start * fps)
            # Frames past the clip's end are left out; window_pixels pads with black.
            indices = [first + i for i in frame_indices(1 << 30, fps, window)]
            chosen = [frames[i] for i in indices if i in frames]
            stack = np.stack(chosen) if chosen else np.zeros((0, 224, 224, 3), np.uint8)
            video = frame_features(self.clip, window_pixels(stack, 10.0, window))  # type: ignore[arg-type]
        cfg = self.flow.cfg
        first_frame = round(start * cfg.latent_fps)
        phones = track[first_frame : first_frame + cfg.latent_length]
        conditions = self.flow.condition(
            video[None],
            None if cut.speaker is None else cut.speaker[None],
            None if cut.synch is None else cut.synch.reshape(1, -1, 1, cut.synch.shape[-1]),
            None if cut.lip is None else cut.lip[None],
            phones[None],
        )
        generator = torch.Generator().manual_seed(self.seed + index)
        latent = generate_latents(self.flow, conditions, generator=generator, **self.sampling)
        return self.codec.decode(latent)[0].cpu().numpy()


__all__ = ["CLIP_MODEL", "FRONT_ENDS", "VSSFlowPipeline", "VSSFlowResult", "missing_weights"]
