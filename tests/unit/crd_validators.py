"""The repo's CRDs, loaded once, as the validators and compiled schemas the API server builds."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import yaml

from contour.apiserver.admission import ObjectValidator
from contour.apiserver.resources import ResourceType, types_from_crd
from contour.apiserver.structural import Node, compile_schema
from tests.manifests import crd_files


@cache
def crd_types() -> dict[str, ResourceType]:
    """Every served type of every CRD in crds/, by `apiVersion/Kind`."""
    out = {}
    for path in crd_files():
        for doc in yaml.safe_load_all(path.read_text("utf-8")):
            if doc:
                for rtype in types_from_crd(doc):
                    out[f"{rtype.api_version}/{rtype.kind}"] = rtype
    return out


@cache
def validator(api_version: str, kind: str) -> ObjectValidator:
    rtype = crd_types()[f"{api_version}/{kind}"]
    schema = rtype.schema()
    assert schema is not None
    return ObjectValidator.for_schema(
        schema, is_custom=True, namespaced=rtype.namespaced, label=rtype.crd_name or ""
    )


def node(api_version: str, kind: str) -> Node:
    schema = crd_types()[f"{api_version}/{kind}"].schema()
    assert schema is not None
    return compile_schema(schema)


def prepare(
    doc: dict[str, Any], old: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict[str, str]], list[str]]:
    """Run the admission pipeline; causes come back as their wire dicts."""
    stored, causes, unknown = validator(doc["apiVersion"], doc["kind"]).prepare(copy.deepcopy(doc), old)
    return stored, [c.as_dict() for c in causes], unknown


GW = "gateway.networking.k8s.io/v1"
PC = "projectcontour.io/v1"


def httpproxy(spec: dict[str, Any], name: str = "p") -> dict[str, Any]:
    return {
        "apiVersion": PC,
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def httproute(spec: dict[str, Any], name: str = "r") -> dict[str, Any]:
    return {
        "apiVersion": GW,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def gateway(spec: dict[str, Any], name: str = "g") -> dict[str, Any]:
    return {
        "apiVersion": GW,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


LISTENER = {"name": "http", "port": 80, "protocol": "HTTP"}
