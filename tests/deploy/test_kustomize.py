"""deploy/k8s renders: the base, the example overlay, its optional component and the topics, with the
Python renderer, and the same objects with real kustomize (`kubectl kustomize`) where it exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy import kustomize
from tests.deploy.support import K8S, OVERLAY, TOPICS_DIR, one, only, overlay_with_components, rendered

KUSTOMIZATIONS = [K8S / "base", OVERLAY, TOPICS_DIR]


def test_the_example_overlay_renders_every_service_and_its_companions():
    docs = rendered()
    for svc in ("ingress", "router", "sender", "segmentation"):
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            one(docs, kind, f"parley-{svc}")
    for kind, name in [("Namespace", "parley"), ("ConfigMap", "parley-config"),
                       ("Secret", "parley-secrets"), ("Job", "parley-migrate"), ("Ingress", "parley"),
                       ("ConfigMap", "parley-migrations-gate"), ("ServiceAccount", "parley")]:
        one(docs, kind, name)
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"parley"}


def test_the_overlay_points_every_container_at_its_image():
    images = {c["image"] for d in only(rendered(), "Deployment") + only(rendered(), "Job")
              for c in kustomize.pod_spec(d)["containers"] + kustomize.pod_spec(d).get("initContainers", [])}
    assert images == {"registry.example.com/parley:0.1.0"}


def test_the_overlay_sets_its_values_over_the_base():
    docs = rendered()
    assert one(docs, "ConfigMap", "parley-config")["data"]["PARLEY_KAFKA_BOOTSTRAP"] == (
        "my-cluster-kafka-bootstrap.kafka.svc:9092")
    assert one(docs, "Ingress", "parley")["spec"]["rules"][0]["host"] == "sms.example.com"
    assert "CHANGE-ME" not in str(one(docs, "Secret", "parley-secrets"))


def test_the_service_monitor_component_adds_one_service_monitor(tmp_path):
    docs = kustomize.build(overlay_with_components(tmp_path))
    monitor = one(docs, "ServiceMonitor", "parley")
    assert monitor["metadata"]["namespace"] == "parley"
    assert len(docs) == len(rendered()) + 1


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(kustomize.Unsupported):
        kustomize.build(tmp_path)


def _kubectl_kustomize(path: Path) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="cross-check needs kubectl (kustomize inside)")
@pytest.mark.parametrize("path", [*KUSTOMIZATIONS, "components"], ids=lambda p: str(p).split("k8s/")[-1])
def test_real_kustomize_renders_the_same_objects(path, tmp_path):
    path = overlay_with_components(tmp_path) if path == "components" else path
    mine = {kustomize.key(d): d for d in kustomize.build(path)}
    real = {kustomize.key(d): d for d in _kubectl_kustomize(path)}
    assert mine.keys() == real.keys()
    assert [k for k in real if mine[k] != real[k]] == []
