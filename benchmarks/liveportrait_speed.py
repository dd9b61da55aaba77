"""CPU time of each LivePortrait network at the released size, with random weights.

Builds the full-size model (``build_model({"architecture": "liveportrait"})``, 130M parameters,
random weights: speed does not depend on their values) and times, on one 256x256 frame:
F (appearance features of the source), M (motion of a driving frame), W (warping), G (SPADE
decoder to 512x512, as ``decode`` minus W), W+G (``decode``), S (stitching + eye + lip MLPs) and
a driving frame (M + S + W+G: the source's F and M are computed once per clip). Each time is
given as wall time and as process CPU time (all threads), which a shared machine's load moves less.
Each precision runs in its own process, so its peak resident memory (``ru_maxrss``) is its own:
``fp32``, and ``bf16`` as ``torch.autocast("cpu", dtype=torch.bfloat16)`` over fp32 weights
(convolutions and matmuls in bf16, the rest fp32). Medians of ``--repeats`` runs after one
warm-up frame.

    python benchmarks/liveportrait_speed.py --threads 2 --repeats 3 --json /tmp/lp_speed.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

PRECISIONS = ("fp32", "bf16")


def _median_ms(step: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall time and median process CPU time (all threads) of ``step``, in ms.

    On a shared machine the wall time grows with the neighbours' load; the CPU time much less.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return round(statistics.median(walls), 1), round(statistics.median(cpus), 1)


def measure(precision: str, size: int, repeats: int, threads: int) -> dict:
    """Milliseconds per module and peak RSS for one precision, in this process."""
    import torch

    import unflat

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = unflat.build_model({"architecture": "liveportrait"}).eval().requires_grad_(False)
    source, driving = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16)
        if precision == "bf16"
        else contextlib.nullcontext()
    )
    with torch.inference_mode(), autocast:
        source_motion = model.motion(source)
        feature = model.extract_features(source)
        x_s = model.keypoints(source_motion)
        x_d = model.stitch(x_s, model.relative(source_motion, model.motion(driving), source_motion))
        output = tuple(model.decode(feature, x_s, x_d).shape)  # also the warm-up of W and G
        eye, lip = torch.full((1, 3), 0.3), torch.full((1, 2), 0.2)

        def retarget() -> None:
            model.stitch(x_s, x_d)
            model.retarget_eye(x_s, eye)
            model.retarget_lip(x_s, lip)

        steps = {
            "F extract_features": lambda: model.extract_features(source),
            "M motion": lambda: model.motion(driving),
            "S stitch+eye+lip": retarget,
            "W warp": lambda: model.warp(feature, x_s, x_d),
            "W+G decode": lambda: model.decode(feature, x_s, x_d),
        }
        measured = {name: _median_ms(step, repeats) for name, step in steps.items()}
    wall = {name: value[0] for name, value in measured.items()}
    cpu = {name: value[1] for name, value in measured.items()}
    # A driving frame: its motion, S and decode (the source's F and M are computed once).
    for table in (wall, cpu):
        table["G (decode - warp)"] = round(table["W+G decode"] - table["W warp"], 1)
        table["frame (M + S + decode)"] = round(
            table["M motion"] + table["S stitch+eye+lip"] + table["W+G decode"], 1
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "precision": precision,
        "wall_ms": wall,
        "cpu_ms": cpu,
        "peak_rss_mb": round(peak_mb),
        "output": output,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="input side (released: 256)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=PRECISIONS, help="measure one, in this process")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    args = parser.parse_args()
    if args.precision:
        result = measure(args.precision, args.size, args.repeats, args.threads)
        print(json.dumps(result))
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    load = os.getloadavg()
    results = []
    for precision in PRECISIONS:
        results.append(_in_subprocess(precision, args))
        print(json.dumps(results[-1]), flush=True)  # each as it ends: a slow bf16 loses nothing
    report = {"size": args.size, "threads": args.threads, "repeats": args.repeats}
    report.update({"load_average_before": load, "results": results})
    _print_table(results)
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(report, handle, indent=1)


def _in_subprocess(precision: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--precision", precision, "--size", str(args.size)]
    command += ["--repeats", str(args.repeats), "--threads", str(args.threads)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(results: list[dict]) -> None:
    """Wall and CPU milliseconds per module, one column pair per precision."""
    names = list(results[0]["wall_ms"])
    heads = [f"{r['precision']} {kind} (ms)" for r in results for kind in ("wall", "CPU")]
    print("| module | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for name in names:
        cells = [f"{r[kind][name]:.0f}" for r in results for kind in ("wall_ms", "cpu_ms")]
        print(f"| {name} | " + " | ".join(cells) + " |")
    peaks = [f"{r['peak_rss_mb']} MB" for r in results for _ in (0, 1)]
    print("| peak RSS | " + " | ".join(peaks) + " |")


if __name__ == "__main__":
    main()
