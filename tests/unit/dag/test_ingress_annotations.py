"""Contour's annotation parsing (dag/annotations.py), value by value, as Contour 1.33 reads them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from contour.dag import annotations as ann
from contour.dag.model import Protocol


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("0", 0, id="zero"),
        pytest.param("1024", 1024, id="number"),
        pytest.param("007", 7, id="leading-zeros"),
        pytest.param("4294967295", 4294967295, id="uint32-max"),
        pytest.param("4294967296", 0, id="over-uint32"),
        pytest.param("-1", 0, id="negative"),
        pytest.param("+5", 0, id="plus-sign"),
        pytest.param(" 5", 0, id="space"),
        pytest.param("1_000", 0, id="underscore"),
        pytest.param("10k", 0, id="suffix"),
    ],
)
def test_parse_uint32(value: str, expected: int) -> None:
    assert ann.parse_uint32(value) == expected


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, 1, id="absent-is-envoy-default-1"),
        pytest.param({"projectcontour.io/num-retries": "0"}, 1, id="zero-is-1"),
        pytest.param({"projectcontour.io/num-retries": "1"}, 1, id="one"),
        pytest.param({"projectcontour.io/num-retries": "7"}, 7, id="seven"),
        pytest.param({"projectcontour.io/num-retries": "-1"}, 0, id="minus-one-disables"),
        pytest.param({"projectcontour.io/num-retries": "-2"}, 1, id="other-negative-is-1"),
        pytest.param({"projectcontour.io/num-retries": "+3"}, 3, id="plus-sign"),
        pytest.param({"projectcontour.io/num-retries": "many"}, 1, id="malformed-is-1"),
        pytest.param({"projectcontour.io/num-retries": "2147483648"}, 1, id="over-int32-is-1"),
        pytest.param({"contour.heptio.com/num-retries": "5"}, 1, id="legacy-prefix-ignored"),
    ],
)
def test_num_retries(annotations: dict[str, str], expected: int) -> None:
    assert ann.num_retries(annotations) == expected


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"projectcontour.io/response-timeout": "10s"}, 10.0, id="response-timeout"),
        pytest.param({"projectcontour.io/request-timeout": "20s"}, 20.0, id="legacy-request-timeout"),
        pytest.param(
            {"projectcontour.io/response-timeout": "10s", "projectcontour.io/request-timeout": "20s"},
            10.0,
            id="response-timeout-wins",
        ),
        pytest.param(
            {"projectcontour.io/response-timeout": "", "projectcontour.io/request-timeout": "20s"},
            20.0,
            id="empty-response-timeout-falls-back",
        ),
        pytest.param({"contour.heptio.com/request-timeout": "20s"}, None, id="legacy-prefix-ignored"),
    ],
)
def test_response_timeout(annotations: dict[str, str], expected: float | None) -> None:
    assert ann.response_timeout(annotations) == expected


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        pytest.param("1.2", "1.3", "1.2", id="1.2"),
        pytest.param("1.3", "1.2", "1.3", id="1.3"),
        pytest.param("1.1", "1.2", "1.2", id="1.1-is-default"),
        pytest.param("1.0", "1.3", "1.3", id="1.0-is-default"),
        pytest.param("", "1.2", "1.2", id="empty-is-default"),
        pytest.param("TLSv1.3", "1.2", "1.2", id="other-spelling-is-default"),
    ],
)
def test_tls_version(value: str, default: str, expected: str) -> None:
    assert ann.tls_version(value, default) == expected


def test_tls_versions_default_to_1_2_and_1_3() -> None:
    assert (ann.min_tls_version({}), ann.max_tls_version({})) == ("1.2", "1.3")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/ws", {"/ws"}, id="one"),
        pytest.param(" /ws , /chat,,", {"/ws", "/chat"}, id="spaces-and-empties"),
        pytest.param("", set(), id="empty"),
    ],
)
def test_websocket_routes(value: str, expected: set[str]) -> None:
    assert ann.websocket_routes({"projectcontour.io/websocket-routes": value}) == expected


def test_websocket_routes_ignore_legacy_prefix() -> None:
    assert ann.websocket_routes({"contour.heptio.com/websocket-routes": "/ws"}) == frozenset()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("5xx", ("5xx",), id="one"),
        pytest.param("5xx,gateway-error", ("5xx", "gateway-error"), id="two"),
        pytest.param(" reset , connect-failure ,", ("reset", "connect-failure"), id="spaces"),
        pytest.param("", (), id="empty"),
    ],
)
def test_retry_on(value: str, expected: tuple[str, ...]) -> None:
    assert ann.retry_on({"projectcontour.io/retry-on": value}) == expected


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, "", id="none"),
        pytest.param({"kubernetes.io/ingress.class": "nginx"}, "nginx", id="kubernetes"),
        pytest.param({"projectcontour.io/ingress.class": "internal"}, "internal", id="contour"),
        pytest.param(
            {"projectcontour.io/ingress.class": "internal", "kubernetes.io/ingress.class": "nginx"},
            "internal",
            id="contour-beats-kubernetes",
        ),
        pytest.param(
            {"projectcontour.io/ingress.class": "", "kubernetes.io/ingress.class": "nginx"},
            "",
            id="present-but-empty-contour-still-wins",
        ),
        pytest.param({"contour.heptio.com/ingress.class": "legacy"}, "", id="legacy-prefix-ignored"),
    ],
)
def test_ingress_class(annotations: dict[str, str], expected: str) -> None:
    assert ann.ingress_class(annotations) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, True, id="absent"),
        pytest.param("false", False, id="false"),
        pytest.param("False", True, id="capitalised-false-is-ignored"),
        pytest.param("true", True, id="true"),
        pytest.param("no", True, id="other"),
    ],
)
def test_http_allowed(value: str | None, expected: bool) -> None:
    annotations = {} if value is None else {"kubernetes.io/ingress.allow-http": value}
    assert ann.http_allowed(annotations) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, False, id="absent"),
        pytest.param("true", True, id="true"),
        pytest.param("True", False, id="capitalised-true-is-ignored"),
        pytest.param("false", False, id="false"),
    ],
)
def test_tls_required(value: str | None, expected: bool) -> None:
    annotations = {} if value is None else {"ingress.kubernetes.io/force-ssl-redirect": value}
    assert ann.tls_required(annotations) is expected


@pytest.mark.parametrize(
    ("function", "key"),
    [
        pytest.param(ann.max_connections, "max-connections", id="max-connections"),
        pytest.param(ann.max_pending_requests, "max-pending-requests", id="max-pending-requests"),
        pytest.param(ann.max_requests, "max-requests", id="max-requests"),
        pytest.param(ann.max_retries, "max-retries", id="max-retries"),
        pytest.param(ann.per_host_max_connections, "per-host-max-connections", id="per-host-max-connections"),
    ],
)
def test_circuit_breaker_annotations(function: Callable[[Mapping[str, str]], int], key: str) -> None:
    assert function({f"projectcontour.io/{key}": "9000"}) == 9000
    assert function({f"projectcontour.io/{key}": "lots"}) == 0
    assert function({f"contour.heptio.com/{key}": "9000"}) == 0


def test_upstream_protocols_by_port_name_and_number() -> None:
    annotations = {
        "projectcontour.io/upstream-protocol.h2": "443, https",
        "projectcontour.io/upstream-protocol.h2c": "8080",
        "projectcontour.io/upstream-protocol.tls": "8443,,",
    }
    assert ann.upstream_protocols(annotations) == {
        "443": Protocol.H2,
        "https": Protocol.H2,
        "8080": Protocol.H2C,
        "8443": Protocol.TLS,
    }


def test_upstream_protocols_last_protocol_wins_for_a_port_listed_twice() -> None:
    annotations = {
        "projectcontour.io/upstream-protocol.h2": "80",
        "projectcontour.io/upstream-protocol.tls": "80",
    }
    assert ann.upstream_protocols(annotations) == {"80": Protocol.TLS}


@pytest.mark.parametrize(
    ("annotations", "port_name", "app_protocol", "expected"),
    [
        pytest.param({}, "http", None, Protocol.HTTP1, id="nothing-is-http1"),
        pytest.param(
            {"projectcontour.io/upstream-protocol.h2c": "80"}, "http", None, Protocol.H2C, id="by-number"
        ),
        pytest.param(
            {"projectcontour.io/upstream-protocol.tls": "http"}, "http", None, Protocol.TLS, id="by-name"
        ),
        pytest.param(
            {
                "projectcontour.io/upstream-protocol.h2": "http",
                "projectcontour.io/upstream-protocol.h2c": "80",
            },
            "http",
            None,
            Protocol.H2,
            id="name-before-number",
        ),
        pytest.param({}, "http", "kubernetes.io/h2c", Protocol.H2C, id="app-protocol-h2c"),
        pytest.param({}, "http", "https", Protocol.TLS, id="app-protocol-https"),
        pytest.param({}, "http", "kubernetes.io/ws", Protocol.HTTP1, id="app-protocol-ws"),
        pytest.param(
            {"projectcontour.io/upstream-protocol.tls": "80"},
            "http",
            "kubernetes.io/h2c",
            Protocol.H2C,
            id="app-protocol-beats-annotation",
        ),
        pytest.param(
            {"projectcontour.io/upstream-protocol.tls": "80"},
            "http",
            "example.com/custom",
            Protocol.HTTP1,
            id="unknown-app-protocol-still-hides-annotation",
        ),
        pytest.param(
            {"contour.heptio.com/upstream-protocol.h2": "80"},
            "http",
            None,
            Protocol.HTTP1,
            id="legacy-ignored",
        ),
    ],
)
def test_upstream_protocol(
    annotations: dict[str, str], port_name: str, app_protocol: str | None, expected: Protocol
) -> None:
    assert ann.upstream_protocol(annotations, port_name, 80, app_protocol) is expected


@pytest.mark.parametrize(
    ("kind", "key", "expected"),
    [
        pytest.param("Ingress", "projectcontour.io/websocket-routes", True, id="ingress-websocket"),
        pytest.param("Ingress", "projectcontour.io/tls-cert-namespace", True, id="ingress-cert-namespace"),
        pytest.param("Ingress", "projectcontour.io/max-connections", False, id="ingress-service-annotation"),
        pytest.param("Service", "projectcontour.io/upstream-protocol.h2c", True, id="service-protocol"),
        pytest.param("Service", "projectcontour.io/per-host-max-connections", True, id="service-per-host"),
        pytest.param("Service", "projectcontour.io/retry-on", False, id="service-ingress-annotation"),
        pytest.param("HTTPProxy", "kubernetes.io/ingress.class", True, id="httpproxy-class"),
        pytest.param("HTTPProxy", "projectcontour.io/response-timeout", False, id="httpproxy-timeout"),
        pytest.param("Gateway", "projectcontour.io/anything", False, id="other-kind-contour-prefix"),
        pytest.param("Gateway", "example.com/anything", True, id="other-kind-other-prefix"),
    ],
)
def test_valid_for_kind(kind: str, key: str, expected: bool) -> None:
    assert ann.valid_for_kind(kind, key) is expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("projectcontour.io/whatever", True, id="contour-prefix"),
        pytest.param("ingress.kubernetes.io/force-ssl-redirect", True, id="ingress-prefix"),
        pytest.param("kubernetes.io/ingress.allow-http", True, id="allow-http"),
        pytest.param("kubernetes.io/ingress.global-static-ip-name", True, id="static-ip"),
        pytest.param("contour.heptio.com/num-retries", False, id="legacy-prefix"),
        pytest.param("example.com/x", False, id="foreign"),
    ],
)
def test_is_known(key: str, expected: bool) -> None:
    assert ann.is_known(key) is expected


def test_annotations_of_keeps_only_strings() -> None:
    obj = {"metadata": {"annotations": {"a": "1", "b": 2, "c": None}}}
    assert ann.annotations_of(obj) == {"a": "1"}
    assert ann.annotations_of({"metadata": {"annotations": None}}) == {}
    assert ann.annotations_of({}) == {}
