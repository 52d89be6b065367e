"""The promote core's stages on sample projects, without Ray or a builder: collecting,
pinning, env vars, the Dockerfile (injection), manifests (KubeRay's CRD schemas) and
the exported context. The cluster summary is a literal of the dashboard's shape:
these stages are pure functions of it (the API tests use the real Ray head)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from promote_helpers import SUMMARY, build_wheel, notebook, sample_project, write

from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.present import promote_plan_text
from jupyter_ray_dev.promote import PromoteConfig, PromoteService
from jupyter_ray_dev.promote.collect import collect
from jupyter_ray_dev.promote.dockerfile import default_base_image, dq
from jupyter_ray_dev.promote.envvars import split_env_vars
from jupyter_ray_dev.promote.manifests import cluster_shape, validate_manifest
from jupyter_ray_dev.promote.options import PromoteOptions
from jupyter_ray_dev.promote.pin import pin_requirements


async def _summary():
    return SUMMARY


@pytest.fixture
def promote(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    service = PromoteService(PromoteConfig(root_dir=root, registry="registry.example.com/team",
                                           store_path=tmp_path / "p.sqlite"), _summary)
    yield service
    asyncio.run(service.close())


def plan_of(service, project="proj", **body):
    return asyncio.run(service.plan(project, body))


def instructions(dockerfile: str) -> list[str]:
    parser = DockerfileParser(fileobj=io.BytesIO())
    parser.content = dockerfile
    return [i["instruction"] for i in parser.structure if i["instruction"] != "COMMENT"]


CLEAN_INSTRUCTIONS = ["FROM", "USER", "COPY", "RUN", "ENV", "WORKDIR", "COPY", "ARG", "LABEL"]

# --- collect ------------------------------------------------------------------


def test_collect_keeps_code_and_data_and_drops_every_kind_of_ignored_file(tmp_path):
    project = sample_project(tmp_path)
    got = collect(project, project / "train.ipynb", ("*.tmp",))
    assert {"train.ipynb", "helpers.py", "data/params.txt", "runtime_env.yaml"} <= set(got.files)
    kept = "\n".join(got.files)
    for gone in ("checkpoints", "run.log", "scratch", "__pycache__", "cache.tmp"):
        assert gone not in kept  # .gitignore, .gitignore, .dockerignore, Ray default, excludes
    assert {"run.log", "scratch/notes.txt", "cache.tmp", "__pycache__"} <= set(got.excluded)
    # the notebook becomes a script; its %pip line is reported, not silently dropped
    assert got.entrypoint.script == "train.py"
    assert "import helpers" in got.entrypoint.generated
    assert [w["source"] for w in got.entrypoint.warnings] == ["%pip install tqdm"]


def test_notebook_checkpoints_caches_and_vcs_never_reach_the_build_context(
        promote, tmp_path, monkeypatch):
    project = sample_project(Path(promote.root))
    notebook(project / ".ipynb_checkpoints" / "train-checkpoint.ipynb", "print('stale')")
    notebook(project / "sub" / ".ipynb_checkpoints" / "x-checkpoint.ipynb", "print(2)")
    write(project / "sub" / "x.py", "print(2)\n")
    write(project / "sub" / "__pycache__" / "x.cpython-311.pyc", "bytecode")
    write(project / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(project / ".venv" / "bin" / "python", "#!/bin/sh\n")
    # a user who empties Ray's default excludes still gets none of them in the image
    monkeypatch.setenv("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", "")
    got = collect(project, project / "train.ipynb")
    assert "sub/x.py" in got.files
    assert {".ipynb_checkpoints", "sub/.ipynb_checkpoints", "sub/__pycache__", ".git",
            ".venv"} <= set(got.excluded)
    dest = tmp_path / "ctx.tar.gz"
    asyncio.run(promote.export_context("proj", {"entrypoint": "proj/train.ipynb"}, dest))
    with tarfile.open(dest) as tar:
        names = tar.getnames()
    assert "app/sub/x.py" in names
    for gone in (".ipynb_checkpoints", "__pycache__", ".git/", ".venv"):
        assert not [n for n in names if gone in n], gone
    # the review says which rule cut them
    plan = asyncio.run(promote.plan("proj", {"entrypoint": "proj/train.ipynb"}))
    (line,) = [x for x in promote_plan_text(plan).splitlines() if "excluded  " in x]
    assert ".ipynb_checkpoints" in line and "Ray's defaults, .ipynb_checkpoints," in line


def test_converted_notebook_never_shadows_a_module_of_the_same_name(tmp_path):
    project = sample_project(tmp_path)
    write(project / "train.py", "print('the user module')\n")
    got = collect(project, project / "train.ipynb")
    assert got.entrypoint.script == "train_notebook.py"


def test_an_ignored_entrypoint_is_refused(tmp_path):
    project = sample_project(tmp_path)
    notebook(project / "scratch" / "try.ipynb", "print(1)")
    with pytest.raises(BadRequest) as err:
        collect(project, project / "scratch" / "try.ipynb")
    assert err.value.details["field"] == "entrypoint"


# --- pin ------------------------------------------------------------------------


def test_loose_specs_are_pinned_to_the_dev_clusters_versions_and_the_rest_reported(tmp_path):
    wheel = build_wheel(tmp_path / "src", tmp_path / "proj" / "wheels")
    env = {"pip": ["PyYAML>=5", "packaging==23.0", "ray[default]>=2", "no-such-pkg-xyz>=1",
                   "pytest<1", "--index-url https://user:pw@example.com/simple",
                   "bad spec !!", f"./wheels/{wheel.name}", "tomli; python_version < '3'"]}
    pinned = pin_requirements(tmp_path / "proj", env)
    yaml_version = importlib.metadata.version("PyYAML")
    assert pinned.lines[:2] == [f"PyYAML=={yaml_version}", "packaging==23.0"]
    assert f"./wheels/{wheel.name}" in pinned.lines
    assert [name for _, name in pinned.local_files] == [wheel.name]
    assert not any(line.startswith("ray") for line in pinned.lines)  # the base image has it
    reasons = {u["spec"]: u["reason"] for u in pinned.unpinned}
    assert "not installed" in reasons["no-such-pkg-xyz>=1"]
    assert "does not satisfy" in reasons["pytest<1"]
    assert "credentials" in reasons["--index-url https://user:pw@example.com/simple"]
    assert "not a valid requirement" in reasons["bad spec !!"]
    assert "marker" in reasons["tomli; python_version < '3'"]
    # nothing that pip would read as an option reaches requirements.txt
    assert not any(line.startswith("-") or "\n" in line for line in pinned.lines)


def test_requirements_file_and_conda_pip_part_are_pinned(tmp_path):
    project = tmp_path / "proj"
    write(project / "requirements.txt", "# deps\n-r more.txt\npackaging\n")
    write(project / "more.txt", "pyyaml\n")
    pinned = pin_requirements(project, {})
    assert pinned.source == "requirements.txt"
    assert pinned.lines == [f"pyyaml=={importlib.metadata.version('pyyaml')}",
                            f"packaging=={importlib.metadata.version('packaging')}"]
    conda = pin_requirements(project, {"conda": {"dependencies": [
        "python=3.11", "numpy", {"pip": ["packaging"]}]}})
    assert conda.lines == [f"packaging=={importlib.metadata.version('packaging')}"]
    assert [u["spec"] for u in conda.unpinned] == ["numpy"]


def test_a_requirements_file_may_not_reach_outside_the_project(tmp_path):
    project = tmp_path / "proj"
    write(tmp_path / "secret.txt", "x\n")
    write(project / "requirements.txt", "-r ../secret.txt\n")
    with pytest.raises(BadRequest):
        pin_requirements(project, {})


# --- env vars -------------------------------------------------------------------


def test_secret_looking_env_vars_are_refused_from_the_image_with_the_kubernetes_hint():
    env = split_env_vars({"MODE": "prod", "AWS_SECRET_ACCESS_KEY": "x", "HF_TOKEN": "y",
                          "INNOCENT": "AKIAABCDEFGHIJKLMNOP"}, "proj-secrets")
    assert env.baked == {"MODE": "prod"}
    assert {s["name"] for s in env.secret} == {"AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "INNOCENT"}
    assert all("kubectl create secret generic proj-secrets" in s["hint"] for s in env.secret)


@pytest.mark.parametrize("env", [{"A": "x\nRUN touch /pwned"}, {"A B": "x"}, {"A": 3}])
def test_env_vars_an_image_cannot_carry_are_refused_naming_the_field(env):
    with pytest.raises(BadRequest) as err:
        split_env_vars(env, "s")
    assert err.value.details["field"].startswith("runtime_env.env_vars")


# --- Dockerfile ---------------------------------------------------------------


def test_dockerfile_layers_dependencies_before_code_and_runs_as_ray(promote):
    sample_project(Path(promote.root))
    plan = plan_of(promote, entrypoint="proj/train.ipynb")
    text = plan["dockerfile"]
    assert instructions(text) == CLEAN_INSTRUCTIONS
    assert "\nFROM rayproject/ray:2.60.0-py311-gpu\n" in text  # the cluster has GPUs
    assert text.index("requirements.txt") < text.index("COPY --chown=1000:100 app/")
    assert "USER ray" in text
    assert plan["image"] == f"registry.example.com/team/proj:{plan['inputs_hash'][:12]}"
    assert plan_of(promote, gpu=False, entrypoint="proj/train.ipynb")["base_image"] == \
        "rayproject/ray:2.60.0-py311"


def test_hostile_values_cannot_add_dockerfile_instructions(promote):
    root = Path(promote.root)
    hostile_value = 'x" \\\nRUN touch /pwned'.replace("\n", " ") + ' $(id) `id` \\'
    sample_project(root, "evil\"$(id) `id` name", env_vars={"MODE": hostile_value},
                   pip=["packaging", 'pyyaml; os_name=="posix" \\'])
    project = root / "evil\"$(id) `id` name"
    write(project / "$(touch fnpwn)\\.py", "x = 1\n")
    write(project / "RUN touch fnpwn", "")
    plan = plan_of(promote, "evil\"$(id) `id` name", entrypoint=f"{project.name}/train.ipynb")
    assert instructions(plan["dockerfile"]) == CLEAN_INSTRUCTIONS
    assert "fnpwn" not in plan["dockerfile"]  # file names never reach the Dockerfile
    assert all(not r.startswith("-") for r in plan["requirements"]["requirements"])


def test_a_line_break_in_a_project_name_is_refused_not_written(promote):
    sample_project(Path(promote.root), "two\nRUN touch pwned")
    with pytest.raises(BadRequest):
        plan_of(promote, "two\nRUN touch pwned", entrypoint="two\nRUN touch pwned/train.ipynb")


@pytest.mark.parametrize("value", ["ubuntu\nRUN touch /pwned", "UPPER/case", "a b", "x;y"])
def test_hostile_base_image_is_refused(value):
    with pytest.raises(BadRequest) as err:
        PromoteOptions.from_request({"base_image": value})
    assert err.value.details["field"] == "base_image"


def test_quoting_escapes_what_a_dockerfile_would_expand():
    assert dq('a"b$HOME\\') == '"a\\"b\\$HOME\\\\"'
    assert default_base_image("2.60.0", "3.12.1", False) == "rayproject/ray:2.60.0-py312"


# --- manifests ---------------------------------------------------------------


def test_manifests_follow_the_dev_cluster_and_validate_against_kuberay_crds(promote):
    sample_project(Path(promote.root), env_vars={"MODE": "prod", "API_TOKEN": "t"})
    plan = plan_of(promote, entrypoint="proj/train.ipynb")
    assert plan["manifest_errors"] == {}
    job, cluster = yaml.safe_load_all(plan["manifests"])
    assert (job["kind"], cluster["kind"]) == ("RayJob", "RayCluster")
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True and "runtimeEnvYAML" not in spec
    assert spec["entrypoint"] == "cd /home/ray/app && python train.py"
    head = spec["rayClusterSpec"]["headGroupSpec"]
    assert json.loads(head["rayStartParams"]["resources"]) == {"my_custom": 4.0}
    # Ray's view of a cluster this server cannot see: its totals are no requests
    assert "resources" not in head["template"]["spec"]["containers"][0]
    numbers = {(n["group"], n["resource"]): n for n in plan["shape_source"]["numbers"]}
    assert numbers["head", "memory"]["value"] == "5Gi" and not numbers["head", "memory"]["used"]
    assert "left out" in numbers["head", "cpu"]["from"]
    assert any(w["kind"] == "shape_not_requests" and "head memory 5Gi" in w["message"]
               for w in plan["warnings"])
    (workers,) = spec["rayClusterSpec"]["workerGroupSpecs"]  # the dead node is not copied
    assert workers["replicas"] == 2
    assert workers["template"]["spec"]["containers"][0]["resources"]["limits"][
        "nvidia.com/gpu"] == "1"
    env = head["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "proj-secrets", "key": "API_TOKEN"}}}]
    assert "API_TOKEN" not in plan["dockerfile"]


def test_the_crd_validator_catches_a_wrong_manifest():
    shape = cluster_shape(SUMMARY)
    from jupyter_ray_dev.promote.manifests import rayjob

    job = rayjob(name="p", project="p", image="i", ray_version="2.60.0", entrypoint="python x",
                 shape=shape, env=[])
    assert validate_manifest(job) == []
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "two"
    job["spec"]["shutdownAfterJobFinishes"] = "yes"
    errors = validate_manifest(job)
    assert len(errors) == 2 and any("replicas" in e for e in errors)


# --- context export -------------------------------------------------------------


def test_exported_context_is_complete_and_byte_reproducible(promote, tmp_path):
    sample_project(Path(promote.root))
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    info = asyncio.run(promote.export_context("proj", {"entrypoint": "proj/train.ipynb"}, first))
    asyncio.run(promote.export_context("proj", {"entrypoint": "proj/train.ipynb"}, second))
    assert first.read_bytes() == second.read_bytes()
    header = first.read_bytes()[:10]  # RFC 1952: no time (MTIME 0) and no file name (FLG)
    assert header[:3] == b"\x1f\x8b\x08" and header[3] == 0 and header[4:8] == b"\0" * 4
    with tarfile.open(first) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("deps/requirements.txt").read().decode().startswith("pyyaml==")
    assert {"Dockerfile", ".dockerignore", "app/train.py", "app/helpers.py",
            "app/data/params.txt", "manifests/rayjob.yaml", "manifests/raycluster.yaml"} <= names
    assert not any("checkpoints" in n or "scratch" in n for n in names)
    assert info["bytes"] == first.stat().st_size and info["status"] == "exported"
    assert [p["id"] for p in asyncio.run(promote.history("proj"))][-1] == info["id"]


def test_the_archive_is_gzip_with_no_name_and_no_time_in_its_header(promote, tmp_path):
    """Any gzip reads it, and nothing of the moment or the machine is in its header."""
    import gzip

    sample_project(Path(promote.root))
    archive = tmp_path / "ctx.tar.gz"
    asyncio.run(promote.export_context("proj", {"entrypoint": "proj/train.ipynb"}, archive))
    header = archive.read_bytes()[:10]
    assert header[:4] == b"\x1f\x8b\x08\x00" and header[4:8] == b"\0" * 4  # no FNAME, mtime 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive.read_bytes()))) as tar:
        assert "app/train.ipynb" in tar.getnames()


def test_context_tar_fixes_owner_time_and_mode_and_takes_any_file_name(tmp_path):
    """GNU tar writes it: names tar could read as options, or with newlines, stay names."""
    from jupyter_ray_dev.promote.context import FIXED_MTIME, ContextSpec, write_tar_gz

    project = tmp_path / "proj"
    odd = ["-rf", "--to-command=touch x", "a b/\nnewline.py", "ünï.py"]
    for name in odd:
        write(project / name, "print(1)\n")
    tool = project / "bin" / "tool.sh"
    write(tool, "#!/bin/sh\n")
    tool.chmod(0o4750)  # setuid, group-only: the image gets plain 0755
    (project / "secret.txt").write_text("x")
    (project / "secret.txt").chmod(0o600)
    wheel = tmp_path / "elsewhere" / "pkg-1.0-py3-none-any.whl"
    write(wheel, "wheel")
    spec = ContextSpec()
    for name in [*odd, "bin/tool.sh", "secret.txt"]:
        spec.add_file(f"app/{name}", project / name)
    spec.add_file("deps/wheels/pkg-1.0-py3-none-any.whl", wheel)  # not under the project
    spec.add_text("Dockerfile", "FROM scratch\n")
    dest = tmp_path / "out" / "ctx.tar.gz"
    write_tar_gz(spec, dest)
    with tarfile.open(dest) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {f.name for f in spec.files}
        assert tar.extractfile("app/a b/\nnewline.py").read() == b"print(1)\n"
    assert {(m.uid, m.gid, m.mtime) for m in members.values()} == {(0, 0, FIXED_MTIME)}
    assert members["app/bin/tool.sh"].mode == 0o755
    assert members["app/secret.txt"].mode == members["Dockerfile"].mode == 0o644
    assert not (tmp_path / "x").exists() and not (project / "x").exists()  # no option ran


def staged_folders() -> set[str]:
    """tar's staging folders of the exports under way (in memory, or the temp dir)."""
    import tempfile

    from jupyter_ray_dev.promote.context import _staging_dir

    folder = Path(_staging_dir() or tempfile.gettempdir())
    return {p.name for p in folder.glob("ray-dev-tar-*")}


def test_a_failed_context_export_leaves_no_file(tmp_path):
    from jupyter_ray_dev.promote.context import ContextSpec, write_tar_gz

    before = staged_folders()
    spec = ContextSpec()
    spec.add_file("app/gone.py", tmp_path / "gone.py")  # vanished since the walk
    dest = tmp_path / "out" / "ctx.tar.gz"
    with pytest.raises(OSError) as err:
        write_tar_gz(spec, dest)
    assert list((tmp_path / "out").iterdir()) == []
    assert "try again" in err.value.message and "gone.py" in err.value.message
    assert staged_folders() <= before  # nor anything staged for tar


def test_an_export_leaves_nothing_staged(tmp_path):
    from jupyter_ray_dev.promote.context import ContextSpec, write_tar_gz

    before = staged_folders()
    write(tmp_path / "proj" / "main.py", "print(1)\n")
    spec = ContextSpec()
    spec.add_file("app/main.py", tmp_path / "proj" / "main.py")
    spec.add_text("Dockerfile", "FROM scratch\n")
    write_tar_gz(spec, tmp_path / "ctx.tar.gz")
    with tarfile.open(tmp_path / "ctx.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["Dockerfile", "app/main.py"]
    assert staged_folders() <= before


def test_a_streamed_export_is_the_same_archive_as_a_builders_context(promote, tmp_path):
    """The export archives the project while it is walked; a kaniko context is written
    from the finished plan: the same inputs give the same bytes either way."""
    from jupyter_ray_dev.promote.context import write_tar_gz

    sample_project(Path(promote.root))
    body = {"entrypoint": "proj/train.ipynb"}
    streamed = tmp_path / "streamed.tar.gz"
    asyncio.run(promote.export_context("proj", body, streamed))
    plan = asyncio.run(promote._plan("proj", PromoteOptions.from_request(body), builders=False))
    whole = tmp_path / "whole.tar.gz"
    write_tar_gz(plan.spec, whole)
    assert streamed.read_bytes() == whole.read_bytes()
    with tarfile.open(streamed) as tar:
        names = tar.getnames()
    # the project's files first, in walk order, then the generated text and manifests
    assert names.index("app/helpers.py") < names.index("Dockerfile")
    assert sorted(names) == sorted({f.name for f in plan.spec.files})


def test_tar_and_gzip_settings_in_the_environment_do_not_change_the_archive(
        promote, tmp_path, monkeypatch):
    """TAR_OPTIONS (GNU tar prepends it to its arguments: here, a rename of every member)
    and GZIP/PIGZ in the server's environment would make two exports of the same inputs
    differ: none of them reaches the archive."""
    sample_project(Path(promote.root))
    body = {"entrypoint": "proj/train.ipynb"}
    plain, tuned = tmp_path / "plain.tar.gz", tmp_path / "tuned.tar.gz"
    for name in ("TAR_OPTIONS", "GZIP", "PIGZ"):
        monkeypatch.delenv(name, raising=False)
    asyncio.run(promote.export_context("proj", body, plain))
    monkeypatch.setenv("TAR_OPTIONS", "--transform=s,^app/,code/,")
    monkeypatch.setenv("GZIP", "-1 -N")
    monkeypatch.setenv("PIGZ", "-1 -N")
    asyncio.run(promote.export_context("proj", body, tuned))
    assert tuned.read_bytes() == plain.read_bytes()


def test_the_same_inputs_export_the_same_bytes(promote, tmp_path):
    """The in-process compressor is fed fixed-size chunks: however tar's output arrives
    through the pipe, two exports of one project are byte-identical, and gzip reads them."""
    import gzip

    from jupyter_ray_dev.promote import context

    project = sample_project(Path(promote.root))
    # past the compressor's chunk, so the archive spans several of them
    (project / "blob.bin").write_bytes(os.urandom(3 * context._CHUNK // 2))
    body = {"entrypoint": "proj/train.ipynb"}
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    asyncio.run(promote.export_context("proj", body, first))
    asyncio.run(promote.export_context("proj", body, second))
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first.read_bytes()))) as tar:
        assert tar.extractfile("app/blob.bin").read() == (project / "blob.bin").read_bytes()


def _failed_export(promote, tmp_path) -> str:
    """Export a sample project where the compressor fails: the message; checked that no
    file and no child process is left."""
    import psutil

    from jupyter_ray_dev.promote import context

    sample_project(Path(promote.root))
    out = tmp_path / "out"
    out.mkdir()
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(context.ContextExportFailed) as err:
        asyncio.run(promote.export_context("proj", {"entrypoint": "proj/train.ipynb"},
                                           out / "ctx.tar.gz"))
    assert list(out.iterdir()) == []
    assert not {p.pid for p in psutil.Process().children(recursive=True)} - children
    return err.value.message


def test_a_compressor_that_fails_is_a_clear_error_and_leaves_nothing(
        promote, tmp_path, monkeypatch):
    from jupyter_ray_dev.promote import context

    # ISA-L refuses a level it does not have, as it would fail on a full disk: the same path
    monkeypatch.setattr(context, "_ISAL_LEVEL", 42)
    message = _failed_export(promote, tmp_path)
    assert "gzip" in message
    assert "free space" in message  # what to do, not "try again" as for a changed file


def test_a_tar_that_fails_is_a_clear_error_and_leaves_nothing(promote, tmp_path, monkeypatch):
    """A tar that exits non-zero (an odd build of it on the server's PATH): its exit code
    and message in the error, no file and no process left."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "tar").write_text("#!/bin/sh\ncat > /dev/null\necho 'tar: odd build' >&2\nexit 2\n")
    (fake / "tar").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    message = _failed_export(promote, tmp_path)
    assert "tar exit 2" in message and "odd build" in message


def test_an_export_that_fails_mid_walk_leaves_nothing(promote, tmp_path):
    import psutil

    project = sample_project(Path(promote.root))
    write(project / ".dockerignore", "train.ipynb\n")  # found only once the walk is done
    out = tmp_path / "out"
    out.mkdir()
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(BadRequest) as err:
        asyncio.run(promote.export_context("proj", {"entrypoint": "proj/train.ipynb"},
                                           out / "ctx.tar.gz"))
    assert err.value.details["field"] == "entrypoint"
    assert list(out.iterdir()) == []  # no archive, no partial file
    left = {p.pid for p in psutil.Process().children(recursive=True)} - children
    assert not left  # tar was stopped


def test_a_file_changed_since_the_last_plan_is_read_again(promote):
    """File digests are remembered by stat between plans: a change that keeps the size
    (and, within the clock's tick, the timestamps) must still change the inputs hash."""
    import os
    import time

    project = sample_project(Path(promote.root))
    helpers = project / "helpers.py"
    first = plan_of(promote, entrypoint="proj/train.ipynb")["inputs_hash"]
    write(helpers, "def answer():\n    return 43\n")  # same size, at once
    second = plan_of(promote, entrypoint="proj/train.ipynb")["inputs_hash"]
    assert second != first
    # a settled file (an hour old) that is remembered, then rewritten with its old times
    old = time.time() - 3600
    os.utime(helpers, (old, old))
    plan_of(promote, entrypoint="proj/train.ipynb")
    write(helpers, "def answer():\n    return 44\n")
    os.utime(helpers, (old, old))  # only the ctime tells
    third = plan_of(promote, entrypoint="proj/train.ipynb")["inputs_hash"]
    assert third not in (first, second)
    assert plan_of(promote, entrypoint="proj/train.ipynb")["inputs_hash"] == third


def test_without_the_kubernetes_client_the_shape_is_rays_and_the_review_says_why(
        tmp_path, monkeypatch):
    """In a KubeRay pod whose image lacks the `kubernetes` package. It is installed here,
    so ``sys.modules[name] = None`` makes it absent the way Python itself marks a module
    that cannot be imported (find_spec answers None, import raises ImportError)."""
    import sys

    from jupyter_ray_dev.cluster.kuberay import kuberay_identity
    from jupyter_ray_dev.k8s import KubernetesService
    from jupyter_ray_dev.k8s.client import KubeClient

    monkeypatch.setenv("RAY_CLUSTER_NAME", "ray-dev")
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    root = tmp_path / "root"
    sample_project(root)
    k8s = KubernetesService(KubeClient("", 5.0), kuberay_identity)
    service = PromoteService(PromoteConfig(root_dir=root, store_path=tmp_path / "p.sqlite"),
                             _summary, kubernetes=lambda: k8s)
    try:
        plan = plan_of(service, entrypoint="proj/train.ipynb")
    finally:
        asyncio.run(service.close())
    source = plan["shape_source"]
    assert source["source"] == "ray" and source["raycluster"] is None
    assert "pip install kubernetes" in source["reason"] and "ray-dev" in source["reason"]
    assert plan["manifest_errors"] == {}  # Ray's view still gives valid manifests


def test_ignore_files_of_one_folder_are_each_their_own_spec_when_one_unignores(tmp_path):
    """Ray matches each ignore file on its own: a '!' in .dockerignore does not take back
    what .gitignore ignores. (Without any '!', one joined spec gives the same answer.)"""
    project = sample_project(tmp_path)
    write(project / ".gitignore", "*.log\nscratch/\n")
    write(project / ".dockerignore", "!keep.log\n*.tmp\n")
    write(project / "keep.log", "x")
    write(project / "a.tmp", "x")
    write(project / "sub" / "b.log", "x")
    write(project / "sub" / "c.py", "x = 1\n")
    got = collect(project, project / "train.ipynb")
    assert "keep.log" not in got.files and "sub/b.log" not in got.files
    assert "a.tmp" not in got.files and "sub/c.py" in got.files
    write(project / ".dockerignore", "*.tmp\n")  # no '!': the folder's files are joined
    again = collect(project, project / "train.ipynb")
    assert set(again.files) == set(got.files)
    assert {"keep.log", "sub/b.log", "a.tmp"} <= set(again.excluded)
