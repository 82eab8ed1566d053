"""Connecting to a Kubernetes API server from a kubeconfig or from inside a pod, failing with a reason.

The two sources are Contour's `--kubeconfig` and `--incluster`, and each is used alone:

* a kubeconfig: the path given, else `$KUBECONFIG` (a `:`-separated list, as kubectl reads it), else
  `~/.kube/config`; a missing file is an error, never a silent switch to the pod's service account;
* in-cluster: the pod's service account (`token`, `ca.crt` under
  /var/run/secrets/kubernetes.io/serviceaccount) and `KUBERNETES_SERVICE_HOST`/`_PORT`, as client-go's
  `rest.InClusterConfig`; a kubeconfig, even present, is ignored. kr8s re-reads the token on a 401,
  so a rotated projected token keeps working.

kr8s asks the server for /version when it builds an api, so `connect` fails fast on a server that
cannot be reached. kr8s sets no timeout on its requests; every request here has one.

Errors a caller can show as they are: `KubeConfigError` (no usable configuration),
`KubeUnreachableError` (no answer), `KubeAPIError` (the server's own Status: code, reason, message).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import httpx
import kr8s
import kr8s.asyncio
import yaml

SERVICEACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG: Final = "~/.kube/config"
DEFAULT_TIMEOUT: Final = 30.0
WATCH_READ_TIMEOUT = 300.0  # seconds a read may wait: watches are quiet between bookmarks

# kr8s reads a kubeconfig before the service account and ignores a kubeconfig that does not exist;
# naming a path that cannot exist (a child of a character device) makes it use the service account only.
_NO_KUBECONFIG: Final = "/dev/null/no-kubeconfig-in-cluster"


class KubeClientError(Exception):
    """Talking to the Kubernetes API failed; the message says why, for a person to read."""


class KubeConfigError(KubeClientError):
    """No usable configuration: a kubeconfig that is missing or broken, or not running in a pod."""


class KubeUnreachableError(KubeClientError):
    """The API server did not answer: refused, reset, timed out, TLS failed."""


class KubeAPIError(KubeClientError):
    """The API server answered with an error Status."""

    def __init__(self, code: int, reason: str, message: str, kind: str = "", name: str = "") -> None:
        self.code = code
        self.reason = reason  # the Status reason: NotFound, AlreadyExists, Conflict, Forbidden, ...
        self.kind = kind  # the Status details' kind: e.g. "namespaces" when the namespace is missing
        self.name = name
        super().__init__(message)


def api_error(error: kr8s.ServerError) -> KubeAPIError:
    """The server's Status carried by a kr8s error, or what can be said of an answer that had none."""
    response = error.response
    code = response.status_code if response is not None else 0
    status: Any = error.status
    if isinstance(status, dict):
        details = status.get("details") or {}
        return KubeAPIError(
            int(status.get("code") or code),
            str(status.get("reason") or ""),
            str(status.get("message") or error),
            str(details.get("kind") or ""),
            str(details.get("name") or ""),
        )
    return KubeAPIError(code, "", f"the API server answered {code or 'an error'}: {error}")


def unreachable(error: BaseException, server: str = "") -> KubeUnreachableError:
    where = server or _request_url(error)
    detail = str(error) or type(error).__name__
    return KubeUnreachableError(f"cannot reach the Kubernetes API server at {where or '(unknown)'}: {detail}")


def kubeconfig_paths(path: str | None = None) -> list[Path]:
    """The kubeconfig files to read: `path`, else $KUBECONFIG's entries, else ~/.kube/config."""
    chosen = path or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    return [Path(p).expanduser() for p in chosen.split(os.pathsep) if p]


async def connect(
    *,
    kubeconfig: str | None = None,
    incluster: bool = False,
    serviceaccount_dir: Path = SERVICEACCOUNT_DIR,
    timeout: float = DEFAULT_TIMEOUT,
) -> kr8s.asyncio.Api:
    """A kr8s asyncio api on the configured server, which has answered /version. Close it with `close`."""
    if incluster:
        _check_in_cluster(serviceaccount_dir)
        config, serviceaccount = _NO_KUBECONFIG, str(serviceaccount_dir)
        source = f"the service account in {serviceaccount_dir}"
    else:
        paths = kubeconfig_paths(kubeconfig)
        existing = [p for p in paths if p.is_file()]
        if not existing:
            names = ", ".join(str(p) for p in paths) or "(none)"
            raise KubeConfigError(f"no kubeconfig found at {names}")
        # An empty service account path stops kr8s from falling back to the pod's account.
        config, serviceaccount = os.pathsep.join(str(p) for p in existing), ""
        source = f"kubeconfig {config}"
    try:
        async with asyncio.timeout(timeout):
            api = await kr8s.asyncio.api(kubeconfig=config, serviceaccount=serviceaccount)
    except TimeoutError:
        raise KubeUnreachableError(
            f"the Kubernetes API server from {source} did not answer within {timeout:g}s"
        ) from None
    except kr8s.ServerError as error:
        refused = api_error(error)
        raise KubeAPIError(
            refused.code, refused.reason, f"the API server from {source} refused /version: {refused}"
        ) from None
    except (httpx.HTTPError, kr8s.APITimeoutError, ConnectionError) as error:
        raise unreachable(error) from None
    except (ValueError, LookupError, TypeError, yaml.YAMLError, OSError) as error:
        raise KubeConfigError(f"cannot use {source}: {_describe(error)}") from None
    # Reads get longer: a watch may be quiet for as long as the server's bookmark interval (30 s on the
    # embedded server, about a minute on a real one); informers time out idle streams themselves.
    api.timeout = httpx.Timeout(timeout, read=max(timeout, WATCH_READ_TIMEOUT))
    return api


async def read_object(
    api: kr8s.asyncio.Api, *, group: str, version: str, plural: str, namespace: str, name: str
) -> dict[str, Any] | None:
    """One object, or None when it does not exist; `KubeAPIError` for any other refusal."""
    try:
        async with api.call_api(
            "GET",
            version=f"{group}/{version}" if group else version,
            base="/apis" if group else "/api",
            namespace=namespace or None,
            url=f"{plural}/{name}",
            raise_for_status=False,
        ) as response:
            if response.status_code == 404:
                return None
            if response.is_error:
                raise KubeAPIError(response.status_code, "", f"GET {plural}/{name}: {response.text}")
            body = response.json()
    except (httpx.HTTPError, kr8s.APITimeoutError) as error:
        raise unreachable(error) from None
    if not isinstance(body, dict):
        raise KubeAPIError(0, "", f"GET {plural}/{name}: not a JSON object")
    return body


async def close(api: kr8s.asyncio.Api) -> None:
    """Close the api's connections (kr8s has no public close)."""
    session = getattr(api, "_session", None)
    if session is not None:
        await session.aclose()


@contextlib.asynccontextmanager
async def connected(
    *,
    kubeconfig: str | None = None,
    incluster: bool = False,
    serviceaccount_dir: Path = SERVICEACCOUNT_DIR,
    timeout: float = DEFAULT_TIMEOUT,
) -> AsyncIterator[kr8s.asyncio.Api]:
    """`connect`, then `close` at the end of the block."""
    api = await connect(
        kubeconfig=kubeconfig, incluster=incluster, serviceaccount_dir=serviceaccount_dir, timeout=timeout
    )
    try:
        yield api
    finally:
        await close(api)


def _check_in_cluster(serviceaccount_dir: Path) -> None:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeConfigError(
            "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"
        )
    for name in ("token", "ca.crt"):
        if not (serviceaccount_dir / name).is_file():
            raise KubeConfigError(f"no service account {name} at {serviceaccount_dir / name}")


def _request_url(error: BaseException) -> str:
    if isinstance(error, httpx.RequestError):
        with contextlib.suppress(RuntimeError):
            return str(error.request.url.copy_with(path="/", query=None)).rstrip("/")
    return ""


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return f"missing {error}"
    return str(error) or type(error).__name__
