"""Every object deploy/k8s renders is valid for Kubernetes (the pinned version's JSON schemas, strict)
or for its custom resource's schema (Strimzi KafkaTopic, Prometheus Operator ServiceMonitor)."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from tests.deploy import kustomize
from tests.deploy.support import (
    K8S,
    K8S_VERSION,
    OLDEST_K8S_VERSION,
    OVERLAY,
    TOPICS_DIR,
    one,
    overlay_with_components,
    rendered,
    validate,
)


def _all_objects(tmp_path) -> list[dict]:
    return (kustomize.build(overlay_with_components(tmp_path)) + rendered(K8S / "base")
            + rendered(TOPICS_DIR))


@pytest.mark.parametrize("version", [K8S_VERSION, OLDEST_K8S_VERSION])
def test_every_rendered_object_validates(version, tmp_path):
    docs = _all_objects(tmp_path)
    failures = []
    for doc in docs:
        try:
            validate(doc, version)
        except Exception as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {getattr(exc, 'message', exc)}")
    assert failures == []
    assert {"Deployment", "KafkaTopic", "ServiceMonitor", "Ingress", "Job"} <= {d["kind"] for d in docs}


def _deployment():
    return one(rendered(OVERLAY), "Deployment", "parley-router")


# Each mutation must make validation fail: proof that the validators check what they claim to.
def _typo_in_probe(d):
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe")


def _port_as_text(d):
    d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight"


def _missing_selector(d):
    del d["spec"]["selector"]


def _typo_in_security_context(d):
    d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True


@pytest.mark.parametrize("mutate", [_typo_in_probe, _port_as_text, _missing_selector,
                                    _typo_in_security_context], ids=lambda f: f.__name__.strip("_"))
def test_a_broken_deployment_fails_validation(mutate):
    doc = _deployment()
    validate(copy.deepcopy(doc))
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def _topic():
    return copy.deepcopy(rendered(TOPICS_DIR)[0])


@pytest.mark.parametrize("change", [
    ("partitions", 0), ("partitions", "8"), ("replicas", 0), ("partitionz", 8),
], ids=lambda c: f"{c[0]}={c[1]!r}")
def test_a_broken_kafka_topic_fails_validation(change):
    doc = _topic()
    validate(copy.deepcopy(doc))
    doc["spec"][change[0]] = change[1]
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_a_kafka_topic_with_an_invalid_name_fails_validation():
    doc = _topic()
    doc["metadata"]["name"] = "Parley_SMS"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_a_broken_service_monitor_fails_validation(tmp_path):
    doc = one(kustomize.build(overlay_with_components(tmp_path)), "ServiceMonitor", "parley")
    validate(copy.deepcopy(doc))
    doc["spec"]["endpoints"][0]["interval"] = "30 seconds"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)
