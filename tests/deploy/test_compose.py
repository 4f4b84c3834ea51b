"""docker-compose.yml is a valid Compose file that starts the production shape in order: Kafka
(KRaft) and PostgreSQL, the topics and the migrations, then the four services, checked for health."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import resources

import jsonschema
import pytest
import yaml

from libs.common.bus.base import DLQ_SUFFIX
from libs.common.config import Settings
from libs.common.events import TOPICS
from services.console.proxy import parse_upstreams
from tests.deploy.support import (
    COMPOSE,
    CONSOLE,
    MIN_DRAIN_S,
    REPO,
    SERVICES,
    compose,
    compose_variables,
    env_example,
    env_vars,
    serve_http_grace_s,
    served_paths,
    served_prefixes,
)


def compose_schema() -> dict:
    """The Compose specification's schema, as vendored by check-jsonschema."""
    text = (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    return json.loads(text)


def validate_compose(doc: dict) -> None:
    schema = compose_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(doc)


def test_the_compose_file_follows_the_compose_specification():
    validate_compose(yaml.safe_load(COMPOSE.read_text()))  # as written ...
    validate_compose(compose())  # ... and with every variable at its default
    validate_compose(compose(env_example()))  # ... and from .env.example


@pytest.mark.parametrize("mutate", [
    lambda d: d["services"]["router"].update(healthchek={"test": ["CMD", "true"]}),
    lambda d: d["services"]["router"]["depends_on"]["kafka"].update(condition="service_happy"),
    lambda d: d["services"]["router"].update(ports="8081:8080"),
], ids=["typo", "bad-condition", "ports-not-a-list"])
def test_a_broken_compose_file_fails_the_schema(mutate):
    doc = compose()
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validate_compose(doc)


def parley_services(doc: dict) -> dict[str, dict]:
    return {name: doc["services"][name] for name in SERVICES}


def test_each_service_runs_its_module_from_the_one_image():
    doc = compose()
    for name, svc in parley_services(doc).items():
        assert svc["command"] == ["python", "-m", f"services.{name}"]
        assert svc["image"] == doc["services"]["migrate"]["image"] and svc["build"]["context"] == "."
    assert doc["services"]["migrate"]["command"] == ["python", "-m", "services", "migrate"]


def test_services_start_after_kafka_the_topics_and_the_migrations():
    doc = compose()
    for name, svc in parley_services(doc).items():
        assert svc["depends_on"] == {
            "kafka": {"condition": "service_healthy"},
            "kafka-topics": {"condition": "service_completed_successfully"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert doc["services"]["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for svc in doc["services"].values():
        for dep, how in svc.get("depends_on", {}).items():
            if how["condition"] == "service_healthy":
                assert "healthcheck" in doc["services"][dep], dep
            else:
                assert doc["services"][dep]["restart"] == "no", dep


def test_health_checks_ask_readyz_on_the_port_the_service_listens_on():
    doc = compose()
    for name, svc in parley_services(doc).items():
        port = svc["environment"]["PARLEY_PORT"]
        (url,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(svc["healthcheck"]["test"]))
        assert url == (port, "/readyz") and "/readyz" in served_paths(name)


def test_ingress_is_published_on_8080_and_the_apis_only_on_localhost():
    doc = compose()
    ports = {name: svc["ports"] for name, svc in parley_services(doc).items()}
    assert ports["ingress"] == ["8080:" + doc["services"]["ingress"]["environment"]["PARLEY_PORT"]]
    for name in ("router", "sender", "segmentation"):
        assert all(p.startswith("127.0.0.1:") for p in ports[name]), name


def test_kafka_runs_in_kraft_mode_from_the_official_image():
    kafka = compose()["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", kafka["image"])
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in k for k in env)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_topic_creation_makes_the_codes_topics_with_the_services_partition_count():
    doc = compose()
    job = doc["services"]["kafka-topics"]["environment"]
    assert job["TOPICS"].split() == list(TOPICS)
    assert job["DLQ_SUFFIX"] == DLQ_SUFFIX
    default = str(Settings.model_fields["partitions"].default)
    assert job["PARTITIONS"] == default
    for svc in parley_services(doc).values():
        assert svc["environment"]["PARLEY_PARTITIONS"] == job["PARTITIONS"]
        assert svc["environment"]["PARLEY_TOPIC_PREFIX"] == job["TOPIC_PREFIX"]
    changed = compose({"PARLEY_PARTITIONS": "12", "PARLEY_TOPIC_PREFIX": "acme."})
    assert changed["services"]["kafka-topics"]["environment"]["PARTITIONS"] == "12"
    for svc in parley_services(changed).values():
        assert svc["environment"]["PARLEY_PARTITIONS"] == "12"
        assert svc["environment"]["PARLEY_TOPIC_PREFIX"] == "acme."


def test_the_topic_script_creates_every_topic_and_its_dead_letter_twin(tmp_path):
    """Run the job's shell script with kafka-topics.sh replaced by a recorder."""
    svc = compose()["services"]["kafka-topics"]
    script = svc["command"][0].replace("/opt/kafka/bin/kafka-topics.sh", str(tmp_path / "kt"))
    (tmp_path / "kt").write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n')
    (tmp_path / "kt").chmod(0o755)
    env = {k: str(v) for k, v in svc["environment"].items()}
    subprocess.run(["/bin/bash", "-ec", script], env=env, check=True)
    calls = (tmp_path / "calls").read_text().splitlines()
    created = sorted(re.search(r"--topic (\S+)", c).group(1) for c in calls)
    assert created == sorted(t + s for t in TOPICS for s in ("", DLQ_SUFFIX))
    assert all("--partitions 8 " in c and "--if-not-exists" in c for c in calls)


def test_services_get_every_setting_with_production_values(monkeypatch):
    doc = compose()
    for name, svc in parley_services(doc).items():
        env = svc["environment"]
        assert set(env) == set(env_vars()), name
        for var in env_vars():
            monkeypatch.delenv(var, raising=False)
        for var, value in env.items():
            monkeypatch.setenv(var, str(value))
        settings = Settings()
        assert (settings.bus, settings.migrate_on_start, settings.demo, settings.log_format) == (
            "kafka", False, False, "json")
        assert settings.database_url.startswith("postgresql+asyncpg://") and settings.host == "0.0.0.0"
        assert env == doc["services"]["migrate"]["environment"]


def test_the_env_example_lists_exactly_the_variables_compose_reads():
    assert set(env_example()) == compose_variables()
    known = set(env_vars())
    assert {v for v in env_example() if v.startswith("PARLEY_")} <= known


def test_containers_are_locked_down_and_stop_gracefully():
    doc = compose()
    for name, svc in {**parley_services(doc), "migrate": doc["services"]["migrate"]}.items():
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
        assert svc["user"].split(":")[0] not in ("0", "root"), name
    for svc in parley_services(doc).values():
        grace = int(svc["stop_grace_period"].removesuffix("s"))
        assert grace - serve_http_grace_s() >= MIN_DRAIN_S


def test_make_up_and_down_wrap_compose():
    out = subprocess.run(["make", "-n", "-C", str(REPO), "up", "down"], capture_output=True, text=True,
                         check=True).stdout
    assert "docker compose up" in out and "--wait" in out and "docker compose down" in out


# --- the console ---------------------------------------------------------------------------------

def test_the_console_runs_its_module_once_the_apis_answer_and_only_on_localhost():
    doc = compose()
    console = doc["services"][CONSOLE]
    assert console["command"] == ["python", "-m", "services.console"]
    assert console["image"] == doc["services"]["migrate"]["image"]
    assert console["depends_on"] == {name: {"condition": "service_healthy"}
                                     for name in ("router", "sender", "segmentation")}
    assert all(p.startswith("127.0.0.1:") for p in console["ports"])
    (url,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(console["healthcheck"]["test"]))
    assert url == (console["environment"]["PARLEY_PORT"], "/readyz") and "/readyz" in served_paths(CONSOLE)
    assert console["read_only"] is True and console["cap_drop"] == ["ALL"]
    assert int(console["stop_grace_period"].removesuffix("s")) - serve_http_grace_s() >= MIN_DRAIN_S


def test_the_console_passes_every_v1_prefix_to_the_service_that_owns_it():
    """No Ingress in Compose: what the browser calls on the console's origin must reach its owner."""
    doc = compose()
    env = doc["services"][CONSOLE]["environment"]
    owners = {prefix: f"http://{name}:{doc['services'][name]['environment']['PARLEY_PORT']}"
              for name, prefixes in served_prefixes().items() for prefix in prefixes
              if prefix.startswith("/v1/")}
    assert parse_upstreams(env["PARLEY_CONSOLE_UPSTREAMS"]) == owners
    others = {k: v for k, v in env.items() if k != "PARLEY_CONSOLE_UPSTREAMS"}
    assert others == {k: v for k, v in doc["services"]["migrate"]["environment"].items()
                      if k != "PARLEY_CONSOLE_UPSTREAMS"}
    for svc in parley_services(doc).values():
        assert svc["environment"]["PARLEY_CONSOLE_UPSTREAMS"] == ""
