"""Writing whole objects from manifest dicts: create unless present, create-or-replace, or apply.

`create_if_absent` POSTs and takes 409 AlreadyExists as "leave it": it needs only the `create` verb and
never reads the object. `create_or_replace` POSTs first (one request when the object is new), and on
AlreadyExists GETs the current resourceVersion and PUTs the manifest with it, like `kubectl replace`:

* the stored object ends up exactly as the manifest (plus what the server manages: uid,
  creationTimestamp, resourceVersion...). Keys, labels and annotations the manifest lacks are removed,
  as Contour's certgen `Update` removes them. `server_side_apply` merges instead, and keeps fields
  owned by other managers (a Secret first created by POST keeps a `ca.crt` a later apply leaves out);
* the resourceVersion precondition makes the write valid for every kind: custom resources refuse a PUT
  without one. A 409 Conflict (someone wrote in between) reads again and retries; a 404 (deleted in
  between) creates again; after `attempts` rounds it gives up with the last error.

`server_side_apply` is `kubectl apply --server-side`: one PATCH of the manifest as an apply
configuration. The server merges it into the object (creating it when absent) and records the fields as
owned by `field_manager`; a field this manager applied before and the manifest now lacks is removed,
fields other managers own are kept. With `force` the manifest's values win conflicts with other
managers, who lose ownership of those fields. The answer is 201 when the apply created the object.
https://kubernetes.io/docs/reference/using-api/server-side-apply/

Requests carry `fieldManager`, so managedFields name the writer. Errors are `contour.k8s.client`'s.
"""

from __future__ import annotations

import copy
import enum
import json
from typing import Any, Final

import httpx
import kr8s
import kr8s.asyncio

from contour.k8s.client import KubeAPIError, api_error, unreachable

DEFAULT_ATTEMPTS: Final = 5
APPLY_PATCH: Final = "application/apply-patch+yaml"


class WriteOutcome(enum.Enum):
    CREATED = "created"
    REPLACED = "replaced"
    APPLIED = "applied"  # present already, and the manifest was applied to it
    EXISTS = "exists"  # present already and left as it was


async def create_if_absent(
    api: kr8s.asyncio.Api, manifest: dict[str, Any], *, plural: str, field_manager: str
) -> WriteOutcome:
    """Create the object; if one of that name exists, leave it untouched."""
    try:
        await _send(api, "POST", manifest, plural, field_manager=field_manager, body=manifest)
    except KubeAPIError as error:
        if error.code == 409 and error.reason == "AlreadyExists":
            return WriteOutcome.EXISTS
        raise
    return WriteOutcome.CREATED


async def create_or_replace(
    api: kr8s.asyncio.Api,
    manifest: dict[str, Any],
    *,
    plural: str,
    field_manager: str,
    attempts: int = DEFAULT_ATTEMPTS,
) -> WriteOutcome:
    """Create the object, or replace the one of that name with it (PUT at its current resourceVersion)."""
    name = manifest["metadata"]["name"]
    last: KubeAPIError | None = None
    for _ in range(attempts):
        outcome = await create_if_absent(api, manifest, plural=plural, field_manager=field_manager)
        if outcome is WriteOutcome.CREATED:
            return outcome
        try:
            current = await _send(api, "GET", manifest, plural, name=name)
            body = copy.deepcopy(manifest)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await _send(api, "PUT", manifest, plural, name=name, field_manager=field_manager, body=body)
        except KubeAPIError as error:
            if error.code not in (404, 409):
                raise
            last = error
            continue
        return WriteOutcome.REPLACED
    assert last is not None
    raise KubeAPIError(
        last.code, last.reason, f"gave up replacing {plural}/{name} after {attempts} attempts: {last}"
    )


async def server_side_apply(
    api: kr8s.asyncio.Api,
    manifest: dict[str, Any],
    *,
    plural: str,
    field_manager: str,
    force: bool = True,
) -> WriteOutcome:
    """Apply the manifest server-side as `field_manager`: CREATED when it made the object, else APPLIED."""
    params = {"fieldManager": field_manager}
    if force:
        params["force"] = "true"
    status, _ = await _request(
        api,
        "PATCH",
        manifest,
        plural,
        name=manifest["metadata"]["name"],
        params=params,
        # JSON is YAML, so the manifest goes as it is, with no YAML dumper's quoting rules to trust.
        content=json.dumps(manifest).encode(),
        headers={"Content-Type": APPLY_PATCH},
    )
    return WriteOutcome.CREATED if status == 201 else WriteOutcome.APPLIED


async def _send(
    api: kr8s.asyncio.Api,
    method: str,
    manifest: dict[str, Any],
    plural: str,
    *,
    name: str = "",
    field_manager: str = "",
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if field_manager:
        kwargs["params"] = {"fieldManager": field_manager}
    if body is not None:
        kwargs["json"] = body
    _, answer = await _request(api, method, manifest, plural, name=name, **kwargs)
    return answer


async def _request(
    api: kr8s.asyncio.Api, method: str, manifest: dict[str, Any], plural: str, *, name: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """The answer's status code and body; errors as KubeAPIError or KubeUnreachableError."""
    try:
        async with api.call_api(
            method,
            version=manifest["apiVersion"],
            namespace=manifest["metadata"].get("namespace"),
            url=f"{plural}/{name}" if name else plural,
            **kwargs,
        ) as response:
            answer: dict[str, Any] = response.json()
            return response.status_code, answer
    except kr8s.ServerError as error:
        raise api_error(error) from None
    except (httpx.HTTPError, kr8s.APITimeoutError, OSError) as error:
        raise unreachable(error, str(api.auth.server)) from None
