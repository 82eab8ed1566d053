"""The rendered RBAC grants exactly what `contour serve`'s code uses, derived here from that code:
a new informer, a new status kind or a new HTTP method in the writers fails these tests until
render_rbac.py follows."""

from __future__ import annotations

import inspect
import re
from typing import Any

from contour.controller.contourconfig import ConfigurationStatusUpdate
from contour.controller.controller import WATCHED
from contour.controller.eventhandler import STATUS_KINDS
from contour.dag.gatewayapi_processor import PLURALS as GATEWAY_PLURALS
from contour.k8s import leaderelection, statuswriter
from contour.provisioner.model import ProvisionParams
from contour.provisioner.params import params_from_contour, params_from_gateway
from contour.provisioner.render import render
from tests.unit.provisioner.inputs import CERTS, CONTOUR_DEPLOYMENT, DAEMONSET_CR, GATEWAY, GATEWAY_CLASS

METHOD_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
Grants = dict[tuple[str, str, str], set[str]]  # (namespace or "*", group, resource) -> verbs


def _methods(module: Any) -> set[str]:
    return set(re.findall(r'call_api\(\s*"([A-Z]+)"', inspect.getsource(module)))


def expected_grants(params: ProvisionParams) -> Grants:
    """What the controller's code does, as RBAC verbs, cluster-wide ("*") or in the namespace."""
    assert _methods(statuswriter) == {"GET", "PATCH"}, (
        "the StatusWriter's requests changed: update render_rbac"
    )
    assert _methods(leaderelection) == {"GET", "POST", "PUT"}, "leader election's requests changed"
    grants: Grants = {}
    for group, _version, plural in WATCHED:
        grants.setdefault(("*", group, plural), set()).update({"list", "watch"})
    status_kinds = set(STATUS_KINDS.values()) | {
        ("gateway.networking.k8s.io", p) for p in GATEWAY_PLURALS.values()
    }
    for group, plural in status_kinds:
        grants.setdefault(("*", group, plural), set()).add("get")  # the writer's re-read
        grants.setdefault(("*", group, f"{plural}/status"), set()).add("patch")
    config = ConfigurationStatusUpdate(ref=None, generation=0, status={})  # type: ignore[arg-type]
    ns = params.namespace
    grants[(ns, config.group, config.plural)] = {"get"}
    grants[(ns, config.group, f"{config.plural}/status")] = {"patch"}
    lease_group = leaderelection.LEASE_VERSION.split("/")[0]
    grants[(ns, lease_group, "leases")] = {METHOD_VERBS[m] for m in _methods(leaderelection)}
    return grants


def rendered_grants(objects: tuple[dict[str, Any], ...]) -> Grants:
    grants: Grants = {}
    for obj in objects:
        if obj["kind"] not in ("ClusterRole", "Role"):
            continue
        scope = obj["metadata"].get("namespace", "*")
        for rule in obj["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    grants.setdefault((scope, group, resource), set()).update(rule["verbs"])
    return grants


def test_cluster_wide_instance_grants_exactly_what_the_controller_uses() -> None:
    params = params_from_contour(DAEMONSET_CR)
    assert isinstance(params, ProvisionParams)
    assert rendered_grants(render(params, CERTS).objects) == expected_grants(params)


def test_names_restrict_what_rbac_can_restrict_by_name() -> None:
    params = params_from_contour(DAEMONSET_CR)
    assert isinstance(params, ProvisionParams)
    role = next(o for o in render(params, CERTS).objects if o["kind"] == "Role")
    named = {(tuple(r["resources"]), tuple(r["verbs"])): r.get("resourceNames") for r in role["rules"]}
    assert named[(("leases",), ("get", "update"))] == [params.leader_election_lease]
    assert named[(("leases",), ("create",))] is None  # create cannot be restricted by name
    assert named[(("contourconfigurations",), ("get",))] == [params.config_name]


def test_watched_namespaces_move_namespaced_kinds_to_roles() -> None:
    params = params_from_gateway(GATEWAY, GATEWAY_CLASS, CONTOUR_DEPLOYMENT)
    assert isinstance(params, ProvisionParams)
    assert params.watch_namespaces == ("apps", "web")
    grants = rendered_grants(render(params, CERTS).objects)
    cluster = {(g, r) for (scope, g, r) in grants if scope == "*"}
    assert cluster == {
        ("", "namespaces"),
        ("networking.k8s.io", "ingressclasses"),
        ("gateway.networking.k8s.io", "gatewayclasses"),
        ("gateway.networking.k8s.io", "gatewayclasses/status"),
    }
    whole = expected_grants(params)
    for watched in ("apps", "web"):
        in_namespace = {(g, r): v for (scope, g, r), v in grants.items() if scope == watched}
        for (scope, group, resource), verbs in whole.items():
            if scope == "*" and (group, resource) not in cluster:
                assert verbs <= in_namespace.get((group, resource), set()), (watched, group, resource)


def test_envoy_gets_no_api_access() -> None:
    params = params_from_contour(DAEMONSET_CR)
    assert isinstance(params, ProvisionParams)
    objects = render(params, CERTS).objects
    envoy_sa = next(
        o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == params.envoy_name
    )
    assert envoy_sa["automountServiceAccountToken"] is False
    subjects = [s["name"] for o in objects if o["kind"].endswith("Binding") for s in o["subjects"]]
    assert params.envoy_name not in subjects
