"""Does the few-shot model learn? Meta-learn on procedural faces, then score held-out people.

1. Meta-learns the proof model (``proof_config``: 64 px, widths 16 to 64) on ``--identities``
   synthetic people (one video each): ``--warmup-steps`` by the content loss alone (by default
   all of them: at this scale the paper's adversarial terms raised L1, BENCHMARKS.md), then the
   paper's losses (feature matching normalised per block, see ``losses.feature_matching``).
2. Trains the landmark reader for procedural faces (``landmark_reader``, its own identities).
3. For ``--held-out`` unseen people (another seed) scores the last ``--eval-frames`` frames of
   their video (never shown) with: the feed-forward model (shots "0": ê from 8 frames, no
   fine-tuning) and the model fine-tuned for ``--finetune-steps`` on the first 1 and 8 frames.
   ``shots`` fine-tunes with the meta-learning's last losses (the content loss alone when the
   warm-up is the whole run, the default); ``shots_adversarial_finetuning`` with the paper's
   adversarial terms (the same people, for comparison).
4. The real-face part, when its module is importable (``"real"``; null otherwise).

Writes ``{"shots": {"0": {"l1", "psnr", "landmarks"}, "1": ..., "8": ...}, "real": ...,
"landmarks_floor": .., ...}``; ``landmarks`` is the mean distance in pixels between the points
the reader finds in the output and the driving landmarks, ``landmarks_floor`` the same on the
real frames. ``--sheet`` writes a contact sheet: per held-out person, rows of driving landmarks,
real frames, then shots 0, 1 and 8.

    python benchmarks/fewshot_proof.py --json /tmp/fewshot.json --sheet /tmp/fewshot.jpg
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

from unflat.face.fewshot.config import proof_config
from unflat.face.fewshot.evaluate import HELD_OUT_SEED, evaluate
from unflat.face.fewshot.landmark_reader import landmark_error, train_reader
from unflat.face.fewshot.losses import FEATURE_MATCHING_WEIGHT, LossWeights
from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.face.fewshot.train import TrainSettings, train
from unflat.io.atomic import write_json
from unflat.io.images import save_rgb

SHOTS = (0, 1, 8)
REAL_CLIP = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "faces",
                         "videos", "talk_1.mp4")  # fmt: skip


def real_faces(model, args: argparse.Namespace, weights: LossWeights) -> dict | None:
    """REAL-FACE PART: ``{"1", "8", "classical"}`` on a shared talking clip, when the real-face
    scoring module (another engineer's part) is importable and the clip is there; else None."""
    try:
        from unflat.face.fewshot.real_faces import real_face_scores
    except ImportError:
        return None
    if not os.path.isfile(REAL_CLIP):
        return None
    return real_face_scores(model, REAL_CLIP, finetune_steps=args.finetune_steps,
                            finetune_rates=tuple(args.finetune_rates),
                            finetune_weights=weights)  # fmt: skip


def contact_sheet(
    held_out: SyntheticFaces, outputs: dict, videos: list[int], eval_frames: int
) -> np.ndarray:
    """``uint8`` rows per person: driving landmarks, real frames, shots 0, 1, 8."""
    from unflat.face.fewshot.data import to_tensors

    rows = []
    for video in videos:
        count = held_out.frame_count(video)
        real, shapes = to_tensors(*held_out.frames(video, list(range(count))), held_out.size)
        made = [outputs[n, video] for n in SHOTS]
        for images in (shapes[-eval_frames:], real[-eval_frames:], *made):
            rows.append(torch.cat(list(images), dim=2))
        rows.append(torch.ones_like(rows[-1][:, :2]))  # a white line between people
    sheet = torch.cat(rows, dim=1).permute(1, 2, 0).clamp(0, 1).numpy()
    return (sheet * 255).round().astype(np.uint8)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--json", required=True)
    add("--sheet", help="contact sheet (PNG or JPEG)")
    add("--identities", type=int, default=64)
    add("--held-out", type=int, default=4)
    add("--frames", type=int, default=32, help="frames per synthetic video")
    add("--steps", type=int, default=320, help="meta-learning steps")
    add("--warmup-steps", type=int, default=320, help="first steps by the content loss alone")
    add("--batch-size", type=int, default=16, help="episodes per step")
    add("--episode-shots", type=int, default=4, help="conditioning frames per episode (K)")
    add("--rates", type=float, nargs=2, default=(1e-3, 1e-3), help="Adam rates of E+G and D")
    add("--finetune-steps", type=int, default=40)
    add("--finetune-rates", type=float, nargs=2, default=(1e-3, 1e-3))
    add("--adversarial-weight", type=float, default=1.0, help="scales the hinge term")
    add("--feature-matching-weight", type=float, default=FEATURE_MATCHING_WEIGHT)
    add("--eval-frames", type=int, default=8)
    add("--reader-steps", type=int, default=500, help="landmark reader training steps")
    add("--size", type=int, default=64)
    add("--threads", type=int, default=2)
    add(
        "--adversarial-finetuning",
        action="store_true",
        help="also fine-tune with the paper's adversarial terms, for comparison (~200 CPU-s)",
    )
    add("--out", help="run folder (default: a temporary one)")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    training = SyntheticFaces(args.identities, frames=args.frames, size=args.size)
    weights = LossWeights(adversarial=args.adversarial_weight,
                          feature_matching=args.feature_matching_weight)  # fmt: skip
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size,
                             shots=args.episode_shots, generator_rate=args.rates[0],
                             discriminator_rate=args.rates[1], weights=weights,
                             warmup_steps=args.warmup_steps,
                             checkpoint_every=max(args.steps // 4, 1))  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        run = train(proof_config(image_size=args.size), settings, training, args.out or scratch)
    seconds = {"meta_learning": time.perf_counter() - started}
    reader = train_reader(args.size, steps=args.reader_steps)
    seconds["landmark_reader"] = time.perf_counter() - started - sum(seconds.values())
    held_out = SyntheticFaces(args.held_out, frames=args.frames, size=args.size,
                              seed=HELD_OUT_SEED)  # fmt: skip
    videos, outputs = list(range(args.held_out)), {}
    common = dict(shots=SHOTS, eval_frames=args.eval_frames, finetune_steps=args.finetune_steps,
                  finetune_rates=tuple(args.finetune_rates), reader=reader)  # fmt: skip
    # Fine-tuning with the meta-learning's last losses (content only after an all-warm-up run)
    # and, with --adversarial-finetuning, by the paper's adversarial terms for comparison.
    last = weights.content_only() if args.warmup_steps >= args.steps else weights
    shots = evaluate(run.model, held_out, videos, finetune_weights=last, outputs=outputs,
                     **common)  # fmt: skip
    adversarial = None
    if args.adversarial_finetuning:
        adversarial = evaluate(run.model, held_out, videos, finetune_weights=weights, **common)
    seconds["synthetic_evaluation"] = time.perf_counter() - started - sum(seconds.values())
    floor = [landmark_error(reader, real, held_out.video(v)[1][-args.eval_frames:])
             for v in videos for real in [_last_frames(held_out, v, args.eval_frames)]]  # fmt: skip
    real = real_faces(run.model, args, last)  # REAL-FACE PART (another engineer's module)
    seconds["real_faces"] = time.perf_counter() - started - sum(seconds.values())
    seconds["total"] = time.perf_counter() - started
    history = run.history or []
    result = {
        "shots": shots, "shots_adversarial_finetuning": adversarial, "real": real,
        "landmarks_floor": float(np.mean(floor)),
        "meta_learning": {"first_l1": history[0]["l1"],
                          "last_l1": float(np.mean([h["l1"] for h in history[-20:]]))},
        "settings": vars(args), "seconds": seconds,
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
    }  # fmt: skip
    write_json(args.json, result)
    if args.sheet:
        save_rgb(args.sheet, contact_sheet(held_out, outputs, videos, args.eval_frames))
    shown = ("shots", "shots_adversarial_finetuning", "landmarks_floor", "real", "seconds")
    print(json.dumps({key: result[key] for key in shown}, indent=1))
    return 0


def _last_frames(data: SyntheticFaces, video: int, count: int) -> torch.Tensor:
    frames = data.video(video)[0][-count:]
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0


if __name__ == "__main__":
    sys.exit(main())
