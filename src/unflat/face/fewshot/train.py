"""Meta-learn the few-shot model on one device or under ``torchrun`` (DDP)::

    python -m unflat.face.fewshot.train --synthetic 64 --config tiny --steps 400 --out RUN
    torchrun --nproc_per_node 8 -m unflat.face.fewshot.train --data ROOT --steps 100000 --out RUN

Each rank draws its own episodes, a pure function of ``(seed, step, rank)``, so a run resumed
from ``RUN/checkpoint.pt`` (``--resume``) draws what it would have drawn and follows the same
loss curve. The checkpoint holds the model and its config, both optimisers, the step and every
step's losses; rank 0 writes it atomically every ``checkpoint_every`` steps and at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from unflat.config import check_range, read_config_file
from unflat.errors import ConfigError, InputError, UnflatError, WeightsError, format_error
from unflat.face.fewshot.config import FewShotConfig, proof_config, tiny_config
from unflat.face.fewshot.data import VideoFolder, VideoSet, sample_episodes
from unflat.face.fewshot.feature_nets import content_loss
from unflat.face.fewshot.finetune import BETAS, DISCRIMINATOR_RATE, GENERATOR_RATE
from unflat.face.fewshot.losses import ContentLoss, LossWeights
from unflat.face.fewshot.meta import EmbedAndGenerate, meta_step
from unflat.face.fewshot.model import FewShotTalkingHead
from unflat.face.fewshot.synthetic import SyntheticFaces
from unflat.io.atomic import atomic_write
from unflat.weights.checkpoints import read_training_state

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainSettings:
    """The meta-learning stage's settings (the model's own fields are in FewShotConfig)."""

    steps: int = 1000
    # Episodes per step and rank, and conditioning frames per episode (the paper: K = 8).
    batch_size: int = 4
    shots: int = 8
    generator_rate: float = GENERATOR_RATE
    discriminator_rate: float = DISCRIMINATOR_RATE
    seed: int = 0
    checkpoint_every: int = 100
    # The generator's loss terms (the paper's by default).
    weights: LossWeights = field(default_factory=LossWeights)
    # The first steps train E and G by the content loss alone (D learns meanwhile, its columns
    # following ê): at small scale the adversarial terms from step 0 drown reconstruction
    # before G draws any face (BENCHMARKS.md, "Few-shot talking heads").
    warmup_steps: int = 0

    def validate(self) -> None:
        check_range("steps", self.steps, 0, 10**9, "the total number of steps to reach")
        check_range("batch_size", self.batch_size, 1, 4096, "e.g. 4")
        check_range("shots", self.shots, 1, 1024, "e.g. 8")
        check_range("checkpoint_every", self.checkpoint_every, 1, 10**9, "e.g. 100")
        check_range("warmup_steps", self.warmup_steps, 0, 10**9, "e.g. a third of the steps")


def _distributed() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) without it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def episode_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """The generator that draws rank ``rank``'s episodes at ``step``."""
    state = np.random.SeedSequence([seed, step, rank]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


@dataclass
class Run:
    """One rank's training state."""

    model: FewShotTalkingHead
    generator_side: torch.nn.Module
    discriminator: torch.nn.Module
    optimisers: tuple[torch.optim.Optimizer, torch.optim.Optimizer]
    settings: TrainSettings
    out: Path
    step: int = 0
    history: list[dict[str, float]] | None = None


def build_run(
    config: FewShotConfig, settings: TrainSettings, out: Path, device: torch.device, world: int
) -> Run:
    """A fresh model (seeded: every rank starts equal), its optimisers and DDP wrappers."""
    torch.manual_seed(settings.seed)
    model = FewShotTalkingHead(config).to(device)
    side: torch.nn.Module = EmbedAndGenerate(model.embedder, model.generator)
    discriminator: torch.nn.Module = model.discriminator
    optimisers = (
        torch.optim.Adam(side.parameters(), settings.generator_rate, betas=BETAS),
        torch.optim.Adam(discriminator.parameters(), settings.discriminator_rate, betas=BETAS),
    )
    if world > 1:
        side, discriminator = DistributedDataParallel(side), DistributedDataParallel(discriminator)
    return Run(model, side, discriminator, optimisers, settings, out, history=[])


def save_checkpoint(run: Run) -> None:
    """Rank 0 writes ``OUT/checkpoint.pt`` atomically."""
    payload = {
        "kind": "fewshot_meta_learning",
        "config": run.model.config.to_dict(),
        "settings": asdict(run.settings),
        "model": run.model.state_dict(),
        "optimisers": [o.state_dict() for o in run.optimisers],
        "step": run.step,
        "history": run.history,
    }
    with atomic_write(run.out / CHECKPOINT) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        hint = "give a run folder of unflat train talking-head (or drop --resume)"
        raise InputError(f"no checkpoint at {path}", hint)
    found = read_training_state(path)
    if not isinstance(found, dict) or found.get("kind") != "fewshot_meta_learning":
        raise WeightsError(f"{path} is not a few-shot training checkpoint", "pass one we wrote")
    return found


def model_from_checkpoint(path: str | Path) -> FewShotTalkingHead:
    """The meta-learned model of a checkpoint, in eval mode."""
    found = load_checkpoint(path)
    model = FewShotTalkingHead(FewShotConfig.from_dict(found["config"]))
    model.load_state_dict(found["model"])
    return model.eval()


def _resume(run: Run) -> None:
    found = load_checkpoint(run.out)
    if found["config"] != run.model.config.to_dict():
        hint = "resume with the same --config and data, or use a fresh --out"
        message = f"{run.out / CHECKPOINT} was made for another model config or dataset"
        raise ConfigError(message, hint)
    run.model.load_state_dict(found["model"])
    for optimiser, state in zip(run.optimisers, found["optimisers"], strict=True):
        optimiser.load_state_dict(state)
    run.step, run.history = found["step"], list(found["history"])


def train(
    config: FewShotConfig,
    settings: TrainSettings,
    data: VideoSet,
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "cpu",
    log: Callable[[str], None] | None = print,
    content: ContentLoss | None = None,
) -> Run:
    """Meta-learn to ``settings.steps`` total steps; ``config.videos`` becomes ``len(data)``.

    Under torchrun (``WORLD_SIZE > 1``) every rank calls this; ``batch_size`` is per rank."""
    settings.validate()
    rank, world = _distributed()
    started = world > 1 and not dist.is_initialized()
    if started:
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    say = log if log is not None and rank == 0 else (lambda _message: None)
    try:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        config = replace(config, videos=len(data))
        run = build_run(config, settings, out, torch.device(device), world)
        if resume:
            _resume(run)
            say(f"resumed at step {run.step}")
        _steps(run, data, content or ContentLoss().to(device), device, rank, say)
        return run
    finally:
        if started:
            dist.destroy_process_group()


def _steps(
    run: Run, data: VideoSet, content: ContentLoss, device: str, rank: int,
    say: Callable[[str], None],
) -> None:  # fmt: skip
    settings, started = run.settings, time.perf_counter()
    history = run.history if run.history is not None else []
    while run.step < settings.steps:
        draw = episode_generator(settings.seed, run.step, rank)
        videos = torch.randint(len(data), (settings.batch_size,), generator=draw).tolist()
        episodes = sample_episodes(data, videos, settings.shots, draw).to(device)
        weights = settings.weights
        if run.step < settings.warmup_steps:
            weights = weights.content_only()
        terms = meta_step(run.generator_side, run.discriminator, run.optimisers, episodes, content,
                          weights)  # fmt: skip
        history.append(terms)
        run.step += 1
        if run.step % settings.checkpoint_every == 0 or run.step == settings.steps:
            if rank == 0:
                save_checkpoint(run)
            say(f"step {run.step}/{settings.steps}  l1 {terms['l1']:.4f}  "
                f"content {terms['content']:.4f}  D {terms['discriminator']:.3f}  "
                f"{time.perf_counter() - started:.0f} s")  # fmt: skip


def _config(name: str) -> FewShotConfig:
    if name == "tiny":
        return tiny_config()
    if name == "full":
        return FewShotConfig()
    if name == "proof":
        return proof_config()
    return FewShotConfig.from_dict(read_config_file(name))


def main(argv: list[str] | None = None, prog: str = "python -m unflat.face.fewshot.train") -> int:
    """The training entry point (also under torchrun); exit code 2 with one line on bad input."""
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--config", default="tiny", help="tiny | proof | full | a JSON model config"
    )
    parser.add_argument("--data", help="dataset ROOT in the video-folder layout")
    parser.add_argument("--synthetic", type=int, help="train on this many procedural faces")
    parser.add_argument("--steps", type=int, required=True, help="total steps to reach")
    parser.add_argument("--out", required=True, help="run folder (checkpoint.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--batch-size", type=int, default=4, help="episodes per step and rank")
    parser.add_argument("--shots", type=int, default=8, help="conditioning frames (K)")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--warmup-steps", type=int, default=0,
                        help="first steps by the content loss alone")  # fmt: skip
    parser.add_argument("--rates", type=float, nargs=2, metavar=("EG", "D"),
                        default=(GENERATOR_RATE, DISCRIMINATOR_RATE),
                        help="Adam rates of E+G and of D")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument(
        "--content-net",
        action="append",
        default=[],
        metavar="PATH=WEIGHT",
        help="an exported feature network for the content loss (repeatable)",
    )
    args = parser.parse_args(argv)
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, shots=args.shots,
                             seed=args.seed, checkpoint_every=args.checkpoint_every,
                             warmup_steps=args.warmup_steps, generator_rate=args.rates[0],
                             discriminator_rate=args.rates[1])  # fmt: skip
    try:
        config = _config(args.config)
        if (args.data is None) == (args.synthetic is None):
            raise ConfigError("give one of --data ROOT and --synthetic N", "see docs/fewshot.md")
        data: VideoSet = (VideoFolder(args.data, config.image_size) if args.data
                          else SyntheticFaces(args.synthetic, size=config.image_size))  # fmt: skip
        content = content_loss(args.content_net).to(args.device)
        train(config, settings, data, args.out, resume=args.resume, device=args.device,
              content=content)  # fmt: skip
    except UnflatError as error:
        print(format_error(error), file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
