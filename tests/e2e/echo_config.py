"""The configuration the e2e tests start from, and the variations they publish.

Two virtual hosts on one HTTP listener (``ingress_http``, RDS ``ingress_http``, Contour's names):
``a.example.com`` -> EDS cluster ``echo-a`` (endpoints from a ClusterLoadAssignment) and
``b.example.com`` -> STATIC cluster ``echo-b``, plus the ``dynamic`` Runtime layer. The Runtime resource
is served rather than left out of the bootstrap (``runtime_discovery=False``) so Envoy runs on the same
bootstrap `contour bootstrap` writes, which waits for RTDS during initialisation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from contour.xds.snapshot import Snapshot
from tests.support import xds_resources as r
from tests.support.envoy_harness import EchoBackend, XdsMode

LISTENER = "ingress_http"
ROUTES = "ingress_http"


@dataclass(frozen=True)
class Backends:
    a: EchoBackend
    b: EchoBackend


def echo_config(
    version: str,
    mode: XdsMode,
    backends: Backends,
    *,
    a_prefix: str = "/",
    b_domains: Sequence[str] = ("b.example.com",),
    extra_a_routes: Iterable[Any] = (),
) -> Snapshot:
    """A consistent snapshot of both backends; keyword arguments change one routing detail each."""
    source = mode.source()
    return r.snapshot(
        version,
        r.eds_cluster("echo-a", source),
        r.assignment("echo-a", backends.a.port),
        r.static_cluster("echo-b", backends.b.port),
        r.http_listener(LISTENER, ROUTES, source),
        r.route_configuration(
            ROUTES,
            [
                r.virtual_host("a", ["a.example.com"], [*extra_a_routes, r.prefix_route(a_prefix, "echo-a")]),
                r.virtual_host("b", b_domains, [r.prefix_route("/", "echo-b")]),
            ],
        ),
        r.runtime(),
    )
