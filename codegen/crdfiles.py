"""Loading the hand-authored CRDs from crds/ into plain dictionaries, with their file names kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CRD_DIR = REPO_ROOT / "crds"


class CRDError(Exception):
    """A problem in one CRD file, located by a JSON pointer into the file's document."""

    def __init__(self, path: Path, pointer: str, message: str) -> None:
        self.path = path
        self.pointer = pointer
        self.message = message
        super().__init__(f"{display_path(path)}: {pointer or '/'}: {message}")


def display_path(path: Path) -> str:
    """The path relative to the repository when it lies inside it, so messages name repo files."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class CRDFile:
    """One CRD document and where it came from."""

    path: Path
    doc: dict[str, Any]

    @property
    def group(self) -> str:
        return str(self.doc["spec"]["group"])

    @property
    def kind(self) -> str:
        return str(self.doc["spec"]["names"]["kind"])

    @property
    def plural(self) -> str:
        return str(self.doc["spec"]["names"]["plural"])

    def versions(self) -> list[dict[str, Any]]:
        return list(self.doc["spec"]["versions"])

    def served_versions(self) -> list[dict[str, Any]]:
        return [v for v in self.versions() if v.get("served")]


def load_crd(path: Path) -> CRDFile:
    """Parse one file; anything but a single CRD mapping is a CRDError naming the file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CRDError(path, "", f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise CRDError(path, "", "the file must hold one CustomResourceDefinition mapping")
    return CRDFile(path=path, doc=doc)


def load_all(crd_dir: Path = CRD_DIR) -> list[CRDFile]:
    """Every CRD under crd_dir, sorted by file name so that generation is deterministic."""
    return [load_crd(p) for p in sorted(crd_dir.glob("*.yaml"))]
