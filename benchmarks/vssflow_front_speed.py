"""Seconds per 10 s window of VSSFlow's front ends on CPU, full size, random weights (fp32).

    PYTHONPATH=src python benchmarks/vssflow_front_speed.py [threads]

Times (median of 3 after one warm-up): the mel + VAE encoding of 10 s of audio (training's
side), the VAE decoding of a [1, 128, 250] latent, the HiFi-GAN on 1000 mel frames, and CLIP
ViT-B/16 on 10 frames (a window has 100: ten times that); peak memory is the process's
maximum resident size.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

import torch

from unflat.nn.clip_vit import ClipVisionModel
from unflat.sound.vssflow.codec import LatentCodec
from unflat.sound.vssflow.hifigan import HifiGan
from unflat.sound.vssflow.vae import MelVAE


def _median_seconds(run, repeats: int = 3) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    torch.manual_seed(0)
    codec = LatentCodec(MelVAE().eval(), HifiGan().eval())
    clip = ClipVisionModel().eval()
    wave = torch.randn(1, 160000) * 0.1
    latent = torch.randn(1, 128, 250)
    mel = torch.randn(1, 1000, 64)
    pixels = torch.randn(10, 3, 224, 224)
    with torch.no_grad():
        rows = {
            "mel + VAE encode (10 s audio)": lambda: codec.encode(wave),
            "VAE decode [1, 128, 250]": lambda: codec.decode_mel(latent),
            "HiFi-GAN 1000 frames": lambda: codec.vocoder(mel),
            "CLIP ViT-B/16, 10 frames": lambda: clip(pixels),
        }
        for name, run in rows.items():
            print(f"{name}: {_median_seconds(run):.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB; threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
