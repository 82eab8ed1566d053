"""Parts of an Envoy route that only Gateway API routes use: invalid backends, regex path rewrites and
mirror fractions (pure). `routes.py` calls these through one-line hooks.

An HTTPRoute whose backendRefs are partly invalid must answer 500 for the invalid share of its traffic
(Gateway API, HTTPRouteRule.backendRefs godoc). Envoy has no weighted direct response, so the invalid
share is a weighted entry naming a cluster that never exists, with the route's
`cluster_not_found_response_code` set to 500: Envoy picks the entry by weight and answers 500 for it.
Route configurations delivered by RDS are not validated against CDS (RouteConfiguration
`validate_clusters` defaults to false for RDS), so the missing cluster is never a NACK.
"""

from __future__ import annotations

from typing import Any, Final

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.type.matcher.v3 import regex_pb2
from envoy.type.v3 import percent_pb2
from google.protobuf import wrappers_pb2

from contour.dag.model import MirrorPolicy, Route
from contour.envoy.core import safe_regex

# No Contour cluster name lacks a "/" (namespace/name/port/hash, extension/ns/name): this never exists.
INVALID_BACKEND_CLUSTER: Final = "gatewayapi-invalid-backend"

_DENOMINATORS: Final = {
    100: percent_pb2.FractionalPercent.HUNDRED,
    10_000: percent_pb2.FractionalPercent.TEN_THOUSAND,
    1_000_000: percent_pb2.FractionalPercent.MILLION,
}


def regex_rewrite(rewrite: tuple[str, str]) -> Any:
    pattern, substitution = rewrite
    return regex_pb2.RegexMatchAndSubstitute(pattern=safe_regex(pattern), substitution=substitution)


def apply_route_rewrites(action: Any, route: Route) -> None:
    """The route's regex path rewrite and its invalid-backend share, on its RouteAction."""
    if route.regex_rewrite is not None:
        action.regex_rewrite.CopyFrom(regex_rewrite(route.regex_rewrite))
    if route.invalid_backend_weight > 0:
        # A GRPCRoute's invalid share must answer UNAVAILABLE: Envoy's local reply to a gRPC request
        # carries grpc-status 14 for a 503 (and 2, UNKNOWN, for a 500).
        action.cluster_not_found_response_code = (
            rc.RouteAction.SERVICE_UNAVAILABLE
            if route.kind == "GRPCRoute"
            else rc.RouteAction.INTERNAL_SERVER_ERROR
        )


def invalid_backend_entries(route: Route) -> list[Any]:
    """The weighted entry answering 500 for the route's invalid backendRefs (none when all are valid)."""
    if route.invalid_backend_weight <= 0:
        return []
    return [
        rc.WeightedCluster.ClusterWeight(
            name=INVALID_BACKEND_CLUSTER, weight=wrappers_pb2.UInt32Value(value=route.invalid_backend_weight)
        )
    ]


def mirror_fraction(mirror: MirrorPolicy) -> Any:
    """The share of requests mirrored: weight/denominator, in Envoy's denominators (scaled to a
    million when the fraction's own denominator is not one of them)."""
    denominator = mirror.denominator or 100
    numerator = mirror.weight
    if denominator not in _DENOMINATORS:
        numerator, denominator = round(numerator * 1_000_000 / denominator), 1_000_000
    return base_pb2.RuntimeFractionalPercent(
        default_value=percent_pb2.FractionalPercent(
            numerator=numerator, denominator=_DENOMINATORS[denominator]
        )
    )
