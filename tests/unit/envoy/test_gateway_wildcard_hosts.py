"""A `*.` virtual host limits HTTPProxy routes to one DNS label (Contour) but not Gateway API routes,
whose wildcards match one or more labels (HTTPRouteListenerHostnameMatching)."""

from __future__ import annotations

import dataclasses

import pytest

from contour.envoy.routes import virtual_host
from tests.unit.envoy.builders import route, upstream, vhost


@pytest.mark.parametrize(
    ("kind", "authority_matches"), [("HTTPProxy", 1), ("HTTPRoute", 0), ("GRPCRoute", 0)]
)
def test_wildcard_host_authority_match_by_route_kind(kind: str, authority_matches: int) -> None:
    built = vhost("*.example.com", dataclasses.replace(route("/", upstream("a")), kind=kind))
    message = virtual_host(built, secure=False)
    assert message is not None
    [only] = message.routes
    assert [h.name for h in only.match.headers].count(":authority") == authority_matches
