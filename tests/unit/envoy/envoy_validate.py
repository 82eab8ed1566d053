"""Running the real Envoy in `--mode validate` on a bootstrap document, for the translator tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from contour.envoyproc.binary import resolve_envoy_binary


def envoy_validate(document: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Envoy's verdict on `document` (written to `tmp_path`/envoy.json)."""
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(document, indent=1))
    return subprocess.run(
        [resolve_envoy_binary(), "--mode", "validate", "--disable-hot-restart", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_envoy_accepts(document: dict[str, Any], tmp_path: Path) -> None:
    validated = envoy_validate(document, tmp_path)
    assert validated.returncode == 0, validated.stdout[-4000:] + validated.stderr[-4000:]
