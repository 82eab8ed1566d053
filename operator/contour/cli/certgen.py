"""`contour certgen`: generate the CA and the Contour/Envoy key pairs that secure the xDS connection.

Flags are Contour's. `--pem` writes five PEM files, `--yaml` writes the Secrets as manifests, both
into the output directory (the OUTPUTDIR argument as in Contour, or `--output-dir`), refusing to
replace existing files unless `--overwrite`. `--kube` writes the Secrets to the cluster of
`--kubeconfig` (default `$KUBECONFIG`, then ~/.kube/config) or, with `--incluster`, of the pod's
service account; the cluster is reached before any file is written.

Writing to the cluster follows Contour's `WriteSecretsKube`: the Secrets are created in order
(contourcert, envoycert, then cacert in the legacy format). Without `--overwrite`, the first one that
exists already ends the run successfully: it and the ones after it are left as they are, so a rerun
(e.g. the certgen Job retried) changes nothing and never mixes certificates of two CAs when the first
Secret is there. With `--overwrite` each Secret is replaced (a PUT at its current resourceVersion).
Any other API error (a missing namespace, no permission) stops the run with status 1.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

if TYPE_CHECKING:
    import kr8s.asyncio

FIELD_MANAGER: Final = "contour-certgen"


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
    kubeconfig: Annotated[
        str | None,
        typer.Option(help="Path to kubeconfig (with --kube; default $KUBECONFIG, then ~/.kube/config)."),
    ] = None,
    namespace: Annotated[
        str,
        typer.Option(
            envvar="CONTOUR_NAMESPACE", help="Namespace for the Secrets and the certificates' names."
        ),
    ] = "projectcontour",
    certificate_lifetime: Annotated[
        int, typer.Option(min=1, help="Generated certificate lifetime, in days.")
    ] = 365,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Overwrite existing files or Secrets.")
    ] = False,
    secrets_format: Annotated[
        str, typer.Option(help="Secrets layout: legacy (CA in its own Secret) or compact (ca.crt in each).")
    ] = "legacy",
    secrets_name_prefix: Annotated[str, typer.Option(help="Prefix for the generated Secrets' names.")] = "",
    secure: Annotated[bool, typer.Option("--secure", help="Accepted for compatibility; no effect.")] = False,
) -> None:
    """Generate new TLS certificates for bootstrapping gRPC over TLS."""
    # cryptography takes tens of milliseconds to import: only pay for it when generating.
    from contour.certgen import output  # noqa: PLC0415
    from contour.certgen.certs import generate_certs  # noqa: PLC0415

    if not (pem or yaml or kube):
        raise typer.BadParameter(
            "nothing to write: pass --pem, --yaml, --kube or several", param_hint="--pem/--yaml/--kube"
        )
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
    manifests = output.secrets(certs, namespace, secrets_format, secrets_name_prefix)
    files: dict[str, bytes] = {}
    if pem:
        files |= output.pem_files(certs)
    if yaml:
        files |= output.secret_yaml_files(manifests)
    if kube:
        asyncio.run(
            _write_files_and_cluster(
                directory,
                files,
                manifests,
                overwrite=overwrite,
                kubeconfig=kubeconfig,
                incluster=incluster,
                secrets_format=secrets_format,
                namespace=namespace,
            )
        )
    else:
        _write_files(directory, files, overwrite=overwrite)


def _write_files(directory: Path, files: dict[str, bytes], *, overwrite: bool) -> None:
    if not files:
        return
    from contour.certgen import output  # noqa: PLC0415

    try:
        written = output.write_files(directory, files, overwrite=overwrite)
    except output.OutputExistsError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=1) from None
    for path in written:
        typer.echo(f"{path} created")


async def _write_files_and_cluster(
    directory: Path,
    files: dict[str, bytes],
    manifests: list[dict[str, Any]],
    *,
    overwrite: bool,
    kubeconfig: str | None,
    incluster: bool,
    secrets_format: str,
    namespace: str,
) -> None:
    # kr8s takes a while to import: only pay for it with --kube.
    from contour.k8s import client  # noqa: PLC0415

    try:
        async with client.connected(kubeconfig=kubeconfig, incluster=incluster) as api:
            _write_files(directory, files, overwrite=overwrite)
            typer.echo(f'Writing "{secrets_format}" format Secrets to namespace "{namespace}"')
            try:
                await _write_secrets(api, manifests, overwrite=overwrite)
            except client.KubeAPIError as error:
                hint = ""
                if error.code == 404 and error.kind == "namespaces":
                    hint = f" (create it first: kubectl create namespace {namespace})"
                typer.echo(
                    f'Error: failed to write Secrets to namespace "{namespace}": {error}{hint}', err=True
                )
                raise typer.Exit(code=1) from None
    except client.KubeClientError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=1) from None


async def _write_secrets(api: kr8s.asyncio.Api, manifests: list[dict[str, Any]], *, overwrite: bool) -> None:
    from contour.k8s.apply import WriteOutcome, create_if_absent, create_or_replace  # noqa: PLC0415

    write = create_or_replace if overwrite else create_if_absent
    for index, manifest in enumerate(manifests):
        name = manifest["metadata"]["name"]
        outcome = await write(api, manifest, plural="secrets", field_manager=FIELD_MANAGER)
        if outcome is WriteOutcome.EXISTS:
            typer.echo(f"secret/{name} already exists; left as it is (use --overwrite to replace it)")
            rest = [m["metadata"]["name"] for m in manifests[index + 1 :]]
            if rest:
                typer.echo(f"not writing the Secrets after it: {', '.join(rest)}")
            return
        typer.echo(f"secret/{name} {outcome.value}")
