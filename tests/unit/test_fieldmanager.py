"""Server-side apply and managedFields on real schemas (apps/v1 Deployment, the HTTPProxy CRD): what an
apply merges, prunes and owns, when it conflicts and how the 409 reads, how updates move ownership, the
status subresource, kubectl's client-side to server-side upgrade, and resetting managedFields."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from contour.apiserver.errors import APIError
from contour.apiserver.fieldmanager import LAST_APPLIED, ApplyConflictError, record_update, server_side_apply
from contour.apiserver.fieldpath import FieldSet, path_string
from contour.apiserver.schemas import Schema, builtin_schema, crd_schema

CRDS = Path(__file__).resolve().parents[2] / "crds"
T0, T1, T2, T3 = (f"2024-05-0{d}T10:00:00Z" for d in (1, 2, 3, 4))
Obj = dict[str, Any]


def deployment_schema() -> Schema:
    schema = builtin_schema("apps", "v1", "Deployment")
    assert schema is not None
    return schema


@cache
def httpproxy_schema() -> Schema:
    crd = yaml.safe_load((CRDS / "projectcontour.io_httpproxies.yaml").read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return crd_schema(v1["schema"]["openAPIV3Schema"])


def container(name: str, image: str = "nginx:1", **extra: Any) -> Obj:
    return {"name": name, "image": image, **extra}


def deployment(
    *containers: Obj, replicas: int | None = 1, labels: dict[str, str] | None = None, **meta: Any
) -> Obj:
    spec: Obj = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": list(containers) or [container("app")]},
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    metadata: Obj = {"name": "web", "namespace": "default", **meta}
    if labels is not None:
        metadata["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def apply(
    live: Obj | None, config: Obj, manager: str = "a", *, force: bool = False, now: str = T1, **kw: Any
) -> Obj:
    kw.setdefault("schema", deployment_schema())
    kw.setdefault("api_version", config["apiVersion"])
    obj = server_side_apply(live, config, manager=manager, force=force, now=now, **kw)
    obj["metadata"].setdefault("uid", "uid-1")  # what the store adds on create
    return obj


def update(old: Obj | None, new: Obj, manager: str, *, now: str = T2, **kw: Any) -> Obj:
    """The object the store would keep after a non-apply write of `new`."""
    kw.setdefault("schema", deployment_schema())
    kw.setdefault("api_version", new["apiVersion"])
    out = copy.deepcopy(new)
    entries = record_update(old, new, manager=manager, now=now, **kw)
    out["metadata"]["managedFields"] = entries
    out["metadata"].setdefault("uid", "uid-1")
    return out


def entry(obj: Obj, manager: str, operation: str | None = None) -> Obj:
    found: Obj
    (found,) = [
        e
        for e in obj["metadata"].get("managedFields", [])
        if e.get("manager") == manager and operation in (None, e["operation"])
    ]
    return found


def owned(obj: Obj, manager: str, operation: str | None = None) -> list[str]:
    return [
        path_string(p) for p in FieldSet.from_fields_v1(entry(obj, manager, operation)["fieldsV1"]).paths()
    ]


def managers(obj: Obj) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def without_managed_fields(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["metadata"].pop("managedFields", None)
    return out


def conflict(call: Any) -> ApplyConflictError:
    with pytest.raises(ApplyConflictError) as raised:
        call()
    return raised.value


IMAGE = '.spec.template.spec.containers[name="app"].image'


# --- apply creates, re-applies and drops ----------------------------------------------------------------


def test_apply_create_gives_the_config_and_one_apply_entry() -> None:
    obj = server_side_apply(
        None,
        deployment(),
        manager="a",
        force=False,
        schema=deployment_schema(),
        api_version="apps/v1",
        now=T1,
    )
    assert without_managed_fields(obj) == deployment()
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "a",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": json.loads(
                r'{"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":'
                r'{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},'
                r'"f:name":{}}}}}}}'
            ),
        }
    ]


def test_reapplying_the_same_config_changes_nothing_not_even_the_time() -> None:
    first = apply(None, deployment(), now=T1)
    assert apply(first, deployment(), now=T2) == first


def test_apply_never_mutates_its_inputs() -> None:
    live, config = apply(None, deployment()), deployment(container("app", "nginx:2"), replicas=3)
    before = copy.deepcopy((live, config))
    apply(live, config, "b", force=True)
    assert (live, config) == before


def containers_of(obj: Obj) -> list[str]:
    return [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]]


DROPS = [
    pytest.param(deployment(replicas=None), lambda obj: "replicas" not in obj["spec"], id="a field"),
    pytest.param(deployment(labels=None), lambda obj: "labels" not in obj["metadata"], id="a map"),
    pytest.param(deployment(labels={}), lambda obj: obj["metadata"]["labels"] == {}, id="a map's keys"),
    pytest.param(
        deployment(container("app")), lambda obj: containers_of(obj) == ["app"], id="a list-map item"
    ),
]


@pytest.mark.parametrize(("config", "check"), DROPS)
def test_apply_that_drops_a_field_removes_it(config: Obj, check: Any) -> None:
    live = apply(None, deployment(container("app"), container("sidecar"), labels={"team": "x"}))
    assert check(apply(live, config))


def test_dropped_field_stays_when_another_manager_owns_it() -> None:
    live = apply(apply(None, deployment(replicas=2), "a"), deployment(replicas=2), "b")
    obj = apply(live, deployment(replicas=None), "a")
    assert obj["spec"]["replicas"] == 2
    assert ".spec.replicas" not in owned(obj, "a")
    assert ".spec.replicas" in owned(obj, "b")


def test_dropped_field_an_updater_owns_stays() -> None:
    live = apply(None, deployment(replicas=2), "a")
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    live = update(live, scaled, "kubectl-scale")
    obj = apply(live, deployment(replicas=None), "a")
    assert obj["spec"]["replicas"] == 5


# --- two managers -------------------------------------------------------------------------------------


def test_two_managers_applying_the_same_value_share_it() -> None:
    obj = apply(apply(None, deployment(replicas=2), "a"), deployment(replicas=2), "b", now=T2)
    assert ".spec.replicas" in owned(obj, "a")
    assert ".spec.replicas" in owned(obj, "b")
    assert "time" not in entry(obj, "b")  # Kubernetes stamps an apply only when the object changed


def test_conflict_on_a_different_value() -> None:
    live = apply(None, deployment(replicas=2), "a")
    err = conflict(lambda: apply(live, deployment(replicas=3), "b"))
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.status()["message"] == 'Apply failed with 1 conflict: conflict with "a": .spec.replicas'
    assert err.status()["details"] == {
        "causes": [
            {"reason": "FieldManagerConflict", "message": 'conflict with "a"', "field": ".spec.replicas"}
        ]
    }


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = apply(None, deployment(replicas=2), "a")
    changed = copy.deepcopy(live)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:9"
    live = update(live, changed, "kubectl-edit")
    err = conflict(lambda: apply(live, deployment(container("app", "nginx:2"), replicas=3), "b"))
    assert err.message == (
        "Apply failed with 2 conflicts: "
        'conflicts with "a":\n- .spec.replicas\n'
        f'conflicts with "kubectl-edit" using apps/v1:\n- {IMAGE}'
    )
    assert [c["field"] for c in err.details["causes"]] == [".spec.replicas", IMAGE]


def test_force_takes_ownership() -> None:
    live = apply(None, deployment(replicas=2), "a")
    obj = apply(live, deployment(replicas=3), "b", force=True, now=T2)
    assert obj["spec"]["replicas"] == 3
    assert ".spec.replicas" in owned(obj, "b")
    assert ".spec.replicas" not in owned(obj, "a")
    assert entry(obj, "b")["time"] == T2


def test_update_after_apply_moves_ownership() -> None:
    live = apply(None, deployment(replicas=2), "a")
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 4
    obj = update(live, edited, "kubectl-edit", now=T2)
    assert ".spec.replicas" not in owned(obj, "a")
    assert owned(obj, "kubectl-edit") == [".spec.replicas"]
    assert entry(obj, "kubectl-edit") == {
        "manager": "kubectl-edit",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": T2,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }
    err = conflict(lambda: apply(obj, deployment(replicas=2), "a"))
    assert (
        err.message
        == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )


def test_update_that_changes_nothing_keeps_managed_fields() -> None:
    live = apply(None, deployment())
    assert update(live, copy.deepcopy(live), "kubectl-edit") == live


# --- lists ----------------------------------------------------------------------------------------------


def test_list_map_items_merge_by_key() -> None:
    live = apply(None, deployment(container("app"), container("log", "fluent:1")), "a")
    obj = apply(live, deployment(container("sidecar", "envoy:1")), "b")
    names = [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]]
    assert names == ["app", "log", "sidecar"]
    assert '.spec.template.spec.containers[name="sidecar"]' in owned(obj, "b")


def test_list_map_item_fields_merge_and_conflict_per_field() -> None:
    live = apply(None, deployment(container("app", "nginx:1")), "a")
    obj = apply(live, deployment(container("app", "nginx:1", command=["run"])), "b")
    (app,) = obj["spec"]["template"]["spec"]["containers"]
    assert app == {"name": "app", "image": "nginx:1", "command": ["run"]}
    err = conflict(lambda: apply(obj, deployment(container("app", "nginx:2")), "b"))
    assert [c["field"] for c in err.details["causes"]] == [IMAGE]


def test_applied_order_wins_for_shared_items() -> None:
    live = apply(None, deployment(container("a"), container("b"), container("c")), "m1")
    obj = apply(live, deployment(container("c"), container("a")), "m2")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["b", "c", "a"]


def finalizers(*values: str) -> Obj:
    config = deployment()
    config["metadata"]["finalizers"] = list(values)
    return config


def test_set_lists_union_and_prune_per_value() -> None:
    live = apply(apply(None, finalizers("x", "y"), "a"), finalizers("y", "z"), "b")
    assert live["metadata"]["finalizers"] == ["x", "y", "z"]
    obj = apply(live, finalizers(), "a")
    assert obj["metadata"]["finalizers"] == ["y", "z"]


def test_emptied_list_loses_its_items_and_stays_as_applied() -> None:
    obj = apply(apply(None, finalizers("x"), "a"), finalizers(), "a")
    assert obj["metadata"]["finalizers"] == []
    assert [p for p in owned(obj, "a") if "finalizers" in p] == []  # an empty set list owns nothing


def with_args(*args: str) -> Obj:
    return deployment(container("app", args=list(args)))


def test_atomic_lists_are_replaced_and_owned_whole() -> None:
    live = apply(None, with_args("--a", "--b"), "a")
    assert apply(live, with_args("--c"), "a")["spec"]["template"]["spec"]["containers"][0]["args"] == ["--c"]
    err = conflict(lambda: apply(live, with_args("--a"), "b"))
    assert [c["field"] for c in err.details["causes"]] == ['.spec.template.spec.containers[name="app"].args']


def test_atomic_map_is_replaced_whole() -> None:
    config = deployment()
    config["spec"]["selector"] = {"matchLabels": {"tier": "front"}}
    obj = apply(apply(None, deployment()), config)
    assert obj["spec"]["selector"] == {"matchLabels": {"tier": "front"}}


# --- the status subresource ---------------------------------------------------------------------------


def proxy(fqdn: str = "a.example.com", status: str | None = None) -> Obj:
    obj: Obj = {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"virtualhost": {"fqdn": fqdn}, "routes": [{"services": [{"name": "s", "port": 80}]}]},
    }
    if status is not None:
        obj["status"] = {"currentStatus": status}
    return obj


def proxy_apply(live: Obj | None, config: Obj, manager: str, **kw: Any) -> Obj:
    return apply(live, config, manager, schema=httpproxy_schema(), has_status_subresource=True, **kw)


def test_main_resource_apply_ignores_status() -> None:
    obj = proxy_apply(None, proxy(status="valid"), "a")
    assert "status" not in obj
    assert [p for p in owned(obj, "a") if p.startswith(".status")] == []


def test_status_apply_owns_only_status() -> None:
    live = proxy_apply(None, proxy(), "a")
    obj = proxy_apply(live, proxy("b.example.com", status="valid"), "contour", subresource="status")
    assert obj["status"] == {"currentStatus": "valid"}
    assert obj["spec"] == live["spec"]
    assert owned(obj, "contour") == [".status.currentStatus"]
    assert entry(obj, "contour")["subresource"] == "status"


def test_status_and_spec_managers_do_not_conflict() -> None:
    live = proxy_apply(
        proxy_apply(None, proxy(), "a"), proxy(status="valid"), "contour", subresource="status"
    )
    obj = proxy_apply(live, proxy("b.example.com", status="invalid"), "a")
    assert (obj["spec"]["virtualhost"]["fqdn"], obj["status"]["currentStatus"]) == ("b.example.com", "valid")


def test_status_conflicts_name_the_subresource() -> None:
    live = proxy_apply(
        proxy_apply(None, proxy(), "a"), proxy(status="valid"), "contour", subresource="status"
    )
    err = conflict(lambda: proxy_apply(live, proxy(status="invalid"), "other", subresource="status"))
    assert err.message == (
        'Apply failed with 1 conflict: conflict with "contour" with subresource "status": '
        ".status.currentStatus"
    )


def test_status_update_is_owned_through_the_subresource_only() -> None:
    live = proxy_apply(None, proxy(), "a")
    new = copy.deepcopy(live)
    new["status"] = {"currentStatus": "valid"}
    kw: dict[str, Any] = {"schema": httpproxy_schema(), "has_status_subresource": True}
    assert "contour" not in [m for m, _ in managers(update(live, new, "contour", **kw))]
    obj = update(live, new, "contour", subresource="status", **kw)
    assert owned(obj, "contour") == [".status", ".status.currentStatus"]


# --- kubectl: client-side apply, then --server-side -----------------------------------------------------


def client_side_applied(config: Obj) -> Obj:
    """What `kubectl apply` (client-side) creates: the config plus its last-applied annotation."""
    created = copy.deepcopy(config)
    annotation = json.dumps(config, sort_keys=True, separators=(",", ":")) + "\n"
    created["metadata"]["annotations"] = {LAST_APPLIED: annotation}
    return update(None, created, "kubectl-client-side-apply", now=T0)


def test_kubectl_server_side_takes_over_what_client_side_apply_set() -> None:
    live = client_side_applied(deployment(replicas=1))
    obj = apply(live, deployment(replicas=2), "kubectl")
    assert obj["spec"]["replicas"] == 2
    assert ".spec.replicas" in owned(obj, "kubectl", "Apply")
    assert ".spec.replicas" not in owned(obj, "kubectl-client-side-apply")
    assert json.loads(obj["metadata"]["annotations"][LAST_APPLIED]) == deployment(replicas=2)


def test_other_managers_still_conflict_with_client_side_apply() -> None:
    live = client_side_applied(deployment(replicas=1))
    err = conflict(lambda: apply(live, deployment(replicas=2), "helm"))
    assert err.details["causes"][0]["message"] == 'conflict with "kubectl-client-side-apply" using apps/v1'


def test_kubectl_conflicts_on_fields_changed_since_the_client_side_apply() -> None:
    live = client_side_applied(deployment(replicas=1))
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 3
    live = update(live, scaled, "kubectl-client-side-apply")
    err = conflict(lambda: apply(live, deployment(replicas=2), "kubectl"))
    assert [c["field"] for c in err.details["causes"]] == [".spec.replicas"]
    assert apply(live, deployment(replicas=2), "kubectl", force=True)["spec"]["replicas"] == 2


# --- managedFields written by clients -----------------------------------------------------------------


def test_apply_refuses_a_config_carrying_managed_fields() -> None:
    config = deployment()
    config["metadata"]["managedFields"] = []
    with pytest.raises(APIError) as raised:
        apply(None, config)
    assert (raised.value.code, raised.value.message) == (400, "metadata.managedFields must be nil")


@pytest.mark.parametrize(
    "sent", [pytest.param([], id="empty list"), pytest.param([{}], id="one empty entry")]
)
def test_update_can_reset_managed_fields(sent: list[Obj]) -> None:
    live = apply(None, deployment())
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = sent
    new["spec"]["replicas"] = 7
    assert update(live, new, "kubectl-edit")["metadata"]["managedFields"] == []


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(None, id="null"),
        pytest.param("garbage", id="not a list"),
        pytest.param(
            [{"manager": "x", "operation": "Bogus", "apiVersion": "v", "fieldsType": "FieldsV1"}], id="bad"
        ),
    ],
)
def test_update_keeps_live_managed_fields_when_the_client_sends_none_or_garbage(sent: Any) -> None:
    live = apply(None, deployment())
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = sent
    assert update(live, new, "kubectl-edit")["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_takes_a_client_sent_valid_list() -> None:
    live = apply(None, deployment())
    new = copy.deepcopy(live)
    mine = {"manager": "mine", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1"}
    new["metadata"]["managedFields"] = [{**mine, "fieldsV1": {"f:spec": {"f:paused": {}}}}]
    assert managers(update(live, new, "kubectl-edit")) == [("mine", "Update")]


def test_untracked_objects_start_tracking_at_the_first_apply() -> None:
    live = without_managed_fields(apply(None, deployment(replicas=2)))
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 3
    assert update(live, edited, "kubectl-edit")["metadata"]["managedFields"] == []
    err = conflict(lambda: apply(live, deployment(replicas=4), "a"))
    assert err.details["causes"][0]["message"] == 'conflict with "before-first-apply" using apps/v1'


# --- entries ------------------------------------------------------------------------------------------


def test_create_by_update_owns_new_objects_with_self_markers() -> None:
    new = proxy()
    new["metadata"]["labels"] = {"app": "web"}
    obj = update(None, new, "kubectl-create", schema=httpproxy_schema())
    assert entry(obj, "kubectl-create")["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {".": {}, "f:routes": {}, "f:virtualhost": {".": {}, "f:fqdn": {}}},
    }


def test_entries_sort_apply_first_then_by_time() -> None:
    obj = apply(None, deployment(), "z-applier", now=T3)
    for manager, now in (("m-late", T2), ("b-early", T1)):
        new = copy.deepcopy(obj)
        new["metadata"].setdefault("labels", {})[manager] = "x"
        obj = update(obj, new, manager, now=now)
    assert managers(obj) == [("z-applier", "Apply"), ("b-early", "Update"), ("m-late", "Update")]


def test_more_than_ten_updaters_fold_into_ancient_changes() -> None:
    obj = apply(None, deployment())
    for i in range(11):
        new = copy.deepcopy(obj)
        new["metadata"].setdefault("labels", {})[f"l{i}"] = "x"
        obj = update(obj, new, f"updater-{i:02}", now=f"2024-05-01T10:00:{i:02}Z")
    updaters = [m for m, op in managers(obj) if op == "Update"]
    assert len(updaters) == 10
    assert "ancient-changes" in updaters and "updater-00" not in updaters and "updater-01" not in updaters
    assert owned(obj, "ancient-changes") == [".metadata.labels", ".metadata.labels.l0", ".metadata.labels.l1"]


# --- refusals -----------------------------------------------------------------------------------------

REFUSED = [
    pytest.param(
        {**deployment(), "apiVersion": "apps/v1beta1"},
        {},
        400,
        "Incorrect version specified in apply patch. "
        "Specified patch version: apps/v1beta1, expected: apps/v1",
        id="other version",
    ),
    pytest.param(
        {**deployment(), "kind": "StatefulSet"},
        {"kind": "Deployment"},
        400,
        "invalid object type: apps/v1, Kind=StatefulSet",
        id="other kind",
    ),
    pytest.param(
        deployment({"image": "x"}),
        {},
        500,
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key "
        'field "name" (and doesn\'t have default value)',
        id="item without its key",
    ),
]


@pytest.mark.parametrize(("config", "kw", "code", "message"), REFUSED)
def test_apply_refusals(config: Obj, kw: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(APIError) as raised:
        server_side_apply(
            None,
            config,
            manager="a",
            force=False,
            schema=deployment_schema(),
            api_version="apps/v1",
            now=T1,
            **kw,
        )
    assert (raised.value.code, raised.value.message) == (code, message)


# --- properties ---------------------------------------------------------------------------------------


def generated(containers: list[Obj], replicas: int | None, labels: dict[str, str], fins: list[str]) -> Obj:
    config = deployment(*containers, replicas=replicas, labels=labels)
    if fins:
        config["metadata"]["finalizers"] = fins
    return config


def generated_container(name: str, image: str, args: list[str], ports: list[int]) -> Obj:
    out = container(name, image, args=args)
    if ports:
        out["ports"] = [{"containerPort": p} for p in sorted(set(ports))]
    return out


names = st.sampled_from(["app", "log", "proxy", "init"])
configs = st.builds(
    generated,
    st.lists(
        st.builds(
            generated_container,
            names,
            st.sampled_from(["nginx:1", "nginx:2"]),
            st.lists(st.sampled_from(["-v", "-q", "--x"]), max_size=3),
            st.lists(st.integers(1, 3), max_size=3),
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda c: c["name"],
    ),
    st.one_of(st.none(), st.integers(0, 3)),
    st.dictionaries(st.sampled_from(["app", "tier", "team"]), st.sampled_from(["a", "b"]), max_size=3),
    st.lists(st.sampled_from(["f/a", "f/b", "f/c"]), unique=True, max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(configs, configs, st.sampled_from(["a", "b"]))
def test_applying_the_same_config_twice_is_idempotent(first: Obj, second: Obj, manager: str) -> None:
    live = apply(None, first, "a", now=T1)
    once = apply(live, second, manager, force=True, now=T2)
    assert apply(once, second, manager, force=True, now=T3) == once
