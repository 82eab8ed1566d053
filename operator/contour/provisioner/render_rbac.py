"""The ServiceAccounts and RBAC of one instance: exactly what `contour serve` does, nothing more.

The table below is read off the controller's code (tests/unit/provisioner/test_rbac.py checks it
against it, so a change there fails until this follows):

* list + watch on every kind an informer watches (`contour.controller.controller.WATCHED`, and the
  Envoy Service informer of `contour.controller.serve`);
* patch on `<kind>/status` for every kind whose status the StatusWriter writes (a merge patch on the
  status subresource) and get on the kind itself (the writer re-reads an object after a conflict);
* the ContourConfiguration it reads (get) and whose status it writes (patch on its status), by name;
* its leader-election Lease (`contour.k8s.leaderelection`: GET, POST on a missing Lease, PUT), by name
  except for create, which RBAC cannot restrict by name.

With `watch_namespaces` the namespaced kinds move from the ClusterRole to a Role per watched
namespace. Envoy's ServiceAccount gets no permissions and no token: Envoy and its sidecars never
talk to the Kubernetes API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from contour.provisioner.model import ProvisionParams
from contour.provisioner.render_meta import metadata

RBAC_API: Final = "rbac.authorization.k8s.io/v1"
CORE: Final = ""
CONTOUR_GROUP: Final = "projectcontour.io"
NETWORKING: Final = "networking.k8s.io"
DISCOVERY: Final = "discovery.k8s.io"
GATEWAY_API: Final = "gateway.networking.k8s.io"
COORDINATION: Final = "coordination.k8s.io"

# (group, resource) of every informer of `contour serve`.
WATCHED: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        (CONTOUR_GROUP, "httpproxies"),
        (CONTOUR_GROUP, "tlscertificatedelegations"),
        (CONTOUR_GROUP, "extensionservices"),
        (NETWORKING, "ingresses"),
        (NETWORKING, "ingressclasses"),
        (CORE, "services"),
        (CORE, "secrets"),
        (CORE, "namespaces"),
        (CORE, "configmaps"),
        (DISCOVERY, "endpointslices"),
        *(
            (GATEWAY_API, plural)
            for plural in (
                "gatewayclasses",
                "gateways",
                "listenersets",
                "httproutes",
                "grpcroutes",
                "tlsroutes",
                "tcproutes",
                "udproutes",
                "referencegrants",
                "backendtlspolicies",
            )
        ),
    }
)
# (group, resource) whose status the controller writes, cluster-wide.
STATUS_WRITTEN: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        (CONTOUR_GROUP, "httpproxies"),
        (CONTOUR_GROUP, "tlscertificatedelegations"),
        (CONTOUR_GROUP, "extensionservices"),
        (NETWORKING, "ingresses"),
        *(
            (GATEWAY_API, plural)
            for plural in (
                "gatewayclasses",
                "gateways",
                "listenersets",
                "httproutes",
                "grpcroutes",
                "tlsroutes",
                "tcproutes",
                "udproutes",
                "backendtlspolicies",
            )
        ),
    }
)
CLUSTER_SCOPED: Final = frozenset(
    {(CORE, "namespaces"), (NETWORKING, "ingressclasses"), (GATEWAY_API, "gatewayclasses")}
)
LIST_WATCH: Final = ("list", "watch")


def controller_verbs(resources: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(group, resource or resource/status) -> sorted verbs, for the watched/status kinds given."""
    out: dict[tuple[str, str], set[str]] = {}
    for key in resources:
        group, resource = key
        if key in WATCHED:
            out.setdefault(key, set()).update(LIST_WATCH)
        if key in STATUS_WRITTEN:
            out.setdefault(key, set()).add("get")
            out.setdefault((group, f"{resource}/status"), set()).add("patch")
    return {key: tuple(sorted(verbs)) for key, verbs in out.items()}


def rules(verbs: Mapping[tuple[str, str], tuple[str, ...]]) -> list[dict[str, Any]]:
    """PolicyRules grouping the resources of one API group that take the same verbs, sorted."""
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), resource_verbs in verbs.items():
        grouped.setdefault((group, resource_verbs), []).append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(resource_verbs)}
        for (group, resource_verbs), resources in sorted(grouped.items())
    ]


def local_rules(params: ProvisionParams) -> list[dict[str, Any]]:
    """The instance namespace's Role: its ContourConfiguration, its Lease and, when the watched
    namespaces leave it out, the Envoy Service that statuses report."""
    out: list[dict[str, Any]] = [
        {
            "apiGroups": [CONTOUR_GROUP],
            "resources": ["contourconfigurations"],
            "resourceNames": [params.config_name],
            "verbs": ["get"],
        },
        {
            "apiGroups": [CONTOUR_GROUP],
            "resources": ["contourconfigurations/status"],
            "resourceNames": [params.config_name],
            "verbs": ["patch"],
        },
        {"apiGroups": [COORDINATION], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": [COORDINATION],
            "resources": ["leases"],
            "resourceNames": [params.leader_election_lease],
            "verbs": ["get", "update"],
        },
    ]
    if params.watch_namespaces and params.namespace not in params.watch_namespaces:
        out.append({"apiGroups": [CORE], "resources": ["services"], "verbs": list(LIST_WATCH)})
    return out


def render_rbac(params: ProvisionParams) -> list[dict[str, Any]]:
    """ServiceAccounts, ClusterRole(+Binding), Roles(+Bindings) of the instance."""
    contour_sa = {"kind": "ServiceAccount", "name": params.contour_name, "namespace": params.namespace}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(params, params.contour_name, component="contour"),
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(params, params.envoy_name, component="envoy"),
            "automountServiceAccountToken": False,
        },
    ]
    cluster_wide = WATCHED | STATUS_WRITTEN
    namespaced = sorted(cluster_wide - CLUSTER_SCOPED)
    in_cluster_role = cluster_wide if not params.watch_namespaces else CLUSTER_SCOPED
    name = params.cluster_role_name
    objects += [
        {
            "apiVersion": RBAC_API,
            "kind": "ClusterRole",
            "metadata": metadata(params, name, component="contour", namespaced=False),
            "rules": rules(controller_verbs(in_cluster_role)),
        },
        {
            "apiVersion": RBAC_API,
            "kind": "ClusterRoleBinding",
            "metadata": metadata(params, name, component="contour", namespaced=False),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [contour_sa],
        },
    ]
    roles: list[tuple[str, str, list[dict[str, Any]]]] = [
        (params.namespace, params.contour_name, local_rules(params))
    ]
    for watched in params.watch_namespaces:
        # Named after the instance's namespace too: instances elsewhere may watch the same namespace.
        roles.append((watched, f"{name}-watch", rules(controller_verbs(namespaced))))
    for namespace, role_name, role_rules in roles:
        objects += [
            {
                "apiVersion": RBAC_API,
                "kind": "Role",
                "metadata": metadata(params, role_name, component="contour", namespace=namespace),
                "rules": role_rules,
            },
            {
                "apiVersion": RBAC_API,
                "kind": "RoleBinding",
                "metadata": metadata(params, role_name, component="contour", namespace=namespace),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
                "subjects": [contour_sa],
            },
        ]
    return objects
