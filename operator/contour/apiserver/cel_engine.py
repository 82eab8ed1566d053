"""The CEL engine (cel-rust's native module `cel.cel`), loaded without the `cel` package's REPL.

`import cel` runs the package's `__init__`, which imports its interactive command line and with it
typer, prompt_toolkit, pygments and rich: several MiB of resident memory in every process that runs
the embedded API server, for a REPL it never starts. The validation code only needs `compile`,
`Context` and `OptionalValue`, which live in the extension module; loading that file by itself gives
the same objects (and a later `import cel` reuses it from `sys.modules`).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

NATIVE = "cel.cel"
__all__ = ["NATIVE", "engine", "load_native"]


def load_native() -> ModuleType:
    """`cel.cel`, from `sys.modules` or loaded from the package directory without its `__init__`."""
    loaded = sys.modules.get(NATIVE)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("cel")
    if package is None or not package.submodule_search_locations:
        raise ImportError("the cel package (cel-expr-python) is not installed")
    for directory in package.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(directory) / f"cel{suffix}"
            if path.exists():
                spec = importlib.util.spec_from_file_location(NATIVE, path)
                if spec is None or spec.loader is None:
                    break
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[NATIVE] = module
                return module
    raise ImportError(f"no native module of the cel package in {package.submodule_search_locations}")


if TYPE_CHECKING:
    import cel.cel as engine
else:
    engine = load_native()
