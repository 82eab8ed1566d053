"""`render`: one instance's complete desired object set, in a fixed order, from its parameters.

Pure (no I/O, no clock): the same parameters and certificates give byte-identical manifests. The
order is the order to create in: the Namespace, identities and permissions, the Secrets and
configuration the pods mount or read, the Services, then the workloads.
"""

from __future__ import annotations

from typing import Any

from contour.provisioner.model import DesiredState, ProvisionParams, XdsCertificates
from contour.provisioner.render_contour import render_configuration, render_contour_deployment, render_secrets
from contour.provisioner.render_envoy import render_envoy_workload
from contour.provisioner.render_meta import certificate_hash, metadata
from contour.provisioner.render_rbac import render_rbac
from contour.provisioner.render_services import render_envoy_service, render_xds_service


def render(params: ProvisionParams, certs: XdsCertificates) -> DesiredState:
    objects: list[dict[str, Any]] = []
    if params.create_namespace:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": metadata(params, params.namespace, namespaced=False),
            }
        )
    objects += render_rbac(params)
    objects += render_secrets(params, certs)
    objects.append(render_configuration(params))
    objects.append(render_xds_service(params))
    objects.append(render_envoy_service(params))
    hashed = certificate_hash(certs)
    objects.append(render_contour_deployment(params, certificate_hash=hashed))
    objects.append(render_envoy_workload(params, certificate_hash=hashed))
    return DesiredState(objects=tuple(objects), instance_labels=dict(sorted(params.instance_labels.items())))
