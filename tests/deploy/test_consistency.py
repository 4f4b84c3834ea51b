"""The manifests agree with the code: settings, ports, probe paths, /v1 prefixes, topics and
partitions, autoscaling limits and shutdown timing. What the code declares is discovered
(support.py), so a new setting, route or topic fails here until deploy/ knows about it."""

from __future__ import annotations

import importlib.util

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.bus.base import DLQ_SUFFIX
from libs.common.config import Settings
from libs.common.events import TOPICS
from tests.deploy import kustomize
from tests.deploy.support import (
    CONSOLE,
    MIN_DRAIN_S,
    NOT_PUBLIC,
    TOPICS_DIR,
    WORKLOADS,
    all_subclasses,
    config_env,
    consumer_services,
    env_vars,
    one,
    only,
    readme_env_table,
    rendered,
    serve_http_grace_s,
    served_paths,
    served_prefixes,
    settings_classes,
)

# Prefixes the design assigns (an Ingress may route them before their routes land, to this owner).
PLANNED = {
    "/l": "ingress",
    "/v1/campaigns": "router", "/v1/flows": "router", "/v1/conversations": "router",
    "/v1/segments": "segmentation", "/v1/broadcasts": "segmentation", "/v1/metrics": "segmentation",
    "/v1/experiments": "segmentation", "/v1/conversions": "segmentation",
}


def containers(doc: dict) -> list[dict]:
    spec = kustomize.pod_spec(doc)
    return spec["containers"] + spec.get("initContainers", [])


def main_container(doc: dict) -> dict:
    return kustomize.pod_spec(doc)["containers"][0]


# --- settings ------------------------------------------------------------------------------------

def test_every_setting_is_in_the_config_map_or_the_secret_and_credentials_only_in_the_secret():
    docs = rendered()
    config = set(one(docs, "ConfigMap", "parley-config")["data"])
    secret = set(one(docs, "Secret", "parley-secrets")["stringData"])
    wanted = env_vars()
    assert secret == {var for var, is_secret in wanted.items() if is_secret}
    assert config == {var for var, is_secret in wanted.items() if not is_secret}


def test_a_services_own_settings_class_would_be_found_and_its_secrets_told_apart():
    class SenderSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="PARLEY_SENDER_")
        twilio_auth_token: SecretStr | None = None
        rate_per_second: int = 10
        region: str = Field("us1", validation_alias="PARLEY_CARRIER_REGION")

    SenderSettings.__module__ = "services.sender.config"
    assert SenderSettings in all_subclasses(BaseSettings)
    assert env_vars((SenderSettings,)) == {"PARLEY_SENDER_TWILIO_AUTH_TOKEN": True,
                                           "PARLEY_SENDER_RATE_PER_SECOND": False,
                                           "PARLEY_CARRIER_REGION": False}
    assert Settings in settings_classes()


def test_every_setting_is_documented_in_the_readme_table():
    assert set(env_vars()) <= set(readme_env_table())


def test_the_pods_environment_is_valid_production_settings(monkeypatch):
    for var in env_vars():
        monkeypatch.delenv(var, raising=False)
    for var, value in config_env(rendered()).items():
        monkeypatch.setenv(var, value)
    settings = Settings()
    assert (settings.bus, settings.simulator, settings.demo, settings.migrate_on_start) == (
        "kafka", False, False, False)
    assert (settings.host, settings.log_format) == ("0.0.0.0", "json")
    assert settings.database_url.startswith("postgresql+asyncpg://")


def env_refs(container: dict) -> set[tuple[str, str]]:
    return {(next(iter(ref)), ref[next(iter(ref))]["name"]) for ref in container["envFrom"]}


def test_every_workload_reads_the_config_map_and_the_secret():
    for doc in only(rendered(), "Deployment") + only(rendered(), "Job"):
        if doc["metadata"]["name"] == f"parley-{CONSOLE}":
            continue
        for container in containers(doc):
            assert env_refs(container) == {("configMapRef", "parley-config"),
                                           ("secretRef", "parley-secrets")}, doc["metadata"]["name"]


def test_the_console_reads_the_settings_but_no_secret_and_waits_for_no_migration():
    """It opens no database and holds no credential: the browser brings the tenant's key."""
    deployment = one(rendered(), "Deployment", f"parley-{CONSOLE}")
    assert "initContainers" not in kustomize.pod_spec(deployment)
    for container in containers(deployment):
        assert env_refs(container) == {("configMapRef", "parley-config")}


# --- commands, ports, probes -------------------------------------------------------------------

@pytest.mark.parametrize("name", WORKLOADS)
def test_each_deployment_runs_its_service_module(name):
    container = main_container(one(rendered(), "Deployment", f"parley-{name}"))
    assert container["command"] == ["python", "-m", f"services.{name}"]
    assert importlib.util.find_spec(f"services.{name}.__main__") is not None


def test_the_migration_job_runs_parley_migrate():
    container = main_container(one(rendered(), "Job", "parley-migrate"))
    assert container["command"] == ["python", "-m", "services", "migrate"]
    from services.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["migrate", "--help"])
    assert exit_.value.code == 0


@pytest.mark.parametrize("name", WORKLOADS)
def test_ports_and_probes_match_what_the_service_serves(name):
    docs = rendered()
    port = int(config_env(docs)["PARLEY_PORT"])
    container = main_container(one(docs, "Deployment", f"parley-{name}"))
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named == {"http": port}
    paths = served_paths(name)
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe",
                                                              "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    for probe in probes.values():
        assert probe["path"] in paths
        assert named.get(probe["port"], probe["port"]) == port
    service = one(docs, "Service", f"parley-{name}")
    assert [(p["port"], named[p["targetPort"]]) for p in service["spec"]["ports"]] == [(port, port)]
    annotations = one(docs, "Deployment", f"parley-{name}")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/path"] in paths


@pytest.mark.parametrize("name", WORKLOADS)
def test_services_budgets_and_autoscalers_select_their_deployments_pods(name):
    docs = rendered()
    deployment = one(docs, "Deployment", f"parley-{name}")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert one(docs, "Service", f"parley-{name}")["spec"]["selector"] == selector
    assert one(docs, "PodDisruptionBudget", f"parley-{name}")["spec"]["selector"]["matchLabels"] == selector
    target = one(docs, "HorizontalPodAutoscaler", f"parley-{name}")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", f"parley-{name}")
    others = [d for d in only(docs, "Deployment") if d is not deployment
              and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
    assert others == []


# --- the Ingress ---------------------------------------------------------------------------------

def ingress_routes() -> dict[str, str]:
    rules = one(rendered(), "Ingress", "parley")["spec"]["rules"]
    routes = {}
    for rule in rules:
        for path in rule["http"]["paths"]:
            assert path["pathType"] == "Prefix"
            assert path["backend"]["service"]["port"] == {"name": "http"}
            assert path["path"] not in routes, f"{path['path']} routed twice"
            routes[path["path"]] = path["backend"]["service"]["name"].removeprefix("parley-")
    return routes


def test_every_prefix_a_service_serves_is_routed_to_it():
    routes = ingress_routes()
    missing = {prefix: name for name, prefixes in served_prefixes().items()
               for prefix in prefixes - NOT_PUBLIC if routes.get(prefix) != name}
    assert missing == {}, "add these paths to deploy/k8s/base/routes.yaml"


def test_each_prefix_has_one_owner():
    owners: dict[str, list[str]] = {}
    for name, prefixes in served_prefixes().items():
        for prefix in prefixes:
            owners.setdefault(prefix, []).append(name)
    assert {p: o for p, o in owners.items() if len(o) > 1} == {}


def test_the_ingress_routes_nothing_else():
    served = {prefix: name for name, prefixes in served_prefixes().items() for prefix in prefixes}
    for path, backend in ingress_routes().items():
        assert path not in NOT_PUBLIC
        assert backend == served.get(path, PLANNED.get(path)), path
    assert {d["metadata"]["name"].removeprefix("parley-") for d in only(rendered(), "Service")} >= set(
        ingress_routes().values())


# --- topics, partitions, autoscaling -----------------------------------------------------------

def test_kafka_topics_are_the_codes_topics_and_their_dead_letter_twins():
    env = config_env(rendered())
    prefix = env["PARLEY_TOPIC_PREFIX"]
    topics = rendered(TOPICS_DIR)
    names = sorted(t["spec"]["topicName"] for t in topics)
    assert names == sorted(prefix + t + suffix for t in TOPICS for suffix in ("", DLQ_SUFFIX))
    assert len({t["metadata"]["name"] for t in topics}) == len(topics)


def test_kafka_topics_have_the_partitions_the_services_expect():
    partitions = int(config_env(rendered())["PARLEY_PARTITIONS"])
    assert partitions == Settings.model_fields["partitions"].default
    for topic in rendered(TOPICS_DIR):
        assert topic["spec"]["partitions"] == partitions, topic["metadata"]["name"]
        assert topic["spec"]["replicas"] > int(topic["spec"]["config"]["min.insync.replicas"])


def test_dead_letters_are_kept_longer_than_the_events():
    retention = {t["spec"]["topicName"]: int(t["spec"]["config"]["retention.ms"])
                 for t in rendered(TOPICS_DIR)}
    for topic in TOPICS:
        assert retention[topic + DLQ_SUFFIX] > retention[topic]


def test_consumers_never_scale_past_the_partition_count():
    docs = rendered()
    partitions = int(config_env(docs)["PARLEY_PARTITIONS"])
    assert consumer_services() == {"router", "sender", "segmentation"}
    for name in WORKLOADS:
        hpa = one(docs, "HorizontalPodAutoscaler", f"parley-{name}")["spec"]
        assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
        assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
        if name in consumer_services():
            assert hpa["maxReplicas"] <= partitions, name


# --- security and shutdown ---------------------------------------------------------------------

def test_every_container_runs_non_root_on_a_read_only_filesystem_with_limits():
    for doc in only(rendered(), "Deployment") + only(rendered(), "Job"):
        pod = kustomize.pod_spec(doc)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in containers(doc):
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
            assert "memory" in container["resources"]["limits"]


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_grace_period_covers_the_pause_the_http_drain_and_the_consumer_drain(name):
    deployment = one(rendered(), "Deployment", f"parley-{name}")
    pod = kustomize.pod_spec(deployment)
    pause = main_container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    budget = pod["terminationGracePeriodSeconds"] - int(pause[1]) - serve_http_grace_s()
    assert budget >= MIN_DRAIN_S


def test_the_migration_gate_ships_the_script_the_init_containers_run():
    docs = rendered()
    scripts = one(docs, "ConfigMap", "parley-migrations-gate")["data"]
    for doc in only(docs, "Deployment"):
        if doc["metadata"]["name"] == f"parley-{CONSOLE}":
            continue  # no database (test_the_console_reads_the_settings_but_no_secret_...)
        pod = kustomize.pod_spec(doc)
        (gate,) = [c for c in pod["initContainers"] if c["name"] == "wait-for-migrations"]
        (mount,) = [m["mountPath"] for m in gate["volumeMounts"] if m["name"] == "migrations-gate"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "migrations-gate"]
        assert volume["configMap"]["name"] == "parley-migrations-gate"
        assert gate["command"][0] == "python"
        assert gate["command"][1].removeprefix(mount + "/") in scripts
