"""SDS secrets: the TLS certificates Envoy serves (and presents upstream), as Contour's
`internal/envoy/v3/secret.go` builds them.

Only certificates travel over SDS, named `namespace/name/<sha1 of the certificate>` so a rotated
certificate is a new resource. CA bundles and CRLs are inlined in the validation contexts, as Contour
does, so they are not SDS resources.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2

from contour.dag.model import Secret
from contour.envoy.core import config_source
from contour.envoy.names import secret_name


def tls_secret(secret: Secret) -> Any:
    """The SDS resource holding `secret`'s certificate chain and private key."""
    return secret_pb2.Secret(
        name=secret_name(secret),
        tls_certificate=common_pb2.TlsCertificate(
            certificate_chain=base_pb2.DataSource(inline_bytes=secret.cert),
            private_key=base_pb2.DataSource(inline_bytes=secret.key),
        ),
    )


def sds_secret_config(secret: Secret, *, ads: bool = False) -> Any:
    """A reference to `secret` over SDS from the `contour` cluster (on the ADS stream with `ads`)."""
    return secret_pb2.SdsSecretConfig(name=secret_name(secret), sds_config=config_source(ads=ads))
