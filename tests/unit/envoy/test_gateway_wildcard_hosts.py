"""The translator adds no `:authority` match to the routes of a `*.` virtual host: the DAG decides.
HTTPProxy and Ingress routes carry Contour's one-label match from their processors; Gateway API
wildcards match one or more labels (HTTPRouteListenerHostnameMatching), which Envoy's `*.` domain does."""

from __future__ import annotations

import dataclasses

import pytest

from contour.envoy.routes import virtual_host
from tests.unit.envoy.builders import route, upstream, vhost


@pytest.mark.parametrize("kind", ["HTTPProxy", "HTTPRoute", "GRPCRoute"])
def test_wildcard_host_routes_are_translated_as_the_dag_built_them(kind: str) -> None:
    built = vhost("*.example.com", dataclasses.replace(route("/", upstream("a")), kind=kind))
    message = virtual_host(built, secure=False)
    assert message is not None
    [only] = message.routes
    assert [h.name for h in only.match.headers] == []
