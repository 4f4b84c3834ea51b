"""A small `kustomize build` in Python, for the features deploy/k8s uses and no others.

Supported: `resources` (files and directories), `components`, `configMapGenerator` (files and
literals, with `disableNameSuffixHash`), `patches` (strategic merge, or JSON 6902 with a target),
`namespace`, `labels` (metadata only) and `images`. Anything else in a kustomization raises
`Unsupported`, so the renderer never quietly ignores what real kustomize would apply; where
`kubectl kustomize` exists, test_kustomize.py checks both produce the same objects.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]

KNOWN_FIELDS = {"apiVersion", "kind", "resources", "components", "configMapGenerator", "patches",
                "namespace", "labels", "images"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "IngressClass", "PriorityClass",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
# Strategic-merge keys of the lists deploy/k8s may patch; other lists are replaced, as kustomize does.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
              "volumeMounts": "mountPath", "ports": "containerPort"}


class Unsupported(Exception):
    """The kustomization uses something this renderer does not implement."""


def build(path: Path) -> list[Doc]:
    """Render the kustomization in directory `path`, like `kustomize build path`."""
    return _render(Path(path), expect="Kustomization")


def load_docs(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def key(doc: Doc) -> tuple[str, str, str, str]:
    meta = doc.get("metadata", {})
    return doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"]


def _render(root: Path, expect: str, docs: list[Doc] | None = None) -> list[Doc]:
    kust = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(kust) - KNOWN_FIELDS
    if unknown:
        raise Unsupported(f"{root}: {sorted(unknown)}")
    if kust.get("kind", "Kustomization") != expect:
        raise Unsupported(f"{root}: kind {kust.get('kind')}, expected {expect}")
    docs = list(docs or [])
    for entry in kust.get("resources", []):
        target = root / entry
        docs += build(target) if target.is_dir() else load_docs(target)
    for entry in kust.get("components", []):
        docs = _render(root / entry, expect="Component", docs=docs)
    for gen in kust.get("configMapGenerator", []):
        docs.append(_config_map(root, gen))
    for patch in kust.get("patches", []):
        _patch(root, patch, docs)
    if "namespace" in kust:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = kust["namespace"]
    for entry in kust.get("labels", []):
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise Unsupported(f"{root}: labels into selectors or templates")
        for doc in docs:
            doc.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])
    for image in kust.get("images", []):
        for doc in docs:
            _set_image(doc, image)
    return docs


def _config_map(root: Path, gen: Doc) -> Doc:
    options = gen.get("options", {})
    if not options.get("disableNameSuffixHash"):
        raise Unsupported("configMapGenerator without disableNameSuffixHash")
    data = {}
    for entry in gen.get("files", []):
        name, _, source = entry.rpartition("=") if "=" in entry else (Path(entry).name, "", entry)
        data[name] = (root / source).read_text()
    for literal in gen.get("literals", []):
        name, _, value = literal.partition("=")
        data[name] = value
    meta: Doc = {"name": gen["name"]}
    if options.get("labels"):
        meta["labels"] = dict(options["labels"])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def _patch(root: Path, patch: Doc, docs: list[Doc]) -> None:
    if set(patch) - {"path", "target"}:
        raise Unsupported(f"patch fields {sorted(patch)}")
    body = yaml.safe_load((root / patch["path"]).read_text())
    target = patch.get("target") or {"kind": body["kind"], "name": body["metadata"]["name"]}
    matches = [doc for doc in docs if doc["kind"] == target["kind"]
               and doc["metadata"]["name"] == target["name"]]
    if len(matches) != 1:
        raise ValueError(f"patch {patch['path']} matches {len(matches)} resources")
    doc = matches[0]
    if isinstance(body, list):
        for op in body:
            _json_patch(doc, op)
    else:
        body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        body["metadata"] = {k: v for k, v in body.get("metadata", {}).items() if k != "name"}
        doc.update(_merge(doc, body))


def _merge(base: Any, patch: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    merge_key = MERGE_KEYS.get(field)
    if merge_key and isinstance(base, list) and isinstance(patch, list):
        out = list(base)
        for item in patch:
            at = [i for i, old in enumerate(out) if old.get(merge_key) == item.get(merge_key)]
            if at:
                out[at[0]] = _merge(out[at[0]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _json_patch(doc: Doc, op: Doc) -> None:
    if op["op"] not in ("add", "replace", "remove"):
        raise Unsupported(f"JSON patch op {op['op']}")
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op["op"] == "remove":
            del node[index]
        elif op["op"] == "add":
            node.insert(index, copy.deepcopy(op["value"]))
        else:
            node[index] = copy.deepcopy(op["value"])
    elif op["op"] == "remove":
        del node[last]
    else:
        if op["op"] == "replace" and last not in node:
            raise ValueError(f"replace of missing {op['path']}")
        node[last] = copy.deepcopy(op["value"])


def pod_spec(doc: Doc) -> Doc | None:
    """The pod spec inside a workload, or None for other kinds."""
    spec = doc.get("spec", {})
    if doc["kind"] == "Pod":
        return spec
    if doc["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    if "template" in spec and isinstance(spec["template"], dict) and "spec" in spec["template"]:
        return spec["template"]["spec"]
    return None


def _split_image(ref: str) -> tuple[str, str]:
    """("registry/name", ":tag" or "@digest" or "")."""
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, "@" + digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
        return name, ":" + tag
    return ref, ""


def _set_image(doc: Doc, image: Doc) -> None:
    spec = pod_spec(doc)
    if spec is None:
        return
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        name, suffix = _split_image(container["image"])
        if name != image["name"]:
            continue
        if image.get("digest"):
            suffix = "@" + image["digest"]
        elif image.get("newTag"):
            suffix = ":" + str(image["newTag"])
        container["image"] = image.get("newName", name) + suffix
