"""Small Envoy building blocks every translator uses: packing into `Any`, socket addresses, the xDS
config source pointing at the bootstrap's `contour` cluster, TLS versions and header options.

Config sources follow the bootstrap (`bootstrap.py`): by default one state-of-the-world gRPC stream per
type to the static cluster `contour`, as Contour's `ConfigSource("contour")` does; with `ads` the
aggregated stream of the bootstrap's `ads_config`. A resource must name the same transport as the
bootstrap or Envoy opens a second subscription nobody answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2, grpc_service_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2
from envoy.type.matcher.v3 import regex_pb2
from google.protobuf import any_pb2

from contour.dag.model import HeaderValue
from contour.envoy.names import XDS_CLUSTER

TYPE_PREFIX: Final = "type.googleapis.com/"
TLS_TRANSPORT_SOCKET: Final = "envoy.transport_sockets.tls"

# Contour's default TLS 1.2 cipher suites (apis/projectcontour/v1alpha1 DefaultTLSCiphers).
DEFAULT_CIPHER_SUITES: Final = (
    "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]",
    "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
)

_TLS_VERSIONS: Final = {
    "1.2": common_pb2.TlsParameters.TLSv1_2,
    "1.3": common_pb2.TlsParameters.TLSv1_3,
}


def type_url(message_class: Any) -> str:
    """`type.googleapis.com/<full name>` of a message class (what `Any.Pack` writes)."""
    return TYPE_PREFIX + str(message_class.DESCRIPTOR.full_name)


def pack(message: Any) -> Any:
    """`message` in a `google.protobuf.Any`."""
    result = any_pb2.Any()
    result.Pack(message)
    return result


def socket_address(address: str, port: int) -> Any:
    """A TCP address; "::" also accepts IPv4 (ipv4_compat), as Contour configures it."""
    socket = address_pb2.SocketAddress(address=address, port_value=port)
    if address == "::":
        socket.ipv4_compat = True
    return address_pb2.Address(socket_address=socket)


def config_source(*, ads: bool = False) -> Any:
    """The aggregated (ADS) config source, or a per-type SotW gRPC one on the bootstrap's `contour` cluster.

    Per-type, every EDS cluster is its own gRPC stream; ADS carries all of them on the bootstrap's one.
    """
    if ads:
        return config_source_pb2.ConfigSource(
            ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
        )
    return config_source_pb2.ConfigSource(
        resource_api_version=config_source_pb2.V3,
        api_config_source=config_source_pb2.ApiConfigSource(
            api_type=config_source_pb2.ApiConfigSource.GRPC,
            transport_api_version=config_source_pb2.V3,
            grpc_services=[
                grpc_service_pb2.GrpcService(
                    envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=XDS_CLUSTER)
                )
            ],
        ),
    )


def tls_version(version: str) -> int:
    """Contour's ParseTLSVersion: "1.2" and "1.3" are understood, anything else is TLS_AUTO."""
    return int(_TLS_VERSIONS.get(version, common_pb2.TlsParameters.TLS_AUTO))


def safe_regex(regex: str) -> Any:
    """An RE2 matcher (the bootstrap makes google_re2 the default engine)."""
    return regex_pb2.RegexMatcher(regex=regex)


def header_value_options(values: Iterable[HeaderValue], *, append: bool) -> list[Any]:
    """Header options sorted by name: overwrite for a `set`, append for an `add` (Contour's rule)."""
    action = (
        base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD
        if append
        else base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
    )
    return [
        base_pb2.HeaderValueOption(
            header=base_pb2.HeaderValue(key=value.name, value=value.value), append_action=action
        )
        for value in sorted(values, key=lambda v: v.name)
    ]
