"""The typer application behind the `contour` command; each subcommand lives in its own module."""

from __future__ import annotations

import platform

import typer

from contour import __version__
from contour.cli.apiserver import register as register_apiserver
from contour.cli.bootstrap import register as register_bootstrap
from contour.cli.certgen import register as register_certgen
from contour.cli.echo import register as register_echo
from contour.cli.envoy import register as register_envoy
from contour.cli.operator import register as register_operator
from contour.cli.run import register as register_run
from contour.cli.serve import register as register_serve
from contour.cli.xdscli import register as register_xdscli

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


register_bootstrap(app)
register_certgen(app)
register_echo(app)
register_envoy(app)
register_apiserver(app)
register_run(app)
register_serve(app)
register_operator(app)
register_xdscli(app)


def main() -> None:
    app()
