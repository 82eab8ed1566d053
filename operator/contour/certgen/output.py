"""Where generated certificates go: PEM files or Kubernetes Secret manifests, never over existing files.

File names and Secret shapes are Contour's (`internal/certgen`): PEM files `cacert.pem`,
`contourcert.pem`, `contourkey.pem`, `envoycert.pem`, `envoykey.pem`; Secrets `contourcert` and
`envoycert` of type `kubernetes.io/tls`, each written to `<name>.yaml`. The "compact" format puts the
CA into each TLS Secret as `ca.crt` (cert-manager's layout); the "legacy" format (Contour's default)
leaves it out and adds an Opaque Secret `cacert` holding `cacert.pem`.

`write_files` checks every target before writing any, so a refusal leaves the directory untouched,
and still creates each file exclusively (O_EXCL) so a file appearing meanwhile is not clobbered.
Keys and Secret manifests are written 0600, certificates 0644.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from contour.certgen.certs import Certificates

CA_CERTIFICATE_FILE: Final = "cacert.pem"
CONTOUR_CERTIFICATE_FILE: Final = "contourcert.pem"
CONTOUR_PRIVATE_KEY_FILE: Final = "contourkey.pem"
ENVOY_CERTIFICATE_FILE: Final = "envoycert.pem"
ENVOY_PRIVATE_KEY_FILE: Final = "envoykey.pem"
SECRETS_FORMATS: Final = ("legacy", "compact")

_PUBLIC_FILES: Final = frozenset({CA_CERTIFICATE_FILE, CONTOUR_CERTIFICATE_FILE, ENVOY_CERTIFICATE_FILE})


class OutputExistsError(FileExistsError):
    """Some outputs already exist and overwriting was not asked for; nothing was written."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        names = ", ".join(str(p) for p in paths)
        super().__init__(f"refusing to overwrite existing files (use --overwrite): {names}")


def pem_files(certs: Certificates) -> dict[str, bytes]:
    """File name -> PEM content, Contour's names."""
    return {
        CA_CERTIFICATE_FILE: certs.ca_certificate,
        CONTOUR_CERTIFICATE_FILE: certs.contour_certificate,
        CONTOUR_PRIVATE_KEY_FILE: certs.contour_private_key,
        ENVOY_CERTIFICATE_FILE: certs.envoy_certificate,
        ENVOY_PRIVATE_KEY_FILE: certs.envoy_private_key,
    }


def secrets(
    certs: Certificates, namespace: str, secrets_format: str = "legacy", name_prefix: str = ""
) -> list[dict[str, Any]]:
    """The Kubernetes Secrets (as manifests) holding `certs`, in Contour's "legacy" or "compact" format."""
    if secrets_format not in SECRETS_FORMATS:
        raise ValueError(f"unsupported Secrets format {secrets_format!r}: use legacy or compact")

    def name(base: str) -> str:
        return f"{name_prefix}-{base}" if name_prefix else base

    def tls(cert: bytes, key: bytes) -> dict[str, bytes]:
        data = {"tls.crt": cert, "tls.key": key}
        return {"ca.crt": certs.ca_certificate, **data} if secrets_format == "compact" else data

    result = [
        _secret(
            name("contourcert"),
            namespace,
            "kubernetes.io/tls",
            tls(certs.contour_certificate, certs.contour_private_key),
        ),
        _secret(
            name("envoycert"),
            namespace,
            "kubernetes.io/tls",
            tls(certs.envoy_certificate, certs.envoy_private_key),
        ),
    ]
    if secrets_format == "legacy":
        result.append(
            _secret(name("cacert"), namespace, "Opaque", {CA_CERTIFICATE_FILE: certs.ca_certificate})
        )
    return result


def secret_yaml_files(secret_manifests: list[dict[str, Any]]) -> dict[str, bytes]:
    """File name (`<secret name>.yaml`) -> YAML manifest."""
    return {
        f"{s['metadata']['name']}.yaml": yaml.safe_dump(s, sort_keys=False).encode() for s in secret_manifests
    }


def write_files(directory: Path, files: Mapping[str, bytes], *, overwrite: bool = False) -> list[Path]:
    """Write `files` into `directory` (created if missing); refuse, writing nothing, if any exists."""
    targets = {directory / name: content for name, content in files.items()}
    if not overwrite:
        existing = [path for path in targets if path.exists() or path.is_symlink()]
        if existing:
            raise OutputExistsError(existing)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path, content in targets.items():
        mode = 0o644 if path.name in _PUBLIC_FILES else 0o600
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if overwrite else os.O_EXCL)
        try:
            fd = os.open(path, flags, mode)
        except FileExistsError as error:
            raise OutputExistsError([path]) from error
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        except OSError:
            path.unlink(missing_ok=True)
            raise
        if overwrite:
            path.chmod(mode)
        written.append(path)
    return written


def _secret(name: str, namespace: str, secret_type: str, data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "contour"}},
        "type": secret_type,
        "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()},
    }
