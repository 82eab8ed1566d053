"""The `contour` command as installed by the package."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from contour import __version__
from tests.manifests import REPO_ROOT

CONTOUR = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin" / "contour"


def test_version_prints_the_package_version() -> None:
    done = subprocess.run([str(CONTOUR), "version"], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.startswith(f"contour {__version__} (python 3.")


def test_unknown_command_fails_with_usage() -> None:
    done = subprocess.run(
        [str(CONTOUR), "frobnicate"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 2
    assert "No such command" in done.stderr
