"""`contour gateway-provisioner` with the real renderers: a Gateway of our class -> its own object set.

A Gateway whose GatewayClass names our controller and a ContourDeployment gets its Contour Deployment,
Envoy workload (as the ContourDeployment says) and Services; its status says Accepted and, once the
Envoy Service has a load balancer address, Programmed with that address; deleting it removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contour.provisioner.reconcile_gateway import FINALIZER, GatewayReconciler
from contour.provisioner.reconcile_plans import gateway_planner
from contour.provisioner.reconcile_runtime import run_leading
from tests.k8s.cluster import Cluster, eventually
from tests.provisioner.conftest import Kubectl

NS = "default"
CLASS: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "GatewayClass",
    "metadata": {"name": "contour"},
    "spec": {
        "controllerName": "projectcontour.io/gateway-controller",
        "parametersRef": {
            "group": "projectcontour.io",
            "kind": "ContourDeployment",
            "name": "params",
            "namespace": NS,
        },
    },
}
PARAMS: dict[str, Any] = {
    "apiVersion": "projectcontour.io/v1alpha1",
    "kind": "ContourDeployment",
    "metadata": {"name": "params", "namespace": NS},
    "spec": {"envoy": {"workloadType": "Deployment", "replicas": 3}},
}
GATEWAY: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "web", "namespace": NS},
    "spec": {"gatewayClassName": "contour", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]},
}


@pytest.fixture
async def provisioner(cluster: Cluster) -> AsyncIterator[GatewayReconciler]:
    reconciler = GatewayReconciler(cluster.api, gateway_planner())
    task = asyncio.create_task(run_leading(cluster.api, None, reconciler.make_runtime))
    yield reconciler
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def provisioned(kubectl: Kubectl) -> None:
    await kubectl.apply(PARAMS, CLASS, GATEWAY)

    async def ready() -> bool:
        return (
            await kubectl.get("deployments", "envoy-web", NS) is not None
            and await kubectl.get("services", "envoy-web", NS) is not None
        )

    await eventually(ready, timeout=20, message="the Gateway's Envoy Deployment and Service never appeared")


async def test_a_gateway_gets_its_object_set_from_the_contour_deployment(
    kubectl: Kubectl, provisioner: GatewayReconciler
) -> None:
    await provisioned(kubectl)
    gateway = await kubectl.get("gateways", "web", NS)
    assert gateway is not None and FINALIZER in gateway["metadata"]["finalizers"]
    envoy = await kubectl.get("deployments", "envoy-web", NS) or {}
    assert envoy["spec"]["replicas"] == 3
    assert await kubectl.get("deployments", "contour-web", NS) is not None
    assert await kubectl.get("daemonsets", "envoy-web", NS) is None
    owners = {o["uid"] for o in envoy["metadata"].get("ownerReferences") or []}
    assert owners == {gateway["metadata"]["uid"]}


async def test_a_gateway_is_programmed_with_the_envoy_service_address(
    kubectl: Kubectl, provisioner: GatewayReconciler
) -> None:
    await provisioned(kubectl)
    await kubectl.patch_status(
        "services", "envoy-web", NS, {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}
    )

    async def programmed() -> dict[str, Any] | None:
        gateway = await kubectl.get("gateways", "web", NS) or {}
        status = gateway.get("status") or {}
        conds = {c["type"]: c for c in status.get("conditions") or []}
        return status if conds.get("Programmed", {}).get("status") == "True" else None

    status = await eventually(programmed, timeout=20, message="the Gateway never became Programmed")
    assert status["addresses"] == [{"type": "IPAddress", "value": "192.0.2.7"}]
    conds = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conds["Accepted"] == ("True", "Accepted")


async def test_deleting_the_gateway_removes_its_objects(
    kubectl: Kubectl, provisioner: GatewayReconciler
) -> None:
    await provisioned(kubectl)
    await kubectl("delete", "gateway", "web", "-n", NS, "--wait=false")

    async def gone() -> bool:
        listed = await kubectl.get("clusterroles") or {"items": []}
        cluster_roles = [i for i in listed["items"] if "web" in i["metadata"]["name"]]
        return (
            await kubectl.get("deployments", "envoy-web", NS) is None
            and await kubectl.get("deployments", "contour-web", NS) is None
            and await kubectl.get("services", "envoy-web", NS) is None
            and not cluster_roles
            and await kubectl.get("gateways", "web", NS) is None
        )

    await eventually(gone, timeout=20, message="the deleted Gateway's objects remain")


async def test_invalid_parameters_are_reported_and_nothing_is_created(
    kubectl: Kubectl, provisioner: GatewayReconciler
) -> None:
    wrong = {
        **CLASS,
        "spec": {**CLASS["spec"], "parametersRef": {**CLASS["spec"]["parametersRef"], "name": "missing"}},
    }
    await kubectl.apply(wrong, GATEWAY)

    async def rejected() -> dict[str, Any] | None:
        gateway = await kubectl.get("gateways", "web", NS) or {}
        conds = {c["type"]: c for c in (gateway.get("status") or {}).get("conditions") or []}
        accepted = conds.get("Accepted") or {}
        return accepted if accepted.get("reason") == "InvalidParameters" else None

    accepted = await eventually(rejected, timeout=20, message="the Gateway never got InvalidParameters")
    assert accepted["status"] == "False"
    assert "parametersRef" in accepted["message"]
    listed = await kubectl.get("deployments", namespace=NS) or {"items": []}
    assert listed["items"] == []
