"""Two operator replicas on one Lease: only the leader reconciles; the real renderers produce a
Contour CR's installation; the xDS certificates are reused across reconciles."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from contour.k8s.leaderelection import LeaderElectionConfig
from contour.provisioner.reconcile_contour import ContourReconciler
from contour.provisioner.reconcile_plans import contour_planner
from contour.provisioner.reconcile_runtime import ReconcileRuntime, run_leading
from tests.k8s.cluster import Cluster, eventually
from tests.provisioner.conftest import Kubectl, contour_cr, hand_made_planner, running_operator

NS = "default"


@contextlib.asynccontextmanager
async def replica(
    cluster: Cluster, identity: str, runtimes: dict[str, ReconcileRuntime | None]
) -> AsyncIterator[ContourReconciler]:
    reconciler = ContourReconciler(cluster.api, hand_made_planner)
    election = LeaderElectionConfig(
        name="contour-operator",
        namespace=NS,
        identity=identity,
        lease_duration=3.0,
        renew_deadline=2.0,
        retry_period=0.2,
    )

    def seen(runtime: ReconcileRuntime | None) -> None:
        runtimes[identity] = runtime

    task = asyncio.create_task(run_leading(cluster.api, election, reconciler.make_runtime, on_runtime=seen))
    try:
        yield reconciler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_two_replicas_only_the_leader_reconciles(cluster: Cluster, kubectl: Kubectl) -> None:
    runtimes: dict[str, ReconcileRuntime | None] = {}
    async with replica(cluster, "a", runtimes), replica(cluster, "b", runtimes):
        await eventually(lambda: any(runtimes.values()), timeout=10, message="no replica leads")
        await kubectl.apply(contour_cr())

        async def reconciled() -> bool:
            return await kubectl.get("daemonsets", "envoy-main", NS) is not None

        await eventually(reconciled, timeout=15, message="nothing was reconciled")
        leaders = [name for name, runtime in runtimes.items() if runtime is not None]
        assert len(leaders) == 1, runtimes
        leader = runtimes[leaders[0]]
        assert leader is not None
        await eventually(
            lambda: leader.counters.reconciles > 0, timeout=10, message="the leader never finished"
        )
        lease = await kubectl.get("leases.coordination.k8s.io", "contour-operator", NS) or {}
        assert lease["spec"]["holderIdentity"] == leaders[0]


async def test_the_real_renderers_install_a_contour_in_its_namespace_and_remove_it(
    cluster: Cluster, kubectl: Kubectl
) -> None:
    async with running_operator(cluster, contour_planner()):
        await kubectl.apply(contour_cr(envoy={"workloadType": "Deployment", "replicas": 2}))

        async def installed() -> bool:
            return await kubectl.get("deployments", "envoy-main", "projectcontour") is not None

        await eventually(installed, timeout=20, message="the rendered Envoy Deployment never appeared")
        assert await kubectl.get("deployments", "contour-main", "projectcontour") is not None
        assert await kubectl.get("clusterroles", "contour-projectcontour-main") is not None
        await kubectl("delete", "contours.operator.projectcontour.io", "main", "-n", NS, "--wait=false")

        async def removed() -> bool:
            return (
                await kubectl.get("clusterroles", "contour-projectcontour-main") is None
                and await kubectl.get("contours.operator.projectcontour.io", "main", NS) is None
                and await kubectl.get("deployments", "envoy-main", "projectcontour") is None
            )

        await eventually(removed, timeout=20, message="the rendered installation was not removed")


async def test_certificates_are_reused_while_valid(cluster: Cluster, kubectl: Kubectl) -> None:
    async with running_operator(cluster, hand_made_planner) as reconciler:
        await kubectl.apply(contour_cr(contour={"replicas": 2}))

        async def secret() -> dict[str, str] | None:
            found = await kubectl.get("secrets", "contourcert-main", NS)
            return found["data"] if found else None

        before = await eventually(secret, timeout=15, message="no xDS Secret")
        runtime = reconciler.runtime
        assert runtime is not None
        count = runtime.counters.reconciles
        await kubectl.apply(contour_cr(contour={"replicas": 3}))
        await eventually(lambda: runtime.counters.reconciles > count, timeout=15, message="no reconcile")

        async def scaled() -> bool:
            deployment = await kubectl.get("deployments", "contour-main", NS) or {}
            return bool(deployment.get("spec", {}).get("replicas") == 3)

        await eventually(scaled, timeout=15, message="not scaled")
        assert await secret() == before
