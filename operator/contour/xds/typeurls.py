"""The xDS resource types this server knows: their type URLs, send order and resource names.

A type URL is ``type.googleapis.com/`` plus the message's full name; Envoy rejects anything else.
"""

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.runtime.v3 import rtds_pb2

PREFIX = "type.googleapis.com/"

CLUSTER = PREFIX + "envoy.config.cluster.v3.Cluster"
ENDPOINT = PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = PREFIX + "envoy.config.listener.v3.Listener"
ROUTE = PREFIX + "envoy.config.route.v3.RouteConfiguration"
SECRET = PREFIX + "envoy.extensions.transport_sockets.tls.v3.Secret"
RUNTIME = PREFIX + "envoy.service.runtime.v3.Runtime"

# Make-before-break: what is referred to goes out before what refers to it
# (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#eventual-consistency-considerations).
SEND_ORDER: tuple[str, ...] = (CLUSTER, ENDPOINT, SECRET, LISTENER, ROUTE, RUNTIME)
KNOWN: frozenset[str] = frozenset(SEND_ORDER)

MESSAGE_CLASSES: dict[str, Any] = {
    CLUSTER: cluster_pb2.Cluster,
    ENDPOINT: endpoint_pb2.ClusterLoadAssignment,
    LISTENER: listener_pb2.Listener,
    ROUTE: route_pb2.RouteConfiguration,
    SECRET: secret_pb2.Secret,
    RUNTIME: rtds_pb2.Runtime,
}

_NAMERS: dict[str, Callable[[Any], str]] = {
    CLUSTER: attrgetter("name"),
    ENDPOINT: attrgetter("cluster_name"),
    LISTENER: attrgetter("name"),
    ROUTE: attrgetter("name"),
    SECRET: attrgetter("name"),
    RUNTIME: attrgetter("name"),
}

SHORT_NAMES: dict[str, str] = {
    CLUSTER: "cds",
    ENDPOINT: "eds",
    LISTENER: "lds",
    ROUTE: "rds",
    SECRET: "sds",
    RUNTIME: "rtds",
}


def type_url_of(message: Any) -> str:
    """The type URL of a protobuf message instance."""
    return PREFIX + str(message.DESCRIPTOR.full_name)


def resource_name(message: Any) -> str:
    """The xDS name of a resource: ``cluster_name`` for a ClusterLoadAssignment, ``name`` otherwise."""
    namer = _NAMERS.get(type_url_of(message))
    if namer is None:
        raise ValueError(f"not an xDS resource this server serves: {message.DESCRIPTOR.full_name}")
    return namer(message)


def namer(type_url: str) -> Callable[[Any], str]:
    """The function giving the xDS name of a resource of ``type_url`` (``KeyError`` for an unknown type)."""
    return _NAMERS[type_url]


def is_wildcard_type(type_url: str) -> bool:
    """Listeners and clusters are always requested as a whole set by Envoy (SotW LDS/CDS)."""
    return type_url in (CLUSTER, LISTENER)
