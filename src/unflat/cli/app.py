"""The root Typer app and the one place that turns failures into one-line messages.

- ``UnflatError``: ``error: what went wrong — what to do``, exit code 2.
- Ctrl-C: ``interrupted`` (a batch says how far it got), exit code 130. Typer turns
  ``KeyboardInterrupt`` into a silent exit 130, so the line is printed here.
- Any other exception is a bug: one line naming it, with the traceback saved to a file in the
  cache folder (``UNFLAT_TRACEBACK=1`` shows it instead), exit code 2. Never a traceback from
  a file's content on the screen.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import typer
from typer.exceptions import TyperException

from unflat import __version__
from unflat.errors import UnflatError, format_error, one_line

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


class _Interrupt:
    """Whether the command already said how it was interrupted (a batch's count)."""

    told = False


def interrupted(line: str = "interrupted") -> int:
    """Print ``line`` for Ctrl-C (once per run) and return exit code 130."""
    print(one_line(line), file=sys.stderr)
    _Interrupt.told = True
    return 130


def bug(error: Exception) -> int:
    """Print one line for an unexpected exception, its traceback saved to a file; return 2."""
    from unflat.pipelines.batch import bug_line, save_traceback

    # the cache folder of unflat.weights.cache_dir, less its "models"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    folder = Path(os.environ.get("UNFLAT_HOME") or Path(cache) / "unflat").expanduser()
    log = None
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        log = save_traceback(error, None, folder / "traceback.log")
    print(f"error: {one_line(bug_line(error, log))}", file=sys.stderr)
    return 2


def run(application: typer.Typer, argv: list[str]) -> int:
    """Run the app; user errors become one line and exit code 2, never a traceback."""
    command = typer.main.get_command(application)
    _Interrupt.told = False
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
        return interrupted()
    except Exception as error:
        if os.environ.get("UNFLAT_TRACEBACK"):
            raise
        return bug(error)
    code = int(result) if isinstance(result, int) else 0
    if code == 130 and not _Interrupt.told:
        interrupted()  # typer's exit for Ctrl-C, which prints nothing itself
    return code
