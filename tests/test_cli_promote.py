"""``jupyter ray-dev promote`` as a CI pipeline runs it: non-interactive, exit codes that
mean something, ``--json`` a machine can read; a real buildah build pushed to a real
registry, against the real local Ray head."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from promote_helpers import sample_project

from jupyter_ray_dev import present

pytestmark = pytest.mark.ray

JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def make_cli(ray_head, tmp_path, ray_dev: dict):
    root = tmp_path / "root"
    root.mkdir()
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"root_dir": str(root)},
        "RayDev": {"promote_store_path": str(tmp_path / "promotions.sqlite"), **ray_dev},
    }))
    env = {**os.environ, **ray_head.client_env(), "JUPYTER_CONFIG_DIR": str(config_dir)}
    env.pop("RAY_AUTH_TOKEN", None)
    env.pop("RAY_DEV_ROOT_DIR", None)
    env.pop("RAY_CLUSTER_NAME", None)

    def run(*args: str, cwd: Path | None = None):
        return subprocess.run([JUPYTER, "ray-dev", *args], check=False,
                              cwd=cwd or root / "proj", env=env, capture_output=True,
                              text=True, timeout=900)

    sample_project(root)
    return run


@pytest.fixture
def cli(ray_head, tmp_path):
    return make_cli(ray_head, tmp_path, {"promote_registry": "registry.example.com/team"})


def test_review_is_the_default_and_builds_nothing(cli):
    text = cli("promote", "-e", "train.ipynb")
    assert text.returncode == 0, text.stderr
    assert "requirements.txt" in text.stdout and "FROM " in text.stdout
    assert "registry.example.com/team/proj:" in text.stdout
    assert ("shape        from Ray's view of its nodes: Not running in a KubeRay pod"
            in text.stdout)
    js = cli("promote", "-e", "train.ipynb", "--json")
    assert js.returncode == 0, js.stderr
    plan = json.loads(js.stdout)
    kinds = [doc["kind"] for doc in yaml.safe_load_all(plan["manifests"])]
    assert kinds == ["RayJob", "RayCluster"]
    assert any(line.startswith("pyyaml==") for line in plan["requirements"]["requirements"])
    history = cli("promote", "-e", "train.ipynb", "--json")  # a review records nothing
    assert json.loads(history.stdout)["inputs_hash"] == plan["inputs_hash"]


def test_the_review_pins_from_the_latest_run_and_says_so_in_text_and_json(cli, tmp_path):
    root = tmp_path / "root"
    # no pip field (the head's Python runs it); the project's requirements.txt is pinned
    (root / "proj" / "runtime_env.yaml").write_text("env_vars: {MODE: prod}\n")
    (root / "proj" / "requirements.txt").write_text("pyyaml>=5\n")
    ran = cli("jobs", "submit", "--wait", "--json", "train.ipynb")
    assert ran.returncode == 0, ran.stderr
    job_id = json.loads(ran.stdout)["submission_id"]
    js = cli("promote", "-e", "train.ipynb", "--json")
    assert js.returncode == 0, js.stderr
    plan = json.loads(js.stdout)
    assert plan["source"]["kind"] == "run" and plan["source"]["run"]["submission_id"] == job_id
    (change,) = plan["requirements"]["changes"]
    assert change["from"]["run_id"] == job_id and change["from"]["imported"] is False
    text = cli("promote", "-e", "train.ipynb")
    assert f"versions     from the run {job_id} of proj/train.ipynb" in text.stdout
    assert f"from run {job_id} (declared, never imported by the run)" in text.stdout
    server = cli("promote", "-e", "train.ipynb", "--source-run", "server", "--json")
    assert json.loads(server.stdout)["source"]["kind"] == "server"


def test_the_rayservice_variant_from_the_command_line(cli):
    js = cli("promote", "-e", "train.ipynb", "--variant", "rayservice", "--serve-app",
             "helpers:app", "--json")
    assert js.returncode == 0, js.stderr
    (doc,) = yaml.safe_load_all(json.loads(js.stdout)["manifests"])
    assert doc["kind"] == "RayService"
    assert "import_path: helpers:app" in doc["spec"]["serveConfigV2"]
    text = cli("promote", "-e", "train.ipynb", "--variant", "rayservice", "--serve-app",
               "helpers:app")
    assert "serves       helpers:app (from serve_app)" in text.stdout
    # the notebook binds no Serve app: the field to give is named
    none = cli("promote", "-e", "train.ipynb", "--variant", "rayservice", "--json")
    assert none.returncode == 2 and json.loads(none.stdout)["error"]["field"] == "serve_app"


def test_context_export_writes_the_tar_gz(cli, tmp_path):
    dest = tmp_path / "ctx.tar.gz"
    out = cli("promote", "-e", "train.ipynb", "--context", str(dest), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "exported"
    with tarfile.open(dest) as tar:
        names = set(tar.getnames())
    assert "Dockerfile" in names and "manifests/rayjob.yaml" in names
    assert not any("checkpoints" in n or n.endswith(".log") for n in names)  # ignored files


def test_the_readme_example_from_the_jupyter_root(cli, tmp_path):
    """`jupyter ray-dev promote -p proj -e train.ipynb` as the README writes it, run from the
    Jupyter root: -e is the project's file; a missing one is "not found" (exit 3)."""
    root = tmp_path / "root"
    js = cli("promote", "-p", "proj", "-e", "train.ipynb", "--json", cwd=root)
    assert js.returncode == 0, js.stdout + js.stderr
    assert json.loads(js.stdout)["entrypoint"]["source"] == "proj/train.ipynb"
    text = cli("promote", "-p", "proj", "-e", "train.ipynb", cwd=root)
    assert text.returncode == 0 and "warning: {" not in text.stdout
    missing = cli("promote", "-p", "proj", "-e", "score.ipynb", cwd=root)
    assert missing.returncode == 3
    assert missing.stderr.strip() == (
        "Error [entrypoint]: The entrypoint 'score.ipynb' was not found: there is no "
        "'proj/score.ipynb' or 'score.ipynb' in the Jupyter root. Give a path relative to the "
        "project folder or to the current directory.")
    # from a subfolder of the project, the project is found upwards
    (root / "proj" / "notes").mkdir(exist_ok=True)
    sub = cli("promote", "-e", "train.ipynb", "--json", cwd=root / "proj" / "notes")
    assert sub.returncode == 0, sub.stdout + sub.stderr
    assert json.loads(sub.stdout)["entrypoint"]["source"] == "proj/train.ipynb"


def test_exit_codes_a_pipeline_can_branch_on(cli):
    bad = cli("promote", "-e", "train.ipynb", "--build", "--image", "Not A Ref", "--json")
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["error"]["field"] == "image"
    missing = cli("promote", "-e", "nope.ipynb", "--json")
    assert missing.returncode == 3, missing.stdout  # not found, as for a missing job or path
    error = json.loads(missing.stdout)["error"]
    assert (error["status"], error["field"]) == (404, "entrypoint")
    assert "'proj/nope.ipynb'" in error["message"]  # the path as the file browser shows it
    # kaniko without c.RayDev.promote_kaniko cannot run: "no builder", told apart from a
    # failed build
    none = cli("promote", "-e", "train.ipynb", "--build", "--builder", "kaniko", "--json")
    assert none.returncode == 5, none.stdout + none.stderr
    assert json.loads(none.stdout)["error"]["reason"] == "no_builder"


def test_build_pushes_and_prints_the_digest(ray_head, tmp_path, buildah_store, registry,
                                            base_image):
    cli = make_cli(ray_head, tmp_path, {
        "promote_registry": f"{registry}/ci", "promote_tls_verify": False,
        "promote_buildah_root": buildah_store["root"],
        "promote_buildah_runroot": buildah_store["runroot"],
        "promote_buildah_storage_driver": "vfs"})  # where base_image was built
    proj = tmp_path / "root" / "proj"
    (proj / "runtime_env.yaml").write_text(yaml.safe_dump({"env_vars": {"MODE": "prod"}}))
    text = cli("promote", "-e", "train.ipynb", "--build", "--base-image", base_image)
    assert text.returncode == 0, text.stdout[-3000:] + text.stderr[-3000:]
    assert "STEP 1/" in text.stdout  # the builder's log streamed
    out = text.stdout.strip().splitlines()
    (at,) = [i for i, line in enumerate(out) if line.startswith("Promotion ")]
    last = out[at]
    assert " pushed " in last and "@sha256:" in last
    # the same inputs again, as --json: the result document with the digest; nothing but
    # the code (here: nothing) changed, so the code layer on the first image, no builder
    review = cli("promote", "-e", "train.ipynb", "--base-image", base_image)
    assert "  build path   the code layer on the earlier image, no builder: only the code " \
        "changed since promotion" in review.stdout
    js = cli("promote", "-e", "train.ipynb", "--build", "--base-image", base_image, "--json")
    assert js.returncode == 0, js.stderr[-3000:]
    result = json.loads(js.stdout)
    assert result["status"] == "pushed" and result["digest"].startswith("sha256:")
    assert result["build_path"]["path"] == "code_layer"
    assert result["image"].startswith(f"{registry}/ci/proj:")
    # the text ends with the provenance the JSON carries, printed by the one presenter
    provenance = result["provenance"]
    assert provenance["source_run"] is None  # no job of the project ran: the server's Python
    assert provenance["parity"]["status"] == "passed" and provenance["overrides"] == []
    assert out[at + 1:] == present.provenance_lines(provenance)


def test_build_no_push_without_image_or_registry(ray_head, tmp_path, buildah_store,
                                                  base_image):
    """As the README types it, with no registry configured: a local image, checked."""
    cli = make_cli(ray_head, tmp_path, {
        "promote_buildah_root": buildah_store["root"],
        "promote_buildah_runroot": buildah_store["runroot"],
        "promote_buildah_storage_driver": "vfs"})
    # no pip: an image's pip cannot reach an index from here
    (tmp_path / "root" / "proj" / "runtime_env.yaml").write_text("env_vars: {MODE: prod}\n")
    done = cli("promote", "-e", "train.ipynb", "--build", "--no-push", "--base-image",
               base_image, "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "built" and result["digest"] is None
    assert result["image"] == f"localhost/proj:{result['inputs_hash'][:12]}"
    assert result["provenance"]["parity"]["status"] == "passed"
    # a push still needs a target: refused, naming the field
    push = cli("promote", "-e", "train.ipynb", "--build", "--base-image", base_image, "--json")
    assert push.returncode == 2, push.stdout + push.stderr
    assert json.loads(push.stdout)["error"]["field"] == "image"
