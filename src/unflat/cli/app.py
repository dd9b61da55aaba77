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

import click
import typer
from typer.exceptions import TyperException

from unflat import __version__
from unflat.errors import ConfigError, UnflatError, format_error, one_line
from unflat.io.limits import OPTIONS, Limits, use_limits

app = typer.Typer(
    name="unflat",
    help="Bring flat media to life: metric depth, 3D scenes, animated portraits and sound.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"unflat {__version__}")
        raise typer.Exit()


def _limit(option: str, help_text: str) -> object:
    # Listed here for `unflat --help`; run() takes them from anywhere on the command line.
    return typer.Option(
        None, option, help=help_text, metavar="N", rich_help_panel="Limits (any command)"
    )


def _short(value: float) -> str:
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


_D = Limits()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    max_pixels: str | None = _limit(
        "--max-pixels", f"Pixels of one image (default {_short(_D.max_pixels)})."
    ),
    max_gaussians: str | None = _limit(
        "--max-gaussians", f"Gaussians in one scene file (default {_short(_D.max_gaussians)})."
    ),
    max_duration: str | None = _limit(
        "--max-duration", f"Seconds of one video or sound (default {_D.max_seconds:g})."
    ),
    max_video_frames: str | None = _limit(
        "--max-video-frames", f"Frames of one video (default {_short(_D.max_frames)})."
    ),
    max_decoded_bytes: str | None = _limit(
        "--max-decoded-bytes",
        f"Bytes one decoded image or map may take (default {_D.max_decoded_bytes / 1e9:.1f}G).",
    ),
) -> None:
    """Bring flat media to life: metric depth, 3D scenes, animated portraits and sound."""


_BY_OPTION = {option: name for name, option in OPTIONS.items()}
_SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def split_limits(argv: list[str]) -> tuple[list[str], dict[str, float]]:
    """``argv`` without the ``--max-...`` limit options, and those limits by ``Limits`` field.

    They may stand anywhere (before or after the command); values take k/M/G suffixes (powers
    of 1000; bytes too, e.g. 8G).
    """
    rest: list[str] = []
    chosen: dict[str, float] = {}
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--":
            rest += [argument, *arguments]
            break
        option, has_value, value = argument.partition("=")
        if option not in _BY_OPTION:
            rest.append(argument)
            continue
        if not has_value:
            value = next(arguments, "")
        chosen[_BY_OPTION[option]] = _limit_value(option, value)
    return rest, chosen


def _limit_value(option: str, text: str) -> float:
    scale = _SUFFIXES.get(text[-1:].lower(), 1.0) if text else 1.0
    number = text[:-1] if scale != 1.0 else text
    try:
        value = float(number) * scale
    except ValueError:
        raise ConfigError(f"{option} takes a number, got {text!r}", f"e.g. {option} 2e7") from None
    return value if option == "--max-duration" else float(round(value))


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


def limits_epilog() -> str:
    """The line each command's ``--help`` ends with: the limit options it takes too (they are
    parsed before the command, so they are listed in full only by ``unflat --help``)."""
    defaults = {
        "max_pixels": ("N", _short(_D.max_pixels)),
        "max_gaussians": ("N", _short(_D.max_gaussians)),
        "max_seconds": ("S", f"{_D.max_seconds:g} s"),
        "max_frames": ("N", _short(_D.max_frames)),
        "max_decoded_bytes": ("N", f"{_D.max_decoded_bytes / 1e9:.1f}G"),
    }
    listed = ", ".join(
        f"{OPTIONS[name]} {value} (default {default})"
        for name, (value, default) in defaults.items()
    )
    return f"Limits, anywhere on the command line: {listed}. See unflat --help."


def _mention_limits(group: click.Command) -> None:
    """Give every command below ``group`` (not the root, which lists them) the limits epilog."""
    for command in getattr(group, "commands", {}).values():
        command.epilog = command.epilog or limits_epilog()
        _mention_limits(command)


def run(application: typer.Typer, argv: list[str]) -> int:
    """Run the app; user errors become one line and exit code 2, never a traceback."""
    command = typer.main.get_command(application)
    _mention_limits(command)
    _Interrupt.told = False
    try:
        argv, limits = split_limits(argv)
        with use_limits(**limits):
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
