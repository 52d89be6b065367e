"""Every YAML under deploy/ applies to the test API server, validated against KubeRay's real CRDs.

A CRD silently prunes fields its schema does not know, so "it applied" is not
enough: every field written must come back from the server unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.k8s

DEPLOY = Path(__file__).parent.parent / "deploy"
FILES = sorted(DEPLOY.rglob("*.yaml"))


def test_there_is_something_to_validate():
    names = {str(p.relative_to(DEPLOY)) for p in FILES}
    assert {"dev/raycluster.yaml", "dev/rbac.yaml", "prod/rayjob.yaml"} <= names


def _missing(sent, stored, path="") -> list[str]:
    """Fields of ``sent`` that the server dropped or changed."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path or "/"]
        return [m for k, v in sent.items() for m in _missing(v, stored.get(k), f"{path}.{k}")]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [path]
        return [m for i, (a, b) in enumerate(zip(sent, stored))
                for m in _missing(a, b, f"{path}[{i}]")]
    return [] if sent == stored else [f"{path}: {sent!r} -> {stored!r}"]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(DEPLOY)) for p in FILES])
def test_applies_cleanly_and_nothing_is_pruned(kube, path):
    from kubernetes import dynamic

    client = dynamic.DynamicClient(kube.api, cache_file=str(kube.server.dir / "discovery.json"))
    for doc in yaml.safe_load_all(path.read_text()):
        resource = client.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        stored = resource.create(body=doc, namespace=kube.namespace).to_dict()
        assert _missing(doc, stored) == [], f"{doc['kind']} {doc['metadata']['name']}"


def test_the_image_and_the_clusters_agree_on_the_ray_version():
    """The head image, the RayCluster's rayVersion and the workers' image move together."""
    dockerfile = (DEPLOY / "image" / "Dockerfile").read_text()
    ray_version = next(line.split("=", 1)[1] for line in dockerfile.splitlines()
                       if line.startswith("ARG RAY_VERSION="))
    assert "FROM rayproject/ray:${RAY_VERSION}-${PYTHON}" in dockerfile
    for path in (DEPLOY / "dev" / "raycluster.yaml", DEPLOY / "prod" / "rayjob.yaml"):
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"].get("rayClusterSpec", doc["spec"])
        assert spec["rayVersion"] == ray_version, path
    dev = yaml.safe_load((DEPLOY / "dev" / "raycluster.yaml").read_text())["spec"]
    images = {dev["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]} | {
        g["template"]["spec"]["containers"][0]["image"] for g in dev["workerGroupSpecs"]}
    assert images == {f"ghcr.io/example/ray-dev-head:{ray_version}-py311"}
