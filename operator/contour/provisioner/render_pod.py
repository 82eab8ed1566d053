"""Pod-spec pieces both workloads share: security context, placement, anti-affinity, downward-API env."""

from __future__ import annotations

import copy
from typing import Any, Final

from contour.provisioner.model import NodePlacement, ProvisionParams
from contour.provisioner.render_meta import Component, selector

# The non-root user of the contour image (Dockerfile) and of Envoy's distroless image.
NON_ROOT_UID: Final = 65532


def run_as_non_root() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_UID,
        "runAsGroup": NON_ROOT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def placement(node_placement: NodePlacement) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node_placement.node_selector:
        out["nodeSelector"] = dict(sorted(node_placement.node_selector.items()))
    if node_placement.tolerations:
        out["tolerations"] = [copy.deepcopy(dict(t)) for t in node_placement.tolerations]
    return out


def affinity(params: ProvisionParams, component: Component) -> dict[str, Any]:
    """Prefer spreading the component's pods over nodes (soft: a one-node cluster still runs them)."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": selector(params, component)},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }


def env_from_field(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": field_path}}}
