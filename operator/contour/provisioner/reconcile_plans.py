"""The renderers as the reconcilers' planners: parameters from the owner, then `render` with certificates.

`reconcile_contour` and `reconcile_gateway` take a planner (owner -> Invalid | certs -> DesiredState),
so that tests can drive them with hand-made desired states; these are the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contour.envoy.bootstrap import XDS_SERVER_SAN
from contour.provisioner.model import (
    DEFAULT_CONTOUR_IMAGE,
    DEFAULT_ENVOY_IMAGE,
    GATEWAY_CONTROLLER_NAME,
    InvalidParameters,
    ProvisionParams,
    XdsCertificates,
)
from contour.provisioner.params import params_from_contour
from contour.provisioner.params_gateway import params_from_gateway
from contour.provisioner.reconcile_certs import CertProfile
from contour.provisioner.reconcile_contour import ContourPlanner, Invalid, Planned, Render
from contour.provisioner.reconcile_gateway import GatewayPlanner
from contour.provisioner.render import render


def _plan(params: ProvisionParams | InvalidParameters) -> Invalid | Render:
    if isinstance(params, InvalidParameters):
        return Invalid(params.field, params.message)
    return Planned(lambda certs: render(params, XdsCertificates(**certs)), certificate_profile(params))


def certificate_profile(params: ProvisionParams) -> CertProfile:
    """The instance's certificates: its lifetime; Contour's names its xDS Service and `contour`, the SAN
    Envoy's bootstrap checks; Envoy's names its Service."""
    return CertProfile(
        lifetime_days=params.cert_lifetime_days,
        contour_services=(params.contour_name, XDS_SERVER_SAN),
        envoy_services=(params.envoy_name,),
    )


def contour_planner(
    *, contour_image: str = DEFAULT_CONTOUR_IMAGE, envoy_image: str = DEFAULT_ENVOY_IMAGE
) -> ContourPlanner:
    def plan(cr: Mapping[str, Any]) -> Invalid | Render:
        return _plan(params_from_contour(cr, contour_image=contour_image, envoy_image=envoy_image))

    return plan


def gateway_planner(
    *,
    controller_name: str = GATEWAY_CONTROLLER_NAME,
    contour_image: str = DEFAULT_CONTOUR_IMAGE,
    envoy_image: str = DEFAULT_ENVOY_IMAGE,
) -> GatewayPlanner:
    def plan(
        gateway: Mapping[str, Any], gateway_class: Mapping[str, Any], deployment: Mapping[str, Any] | None
    ) -> Invalid | Render:
        params = params_from_gateway(
            gateway,
            gateway_class,
            deployment,
            controller_name=controller_name,
            contour_image=contour_image,
            envoy_image=envoy_image,
        )
        return _plan(params)

    return plan
