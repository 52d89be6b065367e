"""The %ray_* magics in a real IPython shell, against the real local Ray head.

The shell is IPython's own test shell (``IPython.testing.globalipapp``): the
magics run exactly as in a kernel, only the display goes to the terminal.
"""

from __future__ import annotations

import _thread
import io
import json
import signal
import sys

import pytest
from IPython.core.interactiveshell import ExecutionResult
from traitlets.config import Config

from jupyter_ray_dev import blocking, driver
from jupyter_ray_dev.local import config_from_jupyter
from jupyter_ray_dev.magics import load
from jupyter_ray_dev.service import RayDevService

pytestmark = pytest.mark.ray


@pytest.fixture
def ip():
    from IPython.testing.globalipapp import get_ipython

    return get_ipython()


@pytest.fixture
def root(tmp_path):
    (tmp_path / "root" / "proj").mkdir(parents=True)
    return tmp_path / "root"


@pytest.fixture
def artifacts(tmp_path):
    folder = tmp_path / "artifacts"
    (folder / "run-1").mkdir(parents=True)
    (folder / "run-1" / "metrics.csv").write_text("epoch,loss\n1,0.5\n2,0.25\n")
    return folder


@pytest.fixture
def service(ray_address, ray_head, root, artifacts, tmp_path, monkeypatch):
    # built the way a kernel builds it: c.RayDev.* through the RayDev traits
    config = Config({"RayDev": {
        "ray_address": ray_address,
        "ray_temp_dir": str(ray_head.temp_dir),
        "job_store_path": str(tmp_path / "jobs.sqlite"),
        "storage_roots": [{"name": "art", "url": str(artifacts)}],
    }})
    monkeypatch.chdir(root / "proj")  # a kernel starts in its notebook's folder
    svc = RayDevService(config_from_jupyter(config, root_dir=str(root)))
    yield svc
    blocking.call(svc.close)


@pytest.fixture
def shell(ip, service):
    load(ip, lambda: service)
    return ip


def run(shell, code):
    result = shell.run_cell(code)
    return result


def usage_error(capsys, result) -> str:
    from IPython.core.error import UsageError

    # IPython shows a UsageError as one line, without a traceback, and fails the cell
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    err = capsys.readouterr().err
    # (other lines on stderr: Ray's own loggers, when a driver is connected)
    lines = [line for line in err.splitlines() if line.startswith("UsageError: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_load_ext_registers_every_magic(ip):
    ip.run_line_magic("load_ext", "jupyter_ray_dev")
    lines, cells = ip.magics_manager.magics["line"], ip.magics_manager.magics["cell"]
    for name in ("ray_status", "ray_init", "ray_env", "ray_jobs", "ray_logs", "ray_stop",
                 "ray_ls", "ray_preview", "ray_promote"):
        assert name in lines
    assert "ray_job" in cells
    # `%ray_job?` shows the flags
    assert "--cpus" in cells["ray_job"].__doc__ and "--no-wait" in cells["ray_job"].__doc__


def test_ray_status_is_an_html_table_with_a_text_fallback(shell, ray_head):
    result = run(shell, "%ray_status")
    assert result.success
    status = result.result
    assert status.data["alive_nodes"] == 1
    html = status._repr_html_()
    assert "<table" in html and "CPU" in html
    assert "Ray" in repr(status) and "CPU" in repr(status) and "<table" not in repr(status)


def test_ray_job_streams_the_cells_output_and_returns_the_id(shell, service, root, capsys):
    (root / "proj" / "helper.py").write_text("GREETING = 'hello from the project'\n")
    result = run(shell, "%%ray_job --cpus 0.5 --name greet\n"
                        "import os, helper\n"
                        "print('cell says', helper.GREETING)\n"
                        "print('cwd', os.path.basename(os.getcwd()))\n")
    assert result.success, result.error_in_exec
    job_id = result.result
    assert job_id.startswith("raysubmit_")
    out = capsys.readouterr().out
    assert f"Submitted Ray job {job_id}" in out
    assert "cell says hello from the project" in out  # the project's modules import
    assert f"Job {job_id}: SUCCEEDED" in out
    # the temporary notebook is gone: nothing left in the project
    assert sorted(p.name for p in (root / "proj").iterdir()) == ["helper.py"]
    job = blocking.call(service.jobs.get, job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["settings"]["resources"] == {"num_cpus": 0.5}
    # Re-run (the Jobs panel's button): the cell is written again, its file gone again
    again = blocking.call(service.jobs.rerun, job_id)
    assert again["submission_id"] != job_id
    assert again["settings"]["cell"] == {"code": job["settings"]["cell"]["code"],
                                         "name": "greet"}
    run(shell, f"%ray_logs {again['submission_id']} --follow")
    out = capsys.readouterr().out
    assert "cell says hello from the project" in out and "SUCCEEDED" in out
    assert sorted(p.name for p in (root / "proj").iterdir()) == ["helper.py"]


def test_ray_job_with_ipython_syntax_skips_it_with_a_warning(shell, root, capsys):
    result = run(shell, "%%ray_job\n%time x = 6 * 7\n!echo shell-escape\n"
                        "print('after the magic', 'x' in globals())\n"
                        "display('shown with display')\n")
    assert result.success, result.error_in_exec
    out = capsys.readouterr()
    assert "`%time x = 6 * 7` is IPython-only and was skipped" in out.err
    assert "after the magic False" in out.out and "shown with display" in out.out
    assert "SUCCEEDED" in out.out
    assert list((root / "proj").iterdir()) == []  # the temporary notebook is gone too


def test_ray_job_no_wait_returns_at_once_and_logs_follow_later(shell, service, capsys):
    result = run(shell, "%%ray_job --no-wait\nprint('later', 6 * 7)\n")
    job_id = result.result
    out = capsys.readouterr().out
    assert "later 42" not in out  # not streamed
    run(shell, f"%ray_logs {job_id} --follow")
    out = capsys.readouterr().out
    assert "later 42" in out and "SUCCEEDED" in out
    assert run(shell, f"%ray_logs {job_id}").success
    assert "later 42" in capsys.readouterr().out
    listed = run(shell, "%ray_jobs").result
    assert job_id in repr(listed) and job_id in listed._repr_html_()


def wait_terminal(service, job_id, timeout=180.0):
    """Ray stops jobs asynchronously; the timeout only ends a hung test."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        status = blocking.call(service.jobs.get, job_id)["status"]
        if status in ("STOPPED", "SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


class Tripwire(io.StringIO):
    """stdout that interrupts the main thread (as a kernel interrupt does) once ``mark``
    has been printed: the job is then known to be running."""

    def __init__(self, mark: str) -> None:
        super().__init__()
        self.mark, self.tripped = mark, False

    def write(self, text: str) -> int:
        n = super().write(text)
        if self.mark in text and not self.tripped:
            self.tripped = True
            _thread.interrupt_main()
        return n


def run_interrupted_job(shell, monkeypatch) -> tuple[ExecutionResult, Tripwire]:
    """Runs a long %%ray_job that is interrupted once it prints; undoes ``monkeypatch``
    (stdout and any input answer set before) when the cell returns."""
    out = Tripwire("tripwire-armed")
    monkeypatch.setattr(sys, "stdout", out)
    # a kernel turns SIGINT into KeyboardInterrupt; a process started in the background
    # (CI, `make test &`) inherits SIGINT ignored, and interrupt_main() then does nothing
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = run(shell, "%%ray_job\nimport time\nprint('tripwire-armed', flush=True)\n"
                            "time.sleep(600)\n")
    finally:
        signal.signal(signal.SIGINT, previous)
        monkeypatch.undo()
    return result, out


def test_interrupting_ray_job_asks_and_stops_the_job(shell, service, monkeypatch):
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "y")
    result, out = run_interrupted_job(shell, monkeypatch)
    job_id = result.result
    assert result.success, result.error_in_exec
    assert asked == [f"Stop Ray job {job_id}? [y/N] "]
    assert blocking.call(service.jobs.get, job_id)["status"] == "STOPPED"
    assert f"Job {job_id}: STOPPED" in out.getvalue()


def test_interrupt_answered_no_leaves_the_job_running(shell, service, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    result, out = run_interrupted_job(shell, monkeypatch)
    job_id = result.result
    try:
        assert f"%ray_stop {job_id}" in out.getvalue()
        assert blocking.call(service.jobs.get, job_id)["status"] == "RUNNING"
    finally:
        assert run(shell, f"%ray_stop {job_id}").success
    assert wait_terminal(service, job_id) == "STOPPED"


@pytest.fixture
def ray_driver():
    yield
    import ray

    ray.shutdown()
    driver.forget()


def test_ray_env_set_then_ray_init_applies_it(shell, root, ray_head, capsys, ray_driver):
    env_file = root / "proj" / "runtime_env.yaml"
    env_file.write_text("# our team's settings\nenv_vars:\n  STAGE: dev  # not prod\n")
    result = run(shell, "%ray_env set MAGIC_FLAG=from-magic")
    assert result.success, result.error_in_exec
    assert "Saved proj/runtime_env.yaml" in capsys.readouterr().out
    text = env_file.read_text()
    assert "MAGIC_FLAG: from-magic" in text and "# not prod" in text  # comments kept
    assert run(shell, "%ray_env show").success
    assert "MAGIC_FLAG: from-magic" in capsys.readouterr().out
    result = run(shell, "%ray_init")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    # the dashboard URL cannot start a driver: the GCS address comes from the head's temp dir
    assert "Initialised Ray at " in out and f":{ray_head.gcs_port} " in out
    assert "MAGIC_FLAG: from-magic" in out and "working_dir: " in out
    import ray

    @ray.remote
    def flag():
        import os

        return os.environ.get("MAGIC_FLAG"), os.environ.get("STAGE")

    assert ray.get(flag.remote(), timeout=120) == ("from-magic", "dev")
    # the same again is a no-op; another environment is refused with the way out
    assert run(shell, "%ray_init").success
    assert "Already initialised" in capsys.readouterr().out
    assert run(shell, "%ray_env set MAGIC_FLAG=changed").success
    capsys.readouterr()
    err = usage_error(capsys, run(shell, "%ray_init"))
    assert "env_vars" in err and "ray.shutdown()" in err


def test_ray_env_pip_add_and_bad_edits(shell, root, capsys):
    assert run(shell, "%ray_env pip add 'requests>=2'").success
    assert "requests>=2" in (root / "proj" / "runtime_env.yaml").read_text()
    err = usage_error(capsys, run(shell, "%ray_env set NOEQUALS"))
    assert "KEY=VALUE" in err
    err = usage_error(capsys, run(shell, "%ray_env pip remove x"))
    assert "pip add PACKAGE" in err
    err = usage_error(capsys, run(shell, "%ray_env frobnicate"))
    assert "invalid choice" in err


def test_ray_init_refuses_when_ray_init_already_ran_elsewhere(shell, ray_head, capsys,
                                                              ray_driver):
    import ray

    ray.init(address=ray_head.gcs_address)
    err = usage_error(capsys, run(shell, "%ray_init"))
    assert "ray.init() already ran in this kernel" in err


def test_ray_init_to_a_dead_address_says_so(shell, capsys, ray_driver):
    err = usage_error(capsys, run(shell, "%ray_init --address 127.0.0.1:1"))
    assert "ray.init could not connect to 127.0.0.1:1" in err and "--address" in err


def test_errors_are_readable(shell, capsys):
    err = usage_error(capsys, run(shell, "%%ray_job --cpus -1\nprint(1)\n"))
    assert "resources.num_cpus" in err and "negative" in err
    err = usage_error(capsys, run(shell, "%ray_logs raysubmit_doesnotexist"))
    assert "raysubmit_doesnotexist" in err
    err = usage_error(capsys, run(shell, "%ray_jobs --bogus"))
    assert "unrecognized arguments: --bogus" in err
    err = usage_error(capsys, run(shell, "%ray_jobs --status DONE"))
    assert "Unknown status 'DONE'" in err
    err = usage_error(capsys, run(shell, "%%ray_job\n\n"))
    assert "The cell is empty" in err
    err = usage_error(capsys, run(shell, "%ray_init --project ../../.."))
    assert "outside the Jupyter root" in err


def test_ray_unreachable_says_so(ip, tmp_path, capsys):
    down = RayDevService(config_from_jupyter(Config({"RayDev": {
        "ray_address": "http://127.0.0.1:1", "job_store_path": str(tmp_path / "j.sqlite")}}),
        root_dir=str(tmp_path)))
    load(ip, lambda: down)
    err = usage_error(capsys, ip.run_cell("%ray_status"))
    assert "Cannot reach the Ray dashboard at http://127.0.0.1:1" in err
    err = usage_error(capsys, ip.run_cell("%ray_jobs"))
    assert "Cannot reach the Ray dashboard" in err
    blocking.call(down.close)


def test_storage_browsing_over_the_configured_roots(shell, artifacts, capsys):
    roots = run(shell, "%ray_ls").result
    assert "art" in repr(roots) and str(artifacts) in repr(roots)
    listing = run(shell, f"%ray_ls {artifacts}").result
    assert [e["name"] for e in listing.data["entries"]] == ["run-1"]
    listing = run(shell, "%ray_ls art:run-1").result
    assert "metrics.csv" in repr(listing) and "metrics.csv" in listing._repr_html_()
    preview = run(shell, f"%ray_preview {artifacts}/run-1/metrics.csv").result
    assert preview.data["rows"][1] == [2, 0.25] or preview.data["rows"][1] == ["2", "0.25"]
    assert "epoch" in repr(preview) and "loss" in repr(preview)
    # outside every root, or climbing out of one: refused like the API refuses it
    err = usage_error(capsys, run(shell, "%ray_ls /etc"))
    assert "none of the storage roots" in err and "art" in err
    err = usage_error(capsys, run(shell, f"%ray_ls {artifacts}/../.."))
    assert "none of the storage roots" in err
    err = usage_error(capsys, run(shell, "%ray_ls art:run-1/../../x"))
    assert ".." in err


def test_ray_env_subcommands_complete(shell):
    _, matches = shell.complete("", "%ray_env ")
    assert {"show", "set", "pip", "validate"} <= set(matches)
    _, matches = shell.complete("va", "%ray_env va")
    assert matches == ["validate"]
    _, matches = shell.complete("", "%ray_env pip ")
    assert matches == ["add"]


def test_ray_env_validate_uses_rays_rules(shell, root, capsys):
    (root / "proj" / "runtime_env.yaml").write_text(json.dumps(
        {"pip": ["requests"], "conda": {"dependencies": ["numpy"]}}))
    result = run(shell, "%ray_env validate")
    out = capsys.readouterr()
    assert "is not valid" in out.out and "error [" in out.out  # each error names its field
    assert isinstance(result.error_in_exec, Exception)
    (root / "proj" / "runtime_env.yaml").write_text("env_vars:\n  A: b\n")
    assert run(shell, "%ray_env validate").success
    assert "is valid for Ray" in capsys.readouterr().out


def test_ray_promote_reviews_then_exports_the_context(shell, root, tmp_path, capsys,
                                                       monkeypatch):
    import tarfile

    from promote_helpers import sample_project

    sample_project(root)  # root/proj: a notebook, a module, data, a runtime_env with pip
    result = run(shell, "%ray_promote -e train.ipynb")
    assert result.success, result.error_in_exec
    review = result.result
    assert review.data["entrypoint"]["source"] == "proj/train.ipynb"
    assert any(r.startswith("pyyaml==") for r in review.data["requirements"]["requirements"])
    assert "FROM " in repr(review) and "<pre>" in review._repr_html_()
    assert "%pip install tqdm" in repr(review)  # the magic the image cannot run is reported
    dest = tmp_path / "ctx.tar.gz"
    assert run(shell, f"%ray_promote -e train.ipynb --context {dest}").success
    assert f"Wrote the build context to {dest}" in capsys.readouterr().out
    with tarfile.open(dest) as tar:
        assert "Dockerfile" in tar.getnames()
    # no registry configured and none given: the build is refused, naming the field
    line = usage_error(capsys, run(shell, "%ray_promote -e train.ipynb --build"))
    assert "image" in line
