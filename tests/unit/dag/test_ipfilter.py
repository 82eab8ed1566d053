"""IP allow/deny policies in the DAG: CIDR parsing as Go's net.ParseCIDR, the rules put on hosts and
routes, and every IPFilterError reason with Contour's message."""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuildResult
from contour.dag.httpproxy_ipfilter import CIDRError, parse_cidr
from contour.dag.model import IPFilterRule, ObjectRef, Route, VirtualHost

from .fixtures import build, k8s_service, proxy, service, tls_secret

ROOT = ObjectRef("default", "root")
KUARD = k8s_service("kuard")


def peer(cidr: str) -> dict[str, str]:
    return {"source": "Peer", "cidr": cidr}


def remote(cidr: str) -> dict[str, str]:
    return {"source": "Remote", "cidr": cidr}


def errors(result: BuildResult, ref: ObjectRef = ROOT) -> list[tuple[str, str, str]]:
    [update] = [u for u in result.statuses if u.ref == ref and u.plural == "httpproxies"]
    cond = update.status["conditions"][0]
    return [(e["type"], e["reason"], e["message"]) for e in cond.get("errors", [])]


def plain_host(result: BuildResult, name: str = "example.com") -> VirtualHost | None:
    return result.dag.listeners["ingress_http"].virtual_hosts.get(name)


def secure_host(result: BuildResult, name: str = "example.com") -> VirtualHost | None:
    svh = result.dag.listeners["ingress_https"].secure_virtual_hosts.get(name)
    return svh.virtual_host if svh is not None else None


def only_route(vhost: VirtualHost | None) -> Route:
    assert vhost is not None
    [route] = vhost.routes.values()
    return route


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10.0.0.0/8", "10.0.0.0/8", id="ipv4-network"),
        pytest.param("10.1.2.3/8", "10.0.0.0/8", id="ipv4-host-bits-masked"),
        pytest.param("192.168.1.7", "192.168.1.7/32", id="bare-ipv4-is-a-host"),
        pytest.param("2001:db8::1", "2001:db8::1/128", id="bare-ipv6-is-a-host"),
        pytest.param("2001:db8::1/32", "2001:db8::/32", id="ipv6-host-bits-masked"),
        pytest.param("0.0.0.0/0", "0.0.0.0/0", id="everything"),
        pytest.param("10.0.0.0/008", "10.0.0.0/8", id="leading-zeros-in-length-as-go"),
    ],
)
def test_cidr_parses_as_go_does(text: str, expected: str) -> None:
    assert parse_cidr(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("10.0.0.300", "invalid CIDR address: 10.0.0.300/32", id="octet-out-of-range"),
        pytest.param("10.0.0.0/33", "invalid CIDR address: 10.0.0.0/33", id="ipv4-length-too-long"),
        pytest.param("::1/129", "invalid CIDR address: ::1/129", id="ipv6-length-too-long"),
        pytest.param("10.0.0.0/", "invalid CIDR address: 10.0.0.0/", id="empty-length"),
        pytest.param("10.0.0.0/-1", "invalid CIDR address: 10.0.0.0/-1", id="negative-length"),
        pytest.param("10.0.0.0/255.0.0.0", "invalid CIDR address: 10.0.0.0/255.0.0.0", id="netmask-form"),
        pytest.param("fe80::1%eth0/64", "invalid CIDR address: fe80::1%eth0/64", id="ipv6-zone"),
        pytest.param("010.0.0.1", "invalid CIDR address: 010.0.0.1/32", id="leading-zero-octet"),
        pytest.param("example.com", "invalid CIDR address: example.com/32", id="host-name"),
    ],
)
def test_cidr_go_rejects_is_rejected(text: str, message: str) -> None:
    with pytest.raises(CIDRError) as raised:
        parse_cidr(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("policy", "allow", "rules"),
    [
        pytest.param(
            {"ipAllowPolicy": [peer("10.0.0.0/8"), remote("192.168.0.1")]},
            True,
            (IPFilterRule("10.0.0.0/8", remote=False), IPFilterRule("192.168.0.1/32", remote=True)),
            id="allow-peer-and-remote",
        ),
        pytest.param(
            {"ipDenyPolicy": [peer("127.0.0.1")]},
            False,
            (IPFilterRule("127.0.0.1/32"),),
            id="deny-peer",
        ),
    ],
)
def test_vhost_policy_is_on_plain_and_secure_hosts(
    policy: dict[str, Any], allow: bool, rules: tuple[IPFilterRule, ...]
) -> None:
    result = build(
        KUARD,
        tls_secret("cert"),
        proxy("root").fqdn("example.com").tls("cert").vhost(**policy).route("/", service("kuard")).build(),
    )
    assert errors(result) == []
    for host in (plain_host(result), secure_host(result)):
        assert host is not None
        assert (host.ip_filter_allow, host.ip_filter_rules) == (allow, rules)


def test_route_policy_is_on_the_route_only() -> None:
    result = build(
        KUARD,
        proxy("root")
        .fqdn("example.com")
        .route("/", service("kuard"), ipDenyPolicy=[remote("10.0.0.0/8")])
        .build(),
    )
    host = plain_host(result)
    assert host is not None
    assert host.ip_filter_rules == ()
    route = only_route(host)
    assert (route.ip_filter_allow, route.ip_filter_rules) == (False, (IPFilterRule("10.0.0.0/8", True),))


def test_route_policy_of_an_included_proxy() -> None:
    result = build(
        KUARD,
        proxy("root").fqdn("example.com").include("child", prefix="/c").build(),
        proxy("child").route("/", service("kuard"), ipAllowPolicy=[peer("10.0.0.1")]).build(),
    )
    route = only_route(plain_host(result))
    assert (route.ip_filter_allow, route.ip_filter_rules) == (True, (IPFilterRule("10.0.0.1/32"),))


def test_no_policy_means_no_rules() -> None:
    result = build(KUARD, proxy("root").fqdn("example.com").route("/", service("kuard")).build())
    host = plain_host(result)
    assert host is not None
    assert host.ip_filter_rules == ()
    assert only_route(host).ip_filter_rules == ()


INVALID = [
    pytest.param(
        {"ipAllowPolicy": [peer("10.0.0.0/8")], "ipDenyPolicy": [peer("10.0.0.1")]},
        {},
        [
            (
                "IPFilterError",
                "IncompatibleIPAddressFilters",
                "Spec.VirtualHost.IPAllowFilterPolicy and Spec.VirtualHost.IPDepnyFilterPolicy "
                "cannot both be defined.",
            )
        ],
        id="vhost-allow-and-deny",
    ),
    pytest.param(
        {"ipAllowPolicy": [peer("10.0.0.0/33")]},
        {},
        [
            (
                "IPFilterError",
                "InvalidCIDR",
                "10.0.0.0/33 failed to parse: invalid CIDR address: 10.0.0.0/33",
            ),
            (
                "IPFilterError",
                "IPFilterPolicyNotValid",
                "Spec.VirtualHost.IPAllowFilterPolicy or Spec.VirtualHost.IPDenyFilterPolicy is invalid: "
                "invalid CIDR address: 10.0.0.0/33",
            ),
        ],
        id="vhost-invalid-cidr",
    ),
    pytest.param(
        {"ipDenyPolicy": [peer("nope"), peer("10.0.0.1"), remote("1.2.3.4/99")]},
        {},
        [
            ("IPFilterError", "InvalidCIDR", "nope failed to parse: invalid CIDR address: nope/32"),
            (
                "IPFilterError",
                "InvalidCIDR",
                "1.2.3.4/99 failed to parse: invalid CIDR address: 1.2.3.4/99",
            ),
            (
                "IPFilterError",
                "IPFilterPolicyNotValid",
                "Spec.VirtualHost.IPAllowFilterPolicy or Spec.VirtualHost.IPDenyFilterPolicy is invalid: "
                "invalid CIDR address: 1.2.3.4/99",
            ),
        ],
        id="vhost-deny-one-error-per-bad-cidr",
    ),
    pytest.param(
        {},
        {"ipAllowPolicy": [peer("10.0.0.0/8")], "ipDenyPolicy": [remote("10.0.0.1")]},
        [
            (
                "IPFilterError",
                "IncompatibleIPAddressFilters",
                "cannot specify both `ipAllowPolicy` and `ipDenyPolicy`",
            )
        ],
        id="route-allow-and-deny",
    ),
    pytest.param(
        {},
        {"ipAllowPolicy": [remote("300.0.0.1")]},
        [("IPFilterError", "InvalidCIDR", "300.0.0.1 failed to parse: invalid CIDR address: 300.0.0.1/32")],
        id="route-invalid-cidr",
    ),
    pytest.param(
        {},
        {"ipDenyPolicy": [peer("bad"), peer("10.0.0.1")]},
        [("IPFilterError", "InvalidCIDR", "bad failed to parse: invalid CIDR address: bad/32")],
        id="route-bad-cidr-before-a-good-one-still-invalid",
    ),
]


@pytest.mark.parametrize(("vhost_policy", "route_policy", "expected"), INVALID)
def test_invalid_policy_is_reported_and_nothing_is_served(
    vhost_policy: dict[str, Any], route_policy: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    result = build(
        KUARD,
        proxy("root")
        .fqdn("example.com")
        .vhost(**vhost_policy)
        .route("/", service("kuard"), **route_policy)
        .build(),
    )
    assert errors(result) == expected
    assert plain_host(result) is None


def test_invalid_policy_leaves_other_hosts_served() -> None:
    result = build(
        KUARD,
        proxy("root")
        .fqdn("example.com")
        .vhost(ipAllowPolicy=[peer("x")])
        .route("/", service("kuard"))
        .build(),
        proxy("other").fqdn("other.example.com").route("/", service("kuard")).build(),
    )
    assert plain_host(result) is None
    assert plain_host(result, "other.example.com") is not None
