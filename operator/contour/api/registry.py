"""Every kind the generated modules define, looked up by apiVersion and kind.

Code that receives an arbitrary manifest (the file loader, the API server, tests) uses `parse` to
turn it into the right model, and `resource_for` to find its plural and scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contour.api.gateway import v1 as gateway_v1
from contour.api.gateway import v1beta1 as gateway_v1beta1
from contour.api.meta import APIModel, Resource
from contour.api.operator import v1alpha1 as operator_v1alpha1
from contour.api.projectcontour import v1 as projectcontour_v1
from contour.api.projectcontour import v1alpha1 as projectcontour_v1alpha1

RESOURCES: tuple[Resource, ...] = (
    *projectcontour_v1.RESOURCES,
    *projectcontour_v1alpha1.RESOURCES,
    *gateway_v1.RESOURCES,
    *gateway_v1beta1.RESOURCES,
    *operator_v1alpha1.RESOURCES,
)
_BY_TYPE: dict[tuple[str, str], Resource] = {(r.api_version, r.kind): r for r in RESOURCES}


class UnknownKindError(LookupError):
    """The manifest's apiVersion/kind is not one this product defines."""


def resource_for(api_version: str, kind: str) -> Resource:
    try:
        return _BY_TYPE[(api_version, kind)]
    except KeyError:
        raise UnknownKindError(f"no model for apiVersion {api_version!r} kind {kind!r}") from None


def parse(manifest: Mapping[str, Any]) -> APIModel:
    """Validate one manifest into its model; raises pydantic.ValidationError naming the bad field."""
    api_version = manifest.get("apiVersion")
    kind = manifest.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise UnknownKindError("a manifest needs string apiVersion and kind fields")
    return resource_for(api_version, kind).model.model_validate(manifest)
