"""Every manifest in config/samples passes the embedded API server's validation (CRD schemas, CEL rules,
ObjectMeta), as `kubectl apply --dry-run=server` reports it; the operator samples cover what issue 9 asks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.manifests import REPO_ROOT, documents, rel
from tests.support.apiserver_process import APIServerProcess

SAMPLES = sorted((REPO_ROOT / "config" / "samples").glob("*.yaml"))


@pytest.fixture(scope="module")
def with_namespaces(server: APIServerProcess) -> APIServerProcess:
    namespaces = {
        doc["metadata"]["namespace"]
        for path in SAMPLES
        for doc in documents(path)
        if doc["metadata"].get("namespace")
    }
    manifest = "".join(
        f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {n}\n" for n in sorted(namespaces)
    )
    server.kubectl("apply", "-f", "-", input=manifest)
    return server


@pytest.mark.parametrize("path", SAMPLES, ids=rel)
def test_sample_passes_server_side_validation(with_namespaces: APIServerProcess, path: Path) -> None:
    result = with_namespaces.kubectl("apply", "--dry-run=server", "-f", str(path), check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(documents(path))


def contours(workload_type: str) -> list[str]:
    return [
        rel(path)
        for path in SAMPLES
        for doc in documents(path)
        if doc["kind"] == "Contour" and doc["spec"].get("envoy", {}).get("workloadType") == workload_type
    ]


@pytest.mark.parametrize("workload_type", ["DaemonSet", "Deployment"])
def test_a_contour_sample_runs_envoy_as(workload_type: str) -> None:
    assert contours(workload_type)


def test_a_sample_file_holds_a_gatewayclass_its_contourdeployment_and_a_gateway() -> None:
    def complete(docs: list[dict[str, object]]) -> bool:
        by_kind = {str(d["kind"]): d for d in docs}
        if not {"GatewayClass", "ContourDeployment", "Gateway"} <= set(by_kind):
            return False
        gateway_class, params, gateway = (
            by_kind["GatewayClass"],
            by_kind["ContourDeployment"],
            by_kind["Gateway"],
        )
        ref = gateway_class["spec"]["parametersRef"]  # type: ignore[index]
        return (
            gateway_class["spec"]["controllerName"] == "projectcontour.io/gateway-controller"  # type: ignore[index]
            and (ref["kind"], ref["name"], ref["namespace"])
            == ("ContourDeployment", params["metadata"]["name"], params["metadata"]["namespace"])  # type: ignore[index]
            and gateway["spec"]["gatewayClassName"] == gateway_class["metadata"]["name"]  # type: ignore[index]
        )

    assert [rel(p) for p in SAMPLES if complete(documents(p))]
