"""Procedural motion presets: a :class:`~unflat.face.motion.Motion` without a driver video.

``generate("idle+talk", seconds=6, fps=25, text="Hello there.")`` makes a clip of blinks, small
head sway and breathing with mouth openings timed as the text's syllables. Presets combine with
``+`` (or a list of names): their motions are added with :meth:`Motion.__add__` (rotations
compose, offsets add, eye openings multiply), and each preset draws from its own random stream
(seeded by ``seed`` and its name), so a combination is exactly the sum of its parts and the same
seed always gives the same clip.

Angles are degrees (pitch positive looks down, the landmarks' y-down frame), translations are in
outer-eye-corner distances, gaze in eye widths, expressions are offsets from
:mod:`unflat.face.expressions`. ``strength`` scales every amplitude (angles, shifts, expression
amounts and the eyes' departures from open).

Speech timing is :func:`syllable_times` (a vowel-group syllable count laid out at a steady rate)
or :func:`rhythm_times` (a random talking rhythm); a speech backend can replace either with real
phoneme timings of the same shape.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from unflat.errors import InputError
from unflat.face import expressions
from unflat.face.motion import Motion
from unflat.geometry.rotations import euler_to_rotation

PRESETS: dict[str, str] = {
    "idle": "blinks every few seconds, slight head sway, breathing and small gaze shifts",
    "nod": "two nods of about 8 degrees",
    "shake": "a head shake of about 12 degrees each way",
    "tilt": "the head tilts about 8 degrees to one side and holds",
    "smile": "a smile that eases in over 0.6 s and holds",
    "surprise": "raised brows, a slightly open mouth and wide eyes",
    "talk": "mouth openings timed as syllables of --text (or a talking rhythm), with head bobs",
}

# --- idle
BLINK_INTERVAL_MEAN = 3.5  # s, gamma-distributed ...
BLINK_INTERVAL_SHAPE = 6.0  # ... with this shape (sd ~1.4 s), clipped to:
BLINK_INTERVAL_RANGE = (2.0, 7.0)
BLINK_CLOSE = (0.045, 0.060)  # s, closing (fast) ...
BLINK_CLOSED = (0.020, 0.040)  # ... closed (at least one frame) ...
BLINK_OPEN = (0.075, 0.100)  # ... and opening (slower): 140-200 ms in all
SWAY_DEGREES = (1.8, 1.8, 1.0)  # peak pitch, yaw, roll of the sway
SWAY_BANDS = ((0.05, 0.12), (0.12, 0.25), (0.25, 0.45))  # Hz, one sinusoid each ...
SWAY_SHARES = (0.55, 0.3, 0.15)  # ... with these shares of the peak
BREATH_SHIFT = 0.01  # eye-corner distances, vertical
BREATH_HZ = (0.22, 0.28)
GAZE_SHIFT = 0.05  # eye widths, at most
GAZE_HOLD = (0.5, 2.0)  # s
GAZE_SACCADE = 0.05  # s
GAZE_CENTRE_ODDS = 0.35  # chance that a shift goes back to straight ahead

# --- head gestures
NOD_DEGREES = (8.0, 7.0)
NOD_SECONDS = 0.7  # each
SHAKE_DEGREES = 12.0
SHAKE_SECONDS = 1.6  # two cycles
TILT_DEGREES = 8.0
ONSET_AT = 0.2  # s into the clip (at most a tenth of it) that held gestures start

# --- expressions
SMILE_ONSET = 0.6  # s
SMILE_DECAY = 0.15  # share lost by the clip's end, from 1.5 s after the onset
SMILE_EYE_NARROWING = 0.1
SURPRISE_ONSET = 0.25
SURPRISE_BROWS, SURPRISE_JAW, SURPRISE_EYES = 1.0, 0.25, 1.2

# --- talk
SYLLABLE_RATE = 4.5  # syllables per second
MAX_SYLLABLE_RATE = 7.0  # the most a long text is sped up to before it is cut
COMMA_PAUSE = 0.25  # s, after , ; : and dashes
SENTENCE_PAUSE = 0.5  # s, after . ! ?
SPEECH_LEAD_IN = 0.15  # s of silence before the first syllable
ATTACK, DECAY = 0.06, 0.12  # s, of each syllable's jaw envelope
VOWEL_OPENING = {"a": 0.95, "o": 0.8, "e": 0.7, "u": 0.6, "i": 0.55}
VOWEL_PUCKER = {"o": 0.4, "u": 0.6}
OPENING_RANGE = (0.4, 1.0)
RHYTHM_RATE = (3.0, 6.0)  # syllables per second, without text
RHYTHM_PHRASE = (1.0, 3.0)  # s
RHYTHM_PAUSE = (0.3, 0.7)  # s
SPEECH_BOB_DEGREES = 1.0  # pitch bobs that follow the jaw
_SPEECH_BOB_SIGMA = 0.12  # s, smoothing of the jaw envelope into head motion

_VOWELS = "aeiouy"
_WORD = re.compile(r"[^\W_]")
_TOKENS = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[,;:\u2013\u2014]|[.!?\u2026]+")


@dataclass
class _Clip:
    """What one preset draws on: frame times, randomness and the user's options."""

    t: np.ndarray
    fps: float
    seconds: float
    rng: np.random.Generator
    seed: int
    text: str | None
    strength: float


@dataclass
class _Parts:
    """One preset's motion before it becomes a :class:`Motion` (``None``: nothing)."""

    euler: np.ndarray | None = None  # [T,3] degrees
    translation: np.ndarray | None = None  # [T,2]
    expression: np.ndarray | None = None  # [T,478,3]
    eye_open: np.ndarray | None = None  # [T] or [T,2]
    gaze: np.ndarray | None = None  # [T,2] (both eyes) or [T,2,2]


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(name.encode()), int(seed) & 0xFFFFFFFF])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    u = np.clip(x, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _hann_bump(t: np.ndarray, start: float, duration: float) -> np.ndarray:
    """0 -> 1 -> 0 over ``[start, start+duration]``, with zero slope at both ends."""
    u = np.clip((t - start) / duration, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(2 * np.pi * u)


def _onset(clip: _Clip) -> float:
    return min(ONSET_AT, 0.1 * clip.seconds)


def _centred_span(clip: _Clip, span: float) -> tuple[float, float]:
    """A gesture's (start, duration), shrunk to 85% of a short clip, centred in it."""
    span = min(span, 0.85 * clip.seconds)
    return (clip.seconds - span) / 2, span


# --------------------------------------------------------------------------------- presets


def _idle(clip: _Clip) -> _Parts:
    t, rng = clip.t, clip.rng
    # blinks: fast close, a closed moment of at least one frame, slower open
    eye = np.ones_like(t)
    at = rng.uniform(0.5, 3.0)
    while at < clip.seconds:
        close, opening = rng.uniform(*BLINK_CLOSE), rng.uniform(*BLINK_OPEN)
        closed = max(rng.uniform(*BLINK_CLOSED), 1.0 / clip.fps)
        shut = np.ones_like(t)
        shut = np.where(t < at + close, _smoothstep((t - at) / close), shut)
        after = t - at - close - closed
        shut = np.where(after > 0, 1.0 - _smoothstep(after / opening), shut)
        shut = np.where(t < at, 0.0, shut)
        eye = np.minimum(eye, 1.0 - shut)
        interval = rng.gamma(BLINK_INTERVAL_SHAPE, BLINK_INTERVAL_MEAN / BLINK_INTERVAL_SHAPE)
        at += float(np.clip(interval, *BLINK_INTERVAL_RANGE))
    # head sway: a few slow sinusoids per angle, random phases; peaks bounded by SWAY_DEGREES
    euler = np.zeros((len(t), 3))
    for axis, peak in enumerate(SWAY_DEGREES):
        for band, share in zip(SWAY_BANDS, SWAY_SHARES, strict=True):
            f, phase = rng.uniform(*band), rng.uniform(0, 2 * np.pi)
            euler[:, axis] += peak * share * np.sin(2 * np.pi * f * t + phase)
    # breathing
    translation = np.zeros((len(t), 2))
    f, phase = rng.uniform(*BREATH_HZ), rng.uniform(0, 2 * np.pi)
    translation[:, 1] = BREATH_SHIFT * np.sin(2 * np.pi * f * t + phase)
    # gaze: small fixations held 0.5-2 s, joined by quick saccades
    gaze = np.zeros((len(t), 2))
    current = np.zeros(2)
    at = rng.uniform(*GAZE_HOLD)
    while at < clip.seconds:
        if rng.random() < GAZE_CENTRE_ODDS:
            target = np.zeros(2)
        else:
            radius = GAZE_SHIFT * math.sqrt(rng.random())
            angle = rng.uniform(0, 2 * np.pi)
            target = radius * np.array([math.cos(angle), 0.6 * math.sin(angle)])
        step = _smoothstep((t - at) / GAZE_SACCADE)[:, None]
        gaze = np.where((t >= at)[:, None], current + step * (target - current), gaze)
        current = target
        at += rng.uniform(*GAZE_HOLD)
    return _Parts(euler=euler, translation=translation, eye_open=eye, gaze=gaze)


def _nod(clip: _Clip) -> _Parts:
    start, span = _centred_span(clip, NOD_SECONDS * len(NOD_DEGREES))
    each = span / len(NOD_DEGREES)
    pitch = sum(
        degrees * _hann_bump(clip.t, start + i * each, each)
        for i, degrees in enumerate(NOD_DEGREES)
    )
    euler = np.zeros((len(clip.t), 3))
    euler[:, 0] = pitch
    return _Parts(euler=euler)


def _shake(clip: _Clip) -> _Parts:
    start, span = _centred_span(clip, SHAKE_SECONDS)

    def shape(t: np.ndarray) -> np.ndarray:
        u = np.clip((t - start) / span, 0.0, 1.0)
        return np.sin(4 * np.pi * u) * (0.5 - 0.5 * np.cos(2 * np.pi * u))

    peak = np.abs(shape(start + span * np.linspace(0, 1, 2001))).max()
    euler = np.zeros((len(clip.t), 3))
    euler[:, 1] = SHAKE_DEGREES * shape(clip.t) / peak
    return _Parts(euler=euler)


def _tilt(clip: _Clip) -> _Parts:
    start = _onset(clip)
    euler = np.zeros((len(clip.t), 3))
    euler[:, 2] = TILT_DEGREES * _smoothstep((clip.t - start) / 0.6)
    return _Parts(euler=euler)


def _held(clip: _Clip, onset: float) -> np.ndarray:
    """0 -> 1 over ``onset`` seconds, held, then losing :data:`SMILE_DECAY` towards the end."""
    start = _onset(clip)
    rise = _smoothstep((clip.t - start) / onset)
    decay_from = start + onset + 1.5
    if clip.seconds <= decay_from:
        return rise
    return rise * (
        1.0 - SMILE_DECAY * _smoothstep((clip.t - decay_from) / (clip.seconds - decay_from))
    )


def _smile(clip: _Clip) -> _Parts:
    amount = _held(clip, SMILE_ONSET) * clip.strength
    return _Parts(
        expression=expressions.smile(amount),
        eye_open=1.0 - SMILE_EYE_NARROWING * amount,
    )


def _surprise(clip: _Clip) -> _Parts:
    amount = _held(clip, SURPRISE_ONSET) * clip.strength
    expression = expressions.brow_raise(SURPRISE_BROWS * amount) + expressions.jaw_open(
        SURPRISE_JAW * amount
    )
    return _Parts(expression=expression, eye_open=1.0 + (SURPRISE_EYES - 1.0) * amount)


def _talk(clip: _Clip) -> _Parts:
    t, rng = clip.t, clip.rng
    if clip.text is None:
        syllables = rhythm_times(clip.seconds, clip.seed)
    else:
        syllables = syllable_times(clip.text, clip.seconds)
    jaw = np.zeros_like(t)
    pucker = np.zeros_like(t)
    for start, _, vowel in syllables:
        if vowel:
            amplitude = VOWEL_OPENING[vowel] * rng.uniform(0.8, 1.15)
        else:
            amplitude = rng.uniform(*OPENING_RANGE)
        amplitude = float(np.clip(amplitude, *OPENING_RANGE))
        rise = _smoothstep((t - start) / ATTACK)
        fall = 1.0 - _smoothstep((t - start - ATTACK) / DECAY)
        envelope = np.where(t < start + ATTACK, rise, fall)
        # overlapping syllables take the larger opening, so every syllable stays its own peak
        jaw = np.maximum(jaw, amplitude * envelope)
        pucker = np.maximum(pucker, VOWEL_PUCKER.get(vowel, 0.0) * envelope)
    jaw, pucker = jaw * clip.strength, pucker * clip.strength
    # head bobs: the jaw's envelope smoothed over ~a syllable, at most SPEECH_BOB_DEGREES
    sigma = _SPEECH_BOB_SIGMA * clip.fps
    radius = max(1, math.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    smooth = np.convolve(np.pad(jaw, radius, mode="edge"), kernel / kernel.sum(), mode="valid")
    euler = np.zeros((len(t), 3))
    if smooth.max() > 0:  # strength scales it with the other angles, in _to_motion
        euler[:, 0] = SPEECH_BOB_DEGREES * smooth / smooth.max()
    expression = expressions.jaw_open(jaw) + expressions.lips_pucker(pucker)
    return _Parts(euler=euler, expression=expression)


# Each preset's maker. Angles, shifts, gaze and (but for _STRENGTH_INSIDE) the eyes' departures
# from open are scaled by strength in _to_motion; expression amounts are scaled inside the
# makers (the jaw's rotation is not linear in its amount).
_MAKERS: dict[str, Callable[[_Clip], _Parts]] = {
    "idle": _idle,
    "nod": _nod,
    "shake": _shake,
    "tilt": _tilt,
    "smile": _smile,
    "surprise": _surprise,
    "talk": _talk,
}
_STRENGTH_INSIDE = {"smile", "surprise"}  # these scale eye_open with their amount already


# --------------------------------------------------------------------------------- speech


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_syllables(word: str) -> list[str]:
    """A word's syllables as their vowels (``a e i o u``): one per vowel group, at least one.

    A rough English count: ``y`` is a vowel, and a final silent ``e`` (``make``, not ``table``
    or ``free``) is no syllable of its own.
    """
    plain = _plain(word)
    groups = re.findall(f"[{_VOWELS}]+", plain)
    silent_e = plain.endswith("e") and not plain.endswith(("le", "ee", "ye"))
    if len(groups) > 1 and silent_e and groups[-1] == "e":
        groups = groups[:-1]
    vowels = [("i" if g[0] == "y" else g[0]) for g in groups]
    return vowels or ["e"]


def syllable_times(text: str, seconds: float) -> list[tuple[float, float, str]]:
    """``(start, end, vowel)`` of each syllable of ``text`` as spoken in ``seconds``.

    Syllables are vowel groups (:func:`word_syllables`), laid out back to back at
    :data:`SYLLABLE_RATE` per second after a :data:`SPEECH_LEAD_IN`, with
    :data:`COMMA_PAUSE` after commas and :data:`SENTENCE_PAUSE` after sentence ends. A text
    that does not fit is spoken faster, up to :data:`MAX_SYLLABLE_RATE` (pauses shrink
    alike), and what still does not fit is cut. ``vowel`` is one of ``a e i o u``.
    """
    events: list[tuple[str, float | str]] = []  # ("s", vowel) or ("p", pause seconds)
    for token in _TOKENS.findall(text):
        if token[0] in ".!?\u2026":
            pause = SENTENCE_PAUSE
        elif token in ",;:\u2013\u2014":
            pause = COMMA_PAUSE
        else:
            events.extend(("s", v) for v in word_syllables(token))
            continue
        if events and events[-1][0] == "p":
            events[-1] = ("p", max(float(events[-1][1]), pause))
        elif events:
            events.append(("p", pause))
    while events and events[-1][0] == "p":
        events.pop()
    count = sum(1 for kind, _ in events if kind == "s")
    pauses = sum(float(length) for kind, length in events if kind == "p")
    natural = SPEECH_LEAD_IN + count / SYLLABLE_RATE + pauses
    speedup = min(max(natural / seconds, 1.0), MAX_SYLLABLE_RATE / SYLLABLE_RATE)
    step = 1.0 / (SYLLABLE_RATE * speedup)
    out = []
    at = SPEECH_LEAD_IN / speedup
    for kind, value in events:
        if kind == "p":
            at += float(value) / speedup
            continue
        if at + step > seconds + 1e-9:
            break
        out.append((at, at + step, str(value)))
        at += step
    return out


def rhythm_times(seconds: float, seed: int = 0) -> list[tuple[float, float, str]]:
    """A talking rhythm without text, shaped like :func:`syllable_times` (vowel ``""``).

    Phrases of :data:`RHYTHM_PHRASE` seconds at :data:`RHYTHM_RATE` syllables per second
    (each phrase its own rate, each syllable +-15% around it), separated by
    :data:`RHYTHM_PAUSE` pauses. It is the ``talk`` preset's timing for the same ``seed``.
    """
    rng = _rng(seed, "talk.rhythm")
    out: list[tuple[float, float, str]] = []
    at = rng.uniform(0.1, 0.4)
    while True:
        phrase_end = at + rng.uniform(*RHYTHM_PHRASE)
        rate = rng.uniform(*RHYTHM_RATE)
        while at < phrase_end:
            step = rng.uniform(0.85, 1.15) / rate
            if at + step > seconds:
                return out
            out.append((at, at + step, ""))
            at += step
        at += rng.uniform(*RHYTHM_PAUSE)


# --------------------------------------------------------------------------------- generate


def _names(spec: str | list[str]) -> list[str]:
    items = [spec] if isinstance(spec, str) else list(spec)
    names = [n.strip().lower() for item in items for n in str(item).split("+")]
    if not any(names):
        raise InputError("no motion preset given", f"name one or more of: {', '.join(PRESETS)}")
    unknown = [n for n in names if n not in PRESETS]
    if unknown or not all(names):
        bad = ", ".join(repr(n) for n in unknown) or "an empty name"
        raise InputError(
            f"unknown motion preset {bad}",
            f"valid presets: {', '.join(PRESETS)}; combine them with '+', e.g. idle+talk",
        )
    return names


def _to_motion(parts: _Parts, frames: int, fps: float, strength: float, scale_eyes: bool) -> Motion:
    motion = Motion.still(frames, fps)
    if parts.euler is not None:
        euler = parts.euler * strength
        motion.rotation = np.stack([euler_to_rotation(*e) for e in euler]).astype(np.float32)
    if parts.translation is not None:
        motion.translation = (parts.translation * strength).astype(np.float32)
    if parts.expression is not None:
        motion.expression = parts.expression.astype(np.float32)
    if parts.eye_open is not None:
        eye = parts.eye_open if parts.eye_open.ndim == 2 else parts.eye_open[:, None]
        if scale_eyes:
            eye = 1.0 - strength * (1.0 - eye)
        motion.eye_open = np.broadcast_to(np.maximum(eye, 0.0), (frames, 2)).astype(np.float32)
    if parts.gaze is not None:
        gaze = parts.gaze if parts.gaze.ndim == 3 else parts.gaze[:, None, :]
        motion.gaze = np.broadcast_to(gaze * strength, (frames, 2, 2)).astype(np.float32)
    return motion


def generate(
    spec: str | list[str],
    *,
    seconds: float,
    fps: float,
    seed: int = 0,
    text: str | None = None,
    strength: float = 1.0,
) -> Motion:
    """A procedural :class:`Motion` of ``round(seconds*fps)`` frames.

    ``spec`` names one or more of :data:`PRESETS`, joined by ``+`` or as a list; their motions
    are added. ``text`` is what ``talk`` says (ignored by the others); ``strength`` scales all
    amplitudes (0 gives no motion). The same arguments always give the same motion.
    """
    names = _names(spec)
    if not (math.isfinite(seconds) and seconds > 0):
        raise InputError(f"motion length must be positive, not {seconds} s", "pass seconds > 0")
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"frame rate must be positive, not {fps}", "pass fps > 0, e.g. 25")
    if not (math.isfinite(strength) and strength >= 0):
        raise InputError(f"strength must be 0 or more, not {strength}", "1 is the presets' own")
    frames = round(seconds * fps)
    if frames < 1:
        raise InputError(
            f"{seconds} s at {fps} fps is no frame at all", "make the clip at least one frame long"
        )
    if text is not None and "talk" in names and not _WORD.search(text):
        raise InputError("the text to speak has no words", "pass some words, or no text at all")
    t = np.arange(frames, dtype=np.float64) / fps
    motion: Motion | None = None
    for name in names:
        clip = _Clip(t, float(fps), float(seconds), _rng(seed, name), seed, text, strength)
        parts = _MAKERS[name](clip)
        part = _to_motion(parts, frames, fps, strength, name not in _STRENGTH_INSIDE)
        motion = part if motion is None else motion + part
    assert motion is not None
    return motion
