"""Packages a notebook installs into its kernel (``%pip install``, ``%uv pip install``),
end to end on a real server: the server starts real ipykernels for two notebooks of one
project (sessions, as JupyterLab opens them), loads the recorder into each, one notebook
runs ``%pip install`` of a wheel built here (no network: a file, ``--no-index``); the API
lists it for that notebook only, pinned; *Add* writes it into runtime_env.yaml pinned;
*Dismiss* hides another. The installs go into a folder on the kernels' ``sys.path``
(``--target``), not into the shared virtualenv the tests run in: the recorder watches every
``sys.path`` folder alike, site-packages included.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sys
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from apischema import validate_response
from jupyter_ray_dev.runtime_env import notebook_installs as ni
from kernel_messages import take_iopub
from test_promote_loop import watch  # noqa: F401 - the fixture: asyncio's slow-callback check
from wheel_files import write_wheel

FILES = 2000  # kernels' records: reading them takes well over 100 ms

pytestmark = pytest.mark.timeout(300)


# --- the recorder and the server's reading, without a kernel ---------------------------------


class Cell:
    def __init__(self, source: str) -> None:
        self.info = type("Info", (), {"raw_cell": source})()


def _dist(folder: Path, name: str, version: str) -> Path:
    dist = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return dist


def _run(recorder: ni.InstallRecorder, source: str, change) -> None:
    recorder.pre_run_cell()
    change()
    recorder.post_run_cell(Cell(source))


def test_the_recorder_keeps_what_a_pip_cell_installed_at_its_version(tmp_path):
    site, records = tmp_path / "site", tmp_path / "records"
    site.mkdir()
    _dist(site, "already-there", "1.0")
    rec = ni.InstallRecorder(records, "k1", "/root/nb.ipynb", paths=[str(site)])
    # a cell that changes nothing writes nothing
    _run(rec, "x = 1", lambda: None)
    assert not (records / "k1.json").exists()
    # an install by something else (another kernel, a terminal) during a plain cell: not ours
    _run(rec, "import time", lambda: _dist(site, "someone-else", "2.0"))
    assert not (records / "k1.json").exists()
    _run(rec, "%pip install tiny-pkg==0.1", lambda: _dist(site, "tiny-pkg", "0.1"))
    data = json.loads((records / "k1.json").read_text())
    assert data["notebook"] == "/root/nb.ipynb"
    assert list(data["installs"]) == ["tiny-pkg"]
    assert data["installs"]["tiny-pkg"]["version"] == "0.1"
    assert data["installs"]["tiny-pkg"]["command"] == "%pip install tiny-pkg==0.1"

    def upgrade() -> None:
        import shutil

        shutil.rmtree(site / "tiny_pkg-0.1.dist-info")
        _dist(site, "tiny-pkg", "0.2")

    _run(rec, "!pip install -U tiny-pkg", upgrade)
    assert json.loads((records / "k1.json").read_text())["installs"]["tiny-pkg"]["version"] \
        == "0.2"
    # an uninstall drops it: the notebook no longer has it
    import shutil

    _run(rec, "%pip uninstall -y tiny-pkg",
         lambda: shutil.rmtree(site / "tiny_pkg-0.2.dist-info"))
    assert json.loads((records / "k1.json").read_text())["installs"] == {}


def test_a_folder_a_cell_puts_on_sys_path_is_watched_from_the_next_cell(tmp_path):
    site, later = tmp_path / "site", tmp_path / "later"
    site.mkdir()
    later.mkdir()
    path = [str(site)]
    rec = ni.InstallRecorder(tmp_path / "records", "k2", None, paths=path)
    path.insert(0, str(later))  # the paths given are read live, as sys.path is
    _run(rec, "!pip install --target later x", lambda: _dist(later, "x-pkg", "1.0"))
    data = json.loads((tmp_path / "records" / "k2.json").read_text())
    assert data["installs"]["x-pkg"]["location"] == str(later / "x_pkg-1.0.dist-info")


def test_which_cells_count_as_installs():
    for source in ("%pip install x", "!pip install x", "!pip3 install -U x",
                   "%uv pip install x", "!uv pip install x", "!python -m pip install x",
                   "%pip uninstall -y x",
                   "subprocess.run([sys.executable, '-m', 'pip', 'install', 'x'])"):
        assert ni.INSTALL_COMMAND.search(source), source
    for source in ("import pipes", "print('install')", "%pip list", "pipeline.install_hook"):
        assert not ni.INSTALL_COMMAND.search(source), source


def test_declared_means_a_requirement_the_installed_version_satisfies(tmp_path):
    reqs = ["requests>=2", "tabulate==0.8.0", "Tiny_Pkg", "bad req ~~"]
    assert ni.declaration(reqs, "requests", "2.32.3") == (True, "requests>=2")
    assert ni.declaration(reqs, "tabulate", "0.9.0") == (False, "tabulate==0.8.0")
    assert ni.declaration(reqs, "tiny-pkg", "1.0") == (True, "Tiny_Pkg")
    assert ni.declaration(reqs, "numpy", "2.0") == (False, None)
    (tmp_path / "requirements.txt").write_text("# pinned\nnumpy==2.0  # the one\n-r other\n")
    assert ni.declared_requirements({"pip": "requirements.txt"}, tmp_path) == ["numpy==2.0"]
    assert ni.declared_requirements({"uv": {"packages": ["a"]}}, tmp_path) == ["a"]
    assert ni.declared_requirements({"pip": "missing.txt"}, tmp_path) == []


def test_activation_needs_an_ipython_shell_and_a_kernel_id(tmp_path):
    assert ni.activate(object(), str(tmp_path), "k") is False

    class Events:
        def __init__(self) -> None:
            self.registered: list[tuple[str, Any]] = []

        def register(self, name, fn) -> None:
            self.registered.append((name, fn))

        def unregister(self, name, fn) -> None:
            self.registered.remove((name, fn))

    shell = type("Shell", (), {})()
    shell.events = Events()
    assert ni.activate(shell, str(tmp_path), "../evil") is False
    assert ni.activate(shell, str(tmp_path), "k-1") is True
    assert ni.activate(shell, str(tmp_path), "k-1") is True  # again: replaced, not doubled
    assert [n for n, _ in shell.events.registered] == ["pre_run_cell", "post_run_cell"]


def test_cells_run_before_the_recorder_loaded_are_caught_up(tmp_path, monkeypatch):
    """A notebook run at once can execute its first cells before the server's request
    loads the recorder: what they installed since the kernel started is still kept."""
    import time

    site = tmp_path / "site"
    site.mkdir()
    old = _dist(site, "old-pkg", "1.0")
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # there before the kernel
    started = time.time() - 1
    _dist(site, "early-pkg", "3.0")  # what the early cell installed
    monkeypatch.setattr(sys, "path", [str(site)])
    shell = type("Shell", (), {})()
    shell.events = type("Events", (), {"register": lambda self, n, f: None})()
    shell.history_manager = type("H", (), {"input_hist_raw": ["", "x = 1",
                                                              "%pip install early-pkg"]})()
    assert ni.activate(shell, str(tmp_path / "rec"), "k3", "/r/nb.ipynb", started)
    installs = json.loads((tmp_path / "rec" / "k3.json").read_text())["installs"]
    assert list(installs) == ["early-pkg"]
    assert installs["early-pkg"]["command"] == "%pip install early-pkg"
    # no install command among the early cells: nothing is attributed to them
    shell2 = type("Shell", (), {})()
    shell2.events = shell.events
    shell2.history_manager = type("H", (), {"input_hist_raw": ["", "import os"]})()
    assert ni.activate(shell2, str(tmp_path / "rec"), "k4", None, started)
    assert not (tmp_path / "rec" / "k4.json").exists()


# --- a real server, real kernels ------------------------------------------------------------


@pytest.fixture
def target(tmp_path, monkeypatch):
    """A folder on the kernels' sys.path (they inherit the server's environment)."""
    folder = tmp_path / "kernel-site"
    folder.mkdir()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return folder


@pytest.fixture
def jp_server_config():
    # no Ray here: listing installs needs none (the dashboard is never called)
    return {"ServerApp": {"jpserver_extensions": {"jupyter_ray_dev": True}}}


async def fetch(jp_fetch, *parts: str, method: str = "GET", body: Any = None) -> Any:
    kwargs: dict[str, Any] = {"method": method}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    try:
        reply = await jp_fetch(*parts, **kwargs)
    except HTTPClientError as err:
        raise AssertionError(f"{err.code}: {err.response.body if err.response else ''}") from err
    return json.loads(reply.body) if reply.body else None


async def run_cell(client, code: str, timeout: float = 120.0) -> dict[str, str]:
    msg_id = client.execute(code)
    out = {"stdout": "", "stderr": "", "error": ""}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            msg = await client.get_iopub_msg(timeout=max(0.1, deadline - loop.time()))
        except queue.Empty as err:
            raise AssertionError(f"no answer from the kernel for {code!r}: {out}") from err
        if take_iopub(out, msg, msg_id):
            return out


async def open_notebook(jp_fetch, serverapp, path: str):
    """A session as JupyterLab opens a notebook (the server starts its kernel), and a client
    of that kernel, once the recorder the server loads into it is on."""
    session = await fetch(jp_fetch, "api", "sessions", method="POST", body={
        "path": path, "name": Path(path).name, "type": "notebook",
        "kernel": {"name": "python3"}})
    kernel_id = session["kernel"]["id"]
    from jupyter_client.session import Session

    km = serverapp.kernel_manager.get_kernel(kernel_id)
    # a session of its own, as a browser's connection has (the server's loader has another)
    client = km.client(session=Session(key=km.session.key,
                                       signature_scheme=km.session.signature_scheme))
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    probe = "print(hasattr(get_ipython(), '_jupyter_ray_dev_install_recorder'))"
    for _ in range(120):
        if (await run_cell(client, probe))["stdout"].strip() == "True":
            return kernel_id, client
        await asyncio.sleep(0.5)
    raise AssertionError("the server never loaded the install recorder into the kernel")


async def test_a_notebook_pip_install_is_listed_added_pinned_and_dismissed(
        jp_fetch, jp_serverapp, jp_root_dir, target, tmp_path):
    project = jp_root_dir / "proj"
    project.mkdir()
    (project / "runtime_env.yaml").write_text("pip:\n  - requests  # the HTTP client\n")
    for name in ("train.ipynb", "other.ipynb"):
        (project / name).write_text(json.dumps(
            {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    tiny = write_wheel(wheels, "tiny-pkg", "0.1.3")
    extra = write_wheel(wheels, "extra-pkg", "2.0")

    (app,) = jp_serverapp.extension_manager.extension_apps["jupyter_ray_dev"]
    # kernels write under the Jupyter data dir (pytest-jupyter's, in this test's tmp_path)
    assert tmp_path in app.service.runtime_env.installs_dir.parents

    train_id, train = await open_notebook(jp_fetch, jp_serverapp, "proj/train.ipynb")
    other_id, other = await open_notebook(jp_fetch, jp_serverapp, "proj/other.ipynb")
    try:
        assert (await fetch(jp_fetch, "ray-dev", "api", "projects", "proj",
                            "notebook-installs"))["installs"] == []
        done = await run_cell(
            train, f"%pip install --no-index --no-deps --target {target} {tiny}")
        assert not done["error"], done
        assert (target / "tiny_pkg-0.1.3.dist-info").is_dir(), done
        # the other notebook's kernel shares the Python and sees the new folder: not its install
        await run_cell(other, "import tiny_pkg; print(tiny_pkg.VERSION)")

        listed = await fetch(jp_fetch, "ray-dev", "api", "projects", "proj",
                             "notebook-installs")
        validate_response(listed, "NotebookInstalls")
        assert listed["project"] == "proj"
        (item,) = listed["installs"]
        assert item["name"] == "tiny-pkg" and item["version"] == "0.1.3"
        assert item["requirement"] == "tiny-pkg==0.1.3"
        assert item["notebook"] == "proj/train.ipynb" and item["project"] == "proj"
        assert item["kernel_id"] == train_id and item["running"] is True
        assert item["command"].startswith("%pip install --no-index")
        assert item["url"].startswith("file://") and item["url"].endswith(tiny.name)
        # every project's, as the Ray panel asks
        everywhere = await fetch(jp_fetch, "ray-dev", "api", "notebook-installs")
        validate_response(everywhere, "NotebookInstalls")
        assert [i["id"] for i in everywhere["installs"]] == [item["id"]]
        assert everywhere["project"] is None
        # another project sees none of it
        (jp_root_dir / "elsewhere").mkdir()
        assert (await fetch(jp_fetch, "ray-dev", "api", "projects", "elsewhere",
                            "notebook-installs"))["installs"] == []

        # Add to runtime_env.yaml: the existing packages route, with the pinned requirement
        await fetch(jp_fetch, "ray-dev", "api", "projects", "proj", "runtime-env", "packages",
                    method="POST", body={"requirements": [item["requirement"]]})
        text = (project / "runtime_env.yaml").read_text()
        assert "tiny-pkg==0.1.3" in text and "requests  # the HTTP client" in text
        assert (await fetch(jp_fetch, "ray-dev", "api", "projects", "proj",
                            "notebook-installs"))["installs"] == []

        # %uv pip install in the other notebook, then Dismiss
        done = await run_cell(
            other, f"%uv pip install --no-cache --offline --python {sys.executable} "
                   f"--target {target} {extra}")
        assert not done["error"], done
        assert (target / "extra_pkg-2.0.dist-info").is_dir(), done
        (item,) = (await fetch(jp_fetch, "ray-dev", "api", "projects", "proj",
                               "notebook-installs"))["installs"]
        assert (item["name"], item["version"], item["notebook"]) == \
            ("extra-pkg", "2.0", "proj/other.ipynb")
        assert item["command"].startswith("%uv pip install")
        dismissed = await fetch(jp_fetch, "ray-dev", "api", "notebook-installs", "dismiss",
                                method="POST", body={"ids": [item["id"]]})
        assert dismissed == {"dismissed": [item["id"]]}
        assert (await fetch(jp_fetch, "ray-dev", "api", "notebook-installs"))["installs"] == []
        assert "extra-pkg" not in (project / "runtime_env.yaml").read_text()
        # an install that is gone (a restarted pod's container) is not listed any more
        undismissed = write_wheel(wheels, "gone-pkg", "1.0")
        await run_cell(other, f"%pip install --no-index --no-deps --target {target} "
                              f"{undismissed}")
        (item,) = (await fetch(jp_fetch, "ray-dev", "api", "notebook-installs"))["installs"]
        assert item["name"] == "gone-pkg"
        import shutil

        shutil.rmtree(target / "gone_pkg-1.0.dist-info")
        assert (await fetch(jp_fetch, "ray-dev", "api", "notebook-installs"))["installs"] == []
        with pytest.raises(AssertionError, match="400"):
            await fetch(jp_fetch, "ray-dev", "api", "notebook-installs", "dismiss",
                        method="POST", body={"ids": []})
        assert other_id != train_id
    finally:
        for client in (train, other):
            client.stop_channels()
        for kernel_id in (train_id, other_id):
            await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)


async def test_listing_many_records_never_holds_the_event_loop(jp_fetch, jp_serverapp,
                                                               jp_root_dir, watch):
    """Thousands of kernels' records (a long-lived server) are read off the loop: asyncio's
    slow-callback check (weighed as in test_promote_loop) finds no callback of 100 ms."""
    (app,) = jp_serverapp.extension_manager.extension_apps["jupyter_ray_dev"]
    folder = app.service.runtime_env.installs_dir
    folder.mkdir(parents=True)
    for n in range(FILES):
        project = jp_root_dir / f"p{n % 50}"
        project.mkdir(exist_ok=True)
        ni.write_json_atomic(folder / f"k{n}.json", {
            "format": ni.FORMAT, "kernel_id": f"k{n}", "notebook": str(project / "nb.ipynb"),
            "installs": {f"pkg-{i}": {"name": f"pkg-{i}", "version": "1.0", "command": "%pip",
                                      "installed": n} for i in range(5)}})
    for attempt in range(2):  # a report in both runs fails (see test_promote_loop)
        watch.blocking.clear()
        watch.watch(asyncio.get_running_loop())
        listed = await fetch(jp_fetch, "ray-dev", "api", "notebook-installs")
        assert len(listed["installs"]) == 50 * 5 - 5 * attempt  # one project dismissed a run
        one = await fetch(jp_fetch, "ray-dev", "api", "projects", f"p{attempt}",
                          "notebook-installs")
        assert len(one["installs"]) == 5
        await fetch(jp_fetch, "ray-dev", "api", "notebook-installs", "dismiss", method="POST",
                    body={"ids": [i["id"] for i in one["installs"]]})
        watch.unwatch()
        if not watch.blocking:
            break
    assert not watch.blocking, watch.blocking
