"""`contour operator` against the embedded API server, with a hand-made renderer (the engine's contract).

A Contour CR created with kubectl becomes its object set with owner references; changes roll out,
the Envoy workload type switch removes the old workload, hand edits are reverted, deletion removes
everything (cluster-scoped RBAC too), an invalid CR gets Degraded and nothing else, and the status
follows the workloads' status.
"""

from __future__ import annotations

from typing import Any

from contour.provisioner.reconcile_contour import FINALIZER, ContourReconciler
from tests.k8s.cluster import Cluster, eventually
from tests.provisioner.conftest import INVALID_ANNOTATION, Kubectl, contour_cr

NS = "default"


async def names(kubectl: Kubectl, resource: str, namespace: str = NS) -> set[str]:
    listed = await kubectl.get(resource, namespace=namespace) or {"items": []}
    return {item["metadata"]["name"] for item in listed["items"]}


async def condition(kubectl: Kubectl, cond_type: str, name: str = "main") -> dict[str, Any] | None:
    cr = await kubectl.get("contours.operator.projectcontour.io", name, NS) or {}
    for cond in (cr.get("status") or {}).get("conditions") or []:
        if cond["type"] == cond_type:
            return dict(cond)
    return None


async def installed(kubectl: Kubectl) -> None:
    await eventually(
        lambda: _has(kubectl, "daemonsets", "envoy-main"), timeout=15, message="envoy-main never appeared"
    )


async def _has(kubectl: Kubectl, resource: str, name: str, namespace: str = NS) -> bool:
    return await kubectl.get(resource, name, namespace) is not None


async def test_create_makes_every_object_with_owner_references(
    cluster: Cluster, kubectl: Kubectl, operator: ContourReconciler
) -> None:
    await kubectl.apply(contour_cr())
    await installed(kubectl)
    cr = await kubectl.get("contours.operator.projectcontour.io", "main", NS)
    assert cr is not None
    for resource, name in [
        ("serviceaccounts", "contour-main"),
        ("secrets", "contourcert-main"),
        ("secrets", "envoycert-main"),
        ("deployments", "contour-main"),
        ("daemonsets", "envoy-main"),
        ("services", "envoy-main"),
    ]:
        obj = await kubectl.get(resource, name, NS)
        assert obj is not None, f"{resource}/{name} missing"
        owners = [(o["kind"], o["uid"]) for o in obj["metadata"].get("ownerReferences") or []]
        assert owners == [("Contour", cr["metadata"]["uid"])], f"{resource}/{name}: {owners}"
    assert await kubectl.get("clusterroles", "contour-default-main") is not None
    assert FINALIZER in cr["metadata"]["finalizers"]


async def test_scaling_the_cr_updates_the_deployment(kubectl: Kubectl, operator: ContourReconciler) -> None:
    await kubectl.apply(contour_cr(contour={"replicas": 2}))
    await installed(kubectl)
    await kubectl.apply(contour_cr(contour={"replicas": 5}))

    async def scaled() -> bool:
        deployment = await kubectl.get("deployments", "contour-main", NS) or {}
        return bool(deployment.get("spec", {}).get("replicas") == 5)

    await eventually(scaled, timeout=15, message="contour-main never got 5 replicas")


async def test_switching_envoy_to_a_deployment_removes_the_daemonset(
    kubectl: Kubectl, operator: ContourReconciler
) -> None:
    await kubectl.apply(contour_cr())
    await installed(kubectl)
    await kubectl.apply(contour_cr(envoy={"workloadType": "Deployment", "replicas": 3}))

    async def switched() -> bool:
        return "envoy-main" in await names(kubectl, "deployments") and not await names(kubectl, "daemonsets")

    await eventually(switched, timeout=15, message="the Envoy DaemonSet was not replaced by a Deployment")


async def test_a_hand_edited_replica_count_is_restored(kubectl: Kubectl, operator: ContourReconciler) -> None:
    await kubectl.apply(contour_cr(contour={"replicas": 2}))
    await installed(kubectl)
    await kubectl(
        "patch", "deployment", "contour-main", "-n", NS, "--type=merge", "-p", '{"spec":{"replicas":7}}'
    )

    async def restored() -> bool:
        deployment = await kubectl.get("deployments", "contour-main", NS) or {}
        return bool(deployment.get("spec", {}).get("replicas") == 2)

    await eventually(restored, timeout=15, message="the hand-edited replica count was not reverted")


async def test_a_deleted_service_comes_back(kubectl: Kubectl, operator: ContourReconciler) -> None:
    await kubectl.apply(contour_cr())
    await installed(kubectl)
    before = await kubectl.get("services", "envoy-main", NS)
    assert before is not None
    await kubectl("delete", "service", "envoy-main", "-n", NS)

    async def recreated() -> bool:
        after = await kubectl.get("services", "envoy-main", NS)
        return after is not None and after["metadata"]["uid"] != before["metadata"]["uid"]

    await eventually(recreated, timeout=15, message="the deleted Envoy Service was not recreated")


async def test_deleting_the_cr_removes_everything_cluster_scoped_too(
    kubectl: Kubectl, operator: ContourReconciler
) -> None:
    await kubectl.apply(contour_cr())
    await installed(kubectl)
    await kubectl("delete", "contours.operator.projectcontour.io", "main", "-n", NS, "--wait=false")

    async def gone() -> bool:
        left = [await names(kubectl, r) for r in ("deployments", "daemonsets", "services", "serviceaccounts")]
        secrets = {n for n in await names(kubectl, "secrets") if n.endswith("cert-main")}
        return (
            not any(n.endswith("-main") for group in left for n in group)
            and not secrets
            and await kubectl.get("clusterroles", "contour-default-main") is None
            and await kubectl.get("contours.operator.projectcontour.io", "main", NS) is None
        )

    await eventually(gone, timeout=15, message="objects of the deleted Contour remain")


async def test_an_invalid_cr_is_degraded_and_creates_nothing(
    kubectl: Kubectl, operator: ContourReconciler
) -> None:
    cr = contour_cr()
    cr["metadata"]["annotations"] = {INVALID_ANNOTATION: "spec.envoy.workloadType"}
    await kubectl.apply(cr)

    async def degraded() -> dict[str, Any] | None:
        found = await condition(kubectl, "Degraded")
        return found if found and found["status"] == "True" else None

    cond = await eventually(degraded, timeout=15, message="the invalid Contour never became Degraded")
    assert cond["reason"] == "InvalidParameters"
    assert "spec.envoy.workloadType" in cond["message"]
    assert not await names(kubectl, "deployments")
    assert not await names(kubectl, "secrets")
    stored = await kubectl.get("contours.operator.projectcontour.io", "main", NS) or {}
    assert FINALIZER not in (stored["metadata"].get("finalizers") or [])


async def test_status_counts_available_pods_from_the_workloads(
    kubectl: Kubectl, operator: ContourReconciler
) -> None:
    await kubectl.apply(contour_cr(contour={"replicas": 2}))
    await installed(kubectl)
    await kubectl.patch_status(
        "deployments", "contour-main", NS, {"availableReplicas": 2, "replicas": 2, "observedGeneration": 1}
    )
    await kubectl.patch_status(
        "daemonsets",
        "envoy-main",
        NS,
        {
            "desiredNumberScheduled": 3,
            "numberAvailable": 3,
            "currentNumberScheduled": 3,
            "numberMisscheduled": 0,
            "numberReady": 3,
            "observedGeneration": 1,
        },
    )

    async def available() -> dict[str, Any] | None:
        cr = await kubectl.get("contours.operator.projectcontour.io", "main", NS) or {}
        status = cr.get("status") or {}
        conds = {c["type"]: c for c in status.get("conditions") or []}
        if conds.get("Available", {}).get("status") == "True":
            return status
        return None

    status = await eventually(available, timeout=15, message="the Contour never became Available")
    conds = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert (status["availableContours"], status["availableEnvoys"]) == (2, 3)
    assert conds == {
        "Available": ("True", "Available"),
        "Progressing": ("False", "RolloutComplete"),
        "Degraded": ("False", "AsExpected"),
    }


async def test_status_is_progressing_while_pods_are_missing(
    kubectl: Kubectl, operator: ContourReconciler
) -> None:
    await kubectl.apply(contour_cr())
    await installed(kubectl)

    async def progressing() -> dict[str, Any] | None:
        cond = await condition(kubectl, "Progressing")
        return cond if cond and cond["status"] == "True" else None

    cond = await eventually(progressing, timeout=15, message="no Progressing=True")
    assert cond["reason"] == "RolloutInProgress"
    available = await condition(kubectl, "Available")
    assert available is not None and (available["status"], available["reason"]) == (
        "False",
        "ContourUnavailable",
    )
