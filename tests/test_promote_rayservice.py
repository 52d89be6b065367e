"""The RayService variant: where the project's Serve app comes from, the manifest it
becomes (validated against KubeRay's RayService CRD schema) and the request's errors.
No Ray: the cluster summary is a literal of the dashboard's shape (test_promote_units)."""

from __future__ import annotations

import asyncio
import tarfile
from pathlib import Path

import pytest
import yaml
from promote_helpers import SUMMARY, sample_project, write
from test_promote_units import plan_of, promote  # noqa: F401 - the fixture

from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.promote.manifests import cluster_shape, rayservice, validate_manifest

SERVE_SCRIPT = """
from ray import serve


@serve.deployment
class Hello:
    def __call__(self, request):
        return "hello"


app = Hello.bind()
"""


def _service(plan: dict) -> dict:
    (doc,) = yaml.safe_load_all(plan["manifests"])
    assert doc["kind"] == "RayService" and doc["apiVersion"] == "ray.io/v1"
    return doc


def test_the_default_variant_is_a_rayjob_and_a_raycluster(promote):  # noqa: F811
    sample_project(Path(promote.root))
    plan = plan_of(promote, entrypoint="proj/train.ipynb")
    assert plan["variant"] == "rayjob"
    assert [d["kind"] for d in yaml.safe_load_all(plan["manifests"])] == ["RayJob", "RayCluster"]
    assert plan["serve_app"] is None  # the notebook binds no Serve app


def test_a_script_that_binds_an_app_becomes_a_rayservice(promote):  # noqa: F811
    project = sample_project(Path(promote.root))
    write(project / "serving" / "web.py", SERVE_SCRIPT)
    plan = plan_of(promote, entrypoint="proj/serving/web.py", variant="rayservice")
    assert plan["manifest_errors"] == {}
    assert plan["serve_app"] == {"source": "serving/web.py",
                                 "import_paths": ["serving.web:app"], "dropped": []}
    doc = _service(plan)
    config = yaml.safe_load(doc["spec"]["serveConfigV2"])
    assert config == {"applications": [{"name": "proj", "import_path": "serving.web:app",
                                        "route_prefix": "/"}]}
    cluster = doc["spec"]["rayClusterConfig"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {"containerPort": 8000, "name": "serve"} in head["ports"]
    assert head["image"] == plan["image"]
    # the same groups as the dev cluster, as for the RayJob
    (workers,) = cluster["workerGroupSpecs"]
    assert workers["replicas"] == 2
    assert workers["template"]["spec"]["containers"][0]["resources"]["limits"][
        "nvidia.com/gpu"] == "1"


def test_a_serve_config_file_wins_over_the_script_and_drops_what_the_image_bakes(
        promote):  # noqa: F811
    project = sample_project(Path(promote.root))
    write(project / "web.py", SERVE_SCRIPT)
    (project / "serve_config.yaml").write_text(yaml.safe_dump({
        "http_options": {"host": "0.0.0.0", "port": 8000},
        "applications": [
            {"name": "api", "import_path": "web:app", "route_prefix": "/api",
             "runtime_env": {"working_dir": "s3://bucket/code.zip", "pip": ["torch"],
                             "env_vars": {"LEVEL": "info"}}},
            {"name": "other", "import_path": "helpers:answer", "route_prefix": "/other"},
        ]}))
    plan = plan_of(promote, entrypoint="proj/web.py", variant="rayservice")
    assert plan["manifest_errors"] == {}
    assert plan["serve_app"]["source"] == "serve_config.yaml"
    assert plan["serve_app"]["dropped"] == ["api: runtime_env.working_dir",
                                            "api: runtime_env.pip"]
    config = yaml.safe_load(_service(plan)["spec"]["serveConfigV2"])
    assert config["http_options"] == {"host": "0.0.0.0", "port": 8000}
    assert config["applications"][0]["runtime_env"] == {"env_vars": {"LEVEL": "info"}}
    assert "runtime_env" not in config["applications"][1]


def test_serve_app_in_the_request_wins_and_the_context_holds_the_rayservice(
        promote, tmp_path):  # noqa: F811
    project = sample_project(Path(promote.root))
    write(project / "web.py", SERVE_SCRIPT)
    body = {"entrypoint": "proj/web.py", "variant": "rayservice", "serve_app": "helpers:app"}
    plan = plan_of(promote, **body)
    assert plan["serve_app"]["import_paths"] == ["helpers:app"]
    dest = tmp_path / "ctx.tar.gz"
    asyncio.run(promote.export_context("proj", body, dest))
    with tarfile.open(dest) as tar:
        names = set(tar.getnames())
        stored = yaml.safe_load(tar.extractfile("manifests/rayservice.yaml"))
    assert "manifests/rayjob.yaml" not in names
    assert yaml.safe_load(stored["spec"]["serveConfigV2"])["applications"][0][
        "import_path"] == "helpers:app"


@pytest.mark.parametrize(("body", "field"), [
    ({"variant": "rayservice"}, "serve_app"),  # the notebook binds no app: say how to give one
    ({"variant": "deployment"}, "variant"),
    ({"variant": "rayservice", "serve_app": "web.py"}, "serve_app"),
    ({"variant": "rayservice", "serve_app": "a:b\nRUN x"}, "serve_app"),
])
def test_bad_variant_requests_name_the_field(promote, body, field):  # noqa: F811
    sample_project(Path(promote.root))
    with pytest.raises(BadRequest) as err:
        plan_of(promote, entrypoint="proj/train.ipynb", **body)
    assert err.value.details["field"] == field and len(err.value.message) > 30


def test_a_broken_serve_config_fails_the_rayservice_but_only_warns_the_rayjob(
        promote):  # noqa: F811
    project = sample_project(Path(promote.root))
    (project / "serve_config.yaml").write_text("applications: [{name: x}]\n")
    plan = plan_of(promote, entrypoint="proj/train.ipynb")
    assert "import_path" in plan["serve_app_error"]
    with pytest.raises(BadRequest) as err:
        plan_of(promote, entrypoint="proj/train.ipynb", variant="rayservice")
    assert err.value.details["field"].startswith("serve_config.yaml")


def test_the_rayservice_crd_schema_catches_a_wrong_manifest():
    doc = rayservice(name="p", project="p", image="i", ray_version="2.60.0",
                     serve_config={"applications": []}, shape=cluster_shape(SUMMARY), env=[])
    assert validate_manifest(doc) == []
    doc["spec"]["serveConfigV2"] = {"applications": []}  # the CRD wants the config as text
    doc["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = "two"
    errors = validate_manifest(doc)
    assert len(errors) == 2 and any("serveConfigV2" in e for e in errors)
