"""``unflat models``: list, inspect and download the registry's model weights."""

from __future__ import annotations

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from unflat import registry
from unflat.cli.app import app
from unflat.errors import WeightsError

models_app = typer.Typer(no_args_is_help=True, help="List, inspect and download model weights.")
app.add_typer(models_app, name="models", help="List, inspect and download model weights.")


def _size(entry: registry.ModelEntry) -> str:
    size = entry.size_bytes
    if size is None:
        return "unknown"
    exact = entry.bundled is not None or all(f.size_bytes is not None for f in entry.files)
    amount = f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"
    return f"{'' if exact else '~'}{amount}"


def _cached(entry: registry.ModelEntry) -> str:
    from unflat import weights  # torch: loaded only by the commands that need it

    if entry.bundled is not None:
        return "bundled" if weights.is_cached(entry.name) else "missing"
    return "yes" if weights.is_cached(entry.name) else "no"


def _console() -> Console:
    # Made per call so it writes to whatever stdout is current (tests swap it).
    return Console(highlight=False, soft_wrap=True)


@models_app.command("list")
def list_models() -> None:
    """Every model in the registry, its licence and whether it is downloaded."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("name", "task", "size", "licence", "commercial use", "cached"):
        table.add_column(column, no_wrap=column != "task")
    for entry in registry.list_entries():
        table.add_row(
            entry.name,
            entry.task,
            _size(entry),
            entry.licence,
            "yes" if entry.commercial_use else "no",
            _cached(entry),
        )
    console = _console()
    if not console.is_terminal:
        # Piped output has no width to fit; 80 columns would wrap every licence name.
        console.width = max(console.width, 120)
    console.print(table)


@models_app.command("info")
def info(name: str = typer.Argument(..., help="Model name, e.g. depth-pro.")) -> None:
    """Everything about one model: source URLs, sizes, licence and cache location."""
    from unflat import weights

    entry = registry.get_entry(name)
    available = registry.architecture_available(entry)
    rows = [
        ("name", entry.name),
        ("task", entry.task),
        ("description", entry.description),
        ("architecture", str(entry.architecture)),
        ("usable", "yes" if available else "not yet: the architecture lands with a later release"),
        ("homepage", entry.homepage),
        ("paper", entry.paper),
        ("licence", entry.licence),
        ("licence url", entry.licence_url),
        ("commercial use", "yes" if entry.commercial_use else "no — research use only"),
        ("licence summary", entry.licence_summary),
        ("size", _size(entry)),
        ("cache path", str(weights.weights_path(entry.name))),
        ("cached", _cached(entry)),
    ]
    for file in entry.files:
        rows.append(("file", file.filename))
        rows.extend(("  source", url) for url in file.urls)
        if entry.bundled is not None:
            rows.append(("  source", f"ships with unflat (unflat/{entry.bundled}/)"))
            continue
        unpinned = "not pinned: checked against the hub's sha256, else the first download's"
        rows.append(("  sha256", file.sha256 or unpinned))
    console = _console()
    for key, value in rows:
        console.print(f"{key + ':':<17}{value}")


@models_app.command("fetch")
def fetch_command(
    name: str = typer.Argument(..., help="Model name, e.g. depth-pro."),
    force: bool = typer.Option(False, "--force", help="Download and convert again."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download a model's weights (resuming a partial download) and convert them once."""
    from unflat import weights

    path = weights.fetch(name, progress=not quiet, force=force)
    typer.echo(str(path))


@models_app.command("path")
def path(name: str = typer.Argument(..., help="Model name, e.g. depth-pro.")) -> None:
    """Print where a model's weights are on disk; fails if they are not downloaded."""
    from unflat import weights

    target = weights.weights_path(name)
    if not target.is_file():
        entry = registry.get_entry(name)
        raise WeightsError(f"{entry.name} is not downloaded yet", weights.fetch_hint(entry.name))
    typer.echo(str(target))
