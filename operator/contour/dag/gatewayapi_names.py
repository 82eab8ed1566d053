"""Names shared by everything that handles Gateway API objects.

Each Gateway is served by its own Envoy, which joins the xDS server with node.cluster set to the
Gateway's group name; the DAG, the translator, the event handler and the Envoy supervisor must all
agree on that name and on Contour's gateway-mode listener and RouteConfiguration names
(reference contour.md 1.6: `http-<port>`, `https-<port>`, `tcp-<port>`, `https-<port>/<host>`).
"""

from __future__ import annotations

from typing import Final

from contour.dag.model import ObjectRef

GROUP_PREFIX: Final = "gateway/"
CONTROLLER_NAME: Final = "projectcontour.io/gateway-controller"
GROUP: Final = "gateway.networking.k8s.io"


def gateway_group(ref: ObjectRef) -> str:
    """The xDS node group (node.cluster of its Envoy) of the Gateway `ref`."""
    return f"{GROUP_PREFIX}{ref.namespace}/{ref.name}"


def gateway_of_group(group: str) -> ObjectRef | None:
    """The Gateway whose group name is `group`, or None for other groups (e.g. the default one)."""
    if not group.startswith(GROUP_PREFIX):
        return None
    namespace, sep, name = group[len(GROUP_PREFIX) :].partition("/")
    if not sep or not namespace or not name:
        return None
    return ObjectRef(namespace, name)


def http_listener_name(port: int) -> str:
    """Envoy listener for the plain-HTTP Gateway listeners on `port`."""
    return f"http-{port}"


def https_listener_name(port: int) -> str:
    """Envoy listener for HTTPS and TLS (passthrough/terminate) Gateway listeners on `port`."""
    return f"https-{port}"


def tcp_listener_name(port: int) -> str:
    """Envoy listener for a TCP Gateway listener on `port`."""
    return f"tcp-{port}"


def udp_listener_name(port: int) -> str:
    """Envoy listener for a UDP Gateway listener on `port`."""
    return f"udp-{port}"


def http_route_config_name(port: int) -> str:
    """RouteConfiguration shared by every plain-HTTP virtual host on `port`."""
    return f"http-{port}"


def https_route_config_name(port: int, host: str) -> str:
    """RouteConfiguration of the secure virtual host `host` on `port`."""
    return f"https-{port}/{host}"


def https_fallback_route_config_name(port: int) -> str:
    """RouteConfiguration of the fallback-certificate filter chain on `port`."""
    return f"https-{port}/fallbackcert"
