"""Sound effects for a silent video: an offline, rule-based baseline (no learned model).

The picture's motion (:mod:`unflat.sound.motion`, camera motion removed) drives two layers:

- **Impacts** at visual onsets (sudden surges of object motion): each is a short noise burst
  ringing through a few inharmonic decaying partials (the modes of a struck body), louder and
  brighter the stronger the onset, with a little seeded variation so repeated hits do not
  sound identical.
- **A textured noise bed** whose level follows the smoothed object-motion energy and whose
  low-pass cutoff opens with it (slow motion rumbles, fast motion hisses): pink-to-brown noise
  shaped frame by frame in the frequency domain, with a slow random flutter for texture.

The result lasts as long as the video, peaks at most at :data:`PEAK`, is exactly silent where
nothing moves (a static or empty picture gives all zeros), and is the same for the same video
and seed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from unflat.errors import ConfigError
from unflat.io.video import check_moving, probe_video
from unflat.progress import Progress
from unflat.sound.motion import VideoMotion, VisualOnsets, analyze_motion, motion_onsets
from unflat.types import Audio

#: What to do when given a still image (or a one-frame video) instead of a video.
STILL_HINT = "sound effects follow motion: give a video of at least two frames"
#: Highest absolute sample value of the output.
PEAK = 0.9
#: Loudest impact (peak amplitude of one impact at full strength) and the weakest one's share.
IMPACT_LEVEL, IMPACT_FLOOR = 0.7, 0.25
#: Length of one impact (seconds); its partials have died away well before.
IMPACT_S = 0.4
#: Per-clip base pitch range of the struck body (Hz) and per-hit pitch jitter (relative).
BODY_HZ, PITCH_JITTER = (110.0, 320.0), 0.12
#: Partial frequency ratios of a free bar (inharmonic, so impacts sound struck, not sung).
PARTIALS = (1.0, 2.76, 5.40, 8.93)
#: Motion energy (frame diagonals per second) below which the bed is silent (compression noise
#: and sensor grain stay under it), and the energy above that floor at which it is half on.
ENERGY_FLOOR, ENERGY_HALF = 0.006, 0.03
#: Share of the camera's speed that flow errors add to the energy (measured: under 0.02 for a
#: textured scene panned, zoomed and rolled at once).
ENERGY_CAMERA_SHARE = 0.025
#: RMS level of the bed at full drive, and its low-pass cutoff range (Hz) from rest to full.
BED_LEVEL, BED_CUTOFF_HZ = 0.12, (250.0, 5000.0)
#: Smoothing of the energy that drives the bed (seconds, centred window).
BED_SMOOTH_S = 0.15
#: Bed synthesis frames (samples at 22.05 kHz, scaled with the rate): sine-windowed,
#: half-overlapping frames of independent noise keep the power constant between frame centres.
BED_FRAME_22K = 1024
#: Bed frames synthesised at a time (about 95 s at any rate; 34 MB of spectra at 22.05 kHz).
BED_BLOCK = 4096


@dataclass
class FoleyResult:
    """What :func:`foley` made: the ``audio``, the ``motion`` and ``onsets`` it was made from,
    and ``seconds`` of processing (reading, analysis and synthesis)."""

    audio: Audio
    motion: VideoMotion
    onsets: VisualOnsets
    seconds: float

    @property
    def real_time_factor(self) -> float:
        """Processing time over the video's duration (below 1 is faster than real time)."""
        return self.seconds / max(self.motion.duration, 1e-9)


def _impact(
    rng: np.random.Generator, strength: float, base_hz: float, sample_rate: int
) -> np.ndarray:
    """One struck-body sound: a noise burst convolved with decaying partials, peak 1."""
    n = round(IMPACT_S * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = base_hz * (1.0 + PITCH_JITTER * rng.uniform(-1, 1))
    # long ring for the fundamental, shorter for higher partials (as in real bodies)
    decay = 0.09 * np.exp(0.25 * rng.uniform(-1, 1))
    body = np.zeros(n)
    for k, ratio in enumerate(PARTIALS):
        freq = f0 * ratio * (1.0 + 0.01 * rng.uniform(-1, 1))
        if freq >= 0.45 * sample_rate:
            break
        amp = (0.6**k) * rng.uniform(0.7, 1.0)
        body += amp * np.exp(-t / (decay / (1 + k) ** 0.7)) * np.sin(2 * np.pi * freq * t)
    # a harder hit is a shorter, brighter excitation
    burst_s = 0.006 - 0.004 * strength
    m = max(8, round(4 * burst_s * sample_rate))
    burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (burst_s * sample_rate))
    sound = np.convolve(burst, body)[:n]
    # the raw burst on top is the click of contact
    click = np.zeros(n)
    click[:m] = burst * (0.3 + 0.5 * strength)
    sound = sound / max(np.abs(sound).max(), 1e-9) + click
    fade = n // 8
    sound[n - fade :] *= np.linspace(1.0, 0.0, fade)  # no step where the buffer ends
    return sound / max(np.abs(sound).max(), 1e-9)


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) < 2:
        return values
    kernel = np.hanning(width + 2)[1:-1]
    padded = np.pad(values, width // 2, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), "valid")[: len(values)]


def _bed(
    motion: VideoMotion, length: int, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """The noise bed following the motion energy (module docstring)."""
    frame = max(64, round(BED_FRAME_22K * sample_rate / 22050) // 2 * 2)
    hop = frame // 2
    step = 1.0 / max(motion.fps, 1e-6)
    # as for impacts, a panning camera leaves flow errors everywhere: they are not motion
    floor = ENERGY_FLOOR + ENERGY_CAMERA_SHARE * motion.camera_motion
    drive = np.maximum(motion.energy - floor, 0.0)
    drive = _smooth(drive, max(1, round(BED_SMOOTH_S / step)))
    gain = drive / (drive + ENERGY_HALF)  # soft saturation: busy scenes do not roar
    centres = (np.arange(length // hop + 2) * hop) / sample_rate
    level = np.interp(centres, motion.times, gain, left=gain[0], right=gain[-1])
    if not level.any():
        return np.zeros(length)
    # slow random flutter (a few per second) gives the bed its rustle
    flutter = _smooth(rng.standard_normal(len(centres)), max(1, round(0.08 * sample_rate / hop)))
    flutter = np.exp(0.5 * flutter / max(flutter.std(), 1e-9))
    flutter /= np.sqrt(np.mean(flutter**2))  # texture only: it must not change the level
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    low, high = BED_CUTOFF_HZ
    cutoff = low * (high / low) ** level  # opens with the motion
    # brown below 100 Hz would rumble the speakers: start the slope there
    tilt = 1.0 / np.sqrt(np.maximum(freqs, 100.0) / 100.0)
    window = np.sin(np.pi * (np.arange(frame) + 0.5) / frame)
    out = np.zeros((len(centres) + 1) * hop + frame)
    # in blocks of frames, so an hour of video needs tens of MB here, not gigabytes; a clip
    # of one block draws its noise exactly as one pass over all frames would
    for first in range(0, len(centres), BED_BLOCK):
        rows = slice(first, min(first + BED_BLOCK, len(centres)))
        shape = tilt[None, :] / np.sqrt(1.0 + (freqs[None, :] / cutoff[rows, None]) ** 4)
        shape[:, 0] = 0.0  # no DC
        # per-frame RMS of unit-variance complex noise through shape, so level is the RMS asked
        rms = 2.0 * np.sqrt((shape**2).sum(axis=1)) / frame
        amplitude = BED_LEVEL * level[rows] * flutter[rows] / np.maximum(rms, 1e-12)
        spectra = rng.standard_normal(shape.shape) + 1j * rng.standard_normal(shape.shape)
        grains = np.fft.irfft(spectra * shape * amplitude[:, None], n=frame, axis=1)
        grains *= window[None, :]
        for k in range(rows.start, rows.stop):
            if level[k] > 0:
                out[k * hop : k * hop + frame] += grains[k - first]
    # frame k is centred at sample k*hop + frame/2: shift so centres land on their times
    return out[frame // 2 : frame // 2 + length]


def synthesize(
    motion: VideoMotion, onsets: VisualOnsets, sample_rate: int = 22050, seed: int = 0
) -> Audio:
    """Impacts plus noise bed for ``motion`` and its ``onsets`` (module docstring)."""
    length = max(1, round(motion.duration * sample_rate))
    rng = np.random.default_rng(seed)
    base_hz = float(np.exp(rng.uniform(*np.log(BODY_HZ))))  # one "material" per clip
    out = _bed(motion, length, sample_rate, np.random.default_rng([seed, 1]))
    for when, strength in zip(onsets.times, onsets.strengths, strict=True):
        start = round(float(when) * sample_rate)
        if start >= length:
            continue
        sound = _impact(rng, float(strength), base_hz, sample_rate)
        gain = IMPACT_LEVEL * (IMPACT_FLOOR + (1.0 - IMPACT_FLOOR) * float(strength))
        end = min(length, start + len(sound))
        out[start:end] += gain * sound[: end - start]
    peak = float(np.abs(out).max())
    if peak > PEAK:  # overlapping hits: scale the whole clip, not clip the waveform
        out *= PEAK / peak
    return Audio(out.astype(np.float32), int(sample_rate))


def foley(
    video_path: str | os.PathLike[str],
    sample_rate: int = 22050,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> FoleyResult:
    """Sound effects for a video (module docstring); ``progress`` counts frames.

    ``InputError`` if the file cannot be read as a video, or is a still image or a one-frame
    video; a video where nothing moves gets silence (all zeros) of its length.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 8000:
        raise ConfigError(
            f"sample rate {sample_rate!r} is too low for sound effects",
            hint="use an integer rate of at least 8000 Hz, e.g. 22050 or 44100",
        )
    started = time.perf_counter()
    # a photo would give 0.04 s of silence: refuse it before any work
    check_moving(probe_video(video_path), STILL_HINT)
    motion = analyze_motion(video_path, progress=progress)
    onsets = motion_onsets(motion)
    audio = synthesize(motion, onsets, sample_rate, seed)
    return FoleyResult(audio, motion, onsets, time.perf_counter() - started)
