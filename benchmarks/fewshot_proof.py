"""Does the few-shot model learn? Meta-learn on procedural faces, then score held-out people.

Meta-learns the tiny model on ``--identities`` synthetic people (one video each), then for
``--held-out`` unseen people (another seed) scores the last ``--eval-frames`` frames of their
video (never shown) with: the feed-forward model (shots "0": ê from 8 frames, no fine-tuning),
and the model fine-tuned for ``--finetune-steps`` on the first 1 and 8 frames. Writes
``{"shots": {"0": {"l1", "psnr", "landmarks"}, "1": ..., "8": ...}, "settings": ..., "seconds":
...}``; ``landmarks`` is null until a landmark reader works on 64 px synthetic faces, and the
real-face part (``"real"``) is not run yet. ``--sheet PNG`` writes a contact sheet: per held-out
person, rows of driving landmarks, real frames, then shots 0, 1 and 8.

    python benchmarks/fewshot_proof.py --json /tmp/fewshot.json --sheet /tmp/fewshot.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

from unflat.face.fewshot.config import tiny_config
from unflat.face.fewshot.evaluate import HELD_OUT_SEED, evaluate, person_frames
from unflat.face.fewshot.finetune import DISCRIMINATOR_RATE, GENERATOR_RATE
from unflat.face.fewshot.losses import FEATURE_MATCHING_WEIGHT, LossWeights
from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.face.fewshot.train import TrainSettings, train
from unflat.io.atomic import write_json
from unflat.io.images import save_rgb

# Held-out people come from another seed than the training people.


def contact_sheet(model, data: SyntheticFaces, videos: list[int], args: argparse.Namespace):
    """``uint8`` rows per person: landmarks, real, shots 0, 1, 8 (``eval_frames`` columns)."""
    rows = []
    for video in videos:
        made = {n: person_frames(model, data, video, n, 8, args.eval_frames, args.finetune_steps,
                                 rates=tuple(args.finetune_rates)) for n in (0, 1, 8)}  # fmt: skip
        _, real, shapes = made[0]
        for images in (shapes, real, made[0][0], made[1][0], made[8][0]):
            rows.append(torch.cat(list(images), dim=2))
    sheet = torch.cat(rows, dim=1).permute(1, 2, 0).clamp(0, 1).numpy()
    return (sheet * 255).round().astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", required=True)
    parser.add_argument("--sheet", help="contact sheet PNG")
    parser.add_argument("--identities", type=int, default=32)
    parser.add_argument("--held-out", type=int, default=4)
    parser.add_argument("--frames", type=int, default=32, help="frames per synthetic video")
    parser.add_argument("--steps", type=int, default=300, help="meta-learning steps")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--finetune-steps", type=int, default=40)
    parser.add_argument(
        "--rates",
        type=float,
        nargs=2,
        default=(GENERATOR_RATE, DISCRIMINATOR_RATE),
        help="meta-learning Adam rates of E+G and D (the paper's by default)",
    )
    parser.add_argument(
        "--finetune-rates", type=float, nargs=2, default=(GENERATOR_RATE, DISCRIMINATOR_RATE)
    )
    parser.add_argument(
        "--adversarial-weight", type=float, default=1.0, help="scales the hinge term (the paper: 1)"
    )
    parser.add_argument("--feature-matching-weight", type=float, default=FEATURE_MATCHING_WEIGHT)
    parser.add_argument("--eval-frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="run folder (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    training = SyntheticFaces(args.identities, frames=args.frames, size=args.size)
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, shots=8,
                             generator_rate=args.rates[0], discriminator_rate=args.rates[1],
                             weights=LossWeights(adversarial=args.adversarial_weight,
                                                 feature_matching=args.feature_matching_weight),
                             checkpoint_every=max(args.steps // 5, 1))  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        run = train(tiny_config(image_size=args.size), settings, training, args.out or scratch)
    meta_seconds = time.perf_counter() - started
    held_out = SyntheticFaces(args.held_out, frames=args.frames, size=args.size,
                              seed=HELD_OUT_SEED)  # fmt: skip
    videos = list(range(args.held_out))
    shots = evaluate(run.model, held_out, videos, eval_frames=args.eval_frames,
                     finetune_steps=args.finetune_steps,
                     finetune_rates=tuple(args.finetune_rates))  # fmt: skip
    result = {
        "shots": shots,
        "real": None,
        "meta_learning": {"first_l1": run.history[0]["l1"],
                          "last_l1": float(np.mean([h["l1"] for h in run.history[-20:]]))},
        "settings": vars(args),
        "seconds": {"meta_learning": meta_seconds, "total": time.perf_counter() - started},
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
    }  # fmt: skip
    write_json(args.json, result)
    if args.sheet:
        save_rgb(args.sheet, contact_sheet(run.model, held_out, videos, args))
    print(json.dumps(result["shots"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
