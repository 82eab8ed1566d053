"""A route's `internalRedirectPolicy` as Envoy's RouteAction.internal_redirect_policy.

Follows Contour's `internalRedirectPolicy` (internal/envoy/v3/route.go): Always allows cross-scheme
redirects; SafeOnly allows them too but adds the `safe_cross_scheme` predicate (an HTTPS request may
be redirected to HTTP or HTTPS, an HTTP request only to HTTP); denyRepeatedRouteRedirect adds the
`previous_routes` predicate. An unset maximum is left to Envoy (1), unset response codes to Envoy
(302 only). See
https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/http/http_connection_management#internal-redirects
"""

from __future__ import annotations

from typing import Any, Final

from envoy.config.core.v3 import extension_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.internal_redirect.previous_routes.v3 import previous_routes_config_pb2
from envoy.extensions.internal_redirect.safe_cross_scheme.v3 import safe_cross_scheme_config_pb2

from contour.dag.model import InternalRedirectPolicy
from contour.envoy.core import pack

SAFE_CROSS_SCHEME: Final = "envoy.internal_redirect_predicates.safe_cross_scheme"
PREVIOUS_ROUTES: Final = "envoy.internal_redirect_predicates.previous_routes"


def internal_redirect_policy(policy: InternalRedirectPolicy) -> Any:
    """Envoy's InternalRedirectPolicy for the DAG's."""
    result = rc.InternalRedirectPolicy(
        redirect_response_codes=list(policy.redirect_response_codes),
        allow_cross_scheme_redirect=policy.allow_cross_scheme_redirect in ("Always", "SafeOnly"),
    )
    if policy.max_internal_redirects > 0:
        result.max_internal_redirects.value = policy.max_internal_redirects
    if policy.allow_cross_scheme_redirect == "SafeOnly":
        result.predicates.append(
            extension_pb2.TypedExtensionConfig(
                name=SAFE_CROSS_SCHEME,
                typed_config=pack(safe_cross_scheme_config_pb2.SafeCrossSchemeConfig()),
            )
        )
    if policy.deny_repeated_route_redirect:
        result.predicates.append(
            extension_pb2.TypedExtensionConfig(
                name=PREVIOUS_ROUTES, typed_config=pack(previous_routes_config_pb2.PreviousRoutesConfig())
            )
        )
    return result
