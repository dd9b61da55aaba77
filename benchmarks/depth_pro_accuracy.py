"""Error of each Depth Pro precision path against fp32 and the published reference vectors.

Runs the tiny fixture model (``../shared/fixtures/depth_pro_tiny_a``) on its reference image
through every path and prints a Markdown table: canonical inverse depth and depth errors
against the reference, and the focal length.

    python benchmarks/depth_pro_accuracy.py [--fixture DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import unflat
from unflat.nn.inference import apply_precision
from unflat.nn.vit import VisionTransformer

DEFAULT_FIXTURE = Path(__file__).resolve().parents[2] / "shared/fixtures/depth_pro_tiny_a"


def load(folder: Path, path: str):
    config = json.loads((folder / "config.json").read_text())
    model = unflat.build_model(config).eval().requires_grad_(False)
    weights = load_file(str(folder / "model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    dtype = apply_precision(model, path, torch.device("cpu"), (VisionTransformer,))
    return model, dtype


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE)
    args = parser.parse_args()
    io = load_file(str(args.fixture / "io.safetensors"))
    print(
        "| path | inv. depth max abs err | fov err (deg) | depth max rel err | "
        "depth mean rel err | focal (px) |"
    )
    print("|---|---|---|---|---|---|")
    for path in ("fp32", "bf16", "int8"):
        model, dtype = load(args.fixture, path)
        image = io["image"].to(dtype)
        x = F.interpolate(image, size=(1536, 1536), mode="bilinear", align_corners=False)
        with torch.inference_mode():
            inverse_depth, fov = model(x)
            out = model.infer(image)
        inverse_error = inverse_depth.float()[..., ::4, ::4] - io["canonical_inverse_depth_s4"]
        relative = (out["depth"].float() - io["depth"]).abs() / io["depth"]
        print(
            f"| {path} | {inverse_error.abs().max():.2e} | "
            f"{abs(fov.float().item() - io['fov_deg'].item()):.3f} | {relative.max():.2e} | "
            f"{relative.mean():.2e} | {out['focallength_px'].float().item():.2f} |"
        )
    print(f"\nreference focal length: {io['focallength_px'].item():.2f} px")


if __name__ == "__main__":
    main()
