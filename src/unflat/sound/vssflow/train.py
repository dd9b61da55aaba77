"""Train VSSFlow on one device or under ``torchrun`` (DDP).

    python -m unflat.sound.vssflow.train --config tiny --data synthetic --steps 400 --out runs/a
    torchrun --nproc_per_node=8 -m unflat.sound.vssflow.train --config full --data DIR ...

The objective is the published one (``flow.FlowObjective``): CondOT path over all channels, loss
on the latent channels, conditions dropped for a whole batch with probability ``p_uncond``.

``--config`` is a preset or a JSON file mixing model and training keys (``VSSFlowTrainConfig``).
Everything random in a step (flow noise, times, condition dropout) comes from one generator per
rank, and the data order is a pure function of (seed, epoch), so the checkpoint
(``OUT/checkpoint.pt``: model, EMA, optimizer, scheduler, step, every rank's RNG states, the model
config under ``"config"`` and the training settings under ``"train"``) lets ``--resume``
continue bit-for-bit as if never interrupted (same device and world size). Checkpoints and the
run's ``config.json`` (the model's, a ``build_model`` config) and ``train.json`` are written by
rank 0 only, atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from unflat.errors import (
    ConfigError,
    DeviceError,
    InputError,
    UnflatError,
    WeightsError,
    format_error,
)
from unflat.io.atomic import atomic_write, write_json
from unflat.sound.vssflow.config import LATENT_KEY, MEL_LATENT, VSSFlowConfig
from unflat.sound.vssflow.data import FolderDataset, SyntheticToneDataset, collate
from unflat.sound.vssflow.flow import FlowObjective, draw_noise_and_times
from unflat.sound.vssflow.frontend import MelFrontend
from unflat.sound.vssflow.model import VSSFlow
from unflat.sound.vssflow.train_config import VSSFlowTrainConfig
from unflat.weights.checkpoints import read_training_state, save_safetensors

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.safetensors"  # the EMA weights, for unflat.load_model(OUT)
TRAIN_CONFIG = "train.json"  # the training settings; config.json holds the model's
FORMAT = "unflat.vssflow.train/1"


# ----------------------------------------------------------------------------- distributed
def _dist_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) without it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0"))


def _pick_device(requested: str | None, local_rank: int) -> torch.device:
    if requested in (None, "auto"):
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    dev = torch.device(requested)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but is not available", "use --device cpu")
        if dev.index is None:
            dev = torch.device(f"cuda:{local_rank}")
    return dev


# ----------------------------------------------------------------------------- data
def make_dataset(data: str | Dataset, config: VSSFlowTrainConfig) -> Dataset:
    """``"synthetic"`` (the tone task), a folder of ``.pt`` items, or a ready dataset."""
    if not isinstance(data, str):
        return data
    if data == "synthetic":
        return SyntheticToneDataset(config, seed=config.seed + 1234)
    return FolderDataset(data)


class _Batches:
    """Batches of one epoch's indices for this rank, starting at batch ``start``."""

    def __init__(self, indices: list[int], batch_size: int, start: int):
        n = len(indices) // batch_size
        self.batches = [indices[i * batch_size : (i + 1) * batch_size] for i in range(start, n)]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


# ----------------------------------------------------------------------------- checkpoints
def _rng_state(generator: torch.Generator) -> dict[str, Any]:
    state = {
        "flow": generator.get_state(),
        "torch": torch.get_rng_state(),
        # numpy's state as plain values and a tensor, so checkpoints load with weights_only=True
        "numpy": _numpy_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state() -> tuple[Any, ...]:
    kind, key, pos, has_gauss, cached = np.random.get_state()
    return (kind, torch.from_numpy(key.astype(np.int64)), int(pos), int(has_gauss), float(cached))


def _set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    generator.set_state(state["flow"])
    torch.set_rng_state(state["torch"])
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    with atomic_write(path) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: str | Path, model: VSSFlowConfig | None = None) -> dict[str, Any]:
    """Read a training checkpoint; with ``model``, refuse one made for another model config."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise InputError(f"no checkpoint at {path}", "train first, or drop --resume")
    ckpt = read_training_state(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a VSSFlow training checkpoint", "pass one we wrote")
    if model is not None:
        saved = checkpoint_model_config(ckpt)
        diff = _differences(model.to_dict(), saved.to_dict())
        if diff:
            raise ConfigError(
                f"checkpoint {path} was made with another model config (differs in {diff})",
                "resume with the config saved in the checkpoint, or use a fresh --out folder",
            )
    return ckpt


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the fields where two config dicts differ."""
    found = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            found += _differences(x, y, f"{prefix}{key}.")
        elif x != y:
            found.append(prefix + key)
    return found


def checkpoint_model_config(ckpt: dict[str, Any]) -> VSSFlowConfig:
    """The model config saved in a checkpoint read by ``load_checkpoint``."""
    return VSSFlowConfig.from_dict(ckpt["config"])


def model_from_checkpoint(
    path: str | Path, use_ema: bool = True, device: str | torch.device = "cpu"
) -> tuple[VSSFlow, VSSFlowTrainConfig]:
    """Model (EMA weights by default) and the run's config from a training checkpoint, the model
    in eval mode."""
    ckpt = load_checkpoint(path)
    config = VSSFlowTrainConfig.from_dict({**ckpt["config"], **ckpt["train"]})
    model = VSSFlow(config.model)
    model.load_state_dict(ckpt["ema" if use_ema else "model"])
    return model.to(device).eval(), config


# ----------------------------------------------------------------------------- training
def _lr_lambda(warmup: int) -> Callable[[int], float]:
    def fn(step: int) -> float:
        return min(1.0, (step + 1) / max(1, warmup))

    return fn


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    # Warm-up the decay so early EMA weights are not dominated by the random init.
    d = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        if p.requires_grad:
            e.mul_(d).add_(p.detach(), alpha=1 - d)


def train(
    config: VSSFlowTrainConfig,
    data: str | Dataset,
    steps: int,
    out: str | Path,
    *,
    resume: bool = False,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str | None = None,
    num_workers: int = 0,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Train ``config.model`` with ``config``'s settings to ``steps`` total optimizer steps.

    Returns ``{"losses": per-step losses of this call, "step", "seconds", "model", "ema"}``.

    Under torchrun (``WORLD_SIZE > 1``) each rank runs this; batch_size is per rank. Seeds
    torch's global RNG with ``config.seed`` (so every rank starts from the same weights).
    """
    if not isinstance(config, VSSFlowTrainConfig):
        raise TypeError(
            f"train() takes a VSSFlowTrainConfig, got {type(config).__name__} "
            "(wrap a model config as VSSFlowTrainConfig(model=...))"
        )
    if steps < 0:
        raise ConfigError("--steps must be >= 0", "pass the total number of steps to reach")
    if batch_size:
        config = dataclasses.replace(config, batch_size=batch_size)
    if lr:
        config = dataclasses.replace(config, lr=lr)
    rank, world, local_rank = _dist_env()
    dev = _pick_device(device, local_rank)
    started_pg = False
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        started_pg = True
    say = log if (log is not None and rank == 0) else (lambda _msg: None)
    try:
        dataset = make_dataset(data, config)
        if len(dataset) < config.batch_size * world:
            raise InputError(
                f"{len(dataset)} items cannot fill one batch of {config.batch_size} "
                f"on {world} rank(s)",
                "add data or lower --batch-size",
            )
        run = _setup(config, Path(out), resume, dev, rank, world, say)
        t_start = time.perf_counter()
        losses = _run_steps(run, dataset, steps, num_workers, say)
        _write_checkpoint(run)
        if rank == 0:
            _export_weights(run.ema, Path(out))
        seconds = time.perf_counter() - t_start
        say(f"done: {run.step} steps in {seconds:.1f} s, checkpoint {run.ckpt_path}")
        return {
            "losses": losses,
            "step": run.step,
            "seconds": seconds,
            "model": run.model,
            "ema": run.ema,
        }
    finally:
        if started_pg:
            dist.destroy_process_group()


@dataclass
class _Run:
    """The state of one rank's training run."""

    config: VSSFlowTrainConfig
    model: VSSFlow
    ema: VSSFlow
    net: nn.Module  # the model's FlowObjective, or its DDP wrapper
    frontend: MelFrontend
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    gen: torch.Generator  # flow noise, times and condition dropout
    device: torch.device
    rank: int
    world: int
    ckpt_path: Path
    step: int = 0


def _flow_seed(config: VSSFlowTrainConfig, rank: int) -> int:
    return config.seed * 7919 + rank + 1


def _setup(
    config: VSSFlowTrainConfig,
    out: Path,
    resume: bool,
    dev: torch.device,
    rank: int,
    world: int,
    say: Callable[[str], None],
) -> _Run:
    """Model, EMA, optimiser and generator (resumed from ``out`` if asked); rank 0 writes the
    configs to ``out``."""
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = VSSFlow(config.model).to(dev)
    ema = copy.deepcopy(model).requires_grad_(False)
    frontend = MelFrontend(config.frontend).to(dev)
    trained = [p for p in model.parameters() if p.requires_grad]  # not time_proj (fixed)
    opt = torch.optim.AdamW(trained, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(config.warmup_steps))
    gen = torch.Generator(device=dev).manual_seed(_flow_seed(config, rank))
    objective = FlowObjective(model)
    run = _Run(
        config, model, ema, objective, frontend, opt, sched, gen, dev, rank, world, out / CHECKPOINT
    )
    if resume:
        _resume(run, say)
    if world > 1:
        run.net = nn.parallel.DistributedDataParallel(
            objective, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    if rank == 0:
        # the latent it learns is the log-mel stand-in: said, so no AudioLDM2 decoder takes it
        write_json(out / "config.json", {**config.model.to_dict(), LATENT_KEY: MEL_LATENT})
        write_json(out / TRAIN_CONFIG, config.to_dict())
    return run


def _resume(run: _Run, say: Callable[[str], None]) -> None:
    """Load ``run``'s checkpoint into it (refusing one made for another model config)."""
    ckpt = load_checkpoint(run.ckpt_path, run.config.model)
    run.model.load_state_dict(ckpt["model"])
    run.ema.load_state_dict(ckpt["ema"])
    run.opt.load_state_dict(ckpt["optimizer"])
    run.sched.load_state_dict(ckpt["scheduler"])
    run.step = int(ckpt["step"])
    rngs = ckpt["rng"]
    if len(rngs) == run.world:
        _set_rng_state(rngs[run.rank], run.gen)
    else:
        say(f"checkpoint has RNG states for {len(rngs)} ranks, running {run.world}: reseeding")
        run.gen.manual_seed(_flow_seed(run.config, run.rank) + run.step)
    say(f"resumed from {run.ckpt_path} at step {run.step}")


def _write_checkpoint(run: _Run) -> None:
    """Gather every rank's RNG state; rank 0 writes the checkpoint. Every rank must call this."""
    states = [_rng_state(run.gen)]
    if run.world > 1:
        gathered: list[Any] = [None] * run.world
        dist.all_gather_object(gathered, states[0])
        states = gathered
    if run.rank == 0:
        payload = {
            "format": FORMAT,
            "config": run.config.model.to_dict(),
            "train": run.config.to_dict(),
            "step": run.step,
            "model": run.model.state_dict(),
            "ema": run.ema.state_dict(),
            "optimizer": run.opt.state_dict(),
            "scheduler": run.sched.state_dict(),
            "rng": states,
            "world_size": run.world,
        }
        save_checkpoint(run.ckpt_path, payload)


def _export_weights(ema: nn.Module, out: Path) -> None:
    """The EMA weights as ``OUT/model.safetensors`` beside ``config.json``: the folder then loads
    with ``unflat.load_model(OUT)`` through the registry, like any published model."""
    state = {key: value.cpu() for key, value in ema.state_dict().items()}
    save_safetensors(state, out / WEIGHTS, {"source": "unflat.sound.vssflow.train (EMA)"})


def _run_steps(
    run: _Run, dataset: Dataset, steps: int, num_workers: int, say: Callable[[str], None]
) -> list[float]:
    """Train until ``run.step`` reaches ``steps``, epoch by epoch; the losses of these steps."""
    config = run.config
    sampler = DistributedSampler(
        dataset,
        num_replicas=run.world,
        rank=run.rank,
        shuffle=True,
        seed=config.seed,
        drop_last=True,
    )
    per_epoch = len(sampler) // config.batch_size
    losses: list[float] = []
    run.net.train()
    while run.step < steps:
        epoch, pos = divmod(run.step, per_epoch)
        sampler.set_epoch(epoch)
        loader = DataLoader(
            dataset,
            batch_sampler=_Batches(list(sampler), config.batch_size, pos),
            collate_fn=functools.partial(collate, config=config),
            num_workers=num_workers,
        )
        for batch in loader:
            if run.step >= steps:
                break
            value = _train_step(run, batch)
            losses.append(value)
            step = run.step
            if step % config.log_every == 0 or step == steps:
                say(f"step {step}/{steps} loss {value:.4f} lr {run.sched.get_last_lr()[0]:.2e}")
            if step % config.ckpt_every == 0 and step < steps:
                _write_checkpoint(run)
    return losses


def _train_step(run: _Run, batch: dict[str, Tensor]) -> float:
    """One optimizer step (and EMA update) on ``batch``; its loss."""
    config, dev = run.config, run.device
    batch = {key: value.to(dev) for key, value in batch.items()}
    if "wave" in batch:
        with torch.no_grad():
            batch["latent"] = run.frontend.encode(batch.pop("wave"))
    # [B, T, C] -> channel-first, scaled as published.
    batch["latent"] = batch["latent"].transpose(1, 2) * config.model.vaflow_params.scale_factor
    x0, t, drop = draw_noise_and_times(batch["latent"], config.p_uncond, run.gen)
    loss = run.net(batch, x0, t, drop)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip > 0:
        nn.utils.clip_grad_norm_([p for p in run.model.parameters() if p.requires_grad],
                                 config.grad_clip)  # fmt: skip
    run.opt.step()
    run.sched.step()
    _ema_update(run.ema, run.model, config.ema_decay, run.step)
    run.step += 1
    value = float(loss.detach())
    if not math.isfinite(value):
        raise UnflatError(
            f"training loss became {value} at step {run.step}",
            "lower --lr or check the data for NaNs",
        )
    return value


def main(argv: list[str] | None = None, prog: str = "python -m unflat.sound.vssflow.train") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--config", default="tiny", help="tiny | full | path to a JSON config")
    p.add_argument("--data", default="synthetic", help="synthetic | folder of .pt items")
    p.add_argument("--steps", type=int, required=True, help="total optimizer steps to reach")
    p.add_argument("--out", required=True, help="run folder (checkpoint.pt, config.json)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--batch-size", type=int, default=None, help="per-rank batch size")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--num-workers", type=int, default=0)
    args = p.parse_args(argv)
    try:
        config = VSSFlowTrainConfig.load(args.config)
        train(
            config,
            args.data,
            args.steps,
            args.out,
            resume=args.resume,
            batch_size=args.batch_size,
            lr=args.lr,
            device=args.device,
            num_workers=args.num_workers,
        )
    except UnflatError as exc:
        print(format_error(exc), file=sys.stderr)  # one line, as every unflat command says it
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
