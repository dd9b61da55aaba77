"""Temporal smoothing of the motion stream the motion extractor reads from a driving video.

The extractor sees each driver frame alone, so its head angles, shift, scale and expression
offsets jitter from frame to frame, and the rendered face shimmers. The published pipeline runs a
Kalman smoother (forwards and backwards) over a whole source video's stream. Here the whole
driver's stream is read before the first frame is drawn, so it can be smoothed the same
zero-lag way: each quantity passes a One-Euro filter (:func:`unflat.face.smoothing.smooth_sequence`:
hard at rest, light when it moves fast) forwards, then the result backwards, so the two lags
cancel. The head's pose, shift and size move slowly and are smoothed hard; the expression offsets
carry speech (the lips open and close 3 to 6 times a second) and are smoothed lightly, so the
jitter at rest halves and a talking mouth keeps its full opening.
"""

from __future__ import annotations

import numpy as np
import torch

from unflat.face.smoothing import smooth_sequence

#: Per quantity: what counts as one unit (a degree of head angle; a hundredth of the crop's half
#: side for shifts, keypoints and expression offsets; a hundredth of the head's size), the
#: filter's cutoff at rest (Hz) and how fast it opens with speed (Hz per unit per second).
HEAD = (1.5, 0.02)
EXPRESSION = (3.0, 0.5)
SETTINGS = {"pitch": (1.0, *HEAD), "yaw": (1.0, *HEAD), "roll": (1.0, *HEAD),
            "t": (0.01, *HEAD), "scale": (0.01, *HEAD), "kp": (0.01, *HEAD),
            "exp": (0.01, *EXPRESSION)}  # fmt: skip

Motion = dict[str, torch.Tensor]


def smooth_both_ways(
    values: np.ndarray, times: np.ndarray, min_cutoff: float, beta: float
) -> np.ndarray:
    """``values`` ``[T,...]`` at ``times`` One-Euro filtered forwards, then backwards (no lag)."""
    forwards = smooth_sequence(values, times, min_cutoff=min_cutoff, beta=beta)
    backwards = smooth_sequence(forwards[::-1], times[-1] - times[::-1], min_cutoff=min_cutoff,
                                beta=beta)  # fmt: skip
    return backwards[::-1]


def smooth_motions(motions: list[Motion], times: np.ndarray) -> list[Motion]:
    """The stream ``motions`` (dicts of ``pitch``, ``yaw``, ``roll``, ``t``, ``exp``, ``scale``,
    ``kp`` tensors, one per frame at ``times`` seconds) smoothed; other entries pass as they
    are."""
    if len(motions) < 2:
        return list(motions)
    times = np.asarray(times, dtype=np.float64)
    smoothed = [dict(motion) for motion in motions]
    for key, (unit, min_cutoff, beta) in SETTINGS.items():
        if key not in motions[0]:
            continue
        first = motions[0][key]
        stacked = np.stack([m[key].detach().float().cpu().numpy() for m in motions]) / unit
        result = smooth_both_ways(stacked, times, min_cutoff, beta) * unit
        for motion, value in zip(smoothed, result, strict=True):
            motion[key] = torch.from_numpy(value).to(device=first.device, dtype=first.dtype)
    return smoothed
