"""The product's own CRDs, which the embedded API server installs on its first start.

They are the files of the repository's crds/ folder: an installed wheel carries them as
`contour/_crds/` (hatch force-include), an editable install reads them from the source tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_PACKAGE = Path(__file__).resolve().parents[1]
# libyaml's loader when PyYAML was built with it: ten times faster on 1.5 MB of CRDs.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def crd_dir() -> Path:
    for candidate in (_PACKAGE / "_crds", _PACKAGE.parents[1] / "crds"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the product's CRDs are neither in the package (_crds/) nor in the source tree")


def bundled_crds() -> list[dict[str, Any]]:
    crds = []
    for path in sorted(crd_dir().glob("*.yaml")):
        for document in yaml.load_all(path.read_text("utf-8"), Loader=_LOADER):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                crds.append(document)
    return crds
