"""Items per minute of ``unflat batch``: the local pool (1 and 2 workers) against Ray local.

Each run is the whole command (``python -m unflat batch ...``: start-up, the workers' or Ray's
start, the work) on the same album into a fresh folder; the median of ``--runs`` runs. Chains:
``scene,render`` (photo + depth map -> scene -> 3-frame video: CPU work only) and, with
``--weights``, ``depth,scene,render`` through the tiny reference Depth Pro.

    python benchmarks/batch_throughput.py --items 24 --runs 3
    python benchmarks/batch_throughput.py --items 6 --runs 1 \\
        --weights ../shared/fixtures/depth_pro_tiny_a
    # Ray's rows need Ray in the interpreter: --python /tmp/rayvenv/bin/python
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.pipelines.fakes import write_depths, write_photos  # noqa: E402

RENDER = ["--trajectory", "swipe", "--frames", "3", "--width", "48", "--height", "32"]


def chain(album: Path, depth: Path, weights: str | None) -> list[str]:
    if weights:
        return ["depth,scene,render", str(album), "--depth.weights", weights, "--method",
                "rgbd", *RENDER]  # fmt: skip
    return ["scene,render", str(album), "--depth", str(depth), "--method", "rgbd", "--focal-px",
            "60", *RENDER]  # fmt: skip


def timed(python: str, args: list[str], out: Path) -> float:
    start = time.perf_counter()
    command = [python, "-m", "unflat", "batch", *args, "-o", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--python", default=sys.executable, help="interpreter (Ray's rows)")
    parser.add_argument("--only", default="pool1,pool2,ray", help="which rows")
    parser.add_argument("--no-warm", dest="warm", action="store_false", help="no warm-up run")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unflat-bench-") as scratch:
        root = Path(scratch)
        names = [f"p{index:03d}.png" for index in range(options.items)]
        photos = write_photos(root / "in", names, size=(96, 64))
        args = chain(root / "in", write_depths(root / "depth", photos), options.weights)
        rows = {"pool1": ["--workers", "1"], "pool2": ["--workers", "2"], "ray": ["--ray", "local"]}
        if options.warm:
            timed(options.python, [*args, *rows["pool1"]], root / "warm")  # numba's cache...
        for name in options.only.split(","):
            seconds = [
                timed(options.python, [*args, *rows[name]], root / f"{name}{run}")
                for run in range(options.runs)
            ]
            median = statistics.median(seconds)
            per_minute = 60 * options.items / median
            runs = ", ".join(f"{value:.1f}" for value in seconds)
            print(f"{name}: {options.items} items, median {median:.1f} s ({runs}) -> "
                  f"{per_minute:.1f} items/min", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
