"""What the deploy tests share: where things are, the rendered manifests, schema validation, and
what the code declares (settings, HTTP prefixes, topics), discovered rather than listed."""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import inspect
import pkgutil
import re
import shutil
import typing
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from tests.deploy import kustomize

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "example"
TOPICS_DIR = K8S / "kafka-topics"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# Kubernetes versions the manifests are validated against (kubernetes-validate ships the schemas):
# the pinned one, and the oldest deploy/README.md promises.
K8S_VERSION = "1.31.0"
OLDEST_K8S_VERSION = "1.25.0"
SERVICES = ("ingress", "router", "sender", "segmentation")
# The operator console: files only (no database, no bus, no credential), deployed beside them.
CONSOLE = "console"
WORKLOADS = (*SERVICES, CONSOLE)
# Served only with PARLEY_SIMULATOR=true, which production turns off; never routed publicly.
NOT_PUBLIC = {"/simulator"}
# Every service serves these itself; they stay inside the cluster.
HEALTH = frozenset({"/healthz", "/readyz", "/metrics"})

Doc = dict[str, Any]


# --- rendered manifests -------------------------------------------------------------------------

@functools.cache
def _rendered(path: Path) -> tuple[Doc, ...]:
    return tuple(kustomize.build(path))


def rendered(path: Path = OVERLAY) -> list[Doc]:
    """The kustomization at `path` rendered (a fresh copy each call, so tests may mutate it)."""
    return copy.deepcopy(list(_rendered(path)))


def overlay_with_components(tmp_path: Path) -> Path:
    """A copy of deploy/k8s whose example overlay turns on every component."""
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    kust = tree / "overlays" / "example" / "kustomization.yaml"
    data = yaml.safe_load(kust.read_text())
    data["components"] = [f"../../components/{c.name}" for c in sorted((K8S / "components").iterdir())]
    kust.write_text(yaml.safe_dump(data))
    return tree / "overlays" / "example"


def only(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = only(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def config_env(docs: list[Doc]) -> dict[str, str]:
    """The environment the pods get: ConfigMap parley-config plus Secret parley-secrets."""
    return {**one(docs, "ConfigMap", "parley-config")["data"],
            **one(docs, "Secret", "parley-secrets")["stringData"]}


# --- schema validation --------------------------------------------------------------------------

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _strict(schema: Any) -> Any:
    """An OpenAPI v3 CRD schema as JSON Schema that refuses undeclared fields (kubectl's strict
    field validation), except where the CRD preserves unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Validator]:
    validators = {}
    for path in sorted(SCHEMAS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        schema = _strict(crd["openAPIV3Schema"])
        schema["required"] = sorted({"apiVersion", "kind", "metadata", "spec"}
                                    | set(schema.get("required", [])))
        validators[(f"{crd['group']}/{crd['version']}", crd["kind"])] = jsonschema.Draft7Validator(schema)
    return validators


def _check_metadata(doc: Doc) -> None:
    meta = doc["metadata"]
    if not DNS_SUBDOMAIN.match(meta["name"]) or len(meta["name"]) > 253:
        raise jsonschema.ValidationError(f"metadata.name {meta['name']!r} is not a DNS subdomain")
    for label, value in meta.get("labels", {}).items():
        if not LABEL_VALUE.match(str(value)) or len(str(value)) > 63:
            raise jsonschema.ValidationError(f"label {label}={value!r} is not a valid label value")


def validate(doc: Doc, version: str = K8S_VERSION) -> None:
    """Raise if `doc` is not a valid object: built-in kinds against the Kubernetes schemas of
    `version` (strict: unknown fields fail), custom resources against tests/deploy/schemas."""
    crd = crd_validators().get((doc.get("apiVersion"), doc.get("kind")))
    if crd is not None:
        crd.validate(doc)
        _check_metadata(doc)
        return
    kubernetes_validate.validate(doc, version, strict=True)


# --- what the code declares ---------------------------------------------------------------------

def _import_all(package: str) -> None:
    """Import every module of a package except tests, migrations and `__main__` (which runs)."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        parts = info.name.split(".")
        if {"tests", "migrations", "__main__", "conftest"} & set(parts) or parts[-1].startswith("test_"):
            continue
        importlib.import_module(info.name)


def all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *all_subclasses(sub)]
    return out


@functools.cache
def settings_classes() -> tuple[type[BaseSettings], ...]:
    """Every pydantic-settings class in libs/ and services/: the shared one and any service's own."""
    _import_all("libs.common")
    _import_all("services")
    return tuple(cls for cls in all_subclasses(BaseSettings)
                 if cls.__module__.startswith(("libs.", "services.")))


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(a) for a in typing.get_args(annotation))


def env_vars(classes: tuple[type[BaseSettings], ...] | None = None) -> dict[str, bool]:
    """{environment variable: is it a credential} for every setting any service reads.
    Credentials: SecretStr settings, and the database URL (it carries the password)."""
    found = {}
    for cls in settings_classes() if classes is None else classes:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
            var = (alias or prefix + name).upper()
            found[var] = _is_secret(field.annotation) or var == "PARLEY_DATABASE_URL"
    return found


def _prefix(path: str) -> str:
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:2] if parts[0] == "v1" else parts[:1])


@functools.cache
def served_paths(name: str) -> frozenset[str]:
    """Every path service `name` serves when hosted alone: its app's OpenAPI paths (health and
    metrics included) plus any route of its routers kept out of the schema."""
    from libs.common.config import Settings
    from libs.common.service import build_app

    svc = importlib.import_module(f"services.{name}.app").service()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate operation ids are the API's business, not ours
        paths = set(build_app([svc], Settings()).openapi()["paths"])
    paths |= {route.path for router in svc.routers for route in router.routes if hasattr(route, "path")}
    return frozenset(paths)


@functools.cache
def served_prefixes() -> dict[str, frozenset[str]]:
    """{service: the first path segment (two under /v1) of every path it serves, bar health}."""
    return {name: frozenset(_prefix(path) for path in served_paths(name)) - HEALTH
            for name in WORKLOADS}


@functools.cache
def consumer_services() -> frozenset[str]:
    return frozenset(name for name in WORKLOADS
                     if importlib.import_module(f"services.{name}.app").service().subscriptions)


def readme_env_table() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- env-table:start -->")[1].split("<!-- env-table:end -->")[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([A-Z0-9_]+)` \|([^|]*)\|", block, re.M)}


# --- docker compose -----------------------------------------------------------------------------

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, $$ -> $."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg") or ""
        have = env.get(name)
        if op == ":-":
            return have if have else arg
        if op == "-":
            return arg if have is None else have
        if op in (":?", "?") and not have:
            raise KeyError(f"{name}: {arg}")
        return have or ""

    return _VAR.sub(sub, value)


def compose_variables() -> set[str]:
    return {m.group("name") for m in _VAR.finditer(COMPOSE.read_text()) if m.group("name")}


def compose(env: dict[str, str] | None = None) -> Doc:
    """docker-compose.yml as Compose sees it, interpolated with `env` (unset: every default)."""
    return interpolate(yaml.safe_load(COMPOSE.read_text()), env or {})


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


# --- shutdown timing ---------------------------------------------------------------------------

def serve_http_grace_s() -> int:
    """`http_grace_s` in libs/common/service.py serve(): how long uvicorn waits for requests."""
    from libs.common import service

    tree = ast.parse(inspect.getsource(service.serve))
    values = [node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
              and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["http_grace_s"]]
    assert len(values) == 1
    return values[0]


# What the consumers get, after the preStop pause and the HTTP drain, to finish events in flight.
MIN_DRAIN_S = 20
