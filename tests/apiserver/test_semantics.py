"""The real API server's semantics, checked over HTTP: generation, conflicts, status, lists, selectors,
watches, deletion with finalizers, garbage collection and error shapes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.apiserver_process import APIServerProcess, wait_for

PROXIES = "/apis/projectcontour.io/v1/namespaces/{ns}/httpproxies"
CONFIGMAPS = "/api/v1/namespaces/{ns}/configmaps"


def proxy(name: str, fqdn: str = "a.example.com", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, **meta},
        "spec": {"virtualhost": {"fqdn": fqdn}, "routes": [{"services": [{"name": "s", "port": 80}]}]},
    }


def namespace(client: httpx.Client, name: str) -> None:
    response = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert response.status_code in (201, 409), response.text


@pytest.fixture(scope="module")
def client(server: APIServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_create_sets_identity_and_generation(client: httpx.Client) -> None:
    created = client.post(PROXIES.format(ns="default"), json=proxy("ident")).json()
    meta = created["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0


def test_generation_bumps_on_spec_change_only(client: httpx.Client) -> None:
    url = PROXIES.format(ns="default") + "/gen"
    created = client.post(PROXIES.format(ns="default"), json=proxy("gen")).json()
    labelled = client.patch(
        url,
        json={"metadata": {"labels": {"a": "b"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).json()
    assert labelled["metadata"]["generation"] == 1
    assert labelled["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    status = client.patch(
        url + "/status",
        json={"status": {"currentStatus": "valid"}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).json()
    assert status["metadata"]["generation"] == 1 and status["status"]["currentStatus"] == "valid"
    changed = client.patch(
        url,
        json={"spec": {"virtualhost": {"fqdn": "b.example.com"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).json()
    assert changed["metadata"]["generation"] == 2
    assert changed["status"]["currentStatus"] == "valid"


def test_main_resource_write_ignores_status_and_status_write_ignores_spec(client: httpx.Client) -> None:
    created = client.post(
        PROXIES.format(ns="default"), json={**proxy("split"), "status": {"currentStatus": "x"}}
    ).json()
    assert "status" not in created or created["status"].get("currentStatus") != "x"
    url = PROXIES.format(ns="default") + "/split"
    body = {
        **created,
        "spec": {**created["spec"], "virtualhost": {"fqdn": "ignored.example.com"}},
        "status": {"currentStatus": "valid"},
    }
    updated = client.put(url + "/status", json=body).json()
    assert updated["status"]["currentStatus"] == "valid"
    assert updated["spec"]["virtualhost"]["fqdn"] == "a.example.com"


def test_no_op_update_keeps_resource_version(client: httpx.Client) -> None:
    created = client.post(PROXIES.format(ns="default"), json=proxy("noop")).json()
    again = client.put(PROXIES.format(ns="default") + "/noop", json=created).json()
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_stale_resource_version_is_a_conflict(client: httpx.Client) -> None:
    created = client.post(PROXIES.format(ns="default"), json=proxy("stale")).json()
    url = PROXIES.format(ns="default") + "/stale"
    client.patch(
        url,
        json={"metadata": {"labels": {"x": "1"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    response = client.put(url, json=created)
    assert response.status_code == 409
    status = response.json()
    assert status["reason"] == "Conflict" and status["code"] == 409
    assert status["message"] == (
        'Operation cannot be fulfilled on httpproxies.projectcontour.io "stale": '
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    assert status["details"] == {"name": "stale", "group": "projectcontour.io", "kind": "httpproxies"}


def test_concurrent_writers_lose_nothing(client: httpx.Client, server: APIServerProcess) -> None:
    client.post(CONFIGMAPS.format(ns="default"), json={"metadata": {"name": "race"}, "data": {}})
    url = CONFIGMAPS.format(ns="default") + "/race"
    applied: list[str] = []
    conflicted: list[str] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        with server.client() as own:
            for attempt in range(5):
                current = own.get(url).json()
                key = f"w{index}-{attempt}"
                current.setdefault("data", {})[key] = "1"
                response = own.put(url, json=current)
                with lock:
                    if response.status_code == 200:
                        applied.append(key)
                    else:
                        assert response.status_code == 409, response.text
                        conflicted.append(key)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = client.get(url).json()["data"]
    assert sorted(final) == sorted(applied)
    assert not set(final) & set(conflicted)
    assert len(applied) + len(conflicted) == 100


def test_list_pages_with_limit_and_continue(client: httpx.Client) -> None:
    namespace(client, "paging")
    for index in range(7):
        client.post(CONFIGMAPS.format(ns="paging"), json={"metadata": {"name": f"cm{index}"}})
    names: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"limit": "3", **({"continue": token} if token else {})}
        page = client.get(CONFIGMAPS.format(ns="paging"), params=params).json()
        names += [item["metadata"]["name"] for item in page["items"]]
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert names == [f"cm{i}" for i in range(7)] and pages == 3


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a"]),
        ("tier==web", ["a"]),
        ("tier!=web", ["b", "c"]),
        ("tier in (web,db)", ["a", "b"]),
        ("tier notin (web)", ["b", "c"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c"]),
        ("tier,env=prod", ["a"]),
    ],
    ids=["equals", "double-equals", "not-equals", "in", "notin", "exists", "does-not-exist", "and"],
)
def test_label_selectors(client: httpx.Client, selector: str, expected: list[str]) -> None:
    namespace(client, "labels")
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}), ("c", {})):
        client.post(CONFIGMAPS.format(ns="labels"), json={"metadata": {"name": name, "labels": labels}})
    items = client.get(CONFIGMAPS.format(ns="labels"), params={"labelSelector": selector}).json()["items"]
    assert [i["metadata"]["name"] for i in items] == expected


def test_field_selectors(client: httpx.Client) -> None:
    namespace(client, "fields")
    for name in ("one", "two"):
        client.post(CONFIGMAPS.format(ns="fields"), json={"metadata": {"name": name}})
    items = client.get(
        "/api/v1/configmaps", params={"fieldSelector": "metadata.name=two,metadata.namespace=fields"}
    ).json()["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [("fields", "two")]
    bad = client.get("/api/v1/configmaps", params={"fieldSelector": "spec.nothing=1"})
    assert bad.status_code == 400 and "field label not supported" in bad.json()["message"]


def read_events(client: httpx.Client, url: str, params: dict[str, str], count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with client.stream("GET", url, params={"watch": "true", **params}) as response:
        for line in response.iter_lines():
            if line:
                events.append(json.loads(line))
            if len(events) >= count:
                break
    return events


def test_watch_from_resource_version_replays_changes(client: httpx.Client) -> None:
    namespace(client, "watching")
    first = client.post(
        CONFIGMAPS.format(ns="watching"), json={"metadata": {"name": "w"}, "data": {"v": "1"}}
    ).json()
    rv = first["metadata"]["resourceVersion"]
    client.patch(
        CONFIGMAPS.format(ns="watching") + "/w",
        json={"data": {"v": "2"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    client.delete(CONFIGMAPS.format(ns="watching") + "/w")
    events = read_events(
        client, CONFIGMAPS.format(ns="watching"), {"resourceVersion": rv, "timeoutSeconds": "5"}, 2
    )
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert events[0]["object"]["data"] == {"v": "2"}


def test_watch_sends_bookmarks_when_asked(client: httpx.Client) -> None:
    # the module's server sends a bookmark every 0.2 s
    current = client.get(CONFIGMAPS.format(ns="default")).json()["metadata"]["resourceVersion"]
    params = {"resourceVersion": current, "allowWatchBookmarks": "true", "timeoutSeconds": "5"}
    events = read_events(client, CONFIGMAPS.format(ns="default"), params, 1)
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(current)


def test_watch_without_bookmarks_sends_none(client: httpx.Client) -> None:
    current = client.get(CONFIGMAPS.format(ns="default")).json()["metadata"]["resourceVersion"]
    params = {"watch": "1", "resourceVersion": current, "timeoutSeconds": "1"}
    with client.stream("GET", CONFIGMAPS.format(ns="default"), params=params) as response:
        lines = [line for line in response.iter_lines() if line]
    assert not any(json.loads(line)["type"] == "BOOKMARK" for line in lines)


def test_watch_too_old_resource_version_is_410(fresh_server: APIServerProcess) -> None:
    fresh_server.start()
    with fresh_server.client() as c:
        for index in range(40):
            c.post(CONFIGMAPS.format(ns="default"), json={"metadata": {"name": f"h{index}"}})
        events = read_events(
            c, CONFIGMAPS.format(ns="default"), {"resourceVersion": "2", "timeoutSeconds": "5"}, 1
        )
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (
        status["code"] == 410
        and status["reason"] == "Expired"
        and "too old resource version" in status["message"]
    )


def test_watch_timeout_ends_the_stream(client: httpx.Client) -> None:
    with client.stream(
        "GET",
        CONFIGMAPS.format(ns="default"),
        params={"watch": "1", "timeoutSeconds": "1", "resourceVersion": "0"},
    ) as response:
        lines = list(response.iter_lines())
    assert all(json.loads(line)["type"] == "ADDED" for line in lines if line)


def test_finalizers_hold_deletion_until_removed(client: httpx.Client) -> None:
    url = CONFIGMAPS.format(ns="default") + "/held"
    client.post(
        CONFIGMAPS.format(ns="default"),
        json={"metadata": {"name": "held", "finalizers": ["example.com/hold"]}},
    )
    deleting = client.delete(url)
    assert deleting.status_code == 200
    body = client.get(url).json()
    assert body["metadata"]["deletionTimestamp"]
    client.patch(
        url, json={"metadata": {"finalizers": None}}, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert client.get(url).status_code == 404


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_owner_deletion_collects_dependents(client: httpx.Client, policy: str) -> None:
    ns = f"gc-{policy.lower()}"
    namespace(client, ns)
    owner = client.post(CONFIGMAPS.format(ns=ns), json={"metadata": {"name": "owner"}}).json()
    client.post(
        CONFIGMAPS.format(ns=ns), json={"metadata": {"name": "dep", "ownerReferences": [owner_ref(owner)]}}
    )
    client.request("DELETE", CONFIGMAPS.format(ns=ns) + "/owner", json={"propagationPolicy": policy})
    wait_for(
        lambda: client.get(CONFIGMAPS.format(ns=ns) + "/dep").status_code == 404,
        message="dependent collected",
    )
    wait_for(lambda: client.get(CONFIGMAPS.format(ns=ns) + "/owner").status_code == 404, message="owner gone")


def test_orphan_deletion_keeps_dependents(client: httpx.Client) -> None:
    namespace(client, "gc-orphan")
    owner = client.post(CONFIGMAPS.format(ns="gc-orphan"), json={"metadata": {"name": "owner"}}).json()
    client.post(
        CONFIGMAPS.format(ns="gc-orphan"),
        json={"metadata": {"name": "dep", "ownerReferences": [owner_ref(owner)]}},
    )
    client.request(
        "DELETE", CONFIGMAPS.format(ns="gc-orphan") + "/owner", json={"propagationPolicy": "Orphan"}
    )
    wait_for(
        lambda: client.get(CONFIGMAPS.format(ns="gc-orphan") + "/owner").status_code == 404,
        message="owner gone",
    )
    dep = client.get(CONFIGMAPS.format(ns="gc-orphan") + "/dep").json()
    assert "ownerReferences" not in dep["metadata"]


def test_namespace_deletion_cascades(client: httpx.Client) -> None:
    namespace(client, "doomed-ns")
    client.post(CONFIGMAPS.format(ns="doomed-ns"), json={"metadata": {"name": "inside"}})
    client.post(PROXIES.format(ns="doomed-ns"), json=proxy("inside"))
    client.delete("/api/v1/namespaces/doomed-ns")
    refused = client.post(CONFIGMAPS.format(ns="doomed-ns"), json={"metadata": {"name": "late"}})
    assert refused.status_code in (403, 404)
    wait_for(
        lambda: client.get("/api/v1/namespaces/doomed-ns").status_code == 404, message="namespace removed"
    )
    assert client.get(PROXIES.format(ns="doomed-ns") + "/inside").status_code == 404


def test_create_in_missing_namespace_is_404(client: httpx.Client) -> None:
    response = client.post(CONFIGMAPS.format(ns="nowhere"), json={"metadata": {"name": "x"}})
    assert response.status_code == 404
    assert response.json()["message"] == 'namespaces "nowhere" not found'


def test_invalid_custom_resource_status_shape(client: httpx.Client) -> None:
    bad = proxy("invalid")
    bad["spec"]["routes"][0]["services"][0]["port"] = 99999
    response = client.post(PROXIES.format(ns="default"), json=bad)
    assert response.status_code == 422
    status = response.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid" and status["code"] == 422
    assert status["details"]["name"] == "invalid" and status["details"]["kind"] == "HTTPProxy"
    assert status["details"]["group"] == "projectcontour.io"
    causes = status["details"]["causes"]
    assert [c["field"] for c in causes] == ["spec.routes[0].services[0].port"]
    assert status["message"].startswith(
        'HTTPProxy.projectcontour.io "invalid" is invalid: spec.routes[0].services[0].port'
    )


def test_cel_rule_violation_is_422(client: httpx.Client) -> None:
    bad = proxy("cel")
    # HTTPProxy's schema (crds/): the first subjectNames entry must equal subjectName, a CEL rule
    bad["spec"]["routes"][0]["services"][0]["validation"] = {
        "caSecret": "ca",
        "subjectName": "a.example.com",
        "subjectNames": ["b.example.com"],
    }
    response = client.post(PROXIES.format(ns="default"), json=bad)
    assert response.status_code == 422, response.text
    cause = response.json()["details"]["causes"][0]
    assert cause["field"] == "spec.routes[0].services[0].validation"
    assert "the first entry of subjectNames has to be the same as subjectName" in cause["message"]


def test_table_for_httpproxy(client: httpx.Client) -> None:
    client.post(PROXIES.format(ns="default"), json=proxy("tabled", "tabled.example.com"))
    table = client.get(
        PROXIES.format(ns="default") + "/tabled",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    ).json()
    assert table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:2] == ["Name", "FQDN"]
    assert table["rows"][0]["cells"][:2] == ["tabled", "tabled.example.com"]


def test_default_ingress_class_is_filled_in(client: httpx.Client) -> None:
    namespace(client, "ingress-class")
    client.post(
        "/apis/networking.k8s.io/v1/ingressclasses",
        json={
            "metadata": {
                "name": "the-default",
                "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
            },
            "spec": {"controller": "example.com/ingress"},
        },
    )
    url = "/apis/networking.k8s.io/v1/namespaces/ingress-class/ingresses"
    backend = {"service": {"name": "s", "port": {"number": 80}}}
    plain = client.post(url, json={"metadata": {"name": "plain"}, "spec": {"defaultBackend": backend}}).json()
    assert plain["spec"]["ingressClassName"] == "the-default"
    annotated = client.post(
        url,
        json={
            "metadata": {"name": "annotated", "annotations": {"kubernetes.io/ingress.class": "contour"}},
            "spec": {"defaultBackend": backend},
        },
    ).json()
    assert "ingressClassName" not in annotated["spec"]
    client.delete("/apis/networking.k8s.io/v1/ingressclasses/the-default")
