"""Speed of face tracking and portrait rendering, per frame, on this machine's CPU.

Tracking runs on the first frames of a talking-head clip, resized to 512x512 and at its own size;
rendering animates a portrait (the bundled Mona Lisa, resized to 512x512, at its own 512x640, and
upscaled to 3840x4800) with the clip's motion, and four shots of it at 512x512 (few-shot
blending); at 512x512 also rendering and encoding together, as ``unflat animate`` runs them
(frames rendered in threads beside the encoder). Medians over ``--repeats`` runs. ``--busy``
runs a CPU-bound process beside the measurement (a shared machine); ``--quick`` measures 512x512
only. Each figure is wall-clock, then CPU time in brackets.

    python benchmarks/face_speed.py --video ../shared/data/faces/videos/talk_1.mp4
    python benchmarks/face_speed.py --video ../shared/data/faces/videos/talk_1.mp4 --quick --busy
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import cv2
import numpy as np


class _Ms(float):
    """Median wall-clock milliseconds per frame, shown with the median CPU milliseconds (all
    the process's threads), which a busy machine disturbs far less."""

    cpu: float

    def __format__(self, spec: str) -> str:
        return f"{float(self):{spec}} (CPU {self.cpu:{spec}})"


def _median_ms(fn, frames: int, repeats: int) -> _Ms:
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) / frames * 1000)
        cpu.append((time.process_time() - start_cpu) / frames * 1000)
    result = _Ms(statistics.median(times))
    result.cpu = statistics.median(cpu)
    return result


@contextlib.contextmanager
def _beside(busy: bool) -> Iterator[None]:
    """With ``busy``, a CPU-bound process runs for the whole block (another user's job)."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(0.5 if busy else 0.0)
        yield
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", required=True)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="a CPU-bound process runs beside")
    parser.add_argument("--quick", action="store_true", help="512x512 only")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}; busy neighbour: {args.busy}; "
          f"cores: {os.cpu_count()}")  # fmt: skip
    with _beside(args.busy):
        _measure(args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def _measure(args: argparse.Namespace) -> None:
    import torch

    from unflat.face.animate import Animator
    from unflat.face.motion import from_track
    from unflat.face.track import track
    from unflat.io.images import read_photo
    from unflat.io.video import read_video
    from unflat.pipelines.animate import bundled_portrait

    torch.set_num_threads(torch.get_num_threads())
    with read_video(args.video) as reader:
        clip = [f for _, f in zip(range(args.frames), reader, strict=False)]
    small = [cv2.resize(f, (512, 512), interpolation=cv2.INTER_AREA) for f in clip]
    n = len(clip)
    print(f"frames: {n}; torch threads: {torch.get_num_threads()}")
    sizes = (("512x512", small), (f"{clip[0].shape[1]}x{clip[0].shape[0]}", clip))
    for name, frames in sizes[: 1 if args.quick else 2]:
        ms = _median_ms(lambda fr=frames: track(fr, fps=25.0), n, args.repeats)
        print(f"track  {name:>10}: {ms:6.1f} ms/frame")

    motion = from_track(track(small, fps=25.0))
    mona = read_photo(bundled_portrait()).rgb
    portraits = {
        "512x512": cv2.resize(mona, (512, 512), interpolation=cv2.INTER_AREA),
        "512x640": mona,
        "3840x4800": cv2.resize(mona, (3840, 4800), interpolation=cv2.INTER_CUBIC),
    }
    for name, image in list(portraits.items())[: 1 if args.quick else 3]:
        animator = Animator([image])
        limited = animator.limited(motion)
        targets = [animator.target_landmarks(limited, t) for t in range(len(limited))]

        def render(a: Animator = animator, ts: list[np.ndarray] = targets) -> None:
            for target in ts:
                a.render(target)

        reps = args.repeats if image.shape[0] <= 1000 else 1
        print(f"render {name:>10}: {_median_ms(render, len(targets), reps):6.1f} ms/frame")
        if name == "512x512":
            _end_to_end(animator, motion, reps)

    if args.quick:
        return
    # few-shot: three extra "shots" (the painting mirrored, and both versions slightly shrunk)
    square = portraits["512x512"]
    mirrored = np.ascontiguousarray(square[:, ::-1])
    shrunk = [
        cv2.resize(cv2.resize(s, (460, 460)), (512, 512), interpolation=cv2.INTER_CUBIC)
        for s in (square, mirrored)
    ]
    animator = Animator([square, mirrored, *shrunk])
    limited = animator.limited(motion)
    targets = [animator.target_landmarks(limited, t) for t in range(len(limited))]

    def render_shots(a: Animator = animator, ts: list[np.ndarray] = targets) -> None:
        for target in ts:
            a.render(target)

    ms = _median_ms(render_shots, len(targets), args.repeats)
    print(f"render {'512x512':>10}, 4 shots: {ms:6.1f} ms/frame")


def _end_to_end(animator, motion, repeats: int) -> None:
    """Render and encode (H.264, to a temporary file) as ``unflat animate`` does: frames render
    in ``frame_workers()`` threads while this one encodes."""
    import tempfile
    from pathlib import Path

    from unflat.face.animate import animate_warped
    from unflat.io.video import VideoWriter

    with tempfile.TemporaryDirectory() as folder:

        def run() -> None:
            path = Path(folder) / "out.mp4"
            with VideoWriter(path, 25.0, overwrite=True) as writer:
                for frame, _ in animate_warped(animator, motion):
                    writer.write(frame)

        ms = _median_ms(run, len(motion), repeats)
    try:
        from unflat.device import frame_workers

        how = f"{frame_workers()} rendering thread(s)"
    except ImportError:  # the code before frames were pipelined, for comparisons
        how = "rendered in turn"
    print(f"render+encode 512x512, {how}: {ms:6.1f} ms/frame")


if __name__ == "__main__":
    main()
