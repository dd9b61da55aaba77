"""The ``unflat`` command line: thin shells over the pipelines, one module per command group."""

from __future__ import annotations

import sys

from unflat.cli.app import app, run


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    # Importing the command modules registers their commands on ``app``.
    from unflat.cli import (  # noqa: F401
        animate,
        app_command,
        batch_command,
        depth,
        evaluate,
        lens,
        living,
        models,
        sound,
        splat,
        train,
        view,
        vssflow,
    )

    return run(app, argv if argv is not None else sys.argv[1:])


__all__ = ["app", "main"]
