"""The parity check's logic: what an image must hold (from a run, else the lock), the
entrypoint's imports found by static analysis, the diff, and the probe itself run by a real
Python (this venv's, standing in for an image's: the probe is plain stdlib)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from jupyter_ray_dev.promote.parity import (
    RunEnvironment,
    compare,
    describe,
    entrypoint_modules,
    expected_from_lock,
    expected_from_run,
    own_modules,
    probe_argv,
    read_report,
    summary,
    unavailable,
)


def test_the_lock_gives_exact_versions_local_files_and_names_to_be_present():
    expected = expected_from_lock(
        ["numpy==1.26.4", "./wheels/raydevdep-1.2.3-py3-none-any.whl",
         "./wheels/mylib-0.4.tar.gz", "requests", "winonly==1; sys_platform == 'win32'",
         "./wheels/oops.zip"],
        "2.60.0", "3.11.7", ("numpy",), "static")
    assert expected.distributions == {"numpy": "1.26.4", "raydevdep": "1.2.3",
                                      "mylib": "0.4", "requests": None}
    assert expected.python == "3.11" and expected.ray == "2.60.0"
    assert expected.where == "the lock" and expected.source_run is None
    assert any("oops.zip" in n for n in expected.notes)


def test_a_run_requires_what_it_imported_and_the_lock_at_the_runs_versions():
    run = RunEnvironment(run_id="raysubmit_1", python="3.11.7", ray="2.60.0",
                         distributions={"NumPy": "1.26.4", "jupyterlab": "4.6.6",
                                        "tabulate": "0.9.0", "ray": "2.60.0"},
                         imported=("numpy", "ray"), modules=("numpy", "helpers", "ray"))
    own = own_modules("nb/train.py", ["nb/train.py", "nb/helpers.py", "pkg/__init__.py",
                                      "setup.cfg"])
    assert own == {"train", "helpers", "nb", "pkg"}
    expected = expected_from_run(run, ["tabulate==0.9.0", "pyyaml==6.0"], own)
    # jupyterlab was in the run's environment but not used: not required of the image
    assert expected.distributions == {"numpy": "1.26.4", "tabulate": "0.9.0", "pyyaml": "6.0"}
    assert expected.source_run == "raysubmit_1" and expected.modules == ("numpy", "ray")
    assert any("pyyaml is in the lock but not in the run" in n for n in expected.notes)


def test_static_analysis_follows_project_modules_and_skips_stdlib_and_optional(tmp_path):
    (tmp_path / "helpers.py").write_text("import pandas\nfrom . import sibling\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from sklearn.linear_model import X\n")
    script = textwrap.dedent("""
        import os, json
        import numpy as np
        from ray import train
        import helpers, pkg.sub
        try:
            import ujson
        except ImportError:
            ujson = None
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import mypy_extensions
        def later():
            import torch.nn
    """)
    modules, how = entrypoint_modules(tmp_path, "train.py", script,
                                      ["train.py", "helpers.py", "pkg/__init__.py"])
    assert modules == ("numpy", "pandas", "ray", "sklearn", "torch")
    assert how.startswith("static analysis of train.py")


def test_a_script_that_does_not_parse_is_said():
    modules, how = entrypoint_modules(__import__("pathlib").Path("."), "t.py", "def (:\n",
                                      ["t.py"])
    assert modules == () and "could not parse t.py" in how


def _report(**over):
    report = {"python": "3.11.2", "ray": "2.60.0",
              "distributions": {"numpy": "2.1.3", "ray": "2.60.0", "rich": "13.9.4"},
              "pip_check": {"ran": True, "ok": True, "lines": [], "error": None},
              "imports": [{"module": "numpy", "ok": True, "error": None, "seconds": 0.1}]}
    report.update(over)
    return report


def test_the_diff_names_each_mismatch_as_a_person_reads_it():
    run = RunEnvironment(run_id="raysubmit_1", python="3.11.7", ray="2.60.0",
                         distributions={"numpy": "1.26.4", "tabulate": "0.9.0"},
                         imported=("numpy", "tabulate"), modules=("numpy", "tabulate"))
    result = compare(expected_from_run(run, []), _report(
        ray=None, imports=[{"module": "numpy", "ok": True, "error": None},
                           {"module": "tabulate", "ok": False,
                            "error": "ModuleNotFoundError: No module named 'tabulate'"}],
        pip_check={"ran": True, "ok": False, "error": None,
                   "lines": ["numpy 2.1.3 requires foo, which is not installed.",
                             "rich 13.9.4 has requirement x<2, but you have x 3."]}))
    assert result["status"] == "failed"
    messages = [m["message"] for m in result["mismatches"]]
    assert "numpy 2.1.3 in the image, 1.26.4 in the run" in messages
    assert "ray is not installed in the image (2.60.0 in the run)" in messages
    assert "tabulate is not installed in the image (0.9.0 in the run)" in messages
    assert any(m.startswith("import tabulate failed in the image: ModuleNotFoundError")
               for m in messages)
    assert "pip check: numpy 2.1.3 requires foo, which is not installed." in messages
    # a pip problem of a distribution the run did not use, a micro version: notes only
    assert any("rich 13.9.4 has requirement" in n for n in result["notes"])
    assert any("Python 3.11.2 in the image, 3.11.7 in the run" in n for n in result["notes"])
    assert result["extras"] == [{"name": "rich", "version": "13.9.4"}]
    text = "\n".join(describe(result))
    assert "FAILED" in text and "MISMATCH numpy 2.1.3 in the image, 1.26.4 in the run" in text
    short = summary(result)
    assert short["extras"] == 1 and short["source"] == "the run raysubmit_1"


def test_a_matching_image_passes_and_another_python_minor_does_not():
    expected = expected_from_lock(["numpy==2.1.3"], "2.60.0", "3.11.7", ("numpy",), "static")
    assert compare(expected, _report())["status"] == "passed"
    other = compare(expected, _report(python="3.12.1"))
    assert [m["message"] for m in other["mismatches"]] == [
        "Python 3.12.1 in the image, 3.11 in the lock"]


def test_unavailable_says_why_and_which_builder_could():
    result = unavailable(None, "kaniko keeps no image here.", ["buildah", "docker"])
    assert result["status"] == "unavailable"
    assert result["reason"].endswith("The buildah or docker builder can check an image "
                                     "before its push.")
    assert describe(result) == [f"Parity check could not run: {result['reason']}"]


def test_the_probe_runs_in_a_real_python_and_keeps_its_report_apart_from_noise(tmp_path):
    """The probe as the image runs it: ``python -c <probe> <modules>``, from the script's
    folder, where a project module prints to stdout (Python and C level) when imported."""
    (tmp_path / "noisy.py").write_text(
        "import os\nprint('hello from noisy')\nos.write(1, b'raw fd write\\n')\n")
    argv = probe_argv(("noisy", "packaging", "surely_not_installed_xyz"))
    out = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout
    report = read_report(out.stdout.splitlines())
    assert report is not None
    # one stream, the report last: nothing a runner merging two pipes could interleave
    lines = out.stdout.splitlines()
    assert lines[-1].startswith("RAY_DEV_PARITY ") and out.stderr == ""
    assert "hello from noisy" in lines and "raw fd write" in lines
    assert "parity: importing noisy" in lines
    assert report["python"] == ".".join(map(str, sys.version_info[:3]))
    from importlib.metadata import version

    assert report["distributions"]["packaging"] == version("packaging")
    assert report["ray"] == version("ray")
    imports = {i["module"]: i for i in report["imports"]}
    assert imports["noisy"]["ok"] and imports["packaging"]["ok"]
    assert not imports["surely_not_installed_xyz"]["ok"]
    assert "No module named 'surely_not_installed_xyz'" in imports["surely_not_installed_xyz"][
        "error"]
    assert report["pip_check"]["ran"] is True


def test_an_in_cluster_build_is_pushed_unchecked_and_says_which_builder_could(tmp_path):
    """kaniko builds and pushes inside one Job: its build stands in here (no kubelet runs
    a pod on this machine; test_promote_kaniko.py covers the Job up to the API server),
    the rest is the service's and the real KanikoBuilder's."""
    import asyncio

    from promote_helpers import SUMMARY, sample_project

    from jupyter_ray_dev.promote import PromoteConfig, PromoteService
    from jupyter_ray_dev.promote.builders import Availability, BuildResult, KanikoBuilder

    class InCluster(KanikoBuilder):
        async def availability(self):
            return Availability("kaniko", True, "a Job in namespace 'ci'")

        async def build(self, context, image, build_args, push, emit):
            assert push  # the push happens in the build Job
            return BuildResult(image=image, image_id="", digest="sha256:" + "a" * 64)

    async def summary():
        return SUMMARY

    sample_project(tmp_path / "root")
    service = PromoteService(PromoteConfig(root_dir=tmp_path / "root",
                                           registry="registry.example.com/team",
                                           store_path=tmp_path / "p.sqlite"), summary)
    service.builders["kaniko"] = InCluster({}, None, None)

    async def go():
        events = [e async for e in service.build("proj", {"entrypoint": "proj/train.ipynb",
                                                          "builder": "kaniko"})]
        await service.close()
        return events

    events = asyncio.run(go())
    end = events[-1]["promotion"]
    assert end["status"] == "pushed" and end["digest"].startswith("sha256:")
    parity = end["parity"]
    assert parity["status"] == "unavailable" and parity["builder"] == "kaniko"
    assert parity["reason"].startswith("kaniko builds inside the cluster and pushes in the "
                                       "same Job")
    could = [b for b in ("buildah", "docker") if b in parity["could_check"]]
    assert parity["could_check"] == could  # the ones that can run on this machine
    lines = [e["text"] for e in events if e["type"] == "line"]
    assert f"Parity check could not run: {parity['reason']}" in lines


def test_an_older_history_file_gains_the_new_columns(tmp_path):
    import asyncio
    import sqlite3

    from jupyter_ray_dev.promote.store import PromotionRecord, PromotionStore

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the first schema, with a row
        db.execute("CREATE TABLE promotions (id TEXT PRIMARY KEY, project TEXT NOT NULL, "
                   "entrypoint TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, "
                   "inputs_hash TEXT NOT NULL, image TEXT, digest TEXT, builder TEXT, "
                   "dockerfile TEXT NOT NULL, manifests TEXT NOT NULL, requirements TEXT NOT "
                   "NULL, log TEXT NOT NULL DEFAULT '', error TEXT, user TEXT, created REAL "
                   "NOT NULL, finished REAL)")
        db.execute("INSERT INTO promotions (id, project, entrypoint, kind, status, "
                   "inputs_hash, dockerfile, manifests, requirements, created) VALUES "
                   "('promo_old', 'p', 'p/a.py', 'build', 'pushed', 'h', '', '', '', 1)")

    async def go():
        store = PromotionStore(path)
        try:
            old = await store.get("promo_old")
            assert old is not None and old.parity is None and old.overrides is None
            new = PromotionRecord(id="promo_new", project="p", entrypoint="p/a.py",
                                  kind="build", status="blocked", inputs_hash="h",
                                  dockerfile="", manifests="", requirements="",
                                  parity={"status": "failed", "mismatches": []},
                                  overrides=[{"what": "parity", "user": "u"}])
            await store.put(new)
            back = await store.get("promo_new")
            assert back.parity == new.parity and back.overrides == new.overrides
            assert back.summary()["parity"]["status"] == "failed"
        finally:
            await store.close()

    asyncio.run(go())


def test_a_notebook_run_does_not_require_what_the_converted_driver_imports_optionally(
        tmp_path):
    """Every notebook job imports IPython when the head has it: the converted driver's
    ``display`` comes from IPython inside try/except ImportError (print without it), so
    the image needs no IPython. What the notebook's own code imports is still required."""
    from promote_helpers import notebook

    from jupyter_ray_dev.project.imports import project_imports
    from jupyter_ray_dev.project.notebook import convert_notebook
    from jupyter_ray_dev.project.run_record import RunRecord
    from jupyter_ray_dev.promote.plan import run_environment

    notebook(tmp_path / "train.ipynb", "import yaml\nprint(yaml.safe_load('a: 1'))")
    converted = convert_notebook(tmp_path / "train.ipynb", "train.ipynb")
    assert "from IPython.display import display" in converted.script
    record = RunRecord(
        "raysubmit_nb", str(tmp_path), ".", "train.ipynb", 0.0, {}, state="recorded",
        status="SUCCEEDED", ended=1.0,
        environment={"distributions": {"ipython": "9.18.1", "pyyaml": "6.0.2"},
                     "imported": {"ipython": ["IPython"], "pyyaml": ["yaml"]},
                     "started": 0.0, "python": {"version": "3.11.7"}, "exit_code": 0})
    run = run_environment(record, project_imports([], [converted.script]))
    assert run.imported == ("pyyaml",) and run.modules == ("yaml",)
    expected = expected_from_run(run, [])
    assert expected.distributions == {"pyyaml": "6.0.2"}
    # an optional import of the project's own code is not required either, a plain one is
    code = project_imports([], ["try:\n    import tqdm\nexcept ImportError:\n    tqdm = None\n"
                                "import rich\n"])
    assert "tqdm" not in code and "rich" in code
