"""External authorization of HTTPProxy virtual hosts and routes (Envoy ext_authz).

Follows Contour's httpproxy_processor.go: a root that terminates TLS may name an ExtensionService in
`spec.virtualhost.authorization`; the secure host then gets that server, or else the globally
configured one (`BuilderConfig.global_external_authorization`). A root without TLS may not name one
(AuthNotPermitted, checked by the processor). Routes inherit the host's `authPolicy` (disabled,
context) and may override it: `disabled` replaces the inherited value, `context` entries are merged
over the inherited ones. The global server also guards the plain listener; the https-redirect copies
of a TLS host's routes are never checked.

The ExtensionService is looked up through the cache accessor (inside a root's computation the read is
recorded for the incremental build), and must be valid (see extension_processor).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contour.api.projectcontour import v1 as api
from contour.dag.builder import BuildContext, BuilderConfig
from contour.dag.extension_processor import extension_cluster
from contour.dag.goformat import go_quote
from contour.dag.model import (
    AuthorizationRequestBody,
    ExternalAuthorization,
    GlobalExternalAuthorization,
    ObjectRef,
    RouteAuthorization,
    SecureVirtualHost,
)
from contour.dag.status import DetailedCondition
from contour.dag.timeouts import DurationError, parse_timeout

EXTENSION_API_VERSION = "projectcontour.io/v1alpha1"
DEFAULT_MAX_REQUEST_BYTES = 1024
SERVICE_TYPE_GRPC = "grpc"
SERVICE_TYPE_HTTP = "http"
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token


@dataclass(frozen=True)
class _Server:
    """An AuthorizationServer, from a proxy's spec or from the global configuration."""

    ref: ObjectRef
    api_version: str
    service_type: str
    fail_open: bool
    response_timeout: str
    request_body: AuthorizationRequestBody | None
    context: tuple[tuple[str, str], ...]
    http_path_prefix: str = ""
    allowed_authorization_headers: tuple[str, ...] = ()
    allowed_upstream_headers: tuple[str, ...] = ()


def _context(values: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((values or {}).items()))


def _request_body(body: api.WithRequestBody | None) -> AuthorizationRequestBody | None:
    if body is None:
        return None
    return AuthorizationRequestBody(
        max_request_bytes=body.max_request_bytes or DEFAULT_MAX_REQUEST_BYTES,
        allow_partial_message=bool(body.allow_partial_message),
        pack_as_bytes=bool(body.pack_as_bytes),
    )


def _proxy_server(auth: api.Authorization, namespace: str) -> _Server:
    ref = auth.extension_ref
    http = auth.http_settings or api.HTTPSettings()
    return _Server(
        ref=ObjectRef((ref.namespace if ref else None) or namespace, (ref.name if ref else None) or ""),
        api_version=(ref.api_version if ref else None) or EXTENSION_API_VERSION,
        service_type=auth.service_type or SERVICE_TYPE_GRPC,
        fail_open=bool(auth.fail_open),
        response_timeout=auth.response_timeout or "",
        request_body=_request_body(auth.with_request_body),
        context=_context(auth.auth_policy.context if auth.auth_policy else None),
        http_path_prefix=http.path_prefix or "",
        allowed_authorization_headers=tuple(h.root for h in http.allowed_authorization_headers or ()),
        allowed_upstream_headers=tuple(h.root for h in http.allowed_upstream_headers or ()),
    )


def _global_server(auth: GlobalExternalAuthorization, namespace: str) -> _Server:
    return _Server(
        ref=ObjectRef(auth.extension_ref.namespace or namespace, auth.extension_ref.name),
        api_version=auth.api_version or EXTENSION_API_VERSION,
        service_type=auth.service_type or SERVICE_TYPE_GRPC,
        fail_open=auth.fail_open,
        response_timeout=auth.response_timeout,
        request_body=auth.request_body,
        context=auth.auth_policy_context,
        http_path_prefix=auth.http_path_prefix,
        allowed_authorization_headers=auth.allowed_authorization_headers,
        allowed_upstream_headers=auth.allowed_upstream_headers,
    )


def _external_authorization(
    ctx: BuildContext, server: _Server, cond: DetailedCondition
) -> ExternalAuthorization | None:
    """Contour's computeVirtualHostAuthorization: the checked server, or None after adding an error."""
    if server.api_version != EXTENSION_API_VERSION:
        cond.add_error(
            "AuthError",
            "AuthBadResourceVersion",
            "Spec.Virtualhost.Authorization.extensionRef specifies an unsupported resource version "
            f"{go_quote(server.api_version)}",
        )
        return None
    cluster = extension_cluster(ctx, server.ref)
    if cluster is None:
        cond.add_error(
            "AuthError",
            "ExtensionServiceNotFound",
            f"Spec.Virtualhost.Authorization.ServiceRef extension service {go_quote(server.ref)} not found",
        )
        return None
    try:
        timeout = parse_timeout(server.response_timeout)
    except DurationError as exc:
        cond.add_error(
            "AuthError",
            "AuthResponseTimeoutInvalid",
            f"Spec.Virtualhost.Authorization.ResponseTimeout is invalid: {exc}",
        )
        return None
    if server.service_type == SERVICE_TYPE_HTTP:
        if server.context:
            cond.add_error(
                "AuthError",
                "AuthContextForHTTP",
                "Spec.Virtualhost.Authorization.AuthPolicy.Context is not supported "
                "for the http service type",
            )
            return None
        for field, names in (
            ("AllowedAuthorizationHeaders", server.allowed_authorization_headers),
            ("AllowedUpstreamHeaders", server.allowed_upstream_headers),
        ):
            bad = next((n for n in names if not _HEADER_NAME.match(n)), None)
            if bad is not None:
                cond.add_error(
                    "AuthError",
                    "AuthBadAllowedHeader",
                    f"Spec.Virtualhost.Authorization.HTTPSettings.{field} has an invalid header name "
                    f"{go_quote(bad)}",
                )
                return None
    return ExternalAuthorization(
        cluster=cluster,
        service_type=server.service_type,
        fail_open=server.fail_open,
        response_timeout_seconds=timeout if timeout is not None else cluster.response_timeout_seconds,
        request_body=server.request_body,
        http_path_prefix=server.http_path_prefix,
        allowed_authorization_headers=server.allowed_authorization_headers,
        allowed_upstream_headers=server.allowed_upstream_headers,
    )


def authorization_configured(proxy: api.HTTPProxy) -> bool:
    """Contour's VirtualHost.AuthorizationConfigured: TLS and an authorization stanza."""
    vh = proxy.spec.virtualhost
    return vh is not None and vh.tls is not None and vh.authorization is not None


def authorization_disabled(proxy: api.HTTPProxy) -> bool:
    """Contour's VirtualHost.DisableAuthorization: the host's authPolicy says disabled."""
    vh = proxy.spec.virtualhost
    if not authorization_configured(proxy) or vh is None or vh.authorization is None:
        return False
    policy = vh.authorization.auth_policy
    return bool(policy is not None and policy.disabled)


def compute_secure_authorization(
    ctx: BuildContext, proxy: api.HTTPProxy, svhost: SecureVirtualHost, cond: DetailedCondition
) -> bool:
    """The secure host's server: its own when configured and enabled, else the global one. False
    (after adding the error) stops the root."""
    vh = proxy.spec.virtualhost
    assert vh is not None
    ns = proxy.metadata.namespace or ""
    auth = vh.authorization
    own_ref = auth.extension_ref if auth is not None else None
    enabled = auth is not None and authorization_configured(proxy) and not authorization_disabled(proxy)
    if enabled and auth is not None and own_ref is not None and own_ref.name:
        server = _external_authorization(ctx, _proxy_server(auth, ns), cond)
        if server is None:
            return False
        svhost.external_authorization = server
        return True
    glob = ctx.config.global_external_authorization
    if glob is not None:
        server = _external_authorization(ctx, _global_server(glob, ns), cond)
        if server is None:
            return False
        svhost.external_authorization = server
    return True


def check_global_authorization(ctx: BuildContext, proxy: api.HTTPProxy, cond: DetailedCondition) -> None:
    """Contour reports the global server's problems on every root it applies to (without stopping it)."""
    glob = ctx.config.global_external_authorization
    if glob is None or authorization_disabled(proxy):
        return
    _external_authorization(ctx, _global_server(glob, proxy.metadata.namespace or ""), cond)


def global_listener_authorization(ctx: BuildContext) -> ExternalAuthorization | None:
    """The global server for the plain listener, when it is usable (else no filter: Envoy would reject
    an ext_authz filter whose cluster does not exist)."""
    glob = ctx.config.global_external_authorization
    if glob is None:
        return None
    scratch = DetailedCondition("Valid", "Valid", "")
    return _external_authorization(ctx, _global_server(glob, glob.extension_ref.namespace), scratch)


def route_authorization(
    config: BuilderConfig, root: api.HTTPProxy, route: api.Route
) -> RouteAuthorization | None:
    """A route's ext_authz state when a server applies to its host (the root's or the global one)."""
    glob = config.global_external_authorization
    configured = authorization_configured(root)
    if not configured and glob is None:
        return None
    disabled = glob.auth_policy_disabled if glob is not None else False
    context: dict[str, str] = {}
    if configured:
        disabled = authorization_disabled(root)
        vh = root.spec.virtualhost
        assert vh is not None and vh.authorization is not None
        policy = vh.authorization.auth_policy
        context.update(policy.context or {} if policy is not None else {})
    elif glob is not None:
        context.update(glob.auth_policy_context)
    if route.auth_policy is not None:
        disabled = bool(route.auth_policy.disabled)
        context.update(route.auth_policy.context or {})
    return RouteAuthorization(disabled=disabled, context=tuple(sorted(context.items())))
