"""Seconds per 1536x1536 image and peak memory of full-size Depth Pro, per precision path.

Every configuration runs in its own process (so its peak memory is its own), on random weights
(time does not depend on their values), and the median of ``--runs`` timed ``infer`` calls is
reported (the first call, which includes one-off kernel setup, is among them), with the process
CPU time of each call beside it (on a shared machine, wall time counts the neighbours' work too).
The run starts by printing the date, ``uptime`` and the CPU's ``lscpu`` model and flags, and ends
with ``uptime`` again; ``--timeout`` stops a path that takes longer. Paths:

- ``fp32``: the reference; ``bf16`` / ``fp16``: the whole model in that dtype (channels-last
  convolutions on the CPU); ``int8``: int8 transformer matmuls + bf16 convolutions (a CPU with
  bf16 kernels; elsewhere the same as ``int8-fp32``);
  ``int8-fp32``: int8 transformer matmuls + fp32 convolutions (CPU);
- ``autocast-bf16`` / ``autocast-fp16``: the fp32 model under ``torch.autocast``;
- ``compile-<path>``: the same after ``torch.compile``;
- ``reference-fp32`` / ``reference-autocast-bf16``: the published apple/ml-depth-pro code, given
  ``--reference-src`` (its checkout's ``src`` folder) and an importable timm (``--timm DIR``,
  e.g. from ``pip install --no-deps --target DIR timm``); torchvision is stubbed, see
  ``torchvision_stub.py``;
- ``auto``: the path ``--precision auto`` picks on this machine; it is resolved first and says
  what it chose and why in one line, and its row carries the chosen path's name.

    python benchmarks/depth_pro_speed.py --device cpu --paths fp32 bf16 int8 --runs 3
    python benchmarks/depth_pro_speed.py --device cuda --paths fp32 fp16 bf16 compile-fp16
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_PATHS = ("fp32", "bf16", "fp16", "int8", "int8-fp32", "autocast-bf16", "autocast-fp16")
PATHS = (
    *BASE_PATHS,
    *(f"compile-{p}" for p in BASE_PATHS),
    "reference-fp32",
    "reference-autocast-bf16",
    "reference-autocast-fp16",
    "auto",
)


def build_unflat(path: str, device):
    import torch

    import unflat
    from unflat.nn.inference import apply_precision
    from unflat.nn.vit import VisionTransformer

    torch.manual_seed(0)
    model = unflat.build_model({"architecture": "depth_pro"}).eval().requires_grad_(False)
    model.to(device)
    if path.startswith("autocast"):
        return model, torch.float32
    return model, apply_precision(model, path, device, (VisionTransformer,))


def build_reference(src: str, timm_dir: str | None, device):
    sys.path.insert(0, str(Path(__file__).parent))
    import torchvision_stub

    torchvision_stub.install()
    if timm_dir:
        sys.path.insert(0, timm_dir)
    sys.path.insert(0, src)
    import torch
    from depth_pro.depth_pro import DepthProConfig, create_model_and_transforms

    torch.manual_seed(0)
    config = DepthProConfig(
        patch_encoder_preset="dinov2l16_384",
        image_encoder_preset="dinov2l16_384",
        fov_encoder_preset="dinov2l16_384",
        decoder_features=256,
        use_fov_head=True,
        checkpoint_uri=None,
    )
    model, _ = create_model_and_transforms(config, device=device)
    return model.eval().requires_grad_(False), torch.float32


def resolve_auto(argv: list[str]) -> list[str]:
    """``argv`` with the path ``auto`` among ``--paths`` replaced by the path that
    ``--precision auto`` picks here for full-size Depth Pro (which says its choice)."""
    if "--paths" not in argv:
        return argv
    start = argv.index("--paths") + 1
    end = next((i for i in range(start, len(argv)) if argv[i].startswith("--")), len(argv))
    if "auto" not in argv[start:end]:
        return argv
    import torch

    from unflat.device import resolve_precision
    from unflat.nn.precision_probe import PrecisionProbe

    if "--threads" in argv and int(argv[argv.index("--threads") + 1]):
        torch.set_num_threads(int(argv[argv.index("--threads") + 1]))
    device = torch.device(argv[argv.index("--device") + 1] if "--device" in argv else "cpu")
    chosen = resolve_precision("auto", device, PrecisionProbe(device))
    # Once each: auto's row is its chosen path's row when that path is also asked for.
    paths = list(dict.fromkeys(chosen if path == "auto" else path for path in argv[start:end]))
    return [*argv[:start], *paths, *argv[end:]]


def run_one(args: argparse.Namespace) -> dict:
    """Time one configuration in this process."""
    import torch

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.path
    compiled = path.startswith("compile-")
    base = path.removeprefix("compile-").removeprefix("reference-")
    if path.startswith("reference"):
        model, dtype = build_reference(args.reference_src, args.timm, device)
    else:
        model, dtype = build_unflat(base, device)
    if compiled:
        model.forward = torch.compile(model.forward)
    autocast = contextlib.nullcontext()
    if base.startswith("autocast"):
        autocast_dtype = torch.bfloat16 if base.endswith("bf16") else torch.float16
        autocast = torch.autocast(device.type, dtype=autocast_dtype)
    generator = torch.Generator().manual_seed(1)
    image = (torch.rand(3, 1536, 1536, generator=generator) * 2 - 1).to(device, dtype)
    seconds, cpu_seconds = [], []
    for _ in range(args.runs):
        cpu_start = time.process_time()
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode(), autocast:
            out = model.infer(image)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
        if not torch.isfinite(out["depth"].float()).all():
            raise RuntimeError(f"{path}: non-finite depth")
    result = {
        "path": path,
        "device": str(device),
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "cpu_seconds": cpu_seconds,
        "median_cpu_s": statistics.median(cpu_seconds),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        result["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1024**3
        result["gpu"] = torch.cuda.get_device_name()
    return result


def describe_machine() -> None:
    """Print the date, the load and the CPU's model and feature flags (Linux)."""
    print(time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with contextlib.suppress(OSError):
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            if line.startswith(("Model name", "CPU(s):", "Flags")):
                print(" ".join(line.split()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=["fp32", "bf16", "int8"])
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--reference-src", help="apple/ml-depth-pro checkout's src folder")
    parser.add_argument("--timm", help="folder holding an importable timm")
    parser.add_argument("--json", type=Path, help="append one JSON line per path here")
    parser.add_argument("--timeout", type=float, help="stop a path after this many seconds")
    args = parser.parse_args()
    if args.path:  # a child process: time one configuration, print its JSON
        print(json.dumps(run_one(args)))
        return
    describe_machine()
    for path in args.paths:
        if path.startswith("reference") and not args.reference_src:
            print(f"skipping {path}: pass --reference-src", file=sys.stderr)
            continue
        command = [sys.executable, __file__, "--path", path, "--runs", str(args.runs)]
        command += ["--threads", str(args.threads), "--device", args.device]
        if args.reference_src:
            command += ["--reference-src", args.reference_src]
        if args.timm:
            command += ["--timm", args.timm]
        try:
            child = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{path:26s} stopped after {args.timeout:.0f} s", flush=True)
            continue
        if child.returncode:
            print(f"{path}: failed\n{child.stderr.strip()[-2000:]}", file=sys.stderr)
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result["machine"] = f"{platform.machine()}, {platform.node()}"
        peak = result.get("peak_gpu_gb", result["peak_rss_gb"])
        runs = [round(s, 2) for s in result["seconds"]]
        cpu = result["median_cpu_s"]
        print(
            f"{path:26s} median {result['median_s']:8.2f} s (CPU {cpu:8.1f} s)  runs {runs}  "
            f"peak {peak:.2f} GB",
            flush=True,
        )
        if args.json:
            with args.json.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    sys.argv = resolve_auto(sys.argv)
    main()
