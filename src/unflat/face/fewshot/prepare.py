"""Turn talking-face videos into the training layout (``docs/fewshot.md``)::

    python -m unflat.face.fewshot.prepare VIDEO... --out ROOT [--size 256] [--clip-seconds 2]
        [--max-frames N]

Each video is tracked with our mesh, cut to one upright face square per clip (:mod:`.framing`,
the square the engine and the scores use) and written as ``ROOT/<video>/<video>/NNN.mp4`` with
its landmarks in clip pixels beside it (``NNN.landmarks.npy``, float32 ``[T,478,2]``). With
``clip_seconds`` a video is cut into clips of about that length (each a training video of its
own: one discriminator column), as VoxCeleb cuts its videos into utterances. One person per
video is assumed, as the folder names say.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unflat.errors import UnflatError, format_error
from unflat.face.fewshot.data import LANDMARK_SUFFIX
from unflat.face.fewshot.framing import clip_square, cut, to_square
from unflat.face.track import track
from unflat.io.atomic import atomic_write
from unflat.io.video import VideoWriter, read_video
from unflat.progress import Progress, prefixed


def clip_ranges(count: int, fps: float, clip_seconds: float | None) -> list[range]:
    """Frame ranges of about ``clip_seconds`` each (the whole video without it); a short tail
    joins the clip before it."""
    if not clip_seconds:
        return [range(count)]
    length = max(round(clip_seconds * fps), 2)
    starts = list(range(0, count, length))
    if len(starts) > 1 and count - starts[-1] < length // 2:
        starts.pop()
    ends = [*starts[1:], count]
    return [range(start, end) for start, end in zip(starts, ends, strict=True)]


def prepare_video(
    video: str | Path, root: str | Path, *, size: int = 256, clip_seconds: float | None = None,
    max_frames: int | None = None, progress: Progress | None = None,
) -> list[Path]:  # fmt: skip
    """Write ``video``'s clips (of its first ``max_frames`` frames) under ``root`` in the
    training layout; returns the clips."""
    video, root = Path(video), Path(root)
    face_track = track(video, neutral=0, max_frames=max_frames,
                       progress=prefixed(progress, f"{video.name}: "))  # fmt: skip
    with read_video(video) as reader:
        frames = [frame for frame, _ in zip(reader, range(len(face_track)), strict=False)]
    folder = root / video.stem / video.stem
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, span in enumerate(clip_ranges(len(frames), face_track.fps, clip_seconds)):
        landmarks = face_track.landmarks[span.start : span.stop]
        square = clip_square(landmarks)
        clip = folder / f"{number:03d}.mp4"
        with VideoWriter(clip, face_track.fps) as writer:
            for index in span:
                writer.write(cut(square, frames[index], size))
        with atomic_write(folder / f"{number:03d}{LANDMARK_SUFFIX}") as temporary:
            np.save(temporary, to_square(square, landmarks, size))
        written.append(clip)
    return written


def prepare_videos(
    videos: Sequence[str | Path], root: str | Path, *, size: int = 256,
    clip_seconds: float | None = None, max_frames: int | None = None,
    progress: Progress | None = None,
) -> list[Path]:  # fmt: skip
    """:func:`prepare_video` for each of ``videos``."""
    return [clip for video in videos
            for clip in prepare_video(video, root, size=size, clip_seconds=clip_seconds,
                                      max_frames=max_frames, progress=progress)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """The entry point; exit code 2 with one line on bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m unflat.face.fewshot.prepare", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("videos", nargs="+", help="talking-face videos, one person each")
    parser.add_argument("--out", required=True, help="dataset ROOT to write")
    parser.add_argument("--size", type=int, default=256, help="clip side in pixels")
    parser.add_argument("--clip-seconds", type=float, help="cut videos into clips this long")
    parser.add_argument("--max-frames", type=int, help="use only each video's first frames")
    args = parser.parse_args(argv)
    try:
        for clip in prepare_videos(args.videos, args.out, size=args.size,
                                   clip_seconds=args.clip_seconds,
                                   max_frames=args.max_frames):  # fmt: skip
            print(clip)
    except UnflatError as error:
        print(format_error(error), file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
