"""``unflat train``: the training entry points, on one device or under ``torchrun``.

Each trainer keeps its own argument parser (the options, their help and their checks live
beside the loop they drive); this group only gives them one command line, so the same
``unflat train NAME ...`` runs alone or as ``torchrun --nproc_per_node N -m unflat train NAME ...``.
"""

from __future__ import annotations

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

    try:
        code = main(list(ctx.args), prog="unflat train vssflow")
    except SystemExit as done:  # argparse's --help (0) and its usage errors (2)
        code = done.code if isinstance(done.code, int) else 2
    if code:
        raise typer.Exit(code)
