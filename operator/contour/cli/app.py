"""The typer application behind the `contour` command; each subcommand lives in its own module."""

from __future__ import annotations

import platform

import typer

from contour import __version__

app = typer.Typer(
    name="contour",
    help="Contour, in Python: a Gateway-API-first ingress controller and operator for Envoy.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Keep typer in multi-command mode even while few subcommands exist."""


@app.command()
def version() -> None:
    """Print the version of this build of Contour."""
    typer.echo(f"contour {__version__} (python {platform.python_version()})")


def main() -> None:
    app()
