"""`contour gateway-provisioner` writes the status of the GatewayClasses with its controllerName.

A class whose parametersRef resolves to a usable ContourDeployment (or that has none) is Accepted, with
SupportedVersion and supportedFeatures as the controller's Gateway API processor states them; one whose
parametersRef names a missing object or another kind is Accepted=False, InvalidParameters, with the
field named; fixing the reference accepts it; another controller's class is left alone. Every
condition carries the class's generation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contour.dag.gatewayapi_processor import BUNDLE_VERSION, SUPPORTED_FEATURES
from contour.provisioner.reconcile_gateway import GatewayReconciler
from contour.provisioner.reconcile_plans import gateway_planner
from contour.provisioner.reconcile_runtime import ReconcileRuntime, run_leading
from tests.k8s.cluster import Cluster, eventually
from tests.provisioner.conftest import Kubectl

NS = "default"
CONTROLLER = "projectcontour.io/gateway-controller"
CONTOUR_DEPLOYMENT_REF = {
    "group": "projectcontour.io",
    "kind": "ContourDeployment",
    "name": "p",
    "namespace": NS,
}
PARAMS: dict[str, Any] = {
    "apiVersion": "projectcontour.io/v1alpha1",
    "kind": "ContourDeployment",
    "metadata": {"name": "p", "namespace": NS},
    "spec": {"envoy": {"workloadType": "Deployment"}},
}
CONFIG_MAP: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "p", "namespace": NS},
}


def gateway_class(
    parameters_ref: dict[str, Any] | None = None, *, name: str = "contour", controller: str = CONTROLLER
) -> dict[str, Any]:
    spec: dict[str, Any] = {"controllerName": controller}
    if parameters_ref is not None:
        spec["parametersRef"] = parameters_ref
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
async def provisioner(cluster: Cluster) -> AsyncIterator[GatewayReconciler]:
    reconciler = GatewayReconciler(cluster.api, gateway_planner())
    task = asyncio.create_task(run_leading(cluster.api, None, reconciler.make_runtime))
    yield reconciler
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions") or []}


async def class_status(kubectl: Kubectl, reason: str, name: str = "contour") -> dict[str, Any]:
    """The class's status once its Accepted condition has `reason`."""

    async def reached() -> dict[str, Any] | None:
        found = await kubectl.get("gatewayclasses", name) or {}
        status: dict[str, Any] = found.get("status") or {}
        return status if conditions(status).get("Accepted", {}).get("reason") == reason else None

    found: dict[str, Any] = await eventually(
        reached, timeout=20, message=f"GatewayClass {name} never got Accepted reason {reason}"
    )
    return found


@pytest.mark.parametrize(
    "parameters_ref",
    [pytest.param(CONTOUR_DEPLOYMENT_REF, id="contourdeployment"), pytest.param(None, id="no-parametersref")],
)
async def test_a_valid_class_is_accepted_with_the_supported_version_and_features(
    kubectl: Kubectl, provisioner: GatewayReconciler, parameters_ref: dict[str, Any] | None
) -> None:
    await kubectl.apply(PARAMS, gateway_class(parameters_ref))
    status = await class_status(kubectl, "Accepted")
    found = await kubectl.get("gatewayclasses", "contour") or {}
    generation = found["metadata"]["generation"]
    conds = conditions(status)
    assert {t: (c["status"], c["reason"], c["observedGeneration"]) for t, c in conds.items()} == {
        "Accepted": ("True", "Accepted", generation),
        "SupportedVersion": ("True", "SupportedVersion", generation),
    }
    assert BUNDLE_VERSION in conds["SupportedVersion"]["message"]
    assert all(c.get("lastTransitionTime") for c in conds.values())
    assert [f["name"] for f in status["supportedFeatures"]] == sorted(SUPPORTED_FEATURES)


@pytest.mark.parametrize(
    ("parameters_ref", "objects", "message_part"),
    [
        pytest.param(
            {**CONTOUR_DEPLOYMENT_REF, "name": "missing"},
            [],
            "ContourDeployment default/missing not found",
            id="missing-contourdeployment",
        ),
        pytest.param(
            {"group": "", "kind": "ConfigMap", "name": "p", "namespace": NS},
            [CONFIG_MAP],
            "not projectcontour.io/ContourDeployment",
            id="configmap",
        ),
        pytest.param(
            CONTOUR_DEPLOYMENT_REF,
            [{**PARAMS, "spec": {"envoy": {"workloadType": "StatefulSet"}}}],
            "spec.envoy.workloadType",
            id="contourdeployment-with-an-unusable-field",
        ),
    ],
)
async def test_a_class_whose_parametersref_does_not_resolve_is_not_accepted(
    kubectl: Kubectl,
    provisioner: GatewayReconciler,
    parameters_ref: dict[str, Any],
    objects: list[dict[str, Any]],
    message_part: str,
) -> None:
    await kubectl.apply(*objects, gateway_class(parameters_ref))
    status = await class_status(kubectl, "InvalidParameters")
    accepted = conditions(status)["Accepted"]
    assert accepted["status"] == "False"
    assert message_part in accepted["message"]
    assert "spec.parametersRef" in accepted["message"] or "spec.envoy.workloadType" in accepted["message"]
    assert accepted["observedGeneration"] == 1


async def test_creating_the_missing_contourdeployment_accepts_the_class(
    kubectl: Kubectl, provisioner: GatewayReconciler
) -> None:
    await kubectl.apply(gateway_class(CONTOUR_DEPLOYMENT_REF))
    await class_status(kubectl, "InvalidParameters")
    await kubectl.apply(PARAMS)
    status = await class_status(kubectl, "Accepted")
    assert conditions(status)["Accepted"]["status"] == "True"


async def test_a_changed_class_reports_its_new_generation(
    kubectl: Kubectl, provisioner: GatewayReconciler
) -> None:
    await kubectl.apply(PARAMS, gateway_class({**CONTOUR_DEPLOYMENT_REF, "name": "missing"}))
    await class_status(kubectl, "InvalidParameters")
    await kubectl.apply(gateway_class(CONTOUR_DEPLOYMENT_REF))
    status = await class_status(kubectl, "Accepted")
    assert conditions(status)["Accepted"]["observedGeneration"] == 2


async def test_another_controllers_class_is_left_alone(
    kubectl: Kubectl, provisioner: GatewayReconciler
) -> None:
    await kubectl.apply(
        gateway_class(name="other", controller="example.com/other"), gateway_class(name="contour")
    )
    await class_status(kubectl, "Accepted", name="contour")  # the provisioner has seen both by now
    runtime = provisioner.runtime
    assert isinstance(runtime, ReconcileRuntime)
    await eventually(
        lambda: "other" in runtime.store("gatewayclasses"), timeout=10, message="class 'other' never seen"
    )
    other = await kubectl.get("gatewayclasses", "other") or {}
    accepted = conditions(other.get("status") or {}).get("Accepted") or {}
    assert accepted.get("reason") != "Accepted"
    assert "supportedFeatures" not in (other.get("status") or {})
