"""`contour operator` and `contour gateway-provisioner`: the reconcilers of Contour CRs and of Gateways.

Both connect like `contour serve` (`--kubeconfig` / `--incluster`), elect a leader on a Lease with
the same `--leader-election-*` flags (or `--disable-leader-election`) and reconcile only while leading.
`--contour-image` / `--envoy-image` choose the images the installations run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Annotated

import typer

from contour.cli.serve import LogFormat, _duration

NAMESPACE_ENV = "CONTOUR_NAMESPACE"
log = logging.getLogger(__name__)

KubeconfigOpt = Annotated[
    str | None,
    typer.Option(envvar="KUBECONFIG", help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."),
]
InclusterOpt = Annotated[bool, typer.Option(help="Use the pod's service account.")]
ContourImageOpt = Annotated[str, typer.Option(help="Image of the contour containers.")]
EnvoyImageOpt = Annotated[str, typer.Option(help="Image of the Envoy containers.")]
DisableElectionOpt = Annotated[bool, typer.Option(help="Reconcile without holding the Lease.")]
LeaseDurationOpt = Annotated[
    float, typer.Option(parser=_duration, metavar="DURATION", help="Lease duration.")
]
RenewDeadlineOpt = Annotated[
    float, typer.Option(parser=_duration, metavar="DURATION", help="Renew deadline of the leader.")
]
RetryPeriodOpt = Annotated[
    float, typer.Option(parser=_duration, metavar="DURATION", help="Time between two attempts.")
]
LeaseNamespaceOpt = Annotated[str, typer.Option(envvar=NAMESPACE_ENV, help="The Lease's namespace.")]
ResyncOpt = Annotated[
    float, typer.Option(parser=_duration, metavar="DURATION", help="Reconcile everything this often.")
]
LogFormatOpt = Annotated[LogFormat, typer.Option(help="Log format.")]
DebugOpt = Annotated[bool, typer.Option(help="Debug logging.")]


def register(app: typer.Typer) -> None:
    app.command("operator")(operator)
    app.command("gateway-provisioner")(gateway_provisioner)


def operator(  # noqa: PLR0917 (one parameter per command-line option)
    kubeconfig: KubeconfigOpt = None,
    incluster: InclusterOpt = False,
    contour_image: ContourImageOpt = "",
    envoy_image: EnvoyImageOpt = "",
    disable_leader_election: DisableElectionOpt = False,
    leader_election_lease_duration: LeaseDurationOpt = "15s",  # type: ignore[assignment]  # parsed by _duration
    leader_election_renew_deadline: RenewDeadlineOpt = "10s",  # type: ignore[assignment]
    leader_election_retry_period: RetryPeriodOpt = "2s",  # type: ignore[assignment]
    leader_election_resource_name: Annotated[
        str, typer.Option(help="The Lease's name.")
    ] = "contour-operator",
    leader_election_resource_namespace: LeaseNamespaceOpt = "projectcontour",
    resync_period: ResyncOpt = "10m",  # type: ignore[assignment]
    log_format: LogFormatOpt = LogFormat.text,
    debug: DebugOpt = False,
) -> None:
    """Reconcile Contour custom resources (operator.projectcontour.io/v1alpha1) into installations."""
    from contour.provisioner.model import DEFAULT_CONTOUR_IMAGE, DEFAULT_ENVOY_IMAGE  # noqa: PLC0415
    from contour.provisioner.reconcile_contour import ContourReconciler  # noqa: PLC0415
    from contour.provisioner.reconcile_plans import contour_planner  # noqa: PLC0415

    planner = contour_planner(
        contour_image=contour_image or DEFAULT_CONTOUR_IMAGE, envoy_image=envoy_image or DEFAULT_ENVOY_IMAGE
    )
    election = _election(
        disable_leader_election,
        leader_election_resource_name,
        leader_election_resource_namespace,
        (leader_election_lease_duration, leader_election_renew_deadline, leader_election_retry_period),
    )
    _configure(log_format, debug)
    raise typer.Exit(
        asyncio.run(
            _serve(
                kubeconfig, incluster, election, lambda api: ContourReconciler(api, planner), resync_period
            )
        )
    )


def gateway_provisioner(  # noqa: PLR0917 (one parameter per command-line option)
    kubeconfig: KubeconfigOpt = None,
    incluster: InclusterOpt = False,
    gateway_controller_name: Annotated[
        str, typer.Option(help="The controllerName of the GatewayClasses to serve.")
    ] = "projectcontour.io/gateway-controller",
    contour_image: ContourImageOpt = "",
    envoy_image: EnvoyImageOpt = "",
    disable_leader_election: DisableElectionOpt = False,
    leader_election_lease_duration: LeaseDurationOpt = "15s",  # type: ignore[assignment]  # parsed by _duration
    leader_election_renew_deadline: RenewDeadlineOpt = "10s",  # type: ignore[assignment]
    leader_election_retry_period: RetryPeriodOpt = "2s",  # type: ignore[assignment]
    leader_election_resource_name: Annotated[
        str, typer.Option(help="The Lease's name.")
    ] = "contour-gateway-provisioner",
    leader_election_resource_namespace: LeaseNamespaceOpt = "projectcontour",
    resync_period: ResyncOpt = "10m",  # type: ignore[assignment]
    log_format: LogFormatOpt = LogFormat.text,
    debug: DebugOpt = False,
) -> None:
    """Provision a Contour and its Envoys for every Gateway of a GatewayClass with our controllerName."""
    from contour.provisioner.model import DEFAULT_CONTOUR_IMAGE, DEFAULT_ENVOY_IMAGE  # noqa: PLC0415
    from contour.provisioner.reconcile_gateway import GatewayReconciler  # noqa: PLC0415
    from contour.provisioner.reconcile_plans import gateway_planner  # noqa: PLC0415

    planner = gateway_planner(
        controller_name=gateway_controller_name,
        contour_image=contour_image or DEFAULT_CONTOUR_IMAGE,
        envoy_image=envoy_image or DEFAULT_ENVOY_IMAGE,
    )
    election = _election(
        disable_leader_election,
        leader_election_resource_name,
        leader_election_resource_namespace,
        (leader_election_lease_duration, leader_election_renew_deadline, leader_election_retry_period),
    )
    _configure(log_format, debug)
    raise typer.Exit(
        asyncio.run(
            _serve(
                kubeconfig,
                incluster,
                election,
                lambda api: GatewayReconciler(api, planner, controller_name=gateway_controller_name),
                resync_period,
            )
        )
    )


def _election(disabled: bool, name: str, namespace: str, timing: tuple[float, float, float]) -> object:
    from contour.k8s.leaderelection import LeaderElectionConfig  # noqa: PLC0415

    if disabled:
        return None
    lease, renew, retry = timing
    try:
        return LeaderElectionConfig(
            name=name, namespace=namespace, lease_duration=lease, renew_deadline=renew, retry_period=retry
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--leader-election-*") from None


def _configure(log_format: LogFormat, debug: bool) -> None:
    from contour.logsetup import configure_logging  # noqa: PLC0415

    configure_logging(log_format.value, debug)


async def _serve(
    kubeconfig: str | None, incluster: bool, election: object, make: object, resync: float
) -> int:
    from contour.k8s.client import KubeClientError, connected  # noqa: PLC0415
    from contour.k8s.leaderelection import LeaderElectionConfig  # noqa: PLC0415
    from contour.provisioner.reconcile_runtime import run_leading  # noqa: PLC0415

    assert election is None or isinstance(election, LeaderElectionConfig)
    assert callable(make)
    try:
        async with connected(kubeconfig=kubeconfig, incluster=incluster) as api:
            reconciler = make(api)
            task = asyncio.create_task(
                run_leading(api, election, lambda: reconciler.make_runtime(resync=resync))
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, task.cancel)
            with contextlib.suppress(asyncio.CancelledError):
                await task
    except KubeClientError as error:
        log.error("%s", error)
        return 1
    return 0
