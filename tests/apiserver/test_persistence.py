"""Durability: every acknowledged write survives `kill -9`, with its resourceVersion, and watches resume."""

from __future__ import annotations

import json

from tests.support.apiserver_process import APIServerProcess

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def test_acknowledged_writes_survive_kill_9(fresh_server: APIServerProcess) -> None:
    fresh_server.start()
    acknowledged: dict[str, str] = {}
    with fresh_server.client() as client:
        for index in range(30):
            response = client.post(
                CONFIGMAPS, json={"metadata": {"name": f"p{index}"}, "data": {"i": str(index)}}
            )
            assert response.status_code == 201
            acknowledged[f"p{index}"] = response.json()["metadata"]["resourceVersion"]
        deleted = client.delete(CONFIGMAPS + "/p0")
        assert deleted.status_code == 200
        del acknowledged["p0"]
    port = fresh_server.port
    fresh_server.kill()
    fresh_server.port = port
    fresh_server.start()
    with fresh_server.client() as client:
        items = client.get(CONFIGMAPS).json()["items"]
    assert {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items} == acknowledged


def test_watch_resumes_across_restart(fresh_server: APIServerProcess) -> None:
    fresh_server.start()
    with fresh_server.client() as client:
        created = client.post(CONFIGMAPS, json={"metadata": {"name": "resume"}, "data": {"v": "1"}}).json()
        client.patch(
            CONFIGMAPS + "/resume",
            json={"data": {"v": "2"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
    port = fresh_server.port
    fresh_server.kill()
    fresh_server.port = port
    fresh_server.start()
    with fresh_server.client() as client:
        client.patch(
            CONFIGMAPS + "/resume",
            json={"data": {"v": "3"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        params = {
            "watch": "1",
            "resourceVersion": created["metadata"]["resourceVersion"],
            "timeoutSeconds": "3",
        }
        seen = []
        with client.stream("GET", CONFIGMAPS, params=params) as response:
            for line in response.iter_lines():
                if line:
                    event = json.loads(line)
                    seen.append((event["type"], event["object"]["data"]["v"]))
                if len(seen) == 2:
                    break
    assert seen == [("MODIFIED", "2"), ("MODIFIED", "3")]


def test_resource_versions_keep_increasing_after_restart(fresh_server: APIServerProcess) -> None:
    fresh_server.start()
    with fresh_server.client() as client:
        before = int(
            client.post(CONFIGMAPS, json={"metadata": {"name": "rv1"}}).json()["metadata"]["resourceVersion"]
        )
    port = fresh_server.port
    fresh_server.kill()
    fresh_server.port = port
    fresh_server.start()
    with fresh_server.client() as client:
        after = int(
            client.post(CONFIGMAPS, json={"metadata": {"name": "rv2"}}).json()["metadata"]["resourceVersion"]
        )
    assert after > before
