"""`contour gateway-provisioner`'s reconciler: a Gateway of our GatewayClass -> its own Contour and Envoys.

A Gateway is ours when its GatewayClass has our controllerName. Its parameters come from the Gateway
(listeners, infrastructure labels/annotations, addresses) and the ContourDeployment the class's
`parametersRef` names. The reconcile steps are the operator's (reconcile_contour.py): finalizer,
certificates, apply and prune, and removal on deletion, and also when the Gateway moves to a class
that is not ours.

Status, and who writes it. The per-Gateway `contour serve` this provisioner deploys is the Gateway's
controller: it writes the whole Gateway status (Accepted, Programmed, listeners, addresses from the
Envoy Service) and replaces the conditions list when it does. Contour's own gateway provisioner
therefore writes only `Accepted` ("Resources have been created for the Gateway"), and only while the
Gateway is not yet accepted. This one does the same and a little more, without fighting:

* while the controller has not written (the status has no `listeners`), it writes Accepted and
  Programmed (True once the Envoy Service's `status.loadBalancer` has an address, else
  AddressNotAssigned) and `status.addresses` from that Service, so the Gateway reports its
  infrastructure before its controller is up (and in tests, where no pod ever runs);
* once the controller has written, the provisioner writes nothing: the two never alternate;
* invalid parameters: `Accepted=False, InvalidParameters` (Gateway API) and `Programmed=False,
  Invalid`, with a message naming the field, and nothing is created, changed or deleted.

GatewayClass status is the provisioner's alone (the per-Gateway `contour serve`, configured with its
Gateway's gatewayRef, leaves it alone): for every class with our controllerName, Accepted (False,
InvalidParameters, with the field named, when its parametersRef does not resolve to a usable
ContourDeployment), SupportedVersion and supportedFeatures as the controller's Gateway API processor
states them (contour.dag.gatewayapi_processor.gateway_class_status), with observedGeneration. Classes
are reconciled under their own keys (`gatewayclass:<name>`; a Gateway's key is `namespace/name`).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import kr8s.asyncio

from contour.dag.gatewayapi_listeners import Verdict
from contour.dag.gatewayapi_processor import CLASS_ACCEPTED, gateway_class_status
from contour.k8s.client import KubeClientError
from contour.provisioner.model import GATEWAY_CONTROLLER_NAME, InvalidParameters
from contour.provisioner.params_gateway import class_parameters
from contour.provisioner.reconcile import ClusterState
from contour.provisioner.reconcile_certs import xds_certificates
from contour.provisioner.reconcile_contour import Invalid, Render, cert_profile, owners_matching
from contour.provisioner.reconcile_owner import (
    Condition,
    OwnerResource,
    OwnerWriter,
    instance_labels_recorded,
    merge_conditions,
    now_rfc3339,
)
from contour.provisioner.reconcile_runtime import ReconcileRuntime, Watch
from contour.provisioner.reconcile_workloads import envoy_service, service_addresses

log = logging.getLogger(__name__)

FIELD_MANAGER: Final = "contour-gateway-provisioner"
FINALIZER: Final = "projectcontour.io/gateway-provisioner"
GATEWAYS: Final = OwnerResource("gateway.networking.k8s.io", "v1", "gateways")
GATEWAY_CLASSES: Final = OwnerResource("gateway.networking.k8s.io", "v1", "gatewayclasses")
CONTOUR_DEPLOYMENTS: Final = OwnerResource("projectcontour.io", "v1alpha1", "contourdeployments")
ACCEPTED_MESSAGE: Final = "Resources have been created for the Gateway"
CLASS_KEY_PREFIX: Final = "gatewayclass:"  # namespaces and names never hold ":"

GatewayPlanner = Callable[
    [Mapping[str, Any], Mapping[str, Any], Mapping[str, Any] | None], "Invalid | Render"
]


class GatewayReconciler:
    def __init__(
        self,
        api: kr8s.asyncio.Api,
        planner: GatewayPlanner,
        *,
        controller_name: str = GATEWAY_CONTROLLER_NAME,
        max_requeue: float = 3600.0,
    ) -> None:
        self.api = api
        self.planner = planner
        self.controller_name = controller_name
        self.max_requeue = max_requeue
        self.state = ClusterState(api, FIELD_MANAGER)
        self.owner = OwnerWriter(api, GATEWAYS, FINALIZER)
        self.class_writer = OwnerWriter(api, GATEWAY_CLASSES, FINALIZER)  # status only: no finalizer
        self.instances: dict[str, dict[str, str]] = {}
        self.runtime: ReconcileRuntime | None = None

    def make_runtime(self, resync: float = 600.0) -> ReconcileRuntime:
        self.instances.clear()
        self.runtime = ReconcileRuntime(
            self.api,
            name="gateway provisioner",
            watches=[
                Watch(GATEWAYS.group, GATEWAYS.version, GATEWAYS.plural, lambda obj: [_key(obj)]),
                Watch(GATEWAY_CLASSES.group, GATEWAY_CLASSES.version, GATEWAY_CLASSES.plural, self._of_class),
                Watch(
                    CONTOUR_DEPLOYMENTS.group,
                    CONTOUR_DEPLOYMENTS.version,
                    CONTOUR_DEPLOYMENTS.plural,
                    self._of_parameters,
                ),
            ],
            reconcile=self.reconcile,
            owners_of=lambda obj: owners_matching(self.instances, obj),
            resync=resync,
        )
        return self.runtime

    def _gateways(self) -> dict[str, Any]:
        assert self.runtime is not None
        return self.runtime.store(GATEWAYS.plural)

    def _of_class(self, gateway_class: Mapping[str, Any]) -> Iterable[str]:
        name = (gateway_class.get("metadata") or {}).get("name")
        gateways = [
            k for k, gw in self._gateways().items() if (gw.get("spec") or {}).get("gatewayClassName") == name
        ]
        return [f"{CLASS_KEY_PREFIX}{name}", *gateways]

    def _of_parameters(self, deployment: Mapping[str, Any]) -> Iterable[str]:
        assert self.runtime is not None
        classes = self.runtime.store(GATEWAY_CLASSES.plural)
        meta = deployment.get("metadata") or {}
        using = {
            name
            for name, gc in classes.items()
            if _parameters_key(gc) == f"{meta.get('namespace')}/{meta.get('name')}"
        }
        gateways = [
            k for k, gw in self._gateways().items() if (gw.get("spec") or {}).get("gatewayClassName") in using
        ]
        return [*(f"{CLASS_KEY_PREFIX}{name}" for name in sorted(using)), *gateways]

    def _ours(self, gateway_class: Mapping[str, Any] | None) -> bool:
        return (
            bool(gateway_class)
            and (gateway_class or {}).get("spec", {}).get("controllerName") == self.controller_name
        )

    async def reconcile(self, key: str) -> float | None:
        assert self.runtime is not None
        if key.startswith(CLASS_KEY_PREFIX):
            await self.reconcile_class(key.removeprefix(CLASS_KEY_PREFIX))
            return None
        gateway = self._gateways().get(key)
        if not isinstance(gateway, dict):
            self.instances.pop(key, None)
            return None
        class_name = str((gateway.get("spec") or {}).get("gatewayClassName") or "")
        gateway_class = self.runtime.store(GATEWAY_CLASSES.plural).get(class_name)
        if (gateway.get("metadata") or {}).get("deletionTimestamp") or not self._ours(gateway_class):
            await self._finalize(key, gateway)
            return None
        assert isinstance(gateway_class, dict)
        parameters_key = _parameters_key(gateway_class)
        deployment = (
            self.runtime.store(CONTOUR_DEPLOYMENTS.plural).get(parameters_key) if parameters_key else None
        )
        plan = self.planner(gateway, gateway_class, deployment)
        if isinstance(plan, Invalid):
            message = f"{plan.field}: {plan.message}" if plan.field else plan.message
            log.warning("Gateway %s: invalid parameters: %s", key, message)
            await self._status(
                gateway,
                [
                    Condition("Accepted", "False", "InvalidParameters", message),
                    Condition("Programmed", "False", "Invalid", message),
                ],
                None,
            )
            return None
        now = datetime.datetime.now(datetime.UTC)
        certs = await xds_certificates(
            self.api,
            lambda c: plan(c).objects,
            namespace=key.partition("/")[0],
            now=now,
            profile=cert_profile(plan),
        )
        desired = plan(certs.fields)
        labels = dict(desired.instance_labels)
        self.instances[key] = labels
        self.runtime.watch_owned(labels)
        await self.owner.adopt(gateway, labels)
        try:
            await self.state.apply(desired)
        except (KubeClientError, ValueError) as error:
            log.warning("Gateway %s: applying failed: %s", key, error)
            raise
        service = envoy_service(desired.objects)
        addresses: list[dict[str, str]] = []
        if service is not None:
            meta = service.get("metadata") or {}
            live = self.runtime.owned_store("services").get(f"{meta.get('namespace')}/{meta.get('name')}")
            addresses = service_addresses(live)
        programmed = (
            Condition("Programmed", "True", "Programmed", "The Envoy Service has an address")
            if addresses
            else Condition(
                "Programmed", "False", "AddressNotAssigned", "No address has been assigned to the Gateway yet"
            )
        )
        await self._status(
            gateway, [Condition("Accepted", "True", "Accepted", ACCEPTED_MESSAGE), programmed], addresses
        )
        return min(max(certs.rotate_in, 1.0), self.max_requeue)

    async def reconcile_class(self, name: str) -> None:
        """Write the status of GatewayClass `name`, when it is ours."""
        assert self.runtime is not None
        gateway_class = self.runtime.store(GATEWAY_CLASSES.plural).get(name)
        if not isinstance(gateway_class, dict) or not self._ours(gateway_class):
            return
        parameters_key = _parameters_key(gateway_class)
        deployment = (
            self.runtime.store(CONTOUR_DEPLOYMENTS.plural).get(parameters_key) if parameters_key else None
        )
        found = class_parameters(gateway_class, deployment)
        accepted = CLASS_ACCEPTED
        if isinstance(found, InvalidParameters):
            message = found.message if found.field in found.message else f"{found.field}: {found.message}"
            log.warning("GatewayClass %s: invalid parameters: %s", name, message)
            accepted = Verdict(False, "InvalidParameters", message)
        generation = int((gateway_class.get("metadata") or {}).get("generation") or 0)
        wanted = gateway_class_status(generation, accepted)
        current = gateway_class.get("status") or {}
        conditions = merge_conditions(
            current.get("conditions") or [],
            [
                Condition(str(c["type"]), str(c["status"]), str(c["reason"]), str(c["message"]))
                for c in wanted["conditions"]
            ],
            generation,
            now_rfc3339(),
        )
        await self.class_writer.write_status(gateway_class, {**wanted, "conditions": conditions})

    async def _finalize(self, key: str, gateway: Mapping[str, Any]) -> None:
        if self.owner.has_finalizer(gateway):
            labels = instance_labels_recorded(gateway) or self.instances.get(key) or {}
            await self.state.remove_instance(labels)
            await self.owner.release(gateway)
        self.instances.pop(key, None)

    async def _status(
        self, gateway: Mapping[str, Any], wanted: list[Condition], addresses: list[dict[str, str]] | None
    ) -> None:
        current = gateway.get("status") or {}
        if current.get("listeners"):
            return  # the Gateway's controller writes its status now
        generation = int((gateway.get("metadata") or {}).get("generation") or 0)
        existing = current.get("conditions") or []
        conditions = merge_conditions(existing, wanted, generation, now_rfc3339())
        status: dict[str, Any] = {"conditions": conditions}
        if addresses is not None:
            status["addresses"] = addresses or None
        if conditions == existing and (addresses is None or (current.get("addresses") or []) == addresses):
            return
        await self.owner.write_status(gateway, status)


def _parameters_key(gateway_class: Mapping[str, Any]) -> str:
    ref = (gateway_class.get("spec") or {}).get("parametersRef") or {}
    if ref.get("group") != CONTOUR_DEPLOYMENTS.group or ref.get("kind") != "ContourDeployment":
        return ""
    return f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("name") else ""


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
