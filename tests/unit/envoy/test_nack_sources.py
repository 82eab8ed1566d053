"""Attributing an Envoy NACK to the objects behind the rejected resources (contour.envoy.nack_sources).

The messages are the ones Envoy 1.40 sends (the RDS one was read from a real Envoy given
`re2.max_program_size.error_level: 1`; see tests/e2e/test_nack_status.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import any_pb2

from contour.dag.gatewayapi_model import GatewayDAG, L4Listener
from contour.dag.model import ObjectRef
from contour.envoy.nack_sources import GATEWAY_KIND, Source, SourceIndex, blame, mentions, quoted_strings
from contour.envoy.names import HTTP_LISTENER
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, TranslatorConfig, translate
from tests.unit.dag.fixtures import Obj, build, k8s_service, proxy, service

RE2_MESSAGE = (
    "regex '^/foo.*' RE2 program size of 6 > max program size of 1 set for the error level threshold. "
    "Increase configured max program size if necessary."
)


def _proxy_source(name: str) -> Source:
    return Source("HTTPProxy", ObjectRef("default", name))


GOOD = proxy("good").fqdn("good.example.com").route("/", service("s1")).build()
BAD = (
    proxy("bad").fqdn("bad.example.com").route(None, service("s2"), conditions=[{"regex": "/foo.*"}]).build()
)
SERVICES = (k8s_service("s1"), k8s_service("s2"))


def _translated(*objects: Obj) -> tuple[SourceIndex, dict[str, dict[str, bytes]]]:
    """The index of the build of ``objects`` and its resources as serialised Anys, by type and name."""
    result = build(*SERVICES, *objects)
    roots = {ps.vhost: ref for ref, ps in result.collector.proxies.items() if ps.vhost}
    resources: dict[str, dict[str, bytes]] = {}
    for type_url, messages in translate(result.dag, TranslatorConfig()).items():
        resources[type_url] = {_name(m): _any(m) for m in messages}
    return SourceIndex.from_dag(result.dag, roots), resources


def _name(message: Any) -> str:
    return str(message.name)


def _any(message: Any) -> bytes:
    packed = any_pb2.Any()
    packed.Pack(message)
    data: bytes = packed.SerializeToString()
    return data


def test_a_quoted_regex_blames_only_the_virtual_host_holding_it() -> None:
    index, resources = _translated(GOOD, BAD)

    found = blame(ROUTE, RE2_MESSAGE, [HTTP_LISTENER], index, rejected=resources[ROUTE])

    assert (set(found.sources), found.how) == ({_proxy_source("bad")}, "message")


def test_an_included_route_blames_the_root_and_the_included_proxy() -> None:
    root = proxy("root").fqdn("root.example.com").include("child", prefix="/child").build()
    child = proxy("child").route(None, service("s2"), conditions=[{"regex": "/foo.*"}]).build()
    index, resources = _translated(GOOD, root, child)
    message = RE2_MESSAGE.replace("'^/foo.*'", "'^/child/foo.*'")  # the regex after the include's prefix

    found = blame(ROUTE, message, [HTTP_LISTENER], index, rejected=resources[ROUTE])

    assert found.sources == {_proxy_source("root"), _proxy_source("child")}


def test_without_a_hint_the_virtual_hosts_changed_since_the_last_ack_are_blamed() -> None:
    _, acked = _translated(GOOD)
    index, rejected = _translated(GOOD, BAD)

    found = blame(
        ROUTE, "something went wrong", [HTTP_LISTENER], index, rejected=rejected[ROUTE], acked=acked[ROUTE]
    )

    assert (set(found.sources), found.how) == ({_proxy_source("bad")}, "changed")


def test_without_a_hint_or_an_acked_version_every_virtual_host_is_blamed() -> None:
    index, rejected = _translated(GOOD, BAD)

    found = blame(ROUTE, "something went wrong", [HTTP_LISTENER], index, rejected=rejected[ROUTE])

    assert (set(found.sources), found.how) == ({_proxy_source("good"), _proxy_source("bad")}, "all")


def test_a_cluster_named_in_the_message_blames_the_proxies_routing_to_it() -> None:
    index, resources = _translated(GOOD, BAD)
    s1 = next(name for name in resources[CLUSTER] if name.startswith("default/s1/"))
    message = f"Error adding/updating cluster(s) {s1}: some field is invalid"

    found = blame(CLUSTER, message, sorted(resources[CLUSTER]), index, rejected=resources[CLUSTER])

    assert found.sources == {_proxy_source("good")}


def test_a_listener_of_a_gateway_blames_the_gateway() -> None:
    gateway = ObjectRef("infra", "gw")
    dag = GatewayDAG(ref=gateway, address="127.0.1.1")
    dag.tcp_listeners["tcp-9000"] = L4Listener(name="tcp-9000", address="127.0.1.1", port=9000)
    message = "Error adding/updating listener(s) tcp-9000: cannot bind"

    found = blame(LISTENER, message, ["tcp-9000"], SourceIndex.from_gateway(dag))

    assert found.sources == {Source(GATEWAY_KIND, gateway)}


@pytest.mark.parametrize(
    ("message", "word", "expected"),
    [
        ("Error adding/updating listener(s) ingress_http: bad", "ingress_http", True),
        ("Error adding/updating listener(s) ingress_https: bad", "ingress_http", False),
        ("duplicate domain a.example.com in route x", "a.example.com", True),
        ("duplicate domain b.a.example.com in route x", "a.example.com", False),
        ("any regex '^/foo.*'", "*", False),
    ],
    ids=["whole-name", "prefix-of-a-longer-name", "host", "suffix-of-a-longer-host", "too-short"],
)
def test_a_mention_is_a_whole_name(message: str, word: str, expected: bool) -> None:
    assert mentions(message, word) is expected


def test_quoted_strings_are_read_from_single_and_double_quotes() -> None:
    assert quoted_strings("""regex '^/a.*' and header "x-b" and 'ab'""") == ["^/a.*", "x-b"]
