"""The operator Deployment in config/operator runs commands that exist, with flags they accept, each in
its own container with the namespace its Lease lives in, as a non-root user with nothing to escalate."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
import yaml

from contour.cli.app import app
from tests.manifests import REPO_ROOT

DEPLOYMENT = yaml.safe_load((REPO_ROOT / "config" / "operator" / "deployment.yaml").read_text("utf-8"))
POD = DEPLOYMENT["spec"]["template"]["spec"]
CONTAINERS = {c["name"]: c for c in POD["containers"]}


def command(name: str) -> Any:
    """The click command behind `contour NAME` (typer builds one per command)."""
    commands: dict[str, Any] = getattr(typer.main.get_command(app), "commands", {})
    assert name in commands, f"`contour {name}` is not a command"
    return commands[name]


def test_one_container_per_reconciler() -> None:
    assert {name: c["args"][0] for name, c in CONTAINERS.items()} == {
        "operator": "operator",
        "gateway-provisioner": "gateway-provisioner",
    }


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_every_flag_is_accepted_by_the_command(container: str) -> None:
    subcommand, *args = CONTAINERS[container]["args"]
    accepted = {opt for param in command(subcommand).params for opt in param.opts + param.secondary_opts}
    flags = {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
    assert sorted(flags - accepted) == []


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_the_lease_namespace_is_the_pods(container: str) -> None:
    env: dict[str, Any] = {e["name"]: e for e in CONTAINERS[container]["env"]}
    assert env["CONTOUR_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_the_container_cannot_escalate(container: str) -> None:
    context = CONTAINERS[container]["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]


def test_the_pod_runs_as_the_images_non_root_user() -> None:
    assert POD["securityContext"]["runAsNonRoot"] is True
    assert POD["securityContext"]["runAsUser"] == 65532
    assert POD["serviceAccountName"] == "contour-operator"
