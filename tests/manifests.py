"""Finding and reading the YAML manifests the tests feed to the models, and running the tools on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CRD_DIR = REPO_ROOT / "crds"
SAMPLE_DIRS = (REPO_ROOT / "examples", REPO_ROOT / "config" / "samples")
INVALID_DIR = REPO_ROOT / "tests" / "data" / "invalid"


def documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty document of a multi-document YAML file."""
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]


def sample_files() -> list[Path]:
    return sorted(p for d in SAMPLE_DIRS if d.exists() for p in d.rglob("*.yaml"))


def crd_files() -> list[Path]:
    return sorted(CRD_DIR.glob("*.yaml"))


def rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m module args...` from the repository root, as `make` runs it; output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
