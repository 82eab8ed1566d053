"""What the Ingress end-to-end tests need beside `tests.support.contour_run`: objects and a many-port echo.

`ProtocolEcho` is one `contour echo` serving plain HTTP/1.1, h2c and HTTPS (ALPN h2 and http/1.1)
on kernel-chosen loopback ports, so one Service can name a port per upstream protocol. The object
builders write Ingresses, Services with EndpointSlices on 127.0.0.1, TLS Secrets (certificates from a
throw-away CA) and TLSCertificateDelegations as plain dicts for `kubectl apply`. `https_get` sends a
request with SNI and an optional pinned TLS version; `load_balancers` and `dynamic_cluster` read what
the API server and Envoy's admin hold. `websocket_echo` opens a WebSocket
through Envoy with a raw socket and wsproto and returns what came back (or the refusal's status).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, RejectConnection, Request, TextMessage

from tests.echo.certs import TestPKI
from tests.support.contour_run import CONTOUR, Answer, ContourRun, wait_until

_LISTENING = re.compile(r"^Starting server, listening on port (\d+) \((http|h2c|https)\)$", re.MULTILINE)


class ProtocolEcho:
    """`contour echo` with its HTTP, h2c and HTTPS listeners, stopped by PID."""

    def __init__(self, pod: str, work_dir: Path, cert: Path, key: Path) -> None:
        self.pod = pod
        work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work_dir / f"echo-{pod}.log"
        command = [CONTOUR, "echo", "--address", "127.0.0.1", "--port", "0", "--h2c-port", "0"]
        command += ["--tls-port", "0", "--tls-cert", str(cert), "--tls-key", str(key), "--pod", pod]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.ports: dict[str, int] = wait_until(
                self._ports, lambda found: len(found) == 3 or self.proc.poll() is not None, what="echo ports"
            )
            if len(self.ports) != 3:
                raise RuntimeError(f"contour echo ({pod}) exited:\n{self.log_path.read_text()}")
        except BaseException:
            self.stop()
            raise

    def _ports(self) -> dict[str, int]:
        return {kind: int(port) for port, kind in _LISTENING.findall(self.log_path.read_text())}

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# -- objects ----------------------------------------------------------------------------------------


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@dataclass(frozen=True)
class Port:
    """A Service port (its number is what Ingresses name) and the echo port its endpoints listen on."""

    name: str
    number: int
    target: int


def service(
    ns: str, name: str, ports: Sequence[Port], annotations: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """A selector-less Service and its EndpointSlice on 127.0.0.1 (one slice port per Service port)."""
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        metadata["annotations"] = dict(annotations)
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"ports": [{"name": p.name, "port": p.number, "targetPort": p.name} for p in ports]},
    }
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-1",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": p.name, "port": p.target, "protocol": "TCP"} for p in ports],
    }
    return [svc, endpoint_slice]


def http_path(path: str, path_type: str | None, service_name: str, port: int | str = 80) -> dict[str, Any]:
    """One `rules[].http.paths[]` entry (pathType left out when None; a str port is a port name)."""
    entry: dict[str, Any] = {"path": path}
    if path_type is not None:
        entry["pathType"] = path_type
    port_ref = {"name": port} if isinstance(port, str) else {"number": port}
    entry["backend"] = {"service": {"name": service_name, "port": port_ref}}
    return entry


def rule(host: str | None, *paths: dict[str, Any]) -> dict[str, Any]:
    """A rule for `host` (None: a rule without host, served for every host)."""
    found: dict[str, Any] = {"http": {"paths": list(paths)}}
    if host is not None:
        found = {"host": host, **found}
    return found


def ingress(
    ns: str,
    name: str,
    rules: Sequence[dict[str, Any]] = (),
    *,
    annotations: Mapping[str, str] | None = None,
    class_name: str | None = None,
    tls: Sequence[tuple[Sequence[str], str]] = (),
    default_backend: str | None = None,
) -> dict[str, Any]:
    """An Ingress; `tls` lists (hosts, secretName) pairs; `default_backend` names a Service on port 80."""
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    if default_backend is not None:
        spec["defaultBackend"] = {"service": {"name": default_backend, "port": {"number": 80}}}
    if tls:
        spec["tls"] = [{"hosts": list(hosts), "secretName": secret} for hosts, secret in tls]
    if rules:
        spec["rules"] = list(rules)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def simple_ingress(ns: str, name: str, host: str, service_name: str, **kw: Any) -> dict[str, Any]:
    """An Ingress sending every path of `host` (Prefix `/`) to `service_name` port 80."""
    return ingress(ns, name, [rule(host, http_path("/", "Prefix", service_name))], **kw)


def tls_secret(ns: str, name: str, cert: Path, key: Path) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert.read_text(), "tls.key": key.read_text()},
    }


def delegation(ns: str, name: str, secret_name: str, target_namespaces: Sequence[str]) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "TLSCertificateDelegation",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"delegations": [{"secretName": secret_name, "targetNamespaces": list(target_namespaces)}]},
    }


# -- requests and what Envoy and the API server show ------------------------------------------------


def from_pod(pod: str) -> Callable[[Answer], bool]:
    """Accepts an echo answer with status 200 from `pod`."""
    return lambda answer: answer.status == 200 and answer.pod == pod


def https_get(
    run: ContourRun, host: str, path: str = "/", *, ca: Path, tls_version: ssl.TLSVersion | None = None
) -> Answer:
    """GET over HTTPS with SNI `host`, verified against `ca`, optionally pinned to one TLS version."""
    context = ssl.create_default_context(cafile=str(ca))
    if tls_version is not None:
        context.minimum_version = context.maximum_version = tls_version
    with httpx.Client(verify=context, timeout=5.0, trust_env=False) as client:
        response = client.get(
            f"https://127.0.0.1:{run.https_port}{path}",
            headers={"host": host},
            extensions={"sni_hostname": host},
        )
    body = (
        response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    )
    return Answer(response.status_code, response.headers, body)


def wait_for_https(run: ContourRun, host: str, ca: Path, pod: str) -> Answer:
    return wait_until(lambda: https_get(run, host, ca=ca), from_pod(pod), what=f"https://{host}/ from {pod}")


def certificate(pki: TestPKI, ns: str, name: str, host: str) -> dict[str, Any]:
    issued = pki.issue(f"{ns}-{name}", host, server=True)
    return tls_secret(ns, name, issued.cert, issued.key)


def load_balancers(run: ContourRun, ns: str) -> dict[str, Any]:
    """Ingress name -> its status.loadBalancer ({} when none was written), for one namespace."""
    items = json.loads(run.kubectl("get", "ingress", "-n", ns, "-o", "json").stdout)["items"]
    return {i["metadata"]["name"]: i.get("status", {}).get("loadBalancer", {}) for i in items}


def dynamic_cluster(run: ContourRun, name_prefix: str) -> dict[str, Any]:
    dump = run.admin("/config_dump", resource="dynamic_active_clusters").json()
    for config in dump.get("configs", []):
        cluster: dict[str, Any] = config.get("cluster", {})
        if cluster.get("name", "").startswith(name_prefix):
            return cluster
    raise AssertionError(f"no active cluster named {name_prefix}*")


# -- WebSocket --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSocketResult:
    """The handshake's HTTP status (101 when accepted) and the text messages echoed back."""

    status: int
    echoed: tuple[str, ...] = ()


def websocket_echo(port: int, host: str, path: str, messages: Sequence[str]) -> WebSocketResult:
    """Open a WebSocket to 127.0.0.1:port with `Host: host`, send `messages`, read as many back, close."""
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(ws.send(Request(host=host, target=path)))
        accepted: AcceptConnection | RejectConnection | None = None
        while accepted is None:
            data = sock.recv(65536)
            if not data:
                return WebSocketResult(0)
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection | RejectConnection):
                    accepted = event
        if isinstance(accepted, RejectConnection):
            return WebSocketResult(accepted.status_code)
        for message in messages:
            sock.sendall(ws.send(TextMessage(data=message)))
        echoed: list[str] = []
        while len(echoed) < len(messages):
            data = sock.recv(65536)
            if not data:
                break
            ws.receive_data(data)
            echoed.extend(event.data for event in ws.events() if isinstance(event, TextMessage))
        sock.sendall(ws.send(CloseConnection(code=1000)))
        return WebSocketResult(101, tuple(echoed))
