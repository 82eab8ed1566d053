"""Reading raw Kubernetes object dicts without trusting their shape.

The cache and the Ingress processor read core kinds as the JSON the API returned. The API server
validates most of it, but a field of the wrong type must never become an exception in the controller:
each accessor answers an empty value of the expected type instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def json_object(value: object) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def json_list(value: object) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def json_string(value: object) -> str:
    """`value` when it is a string, else ""."""
    return value if isinstance(value, str) else ""


def generation_of(obj: Mapping[str, Any]) -> int:
    """`metadata.generation`, 0 when absent or not an integer."""
    generation = json_object(obj.get("metadata")).get("generation")
    return generation if isinstance(generation, int) and not isinstance(generation, bool) else 0
