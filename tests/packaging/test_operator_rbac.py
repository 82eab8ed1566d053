"""The operator's ClusterRole (config/rbac/cluster_role.yaml) holds exactly what the operator needs: the
verbs its reconcilers use on their inputs and on every kind they render, and every permission the Roles
and ClusterRoles they render grant (Kubernetes refuses to let a subject grant more than it holds)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from contour.provisioner.model import InvalidParameters, XdsCertificates
from contour.provisioner.params import params_from_contour, params_from_gateway
from contour.provisioner.reconcile import OWNED_KINDS
from contour.provisioner.render import render
from tests.manifests import REPO_ROOT, documents

Permission = tuple[str, str, str]  # (API group, resource, verb)

CLUSTER_ROLE = yaml.safe_load((REPO_ROOT / "config" / "rbac" / "cluster_role.yaml").read_text("utf-8"))
SAMPLES = REPO_ROOT / "config" / "samples"
CERTS = XdsCertificates("ca", "contour-cert", "contour-key", "envoy-cert", "envoy-key")
# What the reconcilers do to their own inputs: informers (list, watch), finalizer and status patches,
# and `finalizers: update` for blockOwnerDeletion under OwnerReferencesPermissionEnforcement.
OPERATOR_INPUTS: frozenset[Permission] = frozenset(
    {
        *(("operator.projectcontour.io", "contours", v) for v in ("get", "list", "watch", "patch")),
        ("operator.projectcontour.io", "contours/status", "patch"),
        ("operator.projectcontour.io", "contours/finalizers", "update"),
        *(("projectcontour.io", "contourdeployments", v) for v in ("get", "list", "watch")),
        *(("gateway.networking.k8s.io", "gatewayclasses", v) for v in ("get", "list", "watch")),
        *(("gateway.networking.k8s.io", "gateways", v) for v in ("get", "list", "watch", "patch")),
        ("gateway.networking.k8s.io", "gateways/status", "patch"),
        ("gateway.networking.k8s.io", "gateways/finalizers", "update"),
        # contour.k8s.leaderelection: GET the Lease, POST it when missing, PUT to renew.
        *(("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")),
    }
)
# The engine: server-side apply (PATCH, which creates a missing object), list by label and informers
# for drift, DELETE for pruning and finalization; the certificate reuse GETs Secrets.
ENGINE_VERBS = ("get", "list", "watch", "create", "patch", "delete")


def permissions(rules: list[dict[str, Any]], *, named_too: bool = True) -> set[Permission]:
    return {
        (group, resource, verb)
        for rule in rules
        if named_too or not rule.get("resourceNames")
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


HELD = permissions(CLUSTER_ROLE["rules"], named_too=False)


def with_uid(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["metadata"]["uid"] = "00000000-0000-4000-8000-000000000001"
    return out


def sample_instances() -> Iterator[tuple[str, Any]]:
    """Provisioning parameters of every Contour CR in config/samples and of every Gateway there whose
    class has a ContourDeployment in config/samples."""
    docs = [with_uid(d) for p in sorted(SAMPLES.glob("*.yaml")) for d in documents(p)]
    by_kind: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for doc in docs:
        key = (doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
        by_kind.setdefault(doc["kind"], {})[key] = doc
    for (namespace, name), cr in sorted(by_kind["Contour"].items()):
        yield f"Contour {namespace}/{name}", params_from_contour(cr)
    for (namespace, name), gateway in sorted(by_kind["Gateway"].items()):
        gateway_class = by_kind["GatewayClass"][("", gateway["spec"]["gatewayClassName"])]
        ref = gateway_class["spec"].get("parametersRef") or {}
        parameters = by_kind["ContourDeployment"].get((ref.get("namespace", ""), ref.get("name", "")))
        yield f"Gateway {namespace}/{name}", params_from_gateway(gateway, gateway_class, parameters)


INSTANCES = list(sample_instances())


def granted(params: Any) -> set[Permission]:
    rendered = render(params, CERTS).objects
    return {
        p for obj in rendered if obj["kind"] in {"Role", "ClusterRole"} for p in permissions(obj["rules"])
    }


@pytest.mark.parametrize(("name", "params"), INSTANCES, ids=[name for name, _ in INSTANCES])
def test_the_sample_is_provisionable(name: str, params: Any) -> None:
    assert not isinstance(params, InvalidParameters), params


@pytest.mark.parametrize(("name", "params"), INSTANCES, ids=[name for name, _ in INSTANCES])
def test_the_operator_holds_every_permission_the_instance_roles_grant(name: str, params: Any) -> None:
    assert sorted(granted(params) - HELD) == []


@pytest.mark.parametrize("kind", OWNED_KINDS, ids=lambda k: k.kind)
def test_the_operator_may_apply_watch_and_delete_every_rendered_kind(kind: Any) -> None:
    assert sorted({(kind.group, kind.plural, verb) for verb in ENGINE_VERBS} - HELD) == []


def test_the_operator_may_do_what_its_reconcilers_do_to_their_inputs() -> None:
    assert sorted(OPERATOR_INPUTS - HELD) == []


def test_the_operator_holds_nothing_more() -> None:
    needed = set(OPERATOR_INPUTS)
    needed |= {(k.group, k.plural, verb) for k in OWNED_KINDS for verb in ENGINE_VERBS}
    for _, params in INSTANCES:
        needed |= granted(params)
    assert sorted(HELD - needed) == []


def test_no_rule_uses_wildcards() -> None:
    for rule in CLUSTER_ROLE["rules"]:
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], rule
