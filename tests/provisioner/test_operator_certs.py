"""The xDS certificates the provisioner issues: their names, their lifetime, and their rotation.

A Contour CR installed by the real renderers: certificates already stored in the instance's Secrets
are kept byte for byte while they have more than a third of their lifetime left and name the
instance's Services; past two thirds of their lifetime (or lacking a name) one reconcile replaces them,
and the pod templates of both workloads get the new certificates' hash (so the pods roll). A Gateway
whose ContourDeployment sets `spec.contour.certLifetime` gets certificates of that lifetime, whose
Contour leaf verifies for `contour` (the SAN Envoy's bootstrap requires) and for the xDS Service.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from contour.certgen.certs import Certificates, generate_certs
from contour.envoy.bootstrap import XDS_SERVER_SAN
from contour.provisioner.model import XdsCertificates
from contour.provisioner.reconcile_gateway import GatewayReconciler
from contour.provisioner.reconcile_plans import contour_planner, gateway_planner
from contour.provisioner.reconcile_runtime import run_leading
from contour.provisioner.render_meta import CERTIFICATE_HASH_ANNOTATION, certificate_hash
from tests.k8s.cluster import Cluster, eventually
from tests.provisioner.conftest import Kubectl, contour_cr, running_operator

NS = "default"
NAME = "main"
SECRETS = (f"contourcert-{NAME}", f"envoycert-{NAME}")
WORKLOADS = (("deployments", f"contour-{NAME}"), ("daemonsets", f"envoy-{NAME}"))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def instance_certs(*, issued: datetime.datetime, lifetime_days: int, named: bool = True) -> Certificates:
    """Certificates for the instance `NAME` as of `issued`; `named=False`: certgen's default names only."""
    if not named:
        return generate_certs(now=issued, namespace=NS, lifetime_days=lifetime_days)
    return generate_certs(
        now=issued,
        namespace=NS,
        lifetime_days=lifetime_days,
        contour_service=f"contour-{NAME}",
        contour_aliases=(XDS_SERVER_SAN,),
        envoy_service=f"envoy-{NAME}",
    )


def cr(**spec: Any) -> dict[str, Any]:
    """The Contour CR `NAME`, installing into its own namespace."""
    found = contour_cr(NAME, NS, **spec)
    found["spec"]["namespace"] = NS
    return found


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode()


def stored_secrets(certs: Certificates) -> list[dict[str, Any]]:
    pairs = (
        (SECRETS[0], certs.contour_certificate, certs.contour_private_key),
        (SECRETS[1], certs.envoy_certificate, certs.envoy_private_key),
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": NS},
            "data": {"ca.crt": _b64(certs.ca_certificate), "tls.crt": _b64(cert), "tls.key": _b64(key)},
        }
        for name, cert, key in pairs
    ]


def as_xds(certs: Certificates) -> XdsCertificates:
    return XdsCertificates(
        ca_pem=certs.ca_certificate.decode(),
        contour_cert_pem=certs.contour_certificate.decode(),
        contour_key_pem=certs.contour_private_key.decode(),
        envoy_cert_pem=certs.envoy_certificate.decode(),
        envoy_key_pem=certs.envoy_private_key.decode(),
    )


async def secret_data(kubectl: Kubectl, namespace: str = NS) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for name in SECRETS:
        secret = await kubectl.get("secrets", name, namespace) or {}
        found[name] = dict(secret.get("data") or {})
    return found


def stored_xds(data: dict[str, dict[str, str]]) -> XdsCertificates:
    contour, envoy = ({k: base64.b64decode(v).decode() for k, v in data[name].items()} for name in SECRETS)
    return XdsCertificates(
        ca_pem=contour["ca.crt"],
        contour_cert_pem=contour["tls.crt"],
        contour_key_pem=contour["tls.key"],
        envoy_cert_pem=envoy["tls.crt"],
        envoy_key_pem=envoy["tls.key"],
    )


async def template_hashes(kubectl: Kubectl) -> list[str | None]:
    hashes: list[str | None] = []
    for resource, name in WORKLOADS:
        workload = await kubectl.get(resource, name, NS) or {}
        template = (workload.get("spec") or {}).get("template") or {}
        hashes.append(
            ((template.get("metadata") or {}).get("annotations") or {}).get(CERTIFICATE_HASH_ANNOTATION)
        )
    return hashes


async def install_over(cluster: Cluster, kubectl: Kubectl, certs: Certificates) -> dict[str, dict[str, str]]:
    """Store `certs` in the instance's Secrets, install the Contour CR, and return the Secrets' data
    once both workloads exist (the first reconcile applied everything)."""
    await kubectl.apply(*stored_secrets(certs))
    before = await secret_data(kubectl)
    await kubectl.apply(cr())

    async def installed() -> bool:
        return all(await template_hashes(kubectl))

    await eventually(
        installed, timeout=20, message="the contour Deployment and Envoy DaemonSet never appeared"
    )
    return before


@pytest.mark.parametrize(
    ("issued_days_ago", "lifetime_days", "named"),
    [
        pytest.param(2.5, 3, True, id="past-two-thirds-of-its-lifetime"),
        pytest.param(0, 365, False, id="without-the-instance-service-names"),
    ],
)
async def test_stored_certificates_are_replaced_and_the_pods_roll(
    cluster: Cluster, kubectl: Kubectl, issued_days_ago: float, lifetime_days: int, named: bool
) -> None:
    old = instance_certs(
        issued=_now() - datetime.timedelta(days=issued_days_ago), lifetime_days=lifetime_days, named=named
    )
    async with running_operator(cluster, contour_planner()) as reconciler:
        before = await install_over(cluster, kubectl, old)
        after = await secret_data(kubectl)
        for name in SECRETS:
            for key in ("ca.crt", "tls.crt", "tls.key"):
                assert after[name][key] != before[name][key], (name, key)
        new = stored_xds(after)
        assert await template_hashes(kubectl) == [certificate_hash(new)] * 2
        assert certificate_hash(new) != certificate_hash(as_xds(old))
        # The replacements are themselves kept: another reconcile (a spec change) leaves them alone.
        runtime = reconciler.runtime
        assert runtime is not None
        count = runtime.counters.reconciles
        await kubectl.apply(cr(contour={"replicas": 3}))

        async def scaled() -> bool:
            deployment = await kubectl.get("deployments", f"contour-{NAME}", NS) or {}
            return runtime.counters.reconciles > count and deployment["spec"]["replicas"] == 3

        await eventually(scaled, timeout=15, message="the CR's new replica count was never applied")
        assert await secret_data(kubectl) == after


async def test_certificates_with_lifetime_left_are_kept_byte_identical(
    cluster: Cluster, kubectl: Kubectl
) -> None:
    fresh = instance_certs(issued=_now(), lifetime_days=365)
    async with running_operator(cluster, contour_planner()):
        before = await install_over(cluster, kubectl, fresh)
        assert await secret_data(kubectl) == before
        assert await template_hashes(kubectl) == [certificate_hash(as_xds(fresh))] * 2


async def test_a_contour_cr_gets_365_day_certificates_naming_its_xds_service(
    cluster: Cluster, kubectl: Kubectl
) -> None:
    async with running_operator(cluster, contour_planner()):
        await kubectl.apply(cr())

        async def stored() -> dict[str, dict[str, str]] | None:
            data = await secret_data(kubectl)
            return data if all(data.values()) else None

        issued = stored_xds(await eventually(stored, timeout=20, message="no certificate Secrets"))
    contour = x509.load_pem_x509_certificate(issued.contour_cert_pem.encode())
    left = contour.not_valid_after_utc - _now()
    assert datetime.timedelta(days=364) < left <= datetime.timedelta(days=365)
    names = contour.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {f"contour-{NAME}", f"contour-{NAME}.{NS}.svc", XDS_SERVER_SAN} <= set(
        names.get_values_for_type(x509.DNSName)
    )


# --- a Gateway whose ContourDeployment sets certLifetime ---------------------------------------------

GATEWAY_CLASS: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "GatewayClass",
    "metadata": {"name": "contour"},
    "spec": {
        "controllerName": "projectcontour.io/gateway-controller",
        "parametersRef": {
            "group": "projectcontour.io",
            "kind": "ContourDeployment",
            "name": "p",
            "namespace": NS,
        },
    },
}
PARAMS: dict[str, Any] = {
    "apiVersion": "projectcontour.io/v1alpha1",
    "kind": "ContourDeployment",
    "metadata": {"name": "p", "namespace": NS},
    "spec": {"contour": {"certLifetime": 30}},
}
GATEWAY: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "web", "namespace": NS},
    "spec": {"gatewayClassName": "contour", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]},
}


@contextlib.asynccontextmanager
async def running_provisioner(cluster: Cluster) -> AsyncIterator[GatewayReconciler]:
    reconciler = GatewayReconciler(cluster.api, gateway_planner())
    task = asyncio.create_task(run_leading(cluster.api, None, reconciler.make_runtime))
    try:
        yield reconciler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    "server_name",
    [XDS_SERVER_SAN, "contour-web", f"contour-web.{NS}", f"contour-web.{NS}.svc.cluster.local"],
)
async def test_a_gateway_gets_certificates_of_the_contour_deployment_lifetime(
    cluster: Cluster, kubectl: Kubectl, server_name: str
) -> None:
    async with running_provisioner(cluster):
        await kubectl.apply(PARAMS, GATEWAY_CLASS, GATEWAY)

        async def stored() -> dict[str, Any] | None:
            return await kubectl.get("secrets", "contourcert-web", NS)

        secret = await eventually(
            stored, timeout=20, message="the Gateway's contourcert Secret never appeared"
        )
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    ca = x509.load_pem_x509_certificate(data["ca.crt"])
    leaf = x509.load_pem_x509_certificate(data["tls.crt"])
    left = leaf.not_valid_after_utc - _now()
    assert datetime.timedelta(days=29) < left <= datetime.timedelta(days=30)
    verifier = (
        PolicyBuilder().store(Store([ca])).time(_now()).build_server_verifier(x509.DNSName(server_name))
    )
    verifier.verify(leaf, [])  # raises when the chain or the name does not verify
