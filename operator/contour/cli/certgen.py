"""`contour certgen`: generate the CA and the Contour/Envoy key pairs that secure the xDS connection.

Flags are Contour's. `--pem` writes five PEM files, `--yaml` writes the Secrets as manifests, both
into the output directory (the OUTPUTDIR argument as in Contour, or `--output-dir`), refusing to
replace existing files unless `--overwrite`. `--kube` (write the Secrets through the Kubernetes API)
is not available yet and exits with status 2 before generating anything.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer

KUBE_NOT_AVAILABLE = (
    "certgen --kube is not available yet: write the Secrets with --yaml and apply them with kubectl"
)


def register(app: typer.Typer) -> None:
    app.command(name="certgen")(certgen)


def certgen(
    outputdir: Annotated[
        str | None,
        typer.Argument(metavar="[OUTPUTDIR]", help='Directory to write output files into (default "certs").'),
    ] = None,
    *,
    output_dir: Annotated[str | None, typer.Option(help="Same as the OUTPUTDIR argument.")] = None,
    kube: Annotated[
        bool, typer.Option("--kube", help="Apply the Secrets to the Kubernetes cluster.")
    ] = False,
    yaml: Annotated[bool, typer.Option("--yaml", help="Write the Secrets as Kubernetes YAML files.")] = False,
    pem: Annotated[bool, typer.Option("--pem", help="Write the certificates and keys as PEM files.")] = False,
    incluster: Annotated[
        bool, typer.Option("--incluster", help="Use in-cluster configuration (with --kube).")
    ] = False,
    kubeconfig: Annotated[str | None, typer.Option(help="Path to kubeconfig (with --kube).")] = None,
    namespace: Annotated[
        str,
        typer.Option(
            envvar="CONTOUR_NAMESPACE", help="Namespace for the Secrets and the certificates' names."
        ),
    ] = "projectcontour",
    certificate_lifetime: Annotated[
        int, typer.Option(min=1, help="Generated certificate lifetime, in days.")
    ] = 365,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Overwrite existing files.")] = False,
    secrets_format: Annotated[
        str, typer.Option(help="Secrets layout: legacy (CA in its own Secret) or compact (ca.crt in each).")
    ] = "legacy",
    secrets_name_prefix: Annotated[str, typer.Option(help="Prefix for the generated Secrets' names.")] = "",
    secure: Annotated[bool, typer.Option("--secure", help="Accepted for compatibility; no effect.")] = False,
) -> None:
    """Generate new TLS certificates for bootstrapping gRPC over TLS."""
    if kube:
        typer.echo(f"Error: {KUBE_NOT_AVAILABLE}", err=True)
        raise typer.Exit(code=2)
    # cryptography takes tens of milliseconds to import: only pay for it when generating.
    from contour.certgen import output  # noqa: PLC0415
    from contour.certgen.certs import generate_certs  # noqa: PLC0415

    if not (pem or yaml):
        raise typer.BadParameter("nothing to write: pass --pem, --yaml or both", param_hint="--pem/--yaml")
    if secrets_format not in output.SECRETS_FORMATS:
        raise typer.BadParameter(
            f"{secrets_format!r} is not one of {', '.join(output.SECRETS_FORMATS)}",
            param_hint="--secrets-format",
        )
    if outputdir is not None and output_dir is not None and outputdir != output_dir:
        raise typer.BadParameter(
            f"{output_dir!r} disagrees with OUTPUTDIR {outputdir!r}", param_hint="--output-dir"
        )
    if not namespace:
        raise typer.BadParameter("must not be empty", param_hint="--namespace")
    directory = Path(output_dir or outputdir or "certs")

    certs = generate_certs(
        now=datetime.datetime.now(datetime.UTC), namespace=namespace, lifetime_days=certificate_lifetime
    )
    files: dict[str, bytes] = {}
    if pem:
        files |= output.pem_files(certs)
    if yaml:
        manifests = output.secrets(certs, namespace, secrets_format, secrets_name_prefix)
        files |= output.secret_yaml_files(manifests)
    try:
        written = output.write_files(directory, files, overwrite=overwrite)
    except output.OutputExistsError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=1) from None
    for path in written:
        typer.echo(f"{path} created")
