"""Reading the ContourConfiguration named by `--contour-config-name`, and writing its status, once.

Contour reads its ContourConfiguration at start-up; an object that is missing or invalid stops the
start with a clear error. Its status gets one `Valid` condition (True, or False with the error), as
Contour's API documents; conditions of other types are left alone. The status is written once, at
start: a later edit of the object needs a restart, as with Contour.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import kr8s
import kr8s.asyncio

from contour.controller.contourconfig import (
    ConfigurationStatusUpdate,
    ContourSettings,
    configuration_status,
    settings_from_spec,
)
from contour.controller.contourconfig_values import ConfigError
from contour.dag.model import ObjectRef
from contour.k8s.statuswriter import StatusWriter

log = logging.getLogger(__name__)


async def read_contour_configuration(api: kr8s.asyncio.Api, ref: ObjectRef) -> ContourSettings:
    """The settings of ContourConfiguration `ref`; ConfigError (after writing the False status) when
    it is invalid, or when it cannot be read."""
    try:
        async with api.call_api(
            "GET",
            raise_for_status=False,
            version="projectcontour.io/v1alpha1",
            base="/apis",
            namespace=ref.namespace,
            url=f"contourconfigurations/{ref.name}",
        ) as response:
            if response.status_code == 404:
                raise ConfigError(f"ContourConfiguration {ref} not found")
            response.raise_for_status()
            body: Any = response.json()
    except (httpx.HTTPError, kr8s.ServerError, OSError) as exc:
        raise ConfigError(f"cannot read ContourConfiguration {ref}: {exc}") from None
    if not isinstance(body, dict):
        raise ConfigError(f"cannot read ContourConfiguration {ref}: not a JSON object")
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    error: ConfigError | None = None
    settings = None
    try:
        settings = settings_from_spec(spec or {})
    except ConfigError as exc:
        error = exc
    status = configuration_status(body.get("status"), generation, None if error is None else str(error))
    outcome = await StatusWriter(api).write(ConfigurationStatusUpdate(ref, generation, status))
    log.info("ContourConfiguration %s status: %s", ref, outcome)
    if error is not None:
        raise ConfigError(f"ContourConfiguration {ref}: {error}")
    assert settings is not None
    return settings
