"""Fixtures of the reconciler tier: the embedded API server, kubectl on it, and a running operator.

The operator runs in-process (its reconciler, informers and work queue on the test's event loop) against
the embedded API server; users' actions go through the real kubectl. The embedded server has no kubelet:
tests patch workloads' `.status` to stand in for running pods.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from contour.provisioner.reconcile_certs import CertFields
from contour.provisioner.reconcile_contour import ContourPlanner, ContourReconciler, Invalid
from contour.provisioner.reconcile_runtime import run_leading
from tests.k8s.cluster import Cluster, embedded_cluster, eventually

INVALID_ANNOTATION = "test.projectcontour.io/invalid-field"
INSTANCE_NAME = "contour.operator.projectcontour.io/owning-contour-name"
INSTANCE_NAMESPACE = "contour.operator.projectcontour.io/owning-contour-namespace"


@dataclass(frozen=True)
class Desired:
    objects: tuple[dict[str, Any], ...]
    instance_labels: dict[str, str]


def _kubectl_bin() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert found, "kubectl is not installed"
    return found


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.binary = _kubectl_bin()

    async def __call__(self, *args: str, stdin: str | None = None) -> str:
        process = await asyncio.create_subprocess_exec(
            self.binary,
            f"--kubeconfig={self.kubeconfig}",
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
        )
        out, err = await process.communicate(stdin.encode() if stdin is not None else None)
        if process.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {err.decode()}")
        return out.decode()

    async def apply(self, *objects: Mapping[str, Any]) -> None:
        await self("apply", "-f", "-", stdin=yaml.safe_dump_all([dict(o) for o in objects]))

    async def get(self, resource: str, name: str = "", namespace: str = "") -> dict[str, Any] | None:
        args = ["get", resource, *([name] if name else []), "-o", "json", "--ignore-not-found"]
        if namespace:
            args += ["-n", namespace]
        elif not name:
            args += ["-A"]
        text = await self(*args)
        return json.loads(text) if text.strip() else None

    async def patch_status(self, resource: str, name: str, namespace: str, status: Mapping[str, Any]) -> None:
        await self(
            "patch",
            resource,
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": dict(status)}),
        )


def _workload(
    kind: str,
    *,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    owner: list[dict[str, Any]],
    containers: list[str],
    replicas: int | None,
) -> dict[str, Any]:
    pod = {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": pod},
        "template": {
            "metadata": {"labels": pod},
            "spec": {"containers": [{"name": c, "image": f"example/{c}:1"} for c in containers]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "ownerReferences": owner},
        "spec": spec,
    }


def hand_made(cr: Mapping[str, Any], certs: CertFields) -> Desired:
    """A small installation from a Contour CR: what a renderer could return, written by hand."""
    meta = cr["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    envoy = (cr.get("spec") or {}).get("envoy") or {}
    contour = (cr.get("spec") or {}).get("contour") or {}
    labels = {
        "app.kubernetes.io/managed-by": "contour-operator",
        INSTANCE_NAME: name,
        INSTANCE_NAMESPACE: namespace,
    }
    owner = [
        {
            "apiVersion": cr["apiVersion"],
            "kind": cr["kind"],
            "name": name,
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    common = {"namespace": namespace, "labels": labels, "ownerReferences": owner}
    b64 = {k: base64.b64encode(v.encode()).decode() for k, v in certs.items()}
    workload = envoy.get("workloadType") or "DaemonSet"
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"contour-{name}", **common}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"contour-{namespace}-{name}", "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": f"contourcert-{name}", **common},
            "data": {
                "ca.crt": b64["ca_pem"],
                "tls.crt": b64["contour_cert_pem"],
                "tls.key": b64["contour_key_pem"],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": f"envoycert-{name}", **common},
            "data": {
                "ca.crt": b64["ca_pem"],
                "tls.crt": b64["envoy_cert_pem"],
                "tls.key": b64["envoy_key_pem"],
            },
        },
        _workload(
            "Deployment",
            name=f"contour-{name}",
            namespace=namespace,
            labels=labels,
            owner=owner,
            containers=["contour"],
            replicas=contour.get("replicas", 2),
        ),
        _workload(
            workload,
            name=f"envoy-{name}",
            namespace=namespace,
            labels=labels,
            owner=owner,
            containers=["shutdown-manager", "envoy"],
            replicas=envoy.get("replicas", 2) if workload == "Deployment" else None,
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"envoy-{name}", **common},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": f"envoy-{name}"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        },
    ]
    return Desired(tuple(objects), labels)


def hand_made_planner(cr: Mapping[str, Any]) -> Invalid | Callable[[CertFields], Desired]:
    invalid = ((cr.get("metadata") or {}).get("annotations") or {}).get(INVALID_ANNOTATION)
    if invalid:
        return Invalid(invalid, "is not acceptable")
    return lambda certs: hand_made(cr, certs)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with embedded_cluster(tmp_path / "state") as running:
        yield running


@pytest.fixture
def kubectl(cluster: Cluster) -> Kubectl:
    return Kubectl(cluster.kubeconfig)


@contextlib.asynccontextmanager
async def running_operator(cluster: Cluster, planner: ContourPlanner) -> AsyncIterator[ContourReconciler]:
    reconciler = ContourReconciler(cluster.api, planner)
    task = asyncio.create_task(run_leading(cluster.api, None, reconciler.make_runtime))
    try:
        yield reconciler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def operator(cluster: Cluster) -> AsyncIterator[ContourReconciler]:
    async with running_operator(cluster, hand_made_planner) as reconciler:
        yield reconciler


def contour_cr(name: str = "main", namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "operator.projectcontour.io/v1alpha1",
        "kind": "Contour",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


__all__ = ["Kubectl", "contour_cr", "eventually", "running_operator"]
