"""The runtime_env core without a server: validation against Ray's own verdict, field paths,
round-trip edits that keep comments, atomic writes and ETags."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from ray.runtime_env import RuntimeEnv

from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.project.runtime_env import dump, parse, plain, with_project_paths
from jupyter_ray_dev.runtime_env import (
    InvalidRuntimeEnv,
    Place,
    RuntimeEnvConfig,
    RuntimeEnvService,
    StaleEtag,
    add_pip_package,
    format_path,
    merge,
    remove_pip_package,
    runtime_env_schema,
    set_env_var,
    unset_env_var,
    validate,
)
from jupyter_ray_dev.runtime_env.document import write_atomic


def ray_accepts(env: dict) -> bool:
    try:
        RuntimeEnv(**env)
    except Exception:
        return False
    return True


# (runtime_env, the field our first finding names: an error where Ray refuses the env, else a
# warning; None: valid and nothing to say). Validity itself is never in the table: it is Ray's.
CASES = [
    ({}, None),
    ({"pip": ["requests==2.32.3", "six"]}, None),
    ({"pip": {"packages": ["six"], "pip_check": False}}, None),
    ({"pip": {"packages": ["six"], "pip_check": "yes"}}, "pip.pip_check"),
    # Ray 2.60 accepts a non-string package in the mapping form (pip fails later, on the
    # cluster): valid, and the warning names the item
    ({"pip": {"packages": ["six", "x", 3]}}, "pip.packages[2]"),
    ({"pip": ["six", 3]}, "pip[1]"),
    ({"pip": {"pip_check": True}}, "pip"),
    ({"pip": {"packages": ["six"], "bogus": 1}}, "pip"),
    ({"pip": "no-such-requirements.txt"}, "pip"),
    ({"uv": ["six"]}, None),
    ({"uv": ["six"], "pip": ["six"]}, "uv"),
    ({"pip": ["six"], "conda": "base"}, "conda"),
    ({"conda": {"dependencies": ["pip", {"pip": ["six"]}]}}, None),
    ({"conda": 3}, "conda"),
    ({"env_vars": {"A": "1", "B": ""}}, None),
    ({"env_vars": {"A": 1}}, "env_vars.A"),
    ({"env_vars": {"A.B": 1}}, 'env_vars["A.B"]'),
    ({"env_vars": "A=1"}, "env_vars"),
    ({"working_dir": "."}, None),
    ({"working_dir": "local:///mnt/shared/project"}, None),
    ({"working_dir": "s3://bucket/code.zip"}, "working_dir"),  # smart_open on every node
    ({"working_dir": 1}, "working_dir"),
    ({"excludes": ["data/", "*.ckpt"]}, None),
    ({"excludes": "data/"}, "excludes"),
    ({"py_modules": ["mymod"]}, None),  # a folder of the project (made below)
    ({"py_modules": ["mymod", "missing_mod"]}, "py_modules[1]"),
    ({"working_dir": "no-such-folder"}, "working_dir"),
    ({"py_modules": "mymod"}, "py_modules"),
    ({"image_uri": "rayproject/ray:2.60.0-py311"}, None),
    ({"image_uri": "img", "env_vars": {"A": "1"}, "config": {"eager_install": True}}, None),
    ({"image_uri": "img", "pip": ["six"]}, "image_uri"),
    ({"config": {"setup_timeout_seconds": 60}}, None),
    ({"config": {"setup_timeout_seconds": -1}}, None),
    ({"config": {"setup_timeout_seconds": 0}}, "config.setup_timeout_seconds"),
    ({"config": {"eager_install": "x"}}, "config.eager_install"),
    # Ray accepts these (plugin fields, its lenient checks): so do we, with a warning
    ({"my_plugin": {"x": 1}}, None),
    ({"image_uri": 1}, "image_uri"),
    ({"config": {"unknown_option": 1}}, "config"),
]


@pytest.mark.parametrize(("env", "path"), CASES, ids=[str(c[0]) for c in CASES])
def test_verdict_is_rays_and_names_the_field(env, path, tmp_path):
    (tmp_path / "mymod").mkdir()
    (tmp_path / "mymod" / "__init__.py").write_text("")
    verdict = validate(env, Place(tmp_path, tmp_path))
    assert verdict.ray_checked
    # never disagrees with Ray, given the env as a job from the project submits it
    assert verdict.valid == ray_accepts(with_project_paths(env, tmp_path)), verdict
    findings = verdict.warnings if verdict.valid else verdict.errors
    if path is None:
        assert verdict.valid and not findings, verdict
    else:
        assert findings[0].path == path, verdict
        assert findings[0].message


def test_lenient_ray_cases_warn(tmp_path):
    verdict = validate({"image_uri": 1}, Place(tmp_path, tmp_path))
    assert verdict.valid and verdict.warnings[0].path == "image_uri"


def test_requirement_files_are_the_projects(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    env = {"pip": "requirements.txt"}
    assert validate(env, Place(tmp_path, tmp_path)).valid
    # Ray alone reads it from the server's current folder, which is not the project
    assert os.getcwd() != str(tmp_path)


def test_conflicts_carry_the_fix():
    verdict = validate({"pip": ["six"], "conda": "base"})
    assert "pip:" in verdict.errors[0].fix
    verdict = validate({"image_uri": "img", "pip": ["six"], "working_dir": "."})
    assert "pip" in verdict.errors[0].message and verdict.errors[0].fix


def test_warnings_ray_cannot_give(tmp_path):
    env = {"working_dir": "gs://bucket/code.zip", "py_modules": ["s3://b/m.zip"],
           "env_vars": {"HF_TOKEN": "hf_abc", "AWS_SECRET_ACCESS_KEY": "${AWS_SECRET_ACCESS_KEY}",
                        "PLAIN": "x"}}
    verdict = validate(env, Place(tmp_path, tmp_path))
    assert verdict.valid
    by_path = {w.path: w for w in verdict.warnings}
    assert "smart_open[gcs]" in by_path["working_dir"].message
    assert "smart_open[s3]" in by_path["py_modules[0]"].fix
    assert "${HF_TOKEN}" in by_path["env_vars.HF_TOKEN"].fix
    assert "env_vars.AWS_SECRET_ACCESS_KEY" not in by_path  # a reference, not a value
    assert "env_vars.PLAIN" not in by_path


def test_working_dir_over_the_upload_limit_warns_with_the_fix(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"x" * 5000)
    (tmp_path / "small.py").write_text("print(1)\n")
    place = Place(tmp_path, tmp_path, upload_limit=4000)
    [warning] = [w for w in validate({}, place).warnings if w.path == "working_dir"]
    assert "data.bin" in warning.message and ".rayignore" in warning.fix
    (tmp_path / ".rayignore").write_text("data.bin\n")
    assert not validate({}, place).warnings
    # on shared storage nothing is uploaded
    assert not validate({}, Place(tmp_path, tmp_path, (tmp_path,), upload_limit=1)).warnings


def test_format_path():
    assert format_path(["pip", "packages", 2]) == "pip.packages[2]"
    assert format_path(["env_vars", "MY-VAR"]) == "env_vars.MY-VAR"
    assert format_path(["env_vars", "a b"]) == 'env_vars["a b"]'
    assert format_path([]) == ""


def test_schema_is_shipped_and_valid():
    import jsonschema

    schema = runtime_env_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"pip", "env_vars", "working_dir"} <= set(schema["properties"])
    # every field Ray knows (but its private ones) is in the form
    assert {f for f in RuntimeEnv.known_fields if not f.startswith("_")} <= \
        set(schema["properties"])


# --- round-trip document --------------------------------------------------------------------
COMMENTED = """\
# the project's environment
env_vars:
  A: "1"   # keep me
pip:
  - requests  # http
  - six
"""


def test_merge_keeps_comments_and_quoting():
    doc = parse(COMMENTED)
    env = plain(doc)
    env["env_vars"]["B"] = "2"
    env["pip"].insert(1, "numpy")
    text = dump(merge(doc, env))
    assert text.startswith("# the project's environment\n")
    assert 'A: "1"   # keep me' in text
    assert "requests  # http" in text
    assert plain(parse(text)) == {"env_vars": {"A": "1", "B": "2"},
                                  "pip": ["requests", "numpy", "six"]}


def test_merge_removes_fields_and_items():
    doc = merge(parse(COMMENTED), {"pip": ["six"]})
    assert plain(parse(dump(doc))) == {"pip": ["six"]}
    assert dump(merge(parse(COMMENTED), {})).strip() in ("", "# the project's environment")


def test_helpers_edit_in_place():
    doc = parse(COMMENTED)
    set_env_var(doc, "A", "2")
    set_env_var(doc, "NEW", "x")
    add_pip_package(doc, "Requests==2.32.3")  # replaces requests, same project
    add_pip_package(doc, "torch")
    text = dump(doc)
    assert "# keep me" in text and "# http" in text
    assert plain(doc) == {"env_vars": {"A": "2", "NEW": "x"},
                          "pip": ["Requests==2.32.3", "six", "torch"]}
    remove_pip_package(doc, "six")
    unset_env_var(doc, "NEW")
    assert plain(doc) == {"env_vars": {"A": "2"}, "pip": ["Requests==2.32.3", "torch"]}


def test_helpers_on_an_empty_file_and_other_shapes():
    doc = parse("")
    add_pip_package(doc, "six")
    set_env_var(doc, "A", "1")
    assert plain(parse(dump(doc))) == {"pip": ["six"], "env_vars": {"A": "1"}}
    doc = parse("pip:\n  packages: [six]\n  pip_check: false\n")
    add_pip_package(doc, "torch")
    assert plain(doc)["pip"]["packages"] == ["six", "torch"]
    with pytest.raises(BadRequest):
        add_pip_package(parse("pip: requirements.txt\n"), "six")
    with pytest.raises(BadRequest):
        add_pip_package(parse("conda: base\n"), "six")
    with pytest.raises(BadRequest):
        set_env_var(parse(""), "A", 1)  # type: ignore[arg-type]


def test_parse_errors_name_the_line():
    with pytest.raises(BadRequest) as err:
        parse("pip: [a\nenv_vars: {")
    assert err.value.details["field"] == "yaml" and err.value.details["line"]
    with pytest.raises(BadRequest):
        parse("- a\n- b\n")


def test_write_atomic_keeps_mode_and_leaves_no_temp(tmp_path):
    target = tmp_path / "runtime_env.yaml"
    target.write_text("a: 1\n")
    target.chmod(0o640)
    write_atomic(target, "b: 2\n")
    assert target.read_text() == "b: 2\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["runtime_env.yaml"]


# --- the service ----------------------------------------------------------------------------
@pytest.fixture
def service(tmp_path):
    (tmp_path / "proj").mkdir()
    svc = RuntimeEnvService(RuntimeEnvConfig(tmp_path))
    yield svc
    asyncio.run(svc.close())


def test_service_read_write_etag(service, tmp_path):
    async def go():
        first = await service.read("proj")
        assert first == {"project": "proj", "path": "proj/runtime_env.yaml", "runtime_env": {},
                         "yaml": "", "etag": first["etag"], "exists": False}
        saved = await service.write("proj", runtime_env={"env_vars": {"A": "1"}},
                                    if_match=first["etag"])
        assert saved["exists"] and saved["etag"] != first["etag"]
        with pytest.raises(StaleEtag) as stale:
            await service.write("proj", runtime_env={}, if_match=first["etag"])
        assert stale.value.status == 409 and stale.value.details["etag"] == saved["etag"]
        with pytest.raises(InvalidRuntimeEnv) as bad:
            await service.write("proj", yaml_text="env_vars:\n  A: 1\n", if_match=saved["etag"])
        assert bad.value.status == 400 and bad.value.details["field"] == "env_vars.A"
        assert (await service.read("proj"))["etag"] == saved["etag"]  # nothing written
        edited = await service.set_env_var("proj", "B", "2")
        assert edited["runtime_env"] == {"env_vars": {"A": "1", "B": "2"}}
        edited = await service.add_pip_package("proj", "six")
        assert edited["runtime_env"]["pip"] == ["six"]
        # concurrent edits in this process are serialised: none is lost
        await asyncio.gather(*(service.set_env_var("proj", f"V{i}", str(i)) for i in range(5)))
        env = (await service.read("proj"))["runtime_env"]["env_vars"]
        assert {f"V{i}" for i in range(5)} <= set(env)

    asyncio.run(go())


def test_service_refuses_paths_outside_the_root(service):
    async def go():
        for bad in ("../", "missing", "proj/../.."):
            with pytest.raises(BadRequest):
                await service.read(bad)

    asyncio.run(go())


def test_jobs_read_the_file_through_the_core(tmp_path):
    from jupyter_ray_dev.project.runtime_env import load_project_runtime_env

    (tmp_path / "runtime_env.yaml").write_text(COMMENTED)
    assert load_project_runtime_env(tmp_path) == {"env_vars": {"A": "1"},
                                                  "pip": ["requests", "six"]}
    assert load_project_runtime_env(tmp_path / "nope") == {}
    (tmp_path / "runtime_env.yaml").write_text("pip: [a\n")
    with pytest.raises(BadRequest):
        load_project_runtime_env(tmp_path)
    assert isinstance(Path, type)
