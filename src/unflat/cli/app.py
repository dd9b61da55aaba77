"""The root Typer app and the one place that turns ``UnflatError`` into a one-line message."""

from __future__ import annotations

import sys

import typer
from typer.exceptions import TyperException

from unflat import __version__
from unflat.errors import UnflatError, format_error

app = typer.Typer(
    name="unflat",
    help="Bring flat media to life: metric depth, 3D scenes, animated portraits and sound.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"unflat {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Bring flat media to life: metric depth, 3D scenes, animated portraits and sound."""


def fail(error: UnflatError) -> int:
    """Print ``error`` as one line on stderr (:func:`~unflat.errors.format_error`) and return its
    exit code."""
    print(format_error(error), file=sys.stderr)
    return error.exit_code


def run(application: typer.Typer, argv: list[str]) -> int:
    """Run the app; user errors become one line and exit code 2, never a traceback."""
    command = typer.main.get_command(application)
    try:
        result = command.main(args=argv, prog_name="unflat", standalone_mode=False)
    except UnflatError as error:
        return fail(error)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except TyperException as error:
        # A usage error (unknown option, missing argument): typer's own message and usage line.
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result) if isinstance(result, int) else 0
