"""The ext_authz HTTP filter and its per-route settings, as Contour's FilterExternalAuthz builds them.

A host with an authorization server gets `envoy.filters.http.ext_authz` after jwt_authn and before
ratelimit (order fixed by `filter_hooks`); the plain listener gets it for the global server. Contour's
choices: the route cache is cleared after a check (the server may change headers routing reads), a
server error answers 403, peer certificates are included, and fail-open is the user's. gRPC servers
are reached with Envoy's own gRPC client on the extension cluster (`:authority` = the TLS SNI when
one is validated); HTTP servers (serviceType http) get the original request's method and path under
`path_prefix`, with the allowed headers.

Per route: `ExtAuthzPerRoute` disables the check, or adds context extensions (the route's
authPolicy.context merged over its host's). The https-redirect copy of a TLS host's route on the
plain listener is never checked.
"""

from __future__ import annotations

from typing import Any, Final

from envoy.config.core.v3 import config_source_pb2, grpc_service_pb2, http_uri_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.type.matcher.v3 import string_pb2
from envoy.type.v3 import http_status_pb2

from contour.dag.model import ExternalAuthorization, Listener, Route, SecureVirtualHost
from contour.envoy.durations import duration
from contour.envoy.http_connection_manager import http_filter

EXT_AUTHZ_FILTER: Final = "envoy.filters.http.ext_authz"
# Envoy requires a timeout on an HTTP authorization server; its gRPC client's default is 200 ms.
DEFAULT_HTTP_TIMEOUT_SECONDS: Final = 0.2


def _string_matchers(names: tuple[str, ...]) -> Any:
    return string_pb2.ListStringMatcher(
        patterns=[string_pb2.StringMatcher(exact=name, ignore_case=True) for name in names]
    )


def ext_authz_config(auth: ExternalAuthorization) -> Any:
    """The ExtAuthz filter configuration for one authorization server."""
    config = ext_authz_pb2.ExtAuthz(
        transport_api_version=config_source_pb2.V3,
        failure_mode_allow=auth.fail_open,
        clear_route_cache=True,
        include_peer_certificate=True,
        status_on_error=http_status_pb2.HttpStatus(code=http_status_pb2.Forbidden),
    )
    cluster = auth.cluster
    timeout = auth.response_timeout_seconds
    if auth.service_type == "http":
        server_timeout = DEFAULT_HTTP_TIMEOUT_SECONDS if timeout is None else timeout
        config.http_service.server_uri.CopyFrom(
            http_uri_pb2.HttpUri(
                uri=f"http://{cluster.name}", cluster=cluster.name, timeout=duration(server_timeout)
            )
        )
        config.http_service.path_prefix = auth.http_path_prefix
        if auth.allowed_authorization_headers:
            config.allowed_headers.CopyFrom(_string_matchers(auth.allowed_authorization_headers))
        if auth.allowed_upstream_headers:
            config.http_service.authorization_response.allowed_upstream_headers.CopyFrom(
                _string_matchers(auth.allowed_upstream_headers)
            )
    else:
        grpc = grpc_service_pb2.GrpcService(
            envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
                cluster_name=cluster.name, authority=cluster.sni
            )
        )
        if timeout is not None:
            grpc.timeout.CopyFrom(duration(timeout))
        config.grpc_service.CopyFrom(grpc)
    body = auth.request_body
    if body is not None:
        config.with_request_body.CopyFrom(
            ext_authz_pb2.BufferSettings(
                max_request_bytes=body.max_request_bytes,
                allow_partial_message=body.allow_partial_message,
                pack_as_bytes=body.pack_as_bytes,
            )
        )
    return config


def ext_authz_filter(auth: ExternalAuthorization | None) -> list[Any]:
    """The ext_authz HttpFilter for a server (an empty list for none)."""
    if auth is None:
        return []
    return [http_filter(EXT_AUTHZ_FILTER, ext_authz_config(auth))]


def secure_host_ext_authz(host: SecureVirtualHost) -> list[Any]:
    """The secure host's own (or the global) ext_authz filter."""
    return ext_authz_filter(host.external_authorization)


def plain_listener_ext_authz(listener: Listener | None) -> list[Any]:
    """The global ext_authz filter of the plain listener."""
    return ext_authz_filter(listener.external_authorization if listener is not None else None)


def route_ext_authz(route: Route, *, secure: bool) -> Any | None:
    """The route's ExtAuthzPerRoute, None when the route needs none."""
    auth = route.authorization
    if auth is None:
        return None
    if auth.disabled or (route.https_upgrade and not secure):
        return ext_authz_pb2.ExtAuthzPerRoute(disabled=True)
    if not auth.context:
        return None
    return ext_authz_pb2.ExtAuthzPerRoute(
        check_settings=ext_authz_pb2.CheckSettings(context_extensions=dict(auth.context))
    )
