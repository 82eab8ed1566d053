"""The protobuf decoder turns the bodies real kubectl 1.37 sends into the objects kubectl itself prints.

Each kubectl command runs twice against tests/support/capture_server.py on loopback: once for real, which
records the `application/vnd.kubernetes.protobuf` body, and once with `--dry-run=client -o json`, which
prints the same object as JSON without sending it. That JSON is the oracle, compared with no
normalisation at all: kubectl prints it with Go's encoding/json from the same struct it encodes as
protobuf, so `"status": {}` and `"rules": null` appear in both (Go writes non-pointer structs and
non-omitempty nil slices), and neither has `creationTimestamp` (omitzero in 1.37's ObjectMeta).

Hand-built bodies then cover what kubectl never sends (unknown fields, times, negative numbers,
quantities, merging) and malformed bytes, which must be a 400 and never a crash.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contour.apiserver.errors import APIError
from contour.apiserver.protobuf import MAGIC, MEDIA_TYPE, decode_protobuf
from contour.apiserver.protobuf_types import KINDS, MESSAGES, Kind
from tests.support.capture_server import Captured, CaptureServer, serve

DOCKER_LOGIN = ["--docker-username=u", "--docker-password=p"]
INGRESS_MORE = ["--rule=/x=svc2:http", "--default-backend=def:http", "--annotation=a=b"]

# {files} is the directory of the module's input files (TLS key pair, a binary and a text file).
COMMANDS: list[Any] = [
    pytest.param(["create", "namespace", "team-a"], id="namespace"),
    pytest.param(["create", "namespace", "saved", "--save-config"], id="namespace-save-config-annotation"),
    pytest.param(
        ["create", "configmap", "c", "--from-literal=a=b", "--from-literal=c=d"], id="configmap-literals"
    ),
    pytest.param(
        ["create", "configmap", "files", "--from-file=blob={files}/blob.bin", "--from-file={files}/text.txt"],
        id="configmap-binary-data",
    ),
    pytest.param(
        ["create", "secret", "tls", "tls", "--cert={files}/tls.crt", "--key={files}/tls.key"], id="secret-tls"
    ),
    pytest.param(
        ["create", "secret", "generic", "g", "--from-literal=k=v", "--type=example.com/token"],
        id="secret-generic-typed",
    ),
    pytest.param(
        ["create", "secret", "docker-registry", "reg", "--docker-server=r.example.com", *DOCKER_LOGIN],
        id="secret-docker-registry",
    ),
    pytest.param(["create", "serviceaccount", "robot"], id="serviceaccount"),
    pytest.param(
        ["create", "service", "clusterip", "s", "--tcp=80:8080", "--tcp=443"], id="service-clusterip"
    ),
    pytest.param(["create", "service", "clusterip", "headless", "--clusterip=None"], id="service-headless"),
    pytest.param(
        ["create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"], id="service-nodeport"
    ),
    pytest.param(
        ["create", "service", "loadbalancer", "lb", "--tcp=80:http"], id="service-named-target-port"
    ),
    pytest.param(
        ["create", "service", "externalname", "ext", "--external-name=example.com"], id="service-externalname"
    ),
    pytest.param(["create", "deployment", "web", "--image=nginx"], id="deployment"),
    pytest.param(
        ["create", "deployment", "two", "--image=nginx", "--image=busybox", "--port=80", "--replicas=0"],
        id="deployment-two-images-zero-replicas",
    ),
    pytest.param(
        ["create", "deployment", "cmd", "--image=busybox", "--replicas=3", "--", "sh", "-c", "sleep 1"],
        id="deployment-command",
    ),
    pytest.param(["create", "ingress", "simple", "--rule=a.example.com/=svc:80"], id="ingress"),
    pytest.param(
        [
            "create",
            "ingress",
            "full",
            "--class=contour",
            "--rule=a.example.com/p*=svc:80,tls=sec",
            *INGRESS_MORE,
        ],
        id="ingress-tls-class-default-backend",
    ),
    pytest.param(["create", "role", "r", "--verb=get", "--resource=pods"], id="role"),
    pytest.param(
        ["create", "role", "r2", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"],
        id="role-groups-resource-names",
    ),
    pytest.param(
        [
            "create",
            "rolebinding",
            "rb",
            "--role=r",
            "--user=u",
            "--group=g",
            "--serviceaccount=default:robot",
        ],
        id="rolebinding",
    ),
    pytest.param(
        ["create", "clusterrole", "cr", "--verb=get", "--resource=pods", "--non-resource-url=/healthz"],
        id="clusterrole",
    ),
    pytest.param(
        ["create", "clusterrole", "agg", "--aggregation-rule=foo=bar"], id="clusterrole-aggregation"
    ),
    pytest.param(
        ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--user=u"], id="clusterrolebinding"
    ),
]


def _write_inputs(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.example.com")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (directory / "blob.bin").write_bytes(bytes(range(256)))
    (directory / "text.txt").write_text("hello\nworld\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("inputs")
    _write_inputs(directory)
    return directory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaptureServer]:
    with serve(tmp_path_factory.mktemp("kubectl")) as running:
        yield running


def _sent(server: CaptureServer, command: list[str]) -> Captured:
    """The one write kubectl sends for `command`, which must be protobuf (clears the request log first)."""
    server.requests.clear()
    result = server.kubectl(*command)
    assert result.returncode == 0, result.stderr
    writes = server.writes()
    assert len(writes) == 1, writes
    assert writes[0].content_type == MEDIA_TYPE
    return writes[0]


def _printed(server: CaptureServer, command: list[str]) -> dict[str, Any]:
    """What `--dry-run=client -o json` prints for `command` (flags go before a `--` command line)."""
    cut = command.index("--") if "--" in command else len(command)
    result = server.kubectl(*command[:cut], "--dry-run=client", "-o", "json", *command[cut:])
    assert result.returncode == 0, result.stderr
    printed: dict[str, Any] = json.loads(result.stdout)
    return printed


@pytest.mark.parametrize("command", COMMANDS)
def test_decoded_body_equals_the_object_kubectl_prints(
    server: CaptureServer, files: Path, command: list[str]
) -> None:
    args = [arg.format(files=files) for arg in command]
    assert decode_protobuf(_sent(server, args).body) == _printed(server, args)


def test_a_kind_without_a_table_is_unsupported_media_type(server: CaptureServer) -> None:
    server.requests.clear()
    server.kubectl("create", "token", "robot")  # fails: the capture server answers no token
    [sent] = server.writes()
    assert sent.path.endswith("/serviceaccounts/robot/token") and sent.content_type == MEDIA_TYPE
    with pytest.raises(APIError) as raised:
        decode_protobuf(sent.body)
    assert raised.value.code == 415
    assert "authentication.k8s.io/v1 TokenRequest" in raised.value.message


# Hand-built bodies: a few lines of protobuf encoding, enough to write any field of any wire type.


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def field(number: int, value: int | str | bytes) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(key: str, value: str | bytes) -> bytes:
    return field(1, key) + field(2, value)


def envelope(api_version: str, kind: str, raw: bytes, *extra: bytes) -> bytes:
    return MAGIC + field(1, field(1, api_version) + field(2, kind)) + field(2, raw) + b"".join(extra)


RBAC = "rbac.authorization.k8s.io/v1"


def namespace(*metadata: bytes) -> bytes:
    return envelope("v1", "Namespace", field(1, b"".join(metadata)))


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = (
        field(90, 7) + field(91, b"\x01\x02") + varint(92 << 3 | 5) + b"abcd" + varint(93 << 3 | 1) + b"x" * 8
    )
    body = envelope(RBAC, "Role", field(1, field(1, "n") + unknown) + unknown, field(9, "envelope-extra"))
    assert decode_protobuf(body) == {
        "kind": "Role",
        "apiVersion": RBAC,
        "metadata": {"name": "n"},
        "rules": None,
    }


def test_zero_scalars_and_a_zero_creation_timestamp_are_left_out() -> None:
    metadata = field(1, "n") + field(2, "") + field(7, 0) + field(8, b"")
    assert decode_protobuf(namespace(metadata))["metadata"] == {"name": "n"}


def test_absent_fields_are_written_as_go_writes_a_zero_struct() -> None:
    """Non-pointer structs become {}, and a slice without omitempty (Role.rules) becomes null."""
    assert decode_protobuf(namespace(field(1, "n"))) == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "n"},
        "spec": {},
        "status": {},
    }
    role = envelope(RBAC, "Role", field(1, field(1, "r")))
    assert decode_protobuf(role) == {
        "kind": "Role",
        "apiVersion": RBAC,
        "metadata": {"name": "r"},
        "rules": None,
    }


def test_times_are_rfc3339_whole_seconds() -> None:
    stamp = field(1, 1_700_000_000) + field(2, 999)  # nanos are dropped, as the real server drops them
    obj = decode_protobuf(namespace(field(1, "n"), field(8, stamp), field(9, stamp)))
    assert (
        obj["metadata"]["creationTimestamp"] == obj["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:20Z"
    )


def test_negative_numbers_keep_their_sign() -> None:
    obj = decode_protobuf(namespace(field(1, "n"), field(10, -1)))  # a 10-byte two's complement varint
    assert obj["metadata"]["deletionGracePeriodSeconds"] == -1


def test_a_message_sent_twice_is_merged_and_the_last_scalar_wins() -> None:
    first = field(1, field(1, "first") + field(11, entry("a", "1")))
    body = envelope("v1", "Namespace", first + field(1, field(1, "n")))
    assert decode_protobuf(body)["metadata"] == {"name": "n", "labels": {"a": "1"}}


def test_secret_data_is_base64() -> None:
    data = field(2, entry("k", b"\xff\x00")) + field(2, entry("t", b"text"))
    secret = decode_protobuf(envelope("v1", "Secret", field(1, field(1, "s")) + data))
    assert secret["data"] == {"k": "/wA=", "t": "dGV4dA=="}


def deployment(spec: bytes) -> dict[str, Any]:
    return decode_protobuf(envelope("apps/v1", "Deployment", field(2, spec)))


def test_quantities_are_their_strings() -> None:
    resources = field(1, entry("cpu", field(1, "500m"))) + field(2, entry("memory", field(1, "64Mi")))
    obj = deployment(field(3, field(2, field(2, field(1, "app") + field(8, resources)))))
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}}
    ]


def test_int_or_string_is_a_number_or_a_string() -> None:
    zero, percent = field(1, 0) + field(2, 0), field(1, 1) + field(3, "25%")
    obj = deployment(field(4, field(1, "RollingUpdate") + field(2, field(1, zero) + field(2, percent))))
    assert obj["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
    }


MALFORMED: list[Any] = [
    pytest.param(b'{"kind": "Namespace"}', "does not start with", id="json-not-protobuf"),
    pytest.param(MAGIC + b"\x0a\x80", "truncated varint", id="truncated-varint"),
    pytest.param(MAGIC + b"\x0a\x05ab", "5 bytes long but only 2 remain", id="length-past-the-end"),
    pytest.param(MAGIC + b"\x08" + b"\xff" * 10 + b"\x01", "longer than 10 bytes", id="eleven-byte-varint"),
    pytest.param(MAGIC + b"\x0b", "unsupported wire type 3", id="group-wire-type"),
    pytest.param(MAGIC + b"\x00\x00", "field number 0", id="field-number-zero"),
    pytest.param(MAGIC + b"\x0d\x01", "truncated fixed-size", id="truncated-fixed32"),
    pytest.param(MAGIC, "names no kind", id="empty-envelope"),
    pytest.param(
        envelope("v1", "Namespace", field(1, 5)),
        "Namespace.metadata should be length-delimited",
        id="wrong-wire-type",
    ),
    pytest.param(
        namespace(field(1, b"\xc3\x28")), "Namespace.metadata.name is not valid UTF-8", id="invalid-utf8"
    ),
    pytest.param(
        namespace(field(7, b"x")), "Namespace.metadata.generation should be a varint", id="string-for-int"
    ),
    pytest.param(namespace(field(11, field(1, 3))), "map entry field 1 has wire type 0", id="bad-map-entry"),
    pytest.param(namespace(field(8, field(1, 1 << 62))), "time out of range", id="time-out-of-range"),
    pytest.param(
        envelope("v1", "Namespace", b"\x0a\x09\x0a\x07ab"),
        "Namespace: field 1 is 9 bytes long but only 4 remain",
        id="nested-truncation",
    ),
]


@pytest.mark.parametrize(("body", "says"), MALFORMED)
def test_malformed_bytes_are_a_bad_request(body: bytes, says: str) -> None:
    with pytest.raises(APIError) as raised:
        decode_protobuf(body)
    assert raised.value.code == 400
    assert says in raised.value.message


def test_an_encoded_object_is_unsupported_media_type() -> None:
    body = namespace(field(1, "n")) + field(3, "gzip")
    with pytest.raises(APIError) as raised:
        decode_protobuf(body)
    assert raised.value.code == 415


def test_message_tables_are_complete_and_acyclic() -> None:
    """Every nested message has a table and none contains itself, so decoding recursion is bounded."""

    def depth(name: str, path: tuple[str, ...]) -> int:
        assert name not in path, f"cycle {(*path, name)}"
        nested = [f.message for f in MESSAGES[name].values() if f.kind is Kind.MESSAGE]
        return 1 + max((depth(child, (*path, name)) for child in nested), default=0)

    assert max(depth(name, ()) for name in sorted(set(KINDS.values()))) <= 10


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), raw=st.binary(max_size=200))
def test_arbitrary_object_bytes_decode_or_are_a_bad_request(kind: tuple[str, str], raw: bytes) -> None:
    try:
        obj = decode_protobuf(envelope(kind[0], kind[1], raw))
    except APIError as exc:
        assert exc.code == 400
    else:
        assert (obj["apiVersion"], obj["kind"]) == kind
        json.dumps(obj)  # plain JSON values only
