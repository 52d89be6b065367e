"""One request definition, three faces: the REST API, the CLI and the magics accept the same
options, with the same names and defaults, and hand the core the same request.

The core is stood in for by a recorder here, and only here: the question is what each face
hands to the core, and recording the call answers it without a Ray cluster. The real core
behind each face is covered by test_cli_promote.py, test_magics.py and test_promote_api.py
(the README's own command line, from the Jupyter root, is run there against a real head).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jupyter_ray_dev import cli
from jupyter_ray_dev.cluster.local_head import free_port
from jupyter_ray_dev.jobs.settings import JobSettings, SaveLogRequest
from jupyter_ray_dev.k8s.apply import ApplyRequest, SuspendRequest
from jupyter_ray_dev.promote.options import (
    PackageRequest,
    PromoteOptions,
    PushRequest,
    ReapplyRequest,
)
from jupyter_ray_dev.request_model import fields_of
from jupyter_ray_dev.runtime_env.requests import InstallRequest, RuntimeEnvWrite, ValidateRequest
from jupyter_ray_dev.storage.requests import (
    DeleteRequest,
    MkdirRequest,
    RenameRequest,
    UploadRequest,
)

PLAN = {"project": "proj", "image": "registry.example.com/team/proj:1", "base_image": "b",
        "entrypoint": {"source": "proj/score.ipynb", "command": "python x", "warnings": []},
        "files": {"count": 1, "bytes": 1, "excluded": []}, "inputs_hash": "0" * 64,
        "requirements": {"requirements": [], "source": "none"}, "dockerfile": "FROM b",
        "manifests": ""}

# every option of a promote request, none at its default
OPTIONS = ["-e", "score.ipynb", "--image", "registry.example.com/team/p:1", "--base-image",
           "registry.example.com/ray:2.60.0-py311-gpu", "--gpu", "--no-push", "--builder",
           "docker", "--variant", "rayservice", "--serve-app", "app:app"]
EXPECTED = PromoteOptions(entrypoint="proj/score.ipynb", image="registry.example.com/team/p:1",
                          base_image="registry.example.com/ray:2.60.0-py311-gpu", gpu=True,
                          push=False, builder="docker", variant="rayservice",
                          serve_app="app:app")


class RecordingPromote:
    """Stands in for the promote core: records each request, answers a minimal plan."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def plan(self, project: str, request: Any = None) -> dict[str, Any]:
        self.calls.append((project, request))
        return PLAN


def recording_service(root: Path) -> SimpleNamespace:
    async def close() -> None:
        return None

    from jupyter_ray_dev.project import ProjectService

    return SimpleNamespace(project=ProjectService(root), promote=RecordingPromote(),
                           close=close)


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    (root / "proj" / "sub").mkdir(parents=True)
    (root / "proj" / "runtime_env.yaml").write_text("env_vars: {A: '1'}\n")
    (root / "proj" / "score.ipynb").write_text("{}")
    (root / "other").mkdir()
    return root


def run_cli(service, *argv: str) -> int:
    return cli.main(list(argv), service_factory=lambda: service)


# --- the same options on every face ---------------------------------------------------------

@pytest.mark.parametrize("model", [PromoteOptions, JobSettings, SaveLogRequest])
def test_every_field_is_an_option_of_the_cli_and_the_magic(model):
    """Adding a field to a model is the only step: both command lines then offer it."""
    from IPython.core.magic_arguments import construct_parser
    from jupyter_ray_dev.magics import RayDevMagics

    cli_parser = cli.build_parser()
    subs = next(a for a in cli_parser._actions if isinstance(a, argparse._SubParsersAction))
    jobs = next(a for a in subs.choices["jobs"]._actions
                if isinstance(a, argparse._SubParsersAction))
    if model is PromoteOptions:
        cli_cmd, magic = subs.choices["promote"], RayDevMagics.ray_promote
    elif model is SaveLogRequest:
        cli_cmd, magic = jobs.choices["logs"], RayDevMagics.ray_logs
    else:
        cli_cmd, magic = jobs.choices["submit"], RayDevMagics.ray_job
    parsers = {"cli": cli_cmd, "magic": construct_parser(magic)}
    for f in fields_of(model):
        if f.spec.flags is not None:
            wanted = [n for flag in f.spec.flags for n in flag.names if n.startswith("-")]
        else:
            wanted = [f.flag] if not (f.kind is bool and f.default is True) \
                else [f"--no-{f.flag[2:]}"]
        for face, parser in parsers.items():
            if model is JobSettings and face == "magic" and f.name not in ("project",
                                                                           "resources"):
                continue  # %%ray_job runs the cell: no file, args or notebook mode
            options = {s for a in parser._actions for s in a.option_strings}
            for flag in wanted:
                assert flag in options, f"{face} lacks {flag} ({model.__name__}.{f.name})"


def test_the_same_promote_options_reach_the_core_from_rest_cli_and_magic(root, monkeypatch):
    from IPython.testing.globalipapp import get_ipython
    from jupyter_ray_dev.magics import RayDevMagics

    body = EXPECTED.to_json()
    rest = PromoteOptions.from_json(json.loads(json.dumps(body)))  # what the handler parses

    service = recording_service(root)
    monkeypatch.chdir(root)
    assert run_cli(service, "promote", "-p", "proj", *OPTIONS) == cli.OK
    ((project, from_cli),) = service.promote.calls

    magics = RayDevMagics(get_ipython(), lambda: service)
    monkeypatch.chdir(root / "proj")
    magics.ray_promote(" ".join(OPTIONS))
    (_, from_magic) = service.promote.calls[1]

    assert project == "proj"
    assert rest == from_cli == from_magic == EXPECTED


def test_defaults_are_the_same_on_every_face(root, monkeypatch):
    from IPython.testing.globalipapp import get_ipython
    from jupyter_ray_dev.magics import RayDevMagics

    service = recording_service(root)
    monkeypatch.chdir(root / "proj")
    assert run_cli(service, "promote") == cli.OK
    RayDevMagics(get_ipython(), lambda: service).ray_promote("")
    assert [r for _, r in service.promote.calls] == [PromoteOptions.from_json(None)] * 2
    assert PromoteOptions.from_json(None) == PromoteOptions()


# --- the CLI's paths, from the Jupyter root and from a subfolder --------------------------------

@pytest.mark.parametrize(("cwd", "argv"), [
    ("", ["-p", "proj", "-e", "score.ipynb"]),  # the README's form, from the Jupyter root
    ("", ["-p", "proj", "-e", "proj/score.ipynb"]),  # relative to the current directory
    ("proj", ["-e", "score.ipynb"]),
    ("proj/sub", ["-e", "score.ipynb"]),  # the project found upwards, -e inside it
    ("other", ["-p", "../proj", "-e", "score.ipynb"]),
])
def test_cli_entrypoint_is_found_in_the_project_or_the_current_folder(root, monkeypatch,
                                                                       capsys, cwd, argv):
    service = recording_service(root)
    monkeypatch.chdir(root / cwd)
    assert run_cli(service, "promote", *argv) == cli.OK, capsys.readouterr().err
    ((project, request),) = service.promote.calls
    assert project == "proj" and request.entrypoint == "proj/score.ipynb"


def test_cli_missing_entrypoint_is_not_found_with_exit_3(root, monkeypatch, capsys):
    service = recording_service(root)
    monkeypatch.chdir(root)
    assert run_cli(service, "promote", "-p", "proj", "-e", "nope.ipynb") == cli.NOT_FOUND == 3
    err = capsys.readouterr().err.strip()
    assert err == ("Error [entrypoint]: The entrypoint 'nope.ipynb' was not found: there is "
                   "no 'proj/nope.ipynb' or 'nope.ipynb' in the Jupyter root. Give a path "
                   "relative to the project folder or to the current directory.")
    assert run_cli(service, "--json", "promote", "-p", "proj", "-e", "nope.ipynb") == 3
    error = json.loads(capsys.readouterr().out)["error"]
    assert (error["status"], error["reason"], error["field"]) == (404, "not_found", "entrypoint")
    assert service.promote.calls == []  # nothing reached the core


def test_cli_bad_option_values_name_the_field_with_exit_2(root, monkeypatch, capsys):
    service = recording_service(root)
    monkeypatch.chdir(root)
    assert run_cli(service, "promote", "-p", "proj", "--base-image", "Not A Ref") == cli.USAGE
    assert capsys.readouterr().err.startswith("Error [base_image]: `base_image` 'Not A Ref' "
                                              "is not an image reference")
    with pytest.raises(SystemExit) as exit_:  # argparse: a builder that does not exist
        run_cli(service, "promote", "--builder", "podman")
    assert exit_.value.code == 2


# --- the review as text ---------------------------------------------------------------------------

def test_review_prints_warnings_as_sentences_and_names_the_excluded_files():
    from jupyter_ray_dev import present

    plan = {**PLAN, "files": {"count": 3, "bytes": 10, "excluded": ["run.log", "checkpoints"]},
            "entrypoint": {**PLAN["entrypoint"], "warnings": [
                {"kind": "ipython_line_skipped", "cell": 2, "line": 1, "source": "%pip x",
                 "message": "Cell 2, line 1: `%pip x` is IPython-only and was skipped."}]}}
    text = present.promote_plan_text(plan)
    assert "  warning: Cell 2, line 1: `%pip x` is IPython-only and was skipped." in text
    assert "{'kind'" not in text
    assert "  excluded     run.log, checkpoints (ignore rules:" in text


def test_review_and_history_say_which_way_the_image_is_made():
    from jupyter_ray_dev import present

    earlier = {"id": "promo_1", "image": "r:5000/t/proj:abc", "digest": "sha256:" + "a" * 64}
    layer = {"path": "code_layer", "reason": "only the code changed since promotion promo_1",
             "earlier": earlier}
    text = present.promote_plan_text({**PLAN, "build_path": layer})
    assert ("  build path   the code layer on the earlier image, no builder: only the code "
            "changed since promotion promo_1") in text
    full = {"path": "full_build", "reason": "the base image changed (a -> b) since promotion "
            "promo_1.", "earlier": earlier}
    assert "  build path   a full build: the base image changed (a -> b)" in \
        present.promote_plan_text({**PLAN, "build_path": full})
    promotion = {"id": "promo_2", "status": "pushed", "image": "r:5000/t/proj:def",
                 "digest": "sha256:" + "b" * 64, "build_path": layer}
    assert "(code layer, no builder)" in present.promotion_line(promotion)
    assert "code layer" not in present.promotion_line({**promotion, "build_path": full})
    # pushed: the reference to deploy is by digest; held back: the digest (of the image that
    # waits untagged in the registry) is not offered
    assert "r:5000/t/proj:def@sha256:bbbb" in present.promotion_line(promotion)
    assert "@sha256" not in present.promotion_line({**promotion, "status": "blocked"})


def test_review_says_where_each_number_of_rays_view_came_from():
    from jupyter_ray_dev import present
    from jupyter_ray_dev.promote.manifests import cluster_shape
    from jupyter_ray_dev.promote.ray_view import HostFacts

    summary = {"nodes": [{"node_id": "h", "is_head": True, "state": "ALIVE",
                          "resources_total": {"CPU": 2.0, "memory": 20 * 2**30,
                                              "object_store_memory": 3 * 2**30}}]}
    shape = cluster_shape(summary, HostFacts(in_kuberay=False, head_local=True, cpu_count=2))
    plan = {**PLAN, "shape_source": {"source": "ray", "reason": "not in a KubeRay pod",
                                     "numbers": shape.numbers()}}
    lines = present.promote_plan_text(plan).splitlines()
    memory = [ln for ln in lines if ln.startswith("    head memory 23Gi")]
    assert memory == ["    head memory 23Gi (a machine total: left out, set it yourself): "
                      "from Ray's resources_total of the head node (memory + "
                      "object_store_memory): this machine's total as Ray detected it, no "
                      "request: left out of the manifests' resources"]


# --- a bad body is a 400 naming the field, on every model-backed route ---------------------------

@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"  # no Ray: every answer here comes before it


@pytest.fixture
def ray_dev_config(tmp_path):
    (tmp_path / "store").mkdir()
    return {"storage_roots": [{"name": "t", "url": str(tmp_path / "store")}]}


BAD_BODIES = [
    ("POST", "jobs", {"file": "a.py", "magics": "ignore"}, "magics"),
    ("POST", "jobs", {"file": "a.py", "cpus": 1}, "cpus"),
    ("POST", "projects/proj/promote/plan", {"gpu": "yes"}, "gpu"),
    ("POST", "projects/proj/promote/build", {"base_image": "Not A Ref"}, "base_image"),
    ("POST", "projects/proj/promote/context", {"push": 1}, "push"),
    ("POST", "projects/proj/promote/package", {"storage_root": 3}, "storage_root"),
    ("POST", "promotions/promo_x/apply", {"dry_run": "no"}, "dry_run"),
    ("POST", "promotions/promo_x/push", {"override": "yes"}, "override"),
    ("POST", "kubernetes/apply", {"manifest": {}, "force": "yes"}, "force"),
    ("POST", "kubernetes/apply", {}, "manifest"),
    ("PUT", "projects/proj/runtime-env", {"etag": 3}, "etag"),
    ("POST", "projects/proj/runtime-env/validate", {"yaml": 3}, "yaml"),
    ("POST", "projects/proj/install", {"apply": "no"}, "apply"),
    ("POST", "storage/t/uploads", {"path": "a", "size": "big"}, "size"),
    ("POST", "storage/t/mkdir", {"path": "a", "parents": True}, "parents"),
    ("POST", "storage/t/rename", {"path": "a", "new_path": "b", "force": True}, "force"),
    ("POST", "storage/t/delete", {"path": "a", "recursive": "yes"}, "recursive"),
    ("POST", "jobs/raysubmit_x/logs/save", {"overwrite": "yes"}, "overwrite"),
    ("POST", "jobs/raysubmit_x/logs/save", {"dest": "s3://b/", "force": True}, "force"),
    ("POST", "projects/proj/promote/plan", "[not json", "body"),
    ("POST", "jobs", [1], "body"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_BODIES,
                         ids=[f"{m} {p} {f}" for m, p, _, f in BAD_BODIES])
async def test_a_bad_body_is_a_400_naming_the_field(jp_fetch, method, path, body, field):
    from tornado.httpclient import HTTPClientError

    raw = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("ray-dev", "api", *path.split("/"), method=method, body=raw)
    assert err.value.code == 400
    doc = json.loads(err.value.response.body)
    assert doc["field"] == field and doc["reason"] == "bad_request"
    assert len(doc["message"]) > 15  # says what to do


def test_the_openapi_request_schemas_list_the_models_fields():
    """The document and the models describe the same bodies (no field only on one side)."""
    from jupyter_ray_dev.handlers import openapi_document

    doc = openapi_document()
    schemas = doc["components"]["schemas"]

    def body_properties(method: str, path: str) -> set[str]:
        schema = doc["paths"][f"/ray-dev/api/{path}"][method]["requestBody"]["content"][
            "application/json"]["schema"]
        props = set(schema.get("properties", {}))
        for part in [schema, *schema.get("allOf", [])]:
            if "$ref" in part:
                props |= set(schemas[part["$ref"].rsplit("/", 1)[1]].get("properties", {}))
        return props

    for method, path, model in [
        ("post", "jobs", JobSettings),
        ("post", "projects/{project}/promote/plan", PromoteOptions),
        ("post", "projects/{project}/promote/package", PackageRequest),
        ("post", "promotions/{promotion_id}/apply", ReapplyRequest),
        ("post", "promotions/{promotion_id}/push", PushRequest),
        ("post", "kubernetes/apply", ApplyRequest),
        ("put", "projects/{project}/runtime-env", RuntimeEnvWrite),
        ("post", "projects/{project}/runtime-env/validate", ValidateRequest),
        ("post", "projects/{project}/install", InstallRequest),
        ("post", "storage/{root}/uploads", UploadRequest),
        ("post", "storage/{root}/mkdir", MkdirRequest),
        ("post", "storage/{root}/rename", RenameRequest),
        ("post", "storage/{root}/delete", DeleteRequest),
        ("post", "jobs/{job_id}/logs/save", SaveLogRequest),
        ("post", "kubernetes/raycronjobs/{name}/suspend", SuspendRequest),
    ]:
        assert body_properties(method, path) == {f.name for f in fields_of(model)}, path
