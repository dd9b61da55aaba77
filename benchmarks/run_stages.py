"""``unflat run`` stage by stage: the bundled portrait speaking 8 s of text, on this CPU.

Each repeat runs the whole command in a fresh output folder (a new process, as a user would)
and reads the seconds and peak memory of every stage from its ``run.json``; the table gives the
median per stage and end to end (wall clock of the process, imports and model loading included),
and the ratio to the clip's length (the target is at most 8x).

    python benchmarks/run_stages.py --repeats 3
    python benchmarks/run_stages.py --repeats 3 -- --depth my_depth.npy   # extra run options
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# 8.0 s of sound (7.5 s of speech and the 0.6 s tail) in eSpeak NG's default English voice.
TEXT = (
    "Good evening. I have been sitting in this frame for five hundred years, smiling at "
    "everyone who walks by. Now I can speak."
)


def _processor() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    fields = dict(line.split(":", 1) for line in lines.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    return f"{fields.get('Model name', '?').strip()}; {' '.join(simd)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="more `unflat run` options, after --")
    args = parser.parse_args()
    print(f"processor: {_processor()}; cores: {os.cpu_count()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    stages: dict[str, list[float]] = {}
    memory: dict[str, list[float]] = {}
    walls, clips = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "unflat", "run", "-o", folder, "--text", TEXT,
                       *args.extra]  # fmt: skip
            start = time.perf_counter()
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            subprocess.run(command, check=True, **quiet)
            walls.append(time.perf_counter() - start)
            record = json.loads((Path(folder) / "run.json").read_text())
        for name, stage in record["stages"].items():
            stages.setdefault(name, []).append(stage["seconds"])
            memory.setdefault(name, []).append(stage["peak_memory_mb"])
        clips.append(record["stages"]["video"]["frames"] / 25.0)
    clip = statistics.median(clips)
    print(f"load average after: {os.getloadavg()[0]:.2f}; clip {clip:.2f} s")
    print("| stage | median s | runs (s) | peak memory (MB) |")
    print("|---|---|---|---|")
    for name, values in stages.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        peak = max(memory[name])
        print(f"| {name} | {statistics.median(values):.2f} | {runs} | {peak:.0f} |")
    wall = statistics.median(walls)
    runs = ", ".join(f"{v:.1f}" for v in walls)
    print(f"| end to end (process) | {wall:.1f} | {runs} | |")
    print(f"ratio to the clip: {wall / clip:.2f}x (target <= 8x)")


if __name__ == "__main__":
    main()
