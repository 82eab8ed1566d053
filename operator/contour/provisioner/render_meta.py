"""Metadata shared by every rendered object: names, labels, annotations and owner references.

Every object carries the instance labels (what the reconciler selects and prunes by), the extra
labels and annotations of the instance (Gateway `spec.infrastructure`, ContourDeployment
`resourceLabels`) and, when it lives in its owner's namespace, a controller ownerReference to the
Contour CR or Gateway. Kubernetes resolves a namespaced owner in the dependent's own namespace, so an
object elsewhere (the Contour CR's `spec.namespace`) or cluster-scoped gets labels only: the
reconciler removes those through its finalizer.

The pod templates of both workloads carry a hash of the xDS certificates: when the reconciler rotates
them, the templates change and the pods roll onto the new ones (Envoy reads its certificate files
once; a Kubernetes Secret volume's update is a symlink swap its file-based SDS does not see).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, Literal

from contour.provisioner.model import ProvisionParams, XdsCertificates

NAME_LABEL: Final = "app.kubernetes.io/name"
INSTANCE_LABEL: Final = "app.kubernetes.io/instance"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
CERTIFICATE_HASH_ANNOTATION: Final = "projectcontour.io/xds-certificate-hash"

Component = Literal["contour", "envoy"]


def labels(params: ProvisionParams, component: Component | None = None) -> dict[str, str]:
    """An object's labels: the extra ones, the component's, then the instance's (those always win)."""
    out = dict(params.extra_labels)
    if component is not None:
        out.update(selector(params, component))
    out.update(params.instance_labels)
    return dict(sorted(out.items()))


def selector(params: ProvisionParams, component: Component) -> dict[str, str]:
    """The pods of one component of one instance (immutable in a workload: never add to it)."""
    return {INSTANCE_LABEL: params.name, NAME_LABEL: component}


def metadata(
    params: ProvisionParams,
    name: str,
    *,
    component: Component | None = None,
    namespaced: bool = True,
    namespace: str | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An object's metadata, in the instance's namespace unless `namespace` says otherwise."""
    meta: dict[str, Any] = {"name": name}
    namespace = namespace or params.namespace
    if namespaced:
        meta["namespace"] = namespace
    meta["labels"] = labels(params, component)
    merged = {**params.extra_annotations, **(annotations or {})}
    if merged:
        meta["annotations"] = dict(sorted(merged.items()))
    if namespaced and namespace == params.owner_namespace:
        meta["ownerReferences"] = [
            {
                "apiVersion": params.owner.api_version,
                "kind": params.owner.kind,
                "name": params.owner.name,
                "uid": params.owner.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def pod_metadata(
    params: ProvisionParams, component: Component, annotations: dict[str, str]
) -> dict[str, Any]:
    """A pod template's metadata: the object labels (selector included) and the pod annotations."""
    meta: dict[str, Any] = {"labels": labels(params, component)}
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


def certificate_hash(certs: XdsCertificates) -> str:
    """sha256 (hex) of the public parts of the xDS certificates: the CA and both leaves (a new key
    always comes with a new certificate)."""
    digest = hashlib.sha256()
    for pem in (certs.ca_pem, certs.contour_cert_pem, certs.envoy_cert_pem):
        digest.update(pem.encode())
    return digest.hexdigest()
