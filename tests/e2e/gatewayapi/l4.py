"""TCP, UDP and TLS-terminate routes for the conformance-style suite: backends, manifests, probes.

Upstream's TCP and UDP tests run the echo image in Deployments (TCP_ECHO_SERVER / UDP_ECHO_SERVER);
here each "pod" is a `contour echo --mode tcp|udp` process on 127.0.0.1 (its own free port), told its
pod name (`<service>-0`, so the pod prefix names the Deployment as upstream), namespace and service,
behind a selector-less Service and one EndpointSlice with the right protocol. Probes follow upstream's
utils/tcp (greeting, PING, IS_TLS, TEST on a fresh connection) and the UDP tests (one datagram from a
fresh socket, the JSON answer names the pod); a case passes after 3 good answers in a row within
30 s. Weighted routing is checked as upstream's weight.TestWeightedDistribution: 500 exchanges, 10 at
a time, each backend's share within 0.05 of its weight's, a zero-weight backend never answering.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.gatewayapi.base_manifests import CONTROLLER, GATEWAY_API, INFRA, Manifest
from tests.e2e.gatewayapi.echo_pods import listening_port, stop_process
from tests.e2e.gatewayapi.suite import Suite, conditions_of
from tests.support.contour_run import CONTOUR

REQUIRED_CONSECUTIVE = 3
MAX_TIME_TO_CONSISTENCY = 30.0
POLL_INTERVAL = 0.1
WELCOME = "Gateway API Test TCP Server\n"
WEIGHT_TOTAL = 500
WEIGHT_CONCURRENCY = 10
WEIGHT_TOLERANCE = 0.05
WEIGHT_ATTEMPTS = 10

_LISTENING = re.compile(rb"^Starting server, listening on port (\d+) \((tcp|udp)\)$", re.MULTILINE)


# -- backends ------------------------------------------------------------------------------------------


@dataclass
class L4Pod:
    """One `contour echo --mode tcp|udp` process standing for one pod of a backend Deployment."""

    namespace: str
    service: str
    mode: str
    log_path: Path
    process: subprocess.Popen[bytes]
    port: int = 0

    @property
    def pod(self) -> str:
        return f"{self.service}-0"

    @classmethod
    def launch(cls, namespace: str, service: str, mode: str, work_dir: Path) -> L4Pod:
        log_path = work_dir / f"{namespace}-{service}.log"
        port_flag = "--udp-port" if mode == "udp" else "--port"
        args = [CONTOUR, "echo", "--mode", mode, "--address", "127.0.0.1", port_flag, "0"]
        args += ["--pod", f"{service}-0", "--namespace", namespace, "--service", service]
        env = {k: v for k, v in os.environ.items() if not k.endswith("_ECHO_SERVER")}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
        return cls(namespace, service, mode, log_path, process)

    def wait_listening(self, deadline: float) -> None:
        self.port = listening_port(self.process, self.log_path, _LISTENING, deadline, f"echo {self.pod}")

    def stop(self) -> None:
        stop_process(self.process)


def now_utc() -> str:
    """The API server's timestamp format, to the second (creationTimestamp has no finer precision)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def launch_pods(specs: Iterable[tuple[str, str]], mode: str, work_dir: Path) -> dict[str, L4Pod]:
    """Start one pod per (namespace, service) at once, then wait for each; by service name."""
    pods: dict[str, L4Pod] = {}
    try:
        for namespace, service in specs:
            pods[service] = L4Pod.launch(namespace, service, mode, work_dir)
        deadline = time.monotonic() + 30.0
        for pod in pods.values():
            pod.wait_listening(deadline)
    except BaseException:
        stop_pods(pods)
        raise
    return pods


def stop_pods(pods: dict[str, L4Pod]) -> None:
    for pod in pods.values():
        pod.stop()


def l4_service(pod: L4Pod, port: int, *, name: str | None = None) -> list[Manifest]:
    """A selector-less Service (`port` -> the pod) and its EndpointSlice, protocol TCP or UDP."""
    protocol = pod.mode.upper()
    service = name or pod.service
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": pod.namespace},
            "spec": {
                "ports": [{"name": pod.mode, "port": port, "protocol": protocol, "targetPort": pod.port}]
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{service}-1",
                "namespace": pod.namespace,
                "labels": {"kubernetes.io/service-name": service},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": pod.mode, "port": pod.port, "protocol": protocol}],
        },
    ]


# -- manifests -----------------------------------------------------------------------------------------


def l4_listener(name: str, port: int, protocol: str, kind: str | None = None, **fields: Any) -> Manifest:
    """A TCP or UDP listener; `kind` becomes allowedRoutes.kinds as in the upstream manifests."""
    listener: Manifest = {"name": name, "port": port, "protocol": protocol, **fields}
    if kind is not None:
        listener.setdefault("allowedRoutes", {})["kinds"] = [{"kind": kind}]
    return listener


def l4_route(
    kind: str, name: str, parents: Iterable[Manifest], backends: Iterable[Manifest], ns: str = INFRA
) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"parentRefs": list(parents), "rules": [{"backendRefs": list(backends)}]},
    }


def parent_ref(name: str, **fields: Any) -> Manifest:
    return {"name": name, **fields}


def backend_ref(name: str, port: int, **fields: Any) -> Manifest:
    return {"name": name, "port": port, **fields}


# -- status --------------------------------------------------------------------------------------------


def route_condition(suite: Suite, kind: str, route: str, gateway: str, expected: str) -> Manifest:
    """`TCPRouteMustHaveCondition` / `UDPRouteMustHaveCondition` (latest observedGeneration);
    `expected` reads "Type=Status" or "Type=Status/Reason"."""
    cond, _, wanted = expected.partition("=")
    status, _, reason = wanted.partition("/")

    def ok(entry: Manifest | None) -> bool:
        if entry is None:
            return False
        found = conditions_of(entry).get(cond)
        return found is not None and found[0] == status and (not reason or found[1] == reason)

    entry = suite.poll(
        suite.route_parent(route, gateway, kind=kind), ok, f"{kind} {route} on {gateway}: {expected}"
    )
    assert entry is not None
    return entry


def routes_accepted(suite: Suite, kind: str, gateway: str, routes: Iterable[str]) -> str:
    """`GatewayAndTCPRoutesMustBeAccepted` / `...UDPRoutes...`: the Gateway's address once all holds."""
    address = suite.gateway_address(gateway)
    for route in routes:
        entry = route_condition(suite, kind, route, gateway, "Accepted=True/Accepted")
        assert entry["controllerName"] == CONTROLLER, entry
        assert entry["parentRef"].get("group") == "gateway.networking.k8s.io", entry
        assert entry["parentRef"].get("kind") == "Gateway", entry
    suite.listeners_ready(gateway)
    return address


def route_must_have_parents(suite: Suite, kind: str, route: str, gateway: str, ns: str = INFRA) -> None:
    """`TCPRouteMustHaveParents` with one expected parent: the Gateway (group, kind, name, namespace),
    our controllerName, Accepted=True/Accepted; no other parent entry."""

    def ok(found: Manifest) -> bool:
        generation = found["metadata"].get("generation", 1)
        parents = (found.get("status") or {}).get("parents") or []
        if len(parents) != 1:
            return False
        entry = parents[0]
        ref = entry.get("parentRef") or {}
        return (
            entry.get("controllerName") == CONTROLLER
            and ref.get("group") == "gateway.networking.k8s.io"
            and ref.get("kind") == "Gateway"
            and ref.get("name") == gateway
            and ref.get("namespace", ns) == ns
            and conditions_of(entry).get("Accepted") == ("True", "Accepted")
            and all(c.get("observedGeneration") == generation for c in entry.get("conditions") or [])
        )

    suite.poll(lambda: suite.get(kind.lower() + "s", route, ns), ok, f"{kind} {route}: one parent {gateway}")


def listeners_must_be(suite: Suite, gateway: str, expected: list[Manifest]) -> None:
    """`GatewayStatusMustHaveListeners`: as many listeners as expected; each by name with its
    attachedRoutes, its supportedKinds among the actual ones and its conditions (reason "" = any)."""

    def matches(want: Manifest, got: Manifest) -> bool:
        kinds = [(k.get("group"), k["kind"]) for k in got.get("supportedKinds") or []]
        wanted_kinds = [("gateway.networking.k8s.io", k) for k in want.get("kinds", [])]
        if "kinds" in want and not want["kinds"] and kinds:
            return False
        if any(k not in kinds for k in wanted_kinds):
            return False
        if got.get("attachedRoutes") != want["attached"]:
            return False
        found = conditions_of(got)
        for cond, (status, reason) in want.get("conditions", {}).items():
            seen = found.get(cond)
            if seen is None or seen[0] != status or (reason and seen[1] != reason):
                return False
        return True

    def ok(entries: list[Manifest]) -> bool:
        by_name = {e["name"]: e for e in entries}
        return len(entries) == len(expected) and all(
            w["name"] in by_name and matches(w, by_name[w["name"]]) for w in expected
        )

    suite.listeners(gateway, ok, f"listeners of {gateway}: {expected}")


def zero_routes(suite: Suite, gateway: str) -> None:
    """`GatewayMustHaveZeroRoutes`: every listener reports 0 attached routes."""
    suite.listeners(
        gateway, lambda es: all(e.get("attachedRoutes") == 0 for e in es), f"Gateway {gateway}: 0 routes"
    )


# -- TCP -----------------------------------------------------------------------------------------------


def _read_line(stream: Any) -> str:
    line: bytes = stream.readline(65536)
    if not line.endswith(b"\n"):
        raise ConnectionError(f"connection ended after {line!r}")
    return line.decode()


def tcp_exchange(
    address: str, port: int, *, context: ssl.SSLContext | None = None, sni: str | None = None
) -> tuple[str, dict[str, Any]]:
    """One fresh connection (TLS to the Gateway when `context` is given): the greeting, PING,
    IS_TLS and TEST, as upstream's WaitForValidTCPResponse. Returns (IS_TLS answer, TEST document)."""
    raw = socket.create_connection((address, port), timeout=5)
    sock: socket.socket = context.wrap_socket(raw, server_hostname=sni) if context is not None else raw
    with sock, sock.makefile("rwb") as stream:
        welcome = _read_line(stream)
        if welcome != WELCOME:
            raise ConnectionError(f"greeting {welcome!r}")
        answers = []
        for command in (b"PING\n", b"IS_TLS\n", b"TEST\n"):
            stream.write(command)
            stream.flush()
            answers.append(_read_line(stream))
        if answers[0] != "PONG\n":
            raise ConnectionError(f"PING answered {answers[0]!r}")
        document: dict[str, Any] = json.loads(answers[2])
        return answers[1].strip(), document


def tcp_pod_once(address: str, port: int) -> str:
    """Upstream's tcp.EchoSendOnce: greeting then TEST; the answering pod's name."""
    with socket.create_connection((address, port), timeout=5) as sock, sock.makefile("rwb") as stream:
        if _read_line(stream) != WELCOME:
            raise ConnectionError("unexpected greeting")
        stream.write(b"TEST\n")
        stream.flush()
        pod = json.loads(_read_line(stream)).get("pod")
        if not pod:
            raise ConnectionError("TEST answer without a pod")
        return str(pod)


def expect_tcp_backend(
    address: str,
    port: int,
    backend: str,
    namespace: str = INFRA,
    *,
    context: ssl.SSLContext | None = None,
    sni: str | None = None,
) -> None:
    """`MakeTCPRequestAndExpectEventuallyValidResponse` (backend not TLS), 3 times in a row."""

    def check() -> str | None:
        is_tls, document = tcp_exchange(address, port, context=context, sni=sni)
        if is_tls != "false":
            return f"IS_TLS answered {is_tls!r}"
        if document.get("namespace") != namespace:
            return f"namespace {document.get('namespace')!r}, expected {namespace!r}"
        if not str(document.get("pod", "")).startswith(f"{backend}-"):
            return f"pod {document.get('pod')!r}, expected {backend}-*"
        return None

    consistently(check, f"TCP {address}:{port} answered by {backend}")


# -- UDP -----------------------------------------------------------------------------------------------


def udp_send_once(
    address: str, port: int, payload: bytes = b"gateway-api-conformance-udp\n"
) -> dict[str, Any]:
    """One datagram from a fresh socket (a new session for the Gateway); the JSON answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.connect((address, port))
        sock.send(payload)
        answer: dict[str, Any] = json.loads(sock.recv(65536))
        if answer.get("request") != payload.decode():
            raise ConnectionError(f"payload echoed as {answer.get('request')!r}")
        return answer


def udp_pod_once(address: str, port: int) -> str:
    pod = udp_send_once(address, port, b"gateway-api-conformance-udp-weight\n").get("pod")
    if not pod:
        raise ConnectionError("UDP answer without a pod")
    return str(pod)


def expect_udp_backend(address: str, port: int, service: str, namespace: str = INFRA) -> None:
    """`udp.ExpectEchoResponseFromBackend`: the answer names the service and namespace, 3 in a row."""

    def check() -> str | None:
        answer = udp_send_once(address, port)
        if answer.get("service") != service or answer.get("namespace") != namespace:
            seen = f"{answer.get('namespace')}/{answer.get('service')}"
            return f"answered by {seen}, expected {namespace}/{service}"
        if not str(answer.get("pod", "")).startswith(f"{service}-"):
            return f"pod {answer.get('pod')!r}, expected {service}-*"
        return None

    consistently(check, f"UDP {address}:{port} answered by {service}")


# -- shared --------------------------------------------------------------------------------------------


def consistently(check: Callable[[], str | None], what: str) -> None:
    """Pass after REQUIRED_CONSECUTIVE good answers in a row; fail at the deadline."""
    deadline = time.monotonic() + MAX_TIME_TO_CONSISTENCY
    streak, last = 0, "nothing tried"
    while streak < REQUIRED_CONSECUTIVE:
        try:
            problem = check()
        except (OSError, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            streak += 1
            continue
        streak, last = 0, problem
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not consistent within {MAX_TIME_TO_CONSISTENCY}s; last: {last}")
        time.sleep(POLL_INTERVAL)  # upstream's poll interval between attempts


def deployment_of(pod: str) -> str:
    """The backend a pod name `<service>-0` belongs to."""
    return pod.rsplit("-", 1)[0]


def weighted_distribution(send_once: Callable[[], str], expected: dict[str, float]) -> None:
    """weight.TestWeightedDistribution, retried up to WEIGHT_ATTEMPTS times."""
    errors: list[str] = []
    for _ in range(WEIGHT_ATTEMPTS):
        with ThreadPoolExecutor(max_workers=WEIGHT_CONCURRENCY) as pool:
            futures = [pool.submit(send_once) for _ in range(WEIGHT_TOTAL)]
            try:
                pods = [f.result() for f in futures]
            except (OSError, ValueError) as error:
                errors = [f"{type(error).__name__}: {error}"]
                continue
        seen: dict[str, int] = {}
        for pod in pods:
            seen[deployment_of(pod)] = seen.get(deployment_of(pod), 0) + 1
        errors = [f"unexpected backend {b}" for b in seen if b not in expected]
        for backend, share in expected.items():
            got = seen.get(backend, 0) / WEIGHT_TOTAL
            if share == 0 and got:
                errors.append(f"{backend}: {got} of the traffic with weight 0")
            elif abs(got - share) > WEIGHT_TOLERANCE:
                errors.append(f"{backend}: {got} not within {share} +/- {WEIGHT_TOLERANCE}")
        if not errors:
            return
    raise AssertionError(f"weighted distribution failed {WEIGHT_ATTEMPTS} times; last: {errors}")
