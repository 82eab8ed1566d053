"""HTTPProxy external authorization in the DAG: the host's server, the routes' settings, the global
server from the configuration, and every AuthError reason with Contour's message."""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig, BuildResult
from contour.dag.model import (
    AuthorizationRequestBody,
    ExternalAuthorization,
    GlobalExternalAuthorization,
    ObjectRef,
    Route,
    RouteAuthorization,
)
from contour.dag.vhosts import HTTP_LISTENER_NAME, HTTPS_LISTENER_NAME

from .fixtures import build, k8s_service, port, proxy, service, tls_secret

Obj = dict[str, Any]
HOST = "app.example.com"
KUARD = k8s_service("kuard")
AUTH_SVC = k8s_service("auth-svc", ports=[port(9000, "grpc")])
CERT = tls_secret("cert")
ROOT = ObjectRef("default", "root")


def extension(name: str = "auth", **spec: Any) -> Obj:
    return {
        "apiVersion": "projectcontour.io/v1alpha1",
        "kind": "ExtensionService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"services": [{"name": "auth-svc", "port": 9000}], **spec},
    }


BASE = (KUARD, AUTH_SVC, CERT, extension())


def root(tls: bool = True, auth: bool = True, **authorization: Any) -> Any:
    """The root proxy; with `auth` it names the `auth` ExtensionService (plus `authorization` fields)."""
    builder = proxy("root").fqdn(HOST)
    if tls:
        builder = builder.tls("cert")
    if auth:
        builder = builder.vhost(authorization={"extensionRef": {"name": "auth"}, **authorization})
    return builder


def with_routes(builder: Any) -> Obj:
    built: Obj = (
        builder.route("/", service("kuard"))
        .route("/open", service("kuard"), authPolicy={"disabled": True})
        .route("/ctx", service("kuard"), authPolicy={"context": {"k": "route", "extra": "1"}})
        .build()
    )
    return built


def result(*objects: Obj, config: BuilderConfig | None = None) -> BuildResult:
    return build(*objects, config=config)


def secure_auth(res: BuildResult) -> ExternalAuthorization | None:
    return res.dag.listeners[HTTPS_LISTENER_NAME].secure_virtual_hosts[HOST].external_authorization


def routes_by_prefix(res: BuildResult, *, secure: bool) -> dict[str, Route]:
    listener = res.dag.listeners[HTTPS_LISTENER_NAME if secure else HTTP_LISTENER_NAME]
    vhost = listener.secure_virtual_hosts[HOST].virtual_host if secure else listener.virtual_hosts[HOST]
    return {r.path_match.value: r for r in vhost.routes.values()}


def proxy_errors(res: BuildResult) -> list[tuple[str, str, str]]:
    [update] = [u for u in res.statuses if u.ref == ROOT and u.plural == "httpproxies"]
    valid = update.status["conditions"][0]
    return [(e["type"], e["reason"], e["message"]) for e in valid.get("errors", [])]


# -- the host's server ------------------------------------------------------------------------------------


def test_a_tls_host_gets_its_authorization_server() -> None:
    auth = secure_auth(result(*BASE, with_routes(root(failOpen=True, responseTimeout="3s"))))
    assert auth is not None
    assert (auth.cluster.name, auth.service_type, auth.fail_open, auth.response_timeout_seconds) == (
        "extension/default/auth",
        "grpc",
        True,
        3.0,
    )


def test_the_response_timeout_defaults_to_the_extension_services() -> None:
    objects = (KUARD, AUTH_SVC, CERT, extension(timeoutPolicy={"response": "750ms"}))
    auth = secure_auth(result(*objects, with_routes(root())))
    assert auth is not None and auth.response_timeout_seconds == 0.75


def test_with_request_body_defaults_max_request_bytes() -> None:
    auth = secure_auth(result(*BASE, with_routes(root(withRequestBody={"packAsBytes": True}))))
    assert auth is not None
    assert auth.request_body == AuthorizationRequestBody(max_request_bytes=1024, pack_as_bytes=True)


def test_a_host_with_authorization_disabled_gets_no_server() -> None:
    res = result(*BASE, with_routes(root(authPolicy={"disabled": True})))
    assert secure_auth(res) is None
    assert proxy_errors(res) == []


# -- routes ---------------------------------------------------------------------------------------------

ROUTE_CASES: list[tuple[str, Obj, dict[str, RouteAuthorization]]] = [
    (
        "host-context-merged",
        {"authPolicy": {"context": {"k": "host", "h": "1"}}},
        {
            "/": RouteAuthorization(False, (("h", "1"), ("k", "host"))),
            "/open": RouteAuthorization(True, (("h", "1"), ("k", "host"))),
            "/ctx": RouteAuthorization(False, (("extra", "1"), ("h", "1"), ("k", "route"))),
        },
    ),
    (
        "host-disabled",
        {"authPolicy": {"disabled": True}},
        {
            "/": RouteAuthorization(True),
            "/open": RouteAuthorization(True),
            # a route's authPolicy decides `disabled` even when it only sets a context (as in Contour)
            "/ctx": RouteAuthorization(False, (("extra", "1"), ("k", "route"))),
        },
    ),
]


@pytest.mark.parametrize(
    ("authorization", "expected"), [c[1:] for c in ROUTE_CASES], ids=[c[0] for c in ROUTE_CASES]
)
def test_route_authorization(authorization: Obj, expected: dict[str, RouteAuthorization]) -> None:
    routes = routes_by_prefix(result(*BASE, with_routes(root(**authorization))), secure=True)
    assert {prefix: r.authorization for prefix, r in routes.items()} == expected


def test_routes_of_a_host_without_any_server_carry_no_authorization() -> None:
    routes = routes_by_prefix(result(*BASE, with_routes(root(auth=False))), secure=True)
    assert {r.authorization for r in routes.values()} == {None}


def test_the_plain_copies_of_a_tls_hosts_routes_are_https_redirects() -> None:
    routes = routes_by_prefix(result(*BASE, with_routes(root())), secure=False)
    assert all(r.https_upgrade for r in routes.values())


# -- errors ---------------------------------------------------------------------------------------------

ERROR_CASES: list[tuple[str, tuple[Obj, ...], Any, tuple[str, str, str]]] = [
    (
        "no-tls",
        BASE,
        root(tls=False),
        (
            "AuthError",
            "AuthNotPermitted",
            "Spec.VirtualHost.Authorization.ExtensionServiceRef can only be defined for root HTTPProxies "
            "that terminate TLS",
        ),
    ),
    (
        "extension-service-missing",
        (KUARD, CERT),
        root(),
        (
            "AuthError",
            "ExtensionServiceNotFound",
            'Spec.Virtualhost.Authorization.ServiceRef extension service "default/auth" not found',
        ),
    ),
    (
        "extension-service-invalid",
        (KUARD, CERT, extension()),
        root(),
        (
            "AuthError",
            "ExtensionServiceNotFound",
            'Spec.Virtualhost.Authorization.ServiceRef extension service "default/auth" not found',
        ),
    ),
    (
        "bad-api-version",
        BASE,
        root(extensionRef={"name": "auth", "apiVersion": "projectcontour.io/v1"}),
        (
            "AuthError",
            "AuthBadResourceVersion",
            "Spec.Virtualhost.Authorization.extensionRef specifies an unsupported resource version "
            '"projectcontour.io/v1"',
        ),
    ),
    (
        "bad-response-timeout",
        BASE,
        root(responseTimeout="s"),
        (
            "AuthError",
            "AuthResponseTimeoutInvalid",
            'Spec.Virtualhost.Authorization.ResponseTimeout is invalid: unable to parse timeout string "s": '
            'time: invalid duration "s"',
        ),
    ),
    (
        "fallback-certificate",
        BASE,
        proxy("root")
        .fqdn(HOST)
        .tls("cert", enableFallbackCertificate=True)
        .vhost(authorization={"extensionRef": {"name": "auth"}}),
        (
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.Virtualhost.TLS fallback & client authorization are incompatible",
        ),
    ),
]


@pytest.mark.parametrize(
    ("objects", "builder", "expected"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_errors(objects: tuple[Obj, ...], builder: Any, expected: tuple[str, str, str]) -> None:
    config = BuilderConfig(fallback_certificate=ObjectRef("default", "cert"))
    res = result(*objects, with_routes(builder), config=config)
    assert proxy_errors(res) == [expected]


def test_an_invalid_authorization_leaves_the_host_unserved() -> None:
    res = result(KUARD, CERT, with_routes(root()))
    assert HOST not in res.dag.listeners[HTTPS_LISTENER_NAME].secure_virtual_hosts


# -- the global server ------------------------------------------------------------------------------------

GLOBAL = GlobalExternalAuthorization(
    extension_ref=ObjectRef("default", "auth"),
    fail_open=True,
    response_timeout="2s",
    auth_policy_context=(("scope", "global"),),
)


def global_config(auth: GlobalExternalAuthorization = GLOBAL) -> BuilderConfig:
    return BuilderConfig(global_external_authorization=auth)


def test_a_tls_host_without_its_own_server_gets_the_global_one() -> None:
    auth = secure_auth(result(*BASE, with_routes(root(auth=False)), config=global_config()))
    assert auth is not None
    assert (auth.cluster.name, auth.fail_open, auth.response_timeout_seconds) == (
        "extension/default/auth",
        True,
        2.0,
    )


def test_a_hosts_own_server_wins_over_the_global_one() -> None:
    other = extension("other")
    res = result(*BASE, other, with_routes(root(extensionRef={"name": "other"})), config=global_config())
    auth = secure_auth(res)
    assert auth is not None and auth.cluster.name == "extension/default/other"


def test_the_plain_listener_gets_the_global_server() -> None:
    res = result(*BASE, with_routes(root(tls=False, auth=False)), config=global_config())
    auth = res.dag.listeners[HTTP_LISTENER_NAME].external_authorization
    assert auth is not None and auth.cluster.name == "extension/default/auth"


def test_the_plain_listener_gets_no_global_server_whose_extension_is_missing() -> None:
    res = result(KUARD, with_routes(root(tls=False, auth=False)), config=global_config())
    assert res.dag.listeners[HTTP_LISTENER_NAME].external_authorization is None


def test_routes_take_the_global_context_under_their_own() -> None:
    routes = routes_by_prefix(
        result(*BASE, with_routes(root(tls=False, auth=False)), config=global_config()), secure=False
    )
    assert routes["/"].authorization == RouteAuthorization(False, (("scope", "global"),))
    assert routes["/ctx"].authorization == RouteAuthorization(
        False, (("extra", "1"), ("k", "route"), ("scope", "global"))
    )
    assert routes["/open"].authorization == RouteAuthorization(True, (("scope", "global"),))


def test_the_global_policy_can_start_disabled() -> None:
    config = global_config(
        GlobalExternalAuthorization(ObjectRef("default", "auth"), auth_policy_disabled=True)
    )
    routes = routes_by_prefix(
        result(*BASE, with_routes(root(tls=False, auth=False)), config=config), secure=False
    )
    assert routes["/"].authorization == RouteAuthorization(True)


def test_a_missing_global_extension_is_reported_on_plain_hosts_which_still_serve() -> None:
    res = result(KUARD, with_routes(root(tls=False, auth=False)), config=global_config())
    assert [r for _, r, _ in proxy_errors(res)] == ["ExtensionServiceNotFound"]
    assert HOST in res.dag.listeners[HTTP_LISTENER_NAME].virtual_hosts


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (
            GlobalExternalAuthorization(
                ObjectRef("default", "auth"), service_type="http", auth_policy_context=(("a", "b"),)
            ),
            "AuthContextForHTTP",
        ),
        (
            GlobalExternalAuthorization(
                ObjectRef("default", "auth"), service_type="http", allowed_upstream_headers=("bad header",)
            ),
            "AuthBadAllowedHeader",
        ),
    ],
    ids=["context-with-http", "bad-allowed-header"],
)
def test_http_service_type_errors(auth: GlobalExternalAuthorization, reason: str) -> None:
    res = result(*BASE, with_routes(root(auth=False)), config=global_config(auth))
    assert [(t, r) for t, r, _ in proxy_errors(res)] == [("AuthError", reason)]


def test_an_http_global_server_keeps_its_settings() -> None:
    auth = GlobalExternalAuthorization(
        ObjectRef("default", "auth"),
        service_type="http",
        http_path_prefix="/check",
        allowed_authorization_headers=("x-allow",),
        allowed_upstream_headers=("x-user",),
    )
    server = secure_auth(result(*BASE, with_routes(root(auth=False)), config=global_config(auth)))
    assert server is not None
    assert (server.service_type, server.http_path_prefix, server.allowed_authorization_headers) == (
        "http",
        "/check",
        ("x-allow",),
    )
    assert server.allowed_upstream_headers == ("x-user",)


# -- a proxy's HTTP authorization server ------------------------------------------------------------------

HTTP_SETTINGS = {
    "pathPrefix": "/check",
    "allowedAuthorizationHeaders": ["x-allow", "cookie"],
    "allowedUpstreamHeaders": ["x-user"],
}


def test_a_proxys_http_server_keeps_its_settings() -> None:
    server = secure_auth(
        result(*BASE, with_routes(root(serviceType="http", httpSettings=HTTP_SETTINGS, failOpen=True)))
    )
    assert server is not None
    assert (server.cluster.name, server.service_type, server.fail_open, server.http_path_prefix) == (
        "extension/default/auth",
        "http",
        True,
        "/check",
    )
    assert server.allowed_authorization_headers == ("x-allow", "cookie")
    assert server.allowed_upstream_headers == ("x-user",)


def test_http_settings_are_ignored_for_a_grpc_server() -> None:
    server = secure_auth(result(*BASE, with_routes(root(serviceType="grpc"))))
    assert server is not None
    assert (server.service_type, server.http_path_prefix, server.allowed_upstream_headers) == ("grpc", "", ())


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        pytest.param(
            {"serviceType": "http", "authPolicy": {"context": {"a": "b"}}},
            (
                "AuthContextForHTTP",
                "Spec.Virtualhost.Authorization.AuthPolicy.Context is not supported "
                "for the http service type",
            ),
            id="context-with-http",
        ),
        pytest.param(
            {"serviceType": "http", "httpSettings": {"allowedAuthorizationHeaders": ["bad header"]}},
            (
                "AuthBadAllowedHeader",
                "Spec.Virtualhost.Authorization.HTTPSettings.AllowedAuthorizationHeaders has an invalid "
                'header name "bad header"',
            ),
            id="bad-authorization-header",
        ),
        pytest.param(
            {"serviceType": "http", "httpSettings": {"allowedUpstreamHeaders": ["x:y"]}},
            (
                "AuthBadAllowedHeader",
                "Spec.Virtualhost.Authorization.HTTPSettings.AllowedUpstreamHeaders has an invalid "
                'header name "x:y"',
            ),
            id="bad-upstream-header",
        ),
    ],
)
def test_a_proxys_http_server_errors(authorization: dict[str, Any], expected: tuple[str, str]) -> None:
    res = result(*BASE, with_routes(root(**authorization)))
    assert proxy_errors(res) == [("AuthError", *expected)]
    assert HOST not in res.dag.listeners[HTTPS_LISTENER_NAME].secure_virtual_hosts
