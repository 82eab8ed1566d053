"""Objects and requests for the HTTPProxy routing tests through `contour run` (`test_run_routing.py`).

Builders return plain manifests (dicts) the tests apply with kubectl: Services without selectors and
one EndpointSlice per `contour echo` backend, so a Service can front one backend or several, and
HTTPProxies assembled from `route(...)` / `upstream(...)` parts. `fetch` sends one request through
Envoy's HTTP listener with any Host, method and headers and keeps the body whether or not it is JSON;
`echoed_header` reads a request header back out of the echo's JSON answer; `pods_served` counts which
backend answered a series of requests, `websocket_echo` goes through Envoy's upgrade path, and
`cluster_stats` reads a cluster's active health-check counters from Envoy's admin.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from tests.support.contour_run import ContourRun, wait_until
from tests.support.envoy_harness import EchoBackend

Manifest = dict[str, Any]


# -- Kubernetes objects -----------------------------------------------------------------------------


def namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service(ns: str, name: str, *echoes: EchoBackend) -> list[Manifest]:
    """A selector-less Service on port 80 and one EndpointSlice per echo backend behind it."""
    svc: Manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    slices = [
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-{index}",
                "namespace": ns,
                "labels": {"kubernetes.io/service-name": name},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": echo.port, "protocol": "TCP"}],
        }
        for index, echo in enumerate(echoes)
    ]
    return [svc, *slices]


def external_name_service(ns: str, name: str, external: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "ExternalName", "externalName": external, "ports": [{"name": "http", "port": 80}]},
    }


def upstream(name: str, **fields: Any) -> Manifest:
    """One entry of `routes[].services` on port 80."""
    return {"name": name, "port": 80, **fields}


def route(*conditions: Manifest, services: list[Manifest] | None = None, **fields: Any) -> Manifest:
    """One entry of `spec.routes`; `services` defaults to none (for redirect / direct responses)."""
    built: Manifest = {}
    if conditions:
        built["conditions"] = list(conditions)
    if services is not None:
        built["services"] = services
    return {**built, **fields}


def tagged(tag: str, *conditions: Manifest, svc: str = "echo", **fields: Any) -> Manifest:
    """A route to `svc` that adds `X-Route: tag` to the request, so the echo tells which route matched."""
    policy = {"set": [{"name": "X-Route", "value": tag}]}
    return route(*conditions, services=[upstream(svc)], requestHeadersPolicy=policy, **fields)


def proxy(
    ns: str,
    name: str,
    fqdn: str | None = None,
    *,
    routes: list[Manifest] | None = None,
    includes: list[Manifest] | None = None,
    virtualhost: Mapping[str, Any] | None = None,
) -> Manifest:
    """An HTTPProxy; a root when `fqdn` is given (extra `virtualhost` fields merged in)."""
    spec: Manifest = {}
    if fqdn is not None:
        spec["virtualhost"] = {"fqdn": fqdn, **(virtualhost or {})}
    if includes is not None:
        spec["includes"] = includes
    if routes is not None:
        spec["routes"] = routes
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def include(name: str, ns: str | None = None, *conditions: Manifest) -> Manifest:
    built: Manifest = {"name": name}
    if ns is not None:
        built["namespace"] = ns
    if conditions:
        built["conditions"] = list(conditions)
    return built


def apply_feature(run: ContourRun, ns: str, backends: list[Manifest], proxies: list[Manifest]) -> None:
    """The namespace and its backends first, then the proxies (so no proxy is built before its Service)."""
    run.apply([namespace(ns), *backends])
    run.apply(proxies)


# -- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    text: str
    json: dict[str, Any] | None

    @property
    def pod(self) -> str | None:
        return None if self.json is None else self.json.get("pod")

    @property
    def tag(self) -> str | None:
        """The `X-Route` header the matched route added (see `tagged`)."""
        return echoed_header(self, "X-Route")


def echoed_header(reply: Reply, name: str) -> str | None:
    """The first value of request header `name` as the echo backend received it (None if absent)."""
    if reply.json is None:
        return None
    for key, values in (reply.json.get("headers") or {}).items():
        if key.lower() == name.lower() and values:
            return str(values[0])
    return None


def fetch(
    run: ContourRun,
    host: str,
    path: str = "/",
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> Reply:
    """One request to Envoy's HTTP listener with `Host: host`; redirects are not followed."""
    with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        response = client.request(
            method, f"http://127.0.0.1:{run.http_port}{path}", headers={"host": host, **(headers or {})}
        )
    body = None
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(response.text)
        except ValueError:
            body = None
    return Reply(response.status_code, response.headers, response.text, body)


def fetch_until(
    run: ContourRun,
    host: str,
    path: str = "/",
    accept: Callable[[Reply], bool] = lambda reply: reply.status == 200,
    **kw: Any,
) -> Reply:
    """Repeat `fetch` until `accept` takes the reply (the route is programmed), with a deadline."""
    return wait_until(lambda: fetch(run, host, path, **kw), accept, what=f"the answer for {host}{path}")


def pods_served(run: ContourRun, host: str, count: int, **headers: str) -> Counter[str | None]:
    """Which pod answered each of `count` requests over one keep-alive connection."""
    seen: Counter[str | None] = Counter()
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        for _ in range(count):
            response = client.get(f"http://127.0.0.1:{run.http_port}/", headers={"host": host, **headers})
            assert response.status_code == 200, response.text
            seen[response.json()["pod"]] += 1
    return seen


async def websocket_echo(run: ContourRun, host: str, text: str) -> str:
    """Open a WebSocket to `/ws` through Envoy with `Host: host`, send `text`, return what comes back."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{run.http_port}/ws", headers={"Host": host}) as ws,
    ):
        await ws.send_str(text)
        message = await ws.receive(timeout=5)
        return str(message.data)


def cluster_stats(run: ContourRun, stat_name: str) -> dict[str, int]:
    """The health-check counters and healthy-member gauge of the cluster whose alt_stat_name is given."""
    wanted = rf"^cluster\.{re.escape(stat_name)}\.(health_check\.(success|failure)|membership_healthy)$"
    stats = run.admin("/stats", format="json", filter=wanted).json().get("stats", [])
    return {s["name"].removeprefix(f"cluster.{stat_name}."): s["value"] for s in stats if "value" in s}


# -- status -----------------------------------------------------------------------------------------


def proxy_status(run: ContourRun, ns: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = run.get("httpproxy", name, ns).get("status") or {}
    return status


def wait_current_status(run: ContourRun, ns: str, name: str, current: str) -> dict[str, Any]:
    """The HTTPProxy's status once `currentStatus` is `current` (fails at the deadline)."""
    return wait_until(
        lambda: proxy_status(run, ns, name),
        lambda status: status.get("currentStatus") == current,
        what=f"HTTPProxy {ns}/{name} {current}",
    )


def valid_condition(status: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in status.get("conditions", []) if c.get("type") == "Valid")
    return found


def error_reasons(status: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(type, reason) of every error of the Valid condition."""
    return [(e["type"], e["reason"]) for e in valid_condition(status).get("errors") or []]
