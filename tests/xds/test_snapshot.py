"""Snapshot: serialised once, deterministic, consistency check, derived snapshots share unchanged types."""

from typing import Any

import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2

from contour.envoy.translation_memo import Serialized
from contour.xds import typeurls
from contour.xds.delta import encode_delta_response
from contour.xds.references import Reference
from contour.xds.snapshot import ResourceMemo, Snapshot
from contour.xds.sotw import encode_response
from tests.xds import builders as b


def test_sotw_response_bytes_parse_like_a_protobuf_built_response() -> None:
    snap = b.snapshot("v1", clusters=("a", "b"))
    selection = snap.of_type(typeurls.CLUSTER).select(None)
    built = discovery_pb2.DiscoveryResponse(
        version_info=snap.type_version(typeurls.CLUSTER), type_url=typeurls.CLUSTER, nonce="7"
    )
    for message in (b.cluster("a"), b.cluster("b")):
        built.resources.add().Pack(message)
    ours = encode_response(snap.type_version(typeurls.CLUSTER), selection.body, typeurls.CLUSTER, "7")
    assert discovery_pb2.DiscoveryResponse.FromString(ours) == built


def test_delta_response_bytes_parse_like_a_protobuf_built_response() -> None:
    snap = b.snapshot("v1", clusters=("a",))
    resources = snap.of_type(typeurls.CLUSTER)
    ours = encode_delta_response("v1", [resources.delta_encoded("a")], typeurls.CLUSTER, "3", ["gone"])
    packed = any_pb2.Any()
    packed.Pack(b.cluster("a"))
    built = discovery_pb2.DeltaDiscoveryResponse(
        system_version_info="v1",
        type_url=typeurls.CLUSTER,
        nonce="3",
        removed_resources=["gone"],
        resources=[
            discovery_pb2.Resource(name="a", version=resources.resources["a"].version, resource=packed)
        ],
    )
    assert discovery_pb2.DeltaDiscoveryResponse.FromString(ours) == built


def test_identical_input_gives_identical_bytes_and_versions() -> None:
    first, second = b.snapshot("v1", clusters=("a", "b")), b.snapshot("v2", clusters=("a", "b"))
    for type_url in typeurls.SEND_ORDER:
        assert first.of_type(type_url).select(None) == second.of_type(type_url).select(None)


def test_type_version_changes_only_with_content() -> None:
    before = b.snapshot("v1", clusters=("a", "b"))
    after = b.snapshot("v2", clusters=("a", "c"))
    assert before.type_version(typeurls.LISTENER) == after.type_version(typeurls.LISTENER)
    assert before.type_version(typeurls.CLUSTER) != after.type_version(typeurls.CLUSTER)


def test_named_selection_skips_missing_names_and_ignores_unrelated_changes() -> None:
    before = b.snapshot("v1", clusters=("a", "b")).of_type(typeurls.ENDPOINT)
    after = Snapshot.build("v2", {typeurls.ENDPOINT: [b.cla("a", 9000), b.cla("b", 1)]}).of_type(
        typeurls.ENDPOINT
    )
    wanted = frozenset({"a", "missing"})
    assert before.select(wanted).names == ("a",)
    assert before.select(wanted).fingerprint == after.select(wanted).fingerprint


def test_with_resources_shares_every_other_type() -> None:
    snap = b.snapshot("v1", clusters=("a", "b"))
    derived = snap.with_resources("v2", typeurls.ENDPOINT, [b.cla("a", 1234)], removals=["b"])
    assert derived.version == "v2"
    assert sorted(derived.of_type(typeurls.ENDPOINT).resources) == ["a"]
    assert derived.type_version(typeurls.ENDPOINT) != snap.type_version(typeurls.ENDPOINT)
    for type_url in (typeurls.CLUSTER, typeurls.LISTENER, typeurls.ROUTE):
        assert derived.of_type(type_url) is snap.of_type(type_url)


CONSISTENCY_CASES: list[tuple[str, dict[str, list[Any]], list[Reference]]] = [
    ("consistent", {}, []),
    (
        "listener-rds-missing",
        {typeurls.ROUTE: []},
        [Reference(typeurls.ROUTE, "http")],
    ),
    (
        "eds-cluster-missing",
        {typeurls.ENDPOINT: [b.cla("app", 1)]},
        [Reference(typeurls.ENDPOINT, "other")],
    ),
    (
        "eds-service-name-missing",
        {typeurls.CLUSTER: [b.cluster("app"), b.cluster("x", service_name="ns/svc")]},
        [Reference(typeurls.ENDPOINT, "ns/svc")],
    ),
    (
        "static-cluster-needs-nothing",
        {typeurls.CLUSTER: [b.cluster("app"), b.static_cluster("static")]},
        [],
    ),
    (
        "custom-cluster-type-needs-nothing",
        {typeurls.CLUSTER: [b.cluster("app"), b.custom_cluster("aggregate")]},
        [],
    ),
    (
        "eds-cluster-with-tls-needs-both",
        {typeurls.CLUSTER: [b.cluster("app"), b.cluster("tls", secret="ns/ca")]},
        [Reference(typeurls.ENDPOINT, "tls"), Reference(typeurls.SECRET, "ns/ca")],
    ),
    (
        "transport-socket-match-sds-missing",
        {typeurls.CLUSTER: [b.cluster("app"), b.tls_match_cluster("matched", "ns/match-ca")]},
        [Reference(typeurls.SECRET, "ns/match-ca")],
    ),
    (
        "listener-sds-missing",
        {typeurls.LISTENER: [b.listener("https", "http", secret="ns/cert")]},
        [Reference(typeurls.SECRET, "ns/cert")],
    ),
    (
        "cluster-sds-missing",
        {typeurls.CLUSTER: [b.cluster("app", secret="ns/ca")]},
        [Reference(typeurls.SECRET, "ns/ca")],
    ),
    (
        "sds-present",
        {
            typeurls.LISTENER: [b.listener("https", "http", secret="ns/cert")],
            typeurls.SECRET: [b.secret("ns/cert")],
        },
        [],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "missing"), [c[1:] for c in CONSISTENCY_CASES], ids=[c[0] for c in CONSISTENCY_CASES]
)
def test_missing_references(overrides: dict[str, list[Any]], missing: list[Reference]) -> None:
    resources: dict[str, list[Any]] = {
        typeurls.CLUSTER: [b.cluster("app"), b.cluster("other")],
        typeurls.ENDPOINT: [b.cla("app", 1), b.cla("other", 2)],
        typeurls.LISTENER: [b.listener("http", "http")],
        typeurls.ROUTE: [b.route_config("http", "app")],
    }
    resources.update(overrides)
    assert Snapshot.build("v1", resources).missing_references() == missing


def test_duplicate_names_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="duplicate cds resource 'a'"):
        Snapshot.build("v1", {typeurls.CLUSTER: [b.cluster("a"), b.cluster("a")]})


def test_message_of_the_wrong_type_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="Listener given"):
        Snapshot.build("v1", {typeurls.CLUSTER: [b.listener("l", "r")]})


@pytest.mark.parametrize(
    "vhosts", [0, 3, 300], ids=["one-byte-length", "two-byte-length", "three-byte-length"]
)
def test_framing_is_right_for_every_length_size(vhosts: int) -> None:
    """Resource lengths whose varint takes 1, 2 and 3 bytes (< 128, < 16 KiB, larger) frame correctly."""
    table = b.route_config("big", *(f"cluster-{i:04}-{'x' * 40}" for i in range(vhosts)))
    size = len(table.SerializeToString())
    assert size < 128 if vhosts == 0 else (size < 16384 if vhosts == 3 else size >= 16384)
    snap = Snapshot.build("v1", {typeurls.ROUTE: [table]})
    resources = snap.of_type(typeurls.ROUTE)
    built = discovery_pb2.DiscoveryResponse(type_url=typeurls.ROUTE, nonce="1")
    built.resources.add().Pack(table)
    ours = encode_response("", resources.select(None).body, typeurls.ROUTE, "1")
    assert discovery_pb2.DiscoveryResponse.FromString(ours) == built
    delta = discovery_pb2.DeltaDiscoveryResponse.FromString(resources.delta_encoded("big"))
    assert delta.resources[0].resource == built.resources[0]


def test_a_serialized_route_configuration_is_framed_like_the_message() -> None:
    message = b.route_config("r")
    built = Snapshot.build("v1", {typeurls.ROUTE: [message]})
    serialized = Serialized("r", message.SerializeToString(deterministic=True))
    taken = Snapshot.build("v1", {typeurls.ROUTE: [serialized]})
    assert taken.of_type(typeurls.ROUTE).resources == built.of_type(typeurls.ROUTE).resources


def test_serialized_clusters_are_refused_since_their_references_must_be_read() -> None:
    data = b.cluster("a").SerializeToString(deterministic=True)
    with pytest.raises(ValueError, match="refer to others"):
        Snapshot.build("v1", {typeurls.CLUSTER: [Serialized("a", data)]})


def test_a_resource_memo_reuses_the_encoding_of_the_same_message_object_only() -> None:
    memo = ResourceMemo()
    kept, replaced = b.cluster("a"), b.cluster("b")
    first = Snapshot.build("v1", {typeurls.CLUSTER: [kept, replaced]}, memo)
    equal_copy = b.cluster("b")
    second = Snapshot.build("v2", {typeurls.CLUSTER: [kept, equal_copy]}, memo)
    assert second.of_type(typeurls.CLUSTER).resources["a"] is first.of_type(typeurls.CLUSTER).resources["a"]
    assert (
        second.of_type(typeurls.CLUSTER).resources["b"] is not first.of_type(typeurls.CLUSTER).resources["b"]
    )
    assert second.of_type(typeurls.CLUSTER).resources["b"] == first.of_type(typeurls.CLUSTER).resources["b"]
    third = Snapshot.build("v3", {typeurls.CLUSTER: [equal_copy]}, memo)
    assert list(third.of_type(typeurls.CLUSTER).resources) == ["b"]
    assert memo.get(kept) is None  # forgotten: the last build did not use it
