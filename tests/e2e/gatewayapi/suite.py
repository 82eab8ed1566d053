"""The test-facing side of the suite: apply a test's manifests, read statuses, wait like upstream.

The waits mirror upstream's helpers (conformance/utils/kubernetes/helpers.go): every condition is
checked together with `observedGeneration == metadata.generation`, an empty expected reason means
any reason, `gateway_and_routes_accepted` is `GatewayAndHTTPRoutesMustBeAccepted` (an address with a
type, each route's parent entry Accepted with our controllerName, every listener ResolvedRefs,
Accepted and Programmed). Objects a test applied are deleted after it (and waited for), so Gateways
a test created do not keep their Envoys.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.e2e.gatewayapi.base_manifests import CONTROLLER, INFRA, Manifest, Ports
from tests.e2e.gatewayapi.roundtrip import Case, expect_consistent
from tests.support.contour_run import ContourRun, wait_until

T = TypeVar("T")

STATUS_TIMEOUT = 60.0
ADDRESS_TIMEOUT = 90.0

Conditions = dict[str, tuple[str, str]]


def conditions_of(entry: dict[str, Any]) -> Conditions:
    return {c["type"]: (c["status"], c["reason"]) for c in entry.get("conditions") or []}


def _has(entry: dict[str, Any], generation: int, kind: str, status: str, reason: str = "") -> bool:
    for condition in entry.get("conditions") or []:
        if condition["type"] != kind:
            continue
        return bool(
            condition["status"] == status
            and (not reason or condition["reason"] == reason)
            and condition.get("observedGeneration") == generation
        )
    return False


@dataclass
class Suite:
    run: ContourRun
    ports: Ports
    https_context: ssl.SSLContext
    applied: list[Manifest] = field(default_factory=list)

    # -- objects ---------------------------------------------------------------------------------

    def apply(self, *manifests: Manifest) -> None:
        self.run.apply(manifests)
        self.applied += manifests

    def cleanup(self) -> None:
        """Delete what this test applied (in reverse order) and wait until it is gone."""
        objects, self.applied = self.applied, []
        for manifest in reversed(objects):
            meta = manifest["metadata"]
            args = ["delete", f"{_plural(manifest)}", meta["name"], "--ignore-not-found", "--wait=true"]
            if meta.get("namespace"):
                args += ["-n", meta["namespace"]]
            self.run.kubectl(*args)

    def get(self, resource: str, name: str, ns: str = INFRA) -> dict[str, Any]:
        args = ["get", resource, name, "-o", "json"] + (["-n", ns] if ns else [])
        found: dict[str, Any] = json.loads(self.run.kubectl(*args).stdout)
        return found

    def patch(self, resource: str, name: str, patch: Manifest, ns: str = INFRA) -> None:
        args = ["patch", resource, name, "--type", "merge", "-p", json.dumps(patch)]
        self.run.kubectl(*args + (["-n", ns] if ns else []))

    def delete(self, resource: str, name: str, ns: str = INFRA) -> None:
        self.run.kubectl("delete", resource, name, "-n", ns, "--wait=true")

    def poll(
        self, probe: Callable[[], T], accept: Callable[[T], bool], what: str, timeout: float = STATUS_TIMEOUT
    ) -> T:
        return wait_until(probe, accept, what=what, timeout=timeout)

    # -- Gateways ----------------------------------------------------------------------------------

    def gateway_condition(
        self, name: str, kind: str, status: str, reason: str = "", ns: str = INFRA
    ) -> Manifest:
        """`GatewayMustHaveCondition` (with the latest observedGeneration)."""
        return self.poll(
            lambda: self.get("gateways", name, ns),
            lambda gw: _has(
                gw.get("status") or {}, gw["metadata"].get("generation", 1), kind, status, reason
            ),
            f"Gateway {ns}/{name} {kind}={status} {reason}",
        )

    def gateway_address(self, name: str, ns: str = INFRA) -> str:
        addresses = self.poll(
            lambda: (self.get("gateways", name, ns).get("status") or {}).get("addresses") or [],
            lambda found: bool(found) and found[0].get("type") is not None,
            f"an address for Gateway {ns}/{name}",
            ADDRESS_TIMEOUT,
        )
        value: str = addresses[0]["value"]
        return value

    def listeners(
        self, name: str, accept: Callable[[list[Manifest]], bool], what: str, ns: str = INFRA
    ) -> list[Manifest]:
        """status.listeners once `accept` takes them, every listener condition at the latest generation."""

        def probe() -> list[Manifest]:
            gateway = self.get("gateways", name, ns)
            generation = gateway["metadata"].get("generation", 1)
            entries: list[Manifest] = (gateway.get("status") or {}).get("listeners") or []
            stale = any(
                c.get("observedGeneration") != generation for e in entries for c in e.get("conditions") or []
            )
            return [] if stale else entries

        return self.poll(probe, lambda entries: bool(entries) and accept(entries), what)

    def listeners_ready(self, name: str, ns: str = INFRA) -> None:
        def ready(entries: list[Manifest]) -> bool:
            return all(
                conditions_of(e).get(kind, ("", ""))[0] == "True"
                for e in entries
                for kind in ("ResolvedRefs", "Accepted", "Programmed")
            )

        self.listeners(
            name, ready, f"every listener of {ns}/{name} ResolvedRefs, Accepted and Programmed", ns
        )

    # -- routes ------------------------------------------------------------------------------------

    def route_parent(
        self, route: str, gateway: str, *, ns: str = INFRA, gateway_ns: str = INFRA, kind: str = "HTTPRoute"
    ) -> Callable[[], Manifest | None]:
        resource = kind.lower() + "s"

        def probe() -> Manifest | None:
            found = self.get(resource, route, ns)
            generation = found["metadata"].get("generation", 1)
            for entry in (found.get("status") or {}).get("parents") or []:
                ref = entry["parentRef"]
                current = all(
                    c.get("observedGeneration") == generation for c in entry.get("conditions") or []
                )
                if ref["name"] == gateway and ref.get("namespace", ns) == gateway_ns and current:
                    return dict(entry)
            return None

        return probe

    def route_condition(
        self,
        route: str,
        gateway: str,
        kind: str,
        status: str,
        reason: str = "",
        *,
        ns: str = INFRA,
        gateway_ns: str = INFRA,
    ) -> Manifest:
        """`HTTPRouteMustHaveCondition` for the parent entry of `gateway_ns/gateway`."""
        entry = self.poll(
            self.route_parent(route, gateway, ns=ns, gateway_ns=gateway_ns),
            lambda e: (
                e is not None and _has(e, e["conditions"][0]["observedGeneration"], kind, status, reason)
            ),
            f"HTTPRoute {ns}/{route} parent {gateway_ns}/{gateway}: {kind}={status} {reason}",
        )
        assert entry is not None
        return entry

    def gateway_and_routes_accepted(
        self, gateway: str, routes: Iterable[str | tuple[str, str]], gateway_ns: str = INFRA
    ) -> str:
        """`GatewayAndHTTPRoutesMustBeAccepted`: the Gateway's address once all of it holds."""
        address = self.gateway_address(gateway, gateway_ns)
        for route in routes:
            ns, name = route if isinstance(route, tuple) else (INFRA, route)
            entry = self.route_condition(
                name, gateway, "Accepted", "True", "Accepted", ns=ns, gateway_ns=gateway_ns
            )
            assert entry["controllerName"] == CONTROLLER
            assert entry["parentRef"].get("group") == "gateway.networking.k8s.io", entry
            assert entry["parentRef"].get("kind") == "Gateway", entry
        self.listeners_ready(gateway, gateway_ns)
        return address

    def resolved_refs_true(self, route: str, gateway: str, ns: str = INFRA, gateway_ns: str = INFRA) -> None:
        self.route_condition(
            route, gateway, "ResolvedRefs", "True", "ResolvedRefs", ns=ns, gateway_ns=gateway_ns
        )

    def no_accepted_parents(self, route: str, ns: str = INFRA) -> None:
        """`HTTPRouteMustHaveNoAcceptedParents`: no parents, or one with Accepted=False."""

        def ok(found: Manifest) -> bool:
            parents = (found.get("status") or {}).get("parents") or []
            if not parents:
                return True
            return len(parents) == 1 and conditions_of(parents[0]).get("Accepted", ("", ""))[0] == "False"

        self.poll(lambda: self.get("httproutes", route, ns), ok, f"no accepted parents for {ns}/{route}")

    # -- traffic -------------------------------------------------------------------------------------

    def expect(self, address: str, cases: Iterable[Case], port: int | None = None) -> None:
        for case in cases:
            expect_consistent(
                address, port or self.ports[443 if case.https else 80], case, self.https_context
            )


def _plural(manifest: Manifest) -> str:
    kind: str = manifest["kind"]
    group = manifest["apiVersion"].split("/")[0] if "/" in manifest["apiVersion"] else ""
    plural = {
        "GatewayClass": "gatewayclasses",
        "EndpointSlice": "endpointslices",
        "BackendTLSPolicy": "backendtlspolicies",
    }.get(kind, kind.lower() + "s")
    return f"{plural}.{group}" if group and group != "v1" else plural
