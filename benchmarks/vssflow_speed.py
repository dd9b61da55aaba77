"""Seconds to sample one 10 s window with the full-size VSSFlow network, and peak memory.

Random weights (time does not depend on their values, but the NFE of the adaptive sampler
does: a trained network's field is smoother or rougher than a random one's), batch 1, the
published conditions (random raw features) and classifier-free guidance (two DiT forwards per
evaluation, batched). Every configuration runs in its own process so its peak memory (max RSS)
is its own; the median of ``--runs`` samplings is reported.

    python benchmarks/vssflow_speed.py --configs fp32:dopri5 fp32:euler:10 bf16:midpoint:5 \\
        --threads 2 --runs 3

A configuration is ``DTYPE:METHOD[:STEPS]`` (dopri5's steps: output grid intervals, default 10).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time


def run_one(spec: str, runs: int, threads: int, guidance: float) -> dict:
    import torch

    import unflat
    from unflat.sound.vssflow.sample import sample_with_nfe

    torch.set_num_threads(threads)
    dtype_name, method, *rest = spec.split(":")
    steps = int(rest[0]) if rest else 10
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    torch.manual_seed(0)
    torch.set_default_dtype(dtype)  # built in its dtype: no fp32 copy in the peak memory
    model = unflat.build_model({"architecture": "vssflow"}).eval().requires_grad_(False)
    torch.set_default_dtype(torch.float32)
    cfg, raw = model.cfg, model.cfg.fixed_raw_input_dims
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        conditions = model.condition(
            torch.randn(1, 100, raw.clip_video, generator=g),  # 10 s of CLIP at 10 fps
            torch.randn(1, raw.rawnet_speaker, generator=g),
            torch.randn(1, 30, 8, raw.synchformer, generator=g),  # 24 tokens/s
            torch.randn(1, 250, raw.avhubert_lip, generator=g),  # 25 fps
            torch.randint(0, raw.phone_vocab, (1, 250), generator=g),
        )
    noise = torch.randn(1, cfg.latent_channels, cfg.latent_length, generator=g)
    # The ODE state stays fp32 (the sampler's error control needs it); the network runs in dtype.
    x = torch.cat([noise, conditions.channels.float()], dim=1)
    times, nfe = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        _, nfe = sample_with_nfe(
            model, x, conditions.cross_attn, guidance=guidance, method=method, steps=steps
        )
        times.append(time.perf_counter() - start)
    return {
        "config": spec,
        "median_s": statistics.median(times),
        "runs_s": [round(t, 2) for t in times],
        "nfe": nfe,
        "s_per_nfe": statistics.median(times) / nfe,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "latent_frames": cfg.latent_length,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", nargs="+", default=["fp32:dopri5", "fp32:euler:10"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.runs, args.threads, args.guidance)))
        return
    print(f"# {platform.processor() or platform.machine()}, {args.threads} threads")
    for spec in args.configs:
        command = [sys.executable, __file__, "--one", spec, "--runs", str(args.runs),
                   "--threads", str(args.threads), "--guidance", str(args.guidance)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{spec:18s} {result['median_s']:8.1f} s/window  NFE {result['nfe']:3d}  "
            f"{result['s_per_nfe']:6.2f} s/NFE  peak {result['peak_rss_gib']:.2f} GiB  "
            f"runs {result['runs_s']}"
        )


if __name__ == "__main__":
    main()
