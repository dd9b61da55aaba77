"""``unflat train``: the training entry points, on one device or under ``torchrun``.

Each trainer keeps its own argument parser (the options, their help and their checks live
beside the loop they drive); this group only gives them one command line, so the same
``unflat train NAME ...`` runs alone or as ``torchrun --nproc_per_node N -m unflat train NAME ...``.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from unflat.cli.app import app

train_app = typer.Typer(no_args_is_help=True, help="Train models (one device, or under torchrun).")
app.add_typer(train_app, name="train", help="Train models (one device, or under torchrun).")

# every argument, --help included, goes to the trainer's own parser
FORWARD = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@train_app.command("vssflow", context_settings=FORWARD, add_help_option=False)
def train_vssflow_command(ctx: typer.Context) -> None:
    """Train VSSFlow (video to sound, visual text to speech); `--help` lists the options.

    One device: `unflat train vssflow --config tiny --steps 200 --out runs/a`. Several:
    `torchrun --nproc_per_node 8 -m unflat train vssflow --config full --data DIR ...`;
    `--resume` continues a run from its checkpoint.
    """
    from unflat.sound.vssflow.train import main

    _forward(main, ctx.args, "unflat train vssflow")


@train_app.command("talking-head", context_settings=FORWARD, add_help_option=False)
def train_talking_head_command(ctx: typer.Context) -> None:
    """Meta-learn the few-shot talking-head model; `--help` lists the options.

    Synthetic faces or a VoxCeleb-style folder of clips with their landmarks
    (docs/fewshot.md); under torchrun as `torchrun --nproc_per_node N -m unflat train
    talking-head ...`; `--resume` continues a run from its checkpoint.
    """
    from unflat.face.fewshot.train import main

    _forward(main, ctx.args, "unflat train talking-head")


def _forward(main: Callable[..., int], args: list[str], prog: str) -> None:
    """Run a trainer's ``main`` on ``args``; its exit code becomes the command's."""
    try:
        code = main(list(args), prog=prog)
    except SystemExit as done:  # argparse's --help (0) and its usage errors (2)
        code = done.code if isinstance(done.code, int) else 2
    if code:
        raise typer.Exit(code)
