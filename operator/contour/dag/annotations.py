"""Contour's annotations on Ingresses and Services, parsed exactly as Contour 1.33 parses them.

Ingress has no fields for timeouts, retries, websockets, TLS versions or upstream protocols, so Contour
reads them from annotations (`internal/annotation/annotations.go`, `internal/timeout/timeout.go`). The
rules are lenient by design and this module keeps Contour's leniency: a malformed number reads as 0,
an unknown TLS version as the default, and only timeouts report an error (the caller logs it and uses
the default). Contour 1.33 reads only the `projectcontour.io/` prefix; the legacy
`contour.heptio.com/` prefix was dropped in Contour 1.x and is ignored here too.

Every function takes the annotations map (`metadata.annotations`), so it works on raw object dicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contour.dag.model import Protocol
from contour.dag.timeouts import parse_timeout

PREFIX = "projectcontour.io/"

INGRESS_CLASS = "projectcontour.io/ingress.class"
KUBERNETES_INGRESS_CLASS = "kubernetes.io/ingress.class"
ALLOW_HTTP = "kubernetes.io/ingress.allow-http"
FORCE_SSL_REDIRECT = "ingress.kubernetes.io/force-ssl-redirect"
TLS_CERT_NAMESPACE = "projectcontour.io/tls-cert-namespace"
TLS_MINIMUM_PROTOCOL_VERSION = "projectcontour.io/tls-minimum-protocol-version"
TLS_MAXIMUM_PROTOCOL_VERSION = "projectcontour.io/tls-maximum-protocol-version"
WEBSOCKET_ROUTES = "projectcontour.io/websocket-routes"
RESPONSE_TIMEOUT = "projectcontour.io/response-timeout"
# The old name of response-timeout: still read when response-timeout is absent or empty.
REQUEST_TIMEOUT = "projectcontour.io/request-timeout"
RETRY_ON = "projectcontour.io/retry-on"
NUM_RETRIES = "projectcontour.io/num-retries"
PER_TRY_TIMEOUT = "projectcontour.io/per-try-timeout"
MAX_CONNECTIONS = "projectcontour.io/max-connections"
MAX_PENDING_REQUESTS = "projectcontour.io/max-pending-requests"
MAX_REQUESTS = "projectcontour.io/max-requests"
MAX_RETRIES = "projectcontour.io/max-retries"
PER_HOST_MAX_CONNECTIONS = "projectcontour.io/per-host-max-connections"
UPSTREAM_PROTOCOL_PREFIX = "projectcontour.io/upstream-protocol."

# Which annotations Contour honours on which kind (`annotationsByKind`); per-try-timeout and
# request-timeout are read from Ingresses although Contour leaves them out of this table.
_VALID_BY_KIND: dict[str, frozenset[str]] = {
    "Ingress": frozenset(
        {
            FORCE_SSL_REDIRECT,
            ALLOW_HTTP,
            KUBERNETES_INGRESS_CLASS,
            INGRESS_CLASS,
            NUM_RETRIES,
            RESPONSE_TIMEOUT,
            RETRY_ON,
            TLS_MINIMUM_PROTOCOL_VERSION,
            TLS_MAXIMUM_PROTOCOL_VERSION,
            TLS_CERT_NAMESPACE,
            WEBSOCKET_ROUTES,
        }
    ),
    "Service": frozenset(
        {
            MAX_CONNECTIONS,
            MAX_PENDING_REQUESTS,
            MAX_REQUESTS,
            MAX_RETRIES,
            PER_HOST_MAX_CONNECTIONS,
            UPSTREAM_PROTOCOL_PREFIX + "h2",
            UPSTREAM_PROTOCOL_PREFIX + "h2c",
            UPSTREAM_PROTOCOL_PREFIX + "tls",
        }
    ),
    "HTTPProxy": frozenset({KUBERNETES_INGRESS_CLASS, INGRESS_CLASS}),
    "Secret": frozenset({"projectcontour.io/generated-by-version"}),
}

_UINT32_MAX = 2**32 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """`metadata.annotations` of a raw object, keeping only string values (anything else is ignored)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return {}
    annotations = metadata.get("annotations")
    if not isinstance(annotations, Mapping):
        return {}
    return {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}


# --- which annotations Contour knows ----------------------------------------------------------------


def is_known(key: str) -> bool:
    """Whether Contour knows this annotation at all (its own prefix, or a standard Ingress one)."""
    if key.startswith((PREFIX, "ingress.kubernetes.io/")):
        return True
    return key in {KUBERNETES_INGRESS_CLASS, ALLOW_HTTP, "kubernetes.io/ingress.global-static-ip-name"}


def valid_for_kind(kind: str, key: str) -> bool:
    """Whether `key` is meant for objects of `kind`; a Contour annotation on the wrong kind is not."""
    valid = _VALID_BY_KIND.get(kind)
    if valid is not None:
        return key in valid
    return not key.startswith(PREFIX)


def contour_annotation(annotations: Mapping[str, str], key: str) -> str:
    """The value of `projectcontour.io/<key>`, "" when absent."""
    return annotations.get(PREFIX + key, "")


# --- numbers, as Go's strconv parses them -----------------------------------------------------------

_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"[+-]?[0-9]+")


def _small_int(digits: str) -> int | None:
    """int(digits) for digit strings that fit 32 bits after leading zeros; None for longer ones
    (which also keeps Python's 4,300-digit conversion limit out of reach)."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= 10 else None


def parse_uint32(value: str) -> int:
    """strconv.ParseUint(value, 10, 32), with 0 for anything malformed or out of range."""
    if not _UNSIGNED.fullmatch(value):
        return 0
    number = _small_int(value)
    return number if number is not None and number <= _UINT32_MAX else 0


def parse_int32(value: str) -> int:
    """strconv.ParseInt(value, 10, 32), with 0 for anything malformed or out of range."""
    if not _SIGNED.fullmatch(value):
        return 0
    magnitude = _small_int(value.lstrip("+-"))
    if magnitude is None:
        return 0
    number = -magnitude if value.startswith("-") else magnitude
    return number if _INT32_MIN <= number <= _INT32_MAX else 0


# --- Ingress annotations ----------------------------------------------------------------------------


def ingress_class(annotations: Mapping[str, str]) -> str:
    """The class named by annotation: projectcontour.io/ingress.class, else kubernetes.io/ingress.class.

    The first annotation *present* wins, even when its value is empty.
    """
    for key in (INGRESS_CLASS, KUBERNETES_INGRESS_CLASS):
        if key in annotations:
            return annotations[key]
    return ""


def http_allowed(annotations: Mapping[str, str]) -> bool:
    """False only when `kubernetes.io/ingress.allow-http` is exactly "false"."""
    return annotations.get(ALLOW_HTTP) != "false"


def tls_required(annotations: Mapping[str, str]) -> bool:
    """True only when `ingress.kubernetes.io/force-ssl-redirect` is exactly "true"."""
    return annotations.get(FORCE_SSL_REDIRECT) == "true"


def tls_cert_namespace(annotations: Mapping[str, str]) -> str:
    """The namespace of Ingress TLS secrets named without one (`projectcontour.io/tls-cert-namespace`)."""
    return annotations.get(TLS_CERT_NAMESPACE, "")


def tls_version(value: str, default: str) -> str:
    """ "1.2" or "1.3" as given; any other value (including "") reads as `default`."""
    return value if value in {"1.2", "1.3"} else default


def min_tls_version(annotations: Mapping[str, str]) -> str:
    return tls_version(annotations.get(TLS_MINIMUM_PROTOCOL_VERSION, ""), "1.2")


def max_tls_version(annotations: Mapping[str, str]) -> str:
    return tls_version(annotations.get(TLS_MAXIMUM_PROTOCOL_VERSION, ""), "1.3")


def websocket_routes(annotations: Mapping[str, str]) -> frozenset[str]:
    """The paths named in `projectcontour.io/websocket-routes` (comma-separated, spaces trimmed)."""
    routes = (part.strip() for part in annotations.get(WEBSOCKET_ROUTES, "").split(","))
    return frozenset(route for route in routes if route)


def retry_on(annotations: Mapping[str, str]) -> tuple[str, ...]:
    """The Envoy retry conditions in `projectcontour.io/retry-on`; empty means "no retry policy"."""
    conditions = (part.strip() for part in annotations.get(RETRY_ON, "").split(","))
    return tuple(condition for condition in conditions if condition)


def num_retries(annotations: Mapping[str, str]) -> int:
    """`projectcontour.io/num-retries`: -1 means 0 retries; 0, absent, malformed or negative mean 1."""
    value = parse_int32(annotations.get(NUM_RETRIES, ""))
    if value == -1:
        return 0
    if value <= 1:
        return 1
    return value


def per_try_timeout(annotations: Mapping[str, str]) -> float | None:
    """`projectcontour.io/per-try-timeout` as a timeout setting; DurationError when malformed."""
    return parse_timeout(annotations.get(PER_TRY_TIMEOUT, ""))


def response_timeout(annotations: Mapping[str, str]) -> float | None:
    """`projectcontour.io/response-timeout` (or the legacy request-timeout) as a timeout setting."""
    value = annotations.get(RESPONSE_TIMEOUT, "") or annotations.get(REQUEST_TIMEOUT, "")
    return parse_timeout(value)


# --- Service annotations ----------------------------------------------------------------------------


def max_connections(annotations: Mapping[str, str]) -> int:
    return parse_uint32(annotations.get(MAX_CONNECTIONS, ""))


def max_pending_requests(annotations: Mapping[str, str]) -> int:
    return parse_uint32(annotations.get(MAX_PENDING_REQUESTS, ""))


def max_requests(annotations: Mapping[str, str]) -> int:
    return parse_uint32(annotations.get(MAX_REQUESTS, ""))


def max_retries(annotations: Mapping[str, str]) -> int:
    return parse_uint32(annotations.get(MAX_RETRIES, ""))


def per_host_max_connections(annotations: Mapping[str, str]) -> int:
    return parse_uint32(annotations.get(PER_HOST_MAX_CONNECTIONS, ""))


def upstream_protocols(annotations: Mapping[str, str]) -> dict[str, Protocol]:
    """Port name or number -> protocol, from `projectcontour.io/upstream-protocol.{h2,h2c,tls}`.

    Each annotation holds a comma-separated list of ports; a port listed under several protocols
    gets the last in the order h2, h2c, tls.
    """
    protocols: dict[str, Protocol] = {}
    for protocol in (Protocol.H2, Protocol.H2C, Protocol.TLS):
        for part in annotations.get(UPSTREAM_PROTOCOL_PREFIX + protocol.value, "").split(","):
            port = part.strip()
            if port:
                protocols[port] = protocol
    return protocols


# ServicePort.appProtocol values Contour understands; any other value means plain HTTP/1.1.
_APP_PROTOCOLS = {
    "kubernetes.io/h2c": Protocol.H2C,
    "kubernetes.io/ws": Protocol.HTTP1,
    "http": Protocol.HTTP1,
    "https": Protocol.TLS,
}


def upstream_protocol(
    annotations: Mapping[str, str], port_name: str, port_number: int, app_protocol: str | None
) -> Protocol:
    """How Envoy talks to one Service port: its appProtocol if set, else the upstream-protocol annotations.

    When a port sets appProtocol the annotations are not consulted at all, even for values Contour
    does not understand. The annotations match the port's name first, then its number.
    """
    if app_protocol is not None:
        return _APP_PROTOCOLS.get(app_protocol, Protocol.HTTP1)
    protocols = upstream_protocols(annotations)
    return protocols.get(port_name) or protocols.get(str(port_number), Protocol.HTTP1)
