# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-GRPC conformance tests of Gateway API v1.6.1 for GRPCRoute, one test per upstream test.

The upstream base runs `grpc-infra-backend-v1/v2/v3` (the echo image with GRPC_ECHO_SERVER=1) behind
Services whose port 8080 has appProtocol kubernetes.io/h2c. Here each is one `contour echo --mode grpc`
process on loopback (module fixture `grpc_pods`), with a selector-less Service and an EndpointSlice.
A case passes like upstream's grpc.MakeRequestAndExpectEventuallyConsistentResponse: the status code,
and for OK the fully qualified method, the namespace and the pod-name prefix, 3 times in a row
within 30 s; the route's parent entry must first be Accepted with our controllerName.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from contour.echo import grpc_messages
from tests.e2e.gatewayapi.base_manifests import (
    CONTROLLER,
    GATEWAY_API,
    INFRA,
    Manifest,
    backend,
    from_namespaces,
    gateway,
    listener,
    parent,
)
from tests.e2e.gatewayapi.roundtrip import MAX_TIME_TO_CONSISTENCY, POLL_INTERVAL, REQUIRED_CONSECUTIVE
from tests.e2e.gatewayapi.suite import Suite, conditions_of
from tests.echo.process import EchoProcess
from tests.support.contour_run import ContourRun

V1, V2, V3 = "grpc-infra-backend-v1", "grpc-infra-backend-v2", "grpc-infra-backend-v3"
SERVICE = grpc_messages.SERVICE
OK, UNIMPLEMENTED = grpc.StatusCode.OK, grpc.StatusCode.UNIMPLEMENTED
RPC_TIMEOUT = 5.0


# -- the gRPC backends -----------------------------------------------------------------------------


def grpc_service(name: str, pod_port: int, ns: str = INFRA) -> list[Manifest]:
    """Service port 8080 (h2c) -> the pod, as upstream's grpc-infra-backend Services."""
    h2c = "kubernetes.io/h2c"
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "ports": [
                    {"name": "grpc", "port": 8080, "targetPort": 3000, "protocol": "TCP", "appProtocol": h2c}
                ]
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-0",
                "namespace": ns,
                "labels": {"kubernetes.io/service-name": name},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "grpc", "port": pod_port, "protocol": "TCP", "appProtocol": h2c}],
        },
    ]


@pytest.fixture(scope="module")
def grpc_pods(run: ContourRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, EchoProcess]]:
    """One gRPC echo pod per grpc-infra-backend Service, told its pod, namespace and service."""
    logs: Path = tmp_path_factory.mktemp("grpc-pods")
    pods: dict[str, EchoProcess] = {}
    manifests: list[Manifest] = []
    try:
        for name in (V1, V2, V3):
            pod = f"{name}-0"
            pods[name] = EchoProcess(
                "--mode", "grpc", "--port", "0", "--pod", pod, "--namespace", INFRA, "--service", name,
                stderr_path=logs / f"{pod}.log",
            )  # fmt: skip
            manifests += grpc_service(name, pods[name].ports["grpc"])
        run.apply(manifests)
        yield pods
    finally:
        for manifest in manifests:
            kind = "endpointslices.discovery.k8s.io" if manifest["kind"] == "EndpointSlice" else "services"
            run.kubectl("delete", kind, manifest["metadata"]["name"], "-n", INFRA, "--ignore-not-found")
        for started in pods.values():
            started.stop()


# -- manifests ---------------------------------------------------------------------------------------


def grpc_route(name: str, *rules: Manifest, parents: list[Manifest] | None = None) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "GRPCRoute",
        "metadata": {"name": name, "namespace": INFRA},
        "spec": {"parentRefs": parents or [parent("same-namespace", None)], "rules": list(rules)},
    }


def grpc_rule(*backends: Manifest, matches: list[Manifest] | None = None, **fields: Any) -> Manifest:
    built: Manifest = {"backendRefs": list(backends), **fields}
    if matches is not None:
        built["matches"] = matches
    return built


def method(name: str) -> Manifest:
    return {"method": {"service": SERVICE, "method": name}}


def headers(**values: str) -> Manifest:
    return {"headers": [{"name": key, "value": value} for key, value in values.items()]}


# -- requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RPC:
    """Upstream's grpc.ExpectedResponse: the call to make and what must come back."""

    method: str = "Echo"
    metadata: dict[str, str] = field(default_factory=dict)
    authority: str = ""
    code: grpc.StatusCode = OK
    backend: str = ""
    namespace: str = ""

    def name(self) -> str:
        sent = f"{self.authority}/{self.method}" + (f" {self.metadata}" if self.metadata else "")
        return f"{sent} -> {self.backend or self.code.name}"


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    method: str = ""
    namespace: str = ""
    pod: str = ""


def channel(address: str, port: int, authority: str = "") -> grpc.Channel:
    options = [("grpc.default_authority", authority)] if authority else []
    return grpc.insecure_channel(f"{address}:{port}", options=options)


def call(ch: grpc.Channel, rpc: RPC) -> Answer:
    stub = ch.unary_unary(
        grpc_messages.full_method(rpc.method),
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=grpc_messages.EchoResponse.FromString,
    )
    # gRPC metadata keys are lower case on the wire (HTTP/2); upstream's Go client lowers them too.
    metadata = [(key.lower(), value) for key, value in rpc.metadata.items()]
    try:
        response: Any = stub(grpc_messages.EchoRequest(), metadata=metadata, timeout=RPC_TIMEOUT)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return Answer(code)
    assertions = response.assertions
    return Answer(OK, assertions.fully_qualified_method, assertions.context.namespace, assertions.context.pod)


def mismatch(rpc: RPC, answer: Answer) -> str | None:
    """Upstream's compareResponse."""
    if answer.code != rpc.code:
        return f"status {answer.code.name}, want {rpc.code.name}"
    if answer.code != OK:
        return None
    if answer.method != grpc_messages.full_method(rpc.method):
        return f"fully_qualified_method {answer.method!r}"
    if rpc.namespace and answer.namespace != rpc.namespace:
        return f"namespace {answer.namespace!r}, want {rpc.namespace!r}"
    if not answer.pod.startswith(rpc.backend):
        return f"pod {answer.pod!r}, want prefix {rpc.backend!r}"
    return None


def expect_consistent(address: str, port: int, rpc: RPC) -> None:
    """3 matching answers in a row within 30 s, polling every 100 ms."""
    deadline = time.monotonic() + MAX_TIME_TO_CONSISTENCY
    in_a_row, last = 0, "no answer"
    with channel(address, port, rpc.authority) as ch:
        while time.monotonic() < deadline:
            problem = mismatch(rpc, call(ch, rpc))
            if problem is None:
                in_a_row += 1
                if in_a_row >= REQUIRED_CONSECUTIVE:
                    return
            else:
                in_a_row, last = 0, problem
            time.sleep(POLL_INTERVAL)  # the upstream poll interval between attempts
    raise AssertionError(f"{rpc.name()}: no {REQUIRED_CONSECUTIVE} consistent answers; last: {last}")


def expect_all(address: str, port: int, rpcs: list[RPC]) -> None:
    """Every case, concurrently as upstream's parallel subtests; each failure is reported."""
    with ThreadPoolExecutor(max_workers=len(rpcs)) as pool:
        futures = [pool.submit(expect_consistent, address, port, rpc) for rpc in rpcs]
    failures = [str(f.exception()) for f in futures if f.exception() is not None]
    assert failures == [], "\n".join(failures)


# -- statuses ----------------------------------------------------------------------------------------


def routes_accepted(suite: Suite, gateway_name: str, routes: list[str]) -> str:
    """`GatewayAndRoutesMustBeAccepted` for GRPCRoutes: the Gateway's address once it all holds."""
    address = suite.gateway_address(gateway_name)
    for route in routes:
        entry = suite.poll(
            suite.route_parent(route, gateway_name, kind="GRPCRoute"),
            lambda e: e is not None and conditions_of(e).get("Accepted") == ("True", "Accepted"),
            f"GRPCRoute {route} Accepted by {gateway_name}",
        )
        assert entry is not None
        assert entry["controllerName"] == CONTROLLER
        assert entry["parentRef"].get("group") == "gateway.networking.k8s.io", entry
        assert entry["parentRef"].get("kind") == "Gateway", entry
    suite.listeners_ready(gateway_name)
    return address


# -- tests -------------------------------------------------------------------------------------------


def test_GRPCExactMethodMatching(suite: Suite, grpc_pods: dict[str, EchoProcess]) -> None:
    suite.apply(
        grpc_route(
            "exact-matching",
            grpc_rule(backend(V1), matches=[method("Echo")]),
            grpc_rule(backend(V2), matches=[method("EchoTwo")]),
        )
    )
    address = routes_accepted(suite, "same-namespace", ["exact-matching"])
    expect_all(
        address,
        suite.ports[80],
        [
            RPC("Echo", backend=V1, namespace=INFRA),
            RPC("EchoTwo", backend=V2, namespace=INFRA),
            RPC("EchoThree", code=UNIMPLEMENTED),
        ],
    )


def test_GRPCRouteHeaderMatching(suite: Suite, grpc_pods: dict[str, EchoProcess]) -> None:
    # The manifest rebuilt from the test's cases (the YAML is not in the reference): exact header
    # matches ANDed within a match, ORed across matches, the earlier rule winning a tie.
    suite.apply(
        grpc_route(
            "grpc-header-matching",
            grpc_rule(backend(V1), matches=[headers(version="one")]),
            grpc_rule(backend(V2), matches=[headers(version="two")]),
            grpc_rule(backend(V1), matches=[headers(version="two", color="orange")]),
            grpc_rule(backend(V1), matches=[headers(color="blue"), headers(color="green")]),
            grpc_rule(backend(V2), matches=[headers(color="red"), headers(color="yellow")]),
        )
    )
    address = routes_accepted(suite, "same-namespace", ["grpc-header-matching"])
    cases: list[tuple[dict[str, str], str]] = [
        ({"Version": "one"}, V1),
        ({"Version": "two"}, V2),
        ({"Version": "two", "Color": "orange"}, V1),
        ({"Version": "two", "Color": "blue"}, V2),
        ({"Color": "orange"}, ""),
        ({"Some-Other-Header": "one"}, ""),
        ({"Color": "blue"}, V1),
        ({"Color": "green"}, V1),
        ({"Color": "red"}, V2),
        ({"Color": "yellow"}, V2),
        ({"Color": "purple"}, ""),
    ]
    expect_all(
        address,
        suite.ports[80],
        [
            RPC(metadata=sent, backend=to, namespace=INFRA) if to else RPC(metadata=sent, code=UNIMPLEMENTED)
            for sent, to in cases
        ],
    )


def test_GRPCRouteListenerHostnameMatching(suite: Suite, grpc_pods: dict[str, EchoProcess]) -> None:
    name = "grpcroute-listener-hostname-matching"
    port = suite.ports[80]
    same = from_namespaces("Same")
    suite.apply(
        gateway(
            name,
            listener("listener-1", port, allowedRoutes=same, hostname="bar.com"),
            listener("listener-2", port, allowedRoutes=same, hostname="foo.bar.com"),
            listener("listener-3", port, allowedRoutes=same, hostname="*.bar.com"),
            listener("listener-4", port, allowedRoutes=same, hostname="*.foo.com"),
        ),
        grpc_route("backend-v1", grpc_rule(backend(V1)), parents=[parent(name, sectionName="listener-1")]),
        grpc_route("backend-v2", grpc_rule(backend(V2)), parents=[parent(name, sectionName="listener-2")]),
        grpc_route(
            "backend-v3",
            grpc_rule(backend(V3)),
            parents=[parent(name, sectionName="listener-3"), parent(name, sectionName="listener-4")],
        ),
    )
    suite.gateway_condition(name, "Accepted", "True")
    suite.gateway_condition(name, "Programmed", "True")
    address = routes_accepted(suite, name, ["backend-v1", "backend-v2", "backend-v3"])
    cases = [
        ("bar.com", V1),
        ("foo.bar.com", V2),
        ("baz.bar.com", V3),
        ("boo.bar.com", V3),
        ("multiple.prefixes.bar.com", V3),
        ("multiple.prefixes.foo.com", V3),
        ("foo.com", ""),
        ("no.matching.host", ""),
    ]
    expect_all(
        address,
        port,
        [
            RPC(authority=host, backend=to, namespace=INFRA)
            if to
            else RPC(authority=host, code=UNIMPLEMENTED)
            for host, to in cases
        ],
    )


def test_GRPCRouteNamedRule(suite: Suite, grpc_pods: dict[str, EchoProcess]) -> None:
    # Provisional upstream, not in any Gateway profile; the manifest is rebuilt from the test body.
    suite.apply(
        grpc_route(
            "grpc-named-rules",
            grpc_rule(backend(V1), matches=[method("Echo")], name="named-rule-one"),
            grpc_rule(backend(V2), matches=[method("EchoTwo")], name="named-rule-two"),
        )
    )
    address = routes_accepted(suite, "same-namespace", ["grpc-named-rules"])
    expect_all(
        address,
        suite.ports[80],
        [RPC("Echo", backend=V1, namespace=INFRA), RPC("EchoTwo", backend=V2, namespace=INFRA)],
    )


WEIGHT_REQUESTS = 500
WEIGHT_CONCURRENCY = 10
WEIGHT_TOLERANCE = 0.05
WEIGHT_ATTEMPTS = 10


def distribution_error(address: str, port: int) -> str | None:
    """Upstream's testGRPCDistribution: 500 calls, 10 at a time, each backend within 5 points."""
    want = {V1: 0.7, V2: 0.3, V3: 0.0}
    with channel(address, port) as ch, ThreadPoolExecutor(max_workers=WEIGHT_CONCURRENCY) as pool:
        answers = list(pool.map(lambda _: call(ch, RPC()), range(WEIGHT_REQUESTS)))
    failed = [a.code.name for a in answers if a.code != OK]
    if failed:
        return f"expected OK responses, got {Counter(failed)}"
    seen: Counter[str] = Counter()
    for answer in answers:
        owner = next((name for name in want if answer.pod.startswith(name)), None)
        if owner is None:
            return f"request was handled by an unexpected pod {answer.pod!r}"
        seen[owner] += 1
    errors = [] if len(seen) == 2 else ["expected only two backends to receive traffic"]
    for name, share in want.items():
        got = seen[name] / WEIGHT_REQUESTS
        if abs(got - share) > WEIGHT_TOLERANCE:
            errors.append(f"{name}: {got} not within {share} +/- {WEIGHT_TOLERANCE}")
    return "; ".join(errors) or None


def test_GRPCRouteWeight(suite: Suite, grpc_pods: dict[str, EchoProcess]) -> None:
    suite.apply(
        grpc_route(
            "weighted-backends",
            grpc_rule(backend(V1, weight=70), backend(V2, weight=30), backend(V3, weight=0)),
        )
    )
    address = routes_accepted(suite, "same-namespace", ["weighted-backends"])
    expect_consistent(address, suite.ports[80], RPC(namespace=INFRA))
    errors = []
    for _ in range(WEIGHT_ATTEMPTS):
        error = distribution_error(address, suite.ports[80])
        if error is None:
            return
        errors.append(error)
    raise AssertionError(f"weighted distribution failed {WEIGHT_ATTEMPTS} times: {errors}")
