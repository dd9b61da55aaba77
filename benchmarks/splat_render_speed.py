"""Seconds per frame and peak memory of the splat renderer backends on a SHARP-sized scene.

The scene is synthetic but shaped like SHARP's output: 2 layers x 768x768 = 1,179,648 Gaussians
unprojected from a smooth depth map (1.5 to 6 m, focal 768 px), the second layer 10% behind the
first, with pixel-footprint scales, random rotations and colours and opacities in [0.5, 1]. It
is rendered at ``--width`` x ``--height`` (1024x768) by a camera 5 cm to the side and turned
2 degrees, with the source focal length. Every backend runs in its own process (so its peak
memory is its own); after one warm-up call the median of ``--runs`` calls is reported. For the
numba ``cpu`` backend the first call is also timed with an empty JIT cache (compile) and with
the cache a previous process left (load), and one extra call reports seconds per stage. On
CUDA, frames per second at 1920x1080 are added.

    python benchmarks/splat_render_speed.py --backends cpu torch --runs 5
    python benchmarks/splat_render_speed.py --device cuda --backends gsplat torch
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BACKENDS = ("cpu", "torch", "gsplat")
SOURCE_SIZE = 768  # SHARP predicts 2 Gaussians per pixel of a 768x768 image
SOURCE_FOCAL = 768.0


def build_scene(device: str, seed: int = 0):
    """The synthetic SHARP-sized scene, as :class:`~unflat.types.Gaussians` on ``device``."""
    import torch

    from unflat.types import Gaussians

    generator = torch.Generator().manual_seed(seed)
    size, focal = SOURCE_SIZE, SOURCE_FOCAL
    rows, columns = torch.meshgrid(
        torch.arange(size, dtype=torch.float32) + 0.5,
        torch.arange(size, dtype=torch.float32) + 0.5,
        indexing="ij",
    )
    u, v = columns / size, rows / size
    # A floor-to-wall slope with a few smooth bumps (objects) in front: 1.5 to 6 m.
    depth = 6.0 - 3.5 * v
    for cu, cv, radius, height in (
        (0.3, 0.6, 0.12, 1.5),
        (0.7, 0.5, 0.18, 2.0),
        (0.5, 0.3, 0.1, 1.0),
    ):
        depth = depth - height * torch.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * radius**2))
    depth = depth.clamp(min=1.5)
    layers = [depth, depth * 1.1]
    means, scales = [], []
    for layer in layers:
        x = (columns - size / 2) / focal * layer
        y = (rows - size / 2) / focal * layer
        means.append(torch.stack([x, y, layer], dim=-1).reshape(-1, 3))
        footprint = (layer / focal).reshape(-1, 1)  # one pixel at that depth, in metres
        jitter = 0.6 + 0.6 * torch.rand(footprint.shape[0], 3, generator=generator)
        jitter[:, 2] *= 0.3  # flat along the view ray, like splats fitted to a surface
        scales.append(footprint * jitter)
    count = 2 * size * size
    return Gaussians(
        means=torch.cat(means).to(device),
        scales=torch.cat(scales).to(device),
        quats=torch.randn(count, 4, generator=generator).to(device),
        colors=torch.rand(count, 3, generator=generator).to(device),
        opacities=(0.5 + 0.5 * torch.rand(count, generator=generator)).to(device),
    )


def build_camera(width: int, height: int, device: str):
    """The novel view: 5 cm to the right, turned 2 degrees about the vertical axis."""
    import torch

    from unflat.types import Camera

    focal = SOURCE_FOCAL * width / 1024  # 768 px at 1024 wide; the same field of view above
    angle = math.radians(2.0)
    world_to_camera = torch.eye(4)
    world_to_camera[:3, :3] = torch.tensor(
        [
            [math.cos(angle), 0.0, -math.sin(angle)],
            [0.0, 1.0, 0.0],
            [math.sin(angle), 0.0, math.cos(angle)],
        ]
    )
    world_to_camera[:3, 3] = world_to_camera[:3, :3] @ torch.tensor([-0.05, 0.0, 0.0])
    K = torch.tensor([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    return Camera(K=K.to(device), world_to_camera=world_to_camera.to(device), width=width,
                  height=height)  # fmt: skip


def run_one(args: argparse.Namespace) -> dict:
    """Time one backend in this process."""
    import torch

    from unflat.splat import render

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    gaussians = build_scene(device)
    camera = build_camera(args.width, args.height, device)

    def frame(width: int, height: int) -> float:
        view = camera if width == args.width else build_camera(width, height, device)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = render(gaussians, view, backend=args.backend, eps2d=0.3)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        if not bool(torch.isfinite(out.color).all()):
            raise RuntimeError(f"{args.backend}: non-finite colour")
        frame.coverage = float(out.alpha.mean())
        return seconds

    first = frame(args.width, args.height)  # warm-up: JIT compile or cache load, kernel setup
    seconds = [frame(args.width, args.height) for _ in range(args.runs)]
    result = {
        "backend": args.backend,
        "device": device,
        "size": f"{args.width}x{args.height}",
        "gaussians": len(gaussians),
        "first_s": first,
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "coverage": frame.coverage,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if args.backend == "cpu":
        import numba

        from unflat.splat.render import check_inputs
        from unflat.splat.render.numba_cpu import render_numba

        stages: dict[str, float] = {}
        render_numba(gaussians, camera, check_inputs(gaussians, camera, None, 0.01, 0.3),
                     timings=stages)  # fmt: skip
        result["stages_s"] = stages
        result["numba_threads"] = numba.get_num_threads()
    if device == "cuda":
        hd = [frame(1920, 1080) for _ in range(args.runs)]
        result["fps_1080p"] = 1.0 / statistics.median(hd)
        result["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1024**3
        result["gpu"] = torch.cuda.get_device_name()
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return result


def child(args: argparse.Namespace, backend: str, runs: int, env: dict[str, str]) -> dict | None:
    """Run one backend in a fresh process; None (and the error on stderr) if it failed."""
    command = [sys.executable, __file__, "--backend", backend, "--runs", str(runs)]
    command += ["--device", args.device, "--width", str(args.width), "--height", str(args.height)]
    command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        print(f"{backend}: failed\n{done.stderr.strip()[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=["cpu", "torch"])
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--torch-runs", type=int, default=3, help="runs for the slow torch path")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", help="append one JSON line per backend to this file")
    args = parser.parse_args()
    if args.backend:  # a child process: time one backend, print its JSON
        print(json.dumps(run_one(args)))
        return

    rows = []
    for backend in args.backends:
        runs = args.torch_runs if backend == "torch" else args.runs
        env = dict(os.environ)
        with tempfile.TemporaryDirectory() as cache:
            if backend == "cpu":
                # A cold cache first: its warm-up call is the JIT compile a new install pays.
                env["NUMBA_CACHE_DIR"] = cache
                cold = child(args, backend, 1, env)
            result = child(args, backend, runs, env)
        if result is None:
            continue
        if backend == "cpu" and cold is not None:
            result["compile_first_s"] = cold["first_s"]
        result["machine"] = f"{platform.machine()}, {platform.processor() or platform.node()}"
        rows.append(result)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(result) + "\n")

    print(f"\n{args.width}x{args.height}, {rows[0]['gaussians'] if rows else 0:,} Gaussians, "
          f"{args.device}\n")  # fmt: skip
    header = "| backend | median s/frame | runs (s) | first call (s) | peak RSS (GB) |"
    if args.device == "cuda":
        header += " peak GPU (GB) | fps 1920x1080 |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        first = f"{row['first_s']:.2f}"
        if "compile_first_s" in row:
            first = f"{row['compile_first_s']:.2f} compile, {row['first_s']:.2f} cached"
        line = f"| {row['backend']} | {row['median_s']:.3f} | "
        line += f"{', '.join(f'{s:.2f}' for s in row['seconds'])} | {first} | "
        line += f"{row['peak_rss_gb']:.2f} |"
        if args.device == "cuda":
            line += f" {row.get('peak_gpu_gb', 0):.2f} | {row.get('fps_1080p', 0):.1f} |"
        print(line)
    for row in rows:
        if "stages_s" in row:
            stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in row["stages_s"].items())
            print(f"\n{row['backend']} stages ({row['numba_threads']} threads): {stages}")


if __name__ == "__main__":
    main()
