"""The RTDS layer `dynamic` that the bootstrap's layered runtime waits for (`bootstrap.py`).

Contour (`internal/envoy/v3/runtime.go`) raises RE2's program-size limits here so that long
generated regexes are not rejected, and adds the configured runtime settings on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from envoy.service.runtime.v3 import rtds_pb2
from google.protobuf import struct_pb2

from contour.envoy.bootstrap import DYNAMIC_RUNTIME_LAYER_NAME

RE2_LIMITS: Final[Mapping[str, int]] = {
    "re2.max_program_size.error_level": 1 << 20,
    "re2.max_program_size.warn_level": 1000,
}


def runtime_layer(settings: Mapping[str, float | str | bool] | None = None) -> Any:
    """The `dynamic` Runtime resource: Contour's RE2 limits plus `settings` (which win)."""
    merged: dict[str, float | str | bool] = {**RE2_LIMITS, **(settings or {})}
    layer = struct_pb2.Struct()
    layer.update(dict(sorted(merged.items())))
    return rtds_pb2.Runtime(name=DYNAMIC_RUNTIME_LAYER_NAME, layer=layer)
