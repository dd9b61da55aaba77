"""Peak memory of full-size Depth Pro as a user runs it: weights loaded from a file, then one image.

``depth_pro_speed.py`` builds its models with random weights in memory; a user's run first
reads a weights file, which is where the old loader held two copies. This writes random
full-size weights once as an fp16 ``model.safetensors`` (1.9 GB, as the released file is),
then, one process per path, loads them with ``DepthEstimator.from_options`` and predicts one
1536x1536 image, printing resident and peak memory (``/proc/self/status``, Linux) after each step::

    python benchmarks/depth_pro_memory.py --paths fp32 int8-fp32 [--weights-dir DIR] [--no-image]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status_gb(key: str) -> float:
    with open("/proc/self/status") as status:
        return int(re.search(rf"^{key}:\s+(\d+)", status.read(), re.MULTILINE).group(1)) / 1e6


def write_weights(folder: Path) -> None:
    import torch
    from safetensors.torch import save_file

    import unflat

    torch.manual_seed(0)
    model = unflat.build_model({"architecture": "depth_pro"})
    state = {k: v.half().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"architecture": "depth_pro"}))


def run_one(folder: Path, path: str, image: bool, threads: int) -> dict:
    import numpy as np
    import torch

    from unflat.depth.predict import DepthEstimator
    from unflat.types import Photo

    torch.set_num_threads(threads)
    started, cpu = time.perf_counter(), time.process_time()
    estimator = DepthEstimator.from_options(weights=str(folder), precision=path)
    row = {
        "path": estimator.precision,
        "load_s": round(time.perf_counter() - started, 1),
        "load_cpu_s": round(time.process_time() - cpu, 1),
        "load_peak_gb": round(_status_gb("VmHWM"), 2),
        "resident_after_load_gb": round(_status_gb("VmRSS"), 2),
    }
    if image:
        rgb = (np.random.default_rng(0).random((1536, 1536, 3)) * 255).astype(np.uint8)
        started, cpu = time.perf_counter(), time.process_time()
        estimator.predict(Photo(rgb=rgb), f_px=1000.0)
        row["image_s"] = round(time.perf_counter() - started, 1)
        row["image_cpu_s"] = round(time.process_time() - cpu, 1)
    row["peak_gb"] = round(_status_gb("VmHWM"), 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", nargs="+", default=["fp32", "int8-fp32"])
    parser.add_argument("--weights-dir", type=Path, help="reuse (or write) the weights here")
    parser.add_argument("--no-image", action="store_true", help="load only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        row = run_one(args.weights_dir, args.one, not args.no_image, args.threads)
        print(json.dumps(row))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.weights_dir or Path(scratch)
        if not (folder / "model.safetensors").exists():
            write_weights(folder)
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        for path in args.paths:
            command = [sys.executable, __file__, "--one", path, "--weights-dir", str(folder)]
            command += ["--threads", str(args.threads)] + (["--no-image"] if args.no_image else [])
            done = subprocess.run(command, capture_output=True, text=True)
            lines = done.stdout.strip().splitlines()
            print(lines[-1] if done.returncode == 0 and lines else done.stderr[-2000:], flush=True)
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
