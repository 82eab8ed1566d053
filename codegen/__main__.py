"""`python -m codegen [--check]`: regenerate every file derived from crds/, or check they are current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen import apidocs, builtin_schemas, bundle, models
from codegen.crdfiles import CRD_DIR, REPO_ROOT, CRDError, display_path, load_all
from codegen.structural import check_crd

DOCS_PATH = REPO_ROOT / "docs" / "api-reference.md"


class SchemaProblemsError(Exception):
    """Every structural problem found in crds/, reported together."""

    def __init__(self, problems: list[CRDError]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in crds/")


def expected_files(crd_dir: Path = CRD_DIR) -> dict[Path, str]:
    """Every generated file and its content; raises SchemaProblemsError listing every schema problem."""
    crds = load_all(crd_dir)
    problems = [problem for crd in crds for problem in check_crd(crd)]
    if problems:
        raise SchemaProblemsError(problems)
    files = models.render(crds)
    files[DOCS_PATH] = apidocs.render(crds)
    files.update(bundle.render(crds))
    files.update(builtin_schemas.render_files())
    return files


def owned_files() -> set[Path]:
    """Files on disk that only the generator writes (to find ones it no longer produces)."""
    owned = {p for d in models.generated_dirs() for p in d.glob("*.py")}
    owned |= set(bundle.BUNDLE_DIR.glob("*.yaml"))
    return owned


def out_of_date(files: dict[Path, str]) -> list[Path]:
    """The files whose content on disk is not what the generator produces (or that are missing)."""
    return [p for p, text in sorted(files.items()) if not p.exists() or p.read_text("utf-8") != text]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a generated file is stale")
    parser.add_argument(
        "--crds", type=Path, default=CRD_DIR, help="the folder of CRD schemas (default: crds/)"
    )
    args = parser.parse_args(argv)
    try:
        files = expected_files(args.crds)
    except SchemaProblemsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    except (CRDError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stale = sorted(owned_files() - set(files))
    if args.check:
        changed = out_of_date(files)
        for path in changed + stale:
            print(f"stale: {display_path(path)}", file=sys.stderr)
        if changed or stale:
            print(
                "generated files are out of date: run `make codegen` and commit the result", file=sys.stderr
            )
            return 1
        print(f"codegen check: {len(files)} generated files are current")
        return 0
    for path in stale:
        path.unlink()
    for path, text in sorted(files.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            print(f"wrote {display_path(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
