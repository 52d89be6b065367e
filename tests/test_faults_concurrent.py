"""Concurrent writers on one server: two browsers saving the same runtime_env.yaml, two
installs of the same requirements, two uploads to one path. One wins cleanly, the other
gets a 409 (or waits and finds the work done); no file is ever torn. (Two builds of one
project at once: test_faults_restart.py, which runs real builds.)"""

from __future__ import annotations

import asyncio

import pytest
import yaml
from jobs_helpers import write
from storage_fixtures import BACKENDS, make_store
from test_runtime_env_api import EnvAPI
from wheel_files import write_wheel

from jupyter_ray_dev.cluster.local_head import free_port

pytestmark = [pytest.mark.faults]


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"  # nothing here needs Ray


@pytest.fixture
def shared_root(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    return root


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    return make_store(request.param, request, tmp_path)


@pytest.fixture
def ray_dev_config(request, shared_root, tmp_path):
    config = {"shared_roots": [str(shared_root)],
              "job_store_path": str(tmp_path / "jobs.sqlite")}
    if "store" in request.fixturenames:
        config["storage_roots"] = [request.getfixturevalue("store").root("t")]
    return config


@pytest.fixture
def envs(jp_fetch):
    return EnvAPI(jp_fetch)


async def test_two_browsers_saving_one_runtime_env_one_wins_the_other_409(envs, jp_root_dir):
    write(jp_root_dir / "proj" / "runtime_env.yaml", "env_vars:\n  WHO: nobody\n")
    first = await envs.read("proj")
    a, b = await asyncio.gather(
        envs.save("proj", first["etag"], runtime_env={"env_vars": {"WHO": "alice"}}),
        envs.save("proj", first["etag"], runtime_env={"env_vars": {"WHO": "bob"}}))
    codes = sorted((a.code, b.code))
    assert codes == [200, 409], (a.body, b.body)
    won, lost = (a, b) if a.code == 200 else (b, a)
    assert lost.json["reason"] == "etag_mismatch" and lost.json["etag"] == won.json["etag"]
    on_disk = yaml.safe_load((jp_root_dir / "proj" / "runtime_env.yaml").read_text())
    assert on_disk == won.json["runtime_env"]  # the winner's file, whole
    assert [p.name for p in (jp_root_dir / "proj").iterdir()] == ["runtime_env.yaml"]


async def test_two_installs_of_the_same_requirements_build_one_env(envs, jp_root_dir,
                                                                   shared_root, tmp_path):
    wheel = write_wheel(tmp_path, "twicepkg", "0.1", "X = 1\n")
    (jp_root_dir / "twice").mkdir()
    (code_a, a), (code_b, b) = await asyncio.gather(
        envs.install("twice", requirements=[str(wheel)], apply=False),
        envs.install("twice", requirements=[f" {wheel} "], apply=False))
    assert code_a == code_b == 200
    ends = [a[-1], b[-1]]
    assert [e["type"] for e in ends] == ["done", "done"], ends
    assert sorted(e["cached"] for e in ends) == [False, True]  # pip ran once
    assert ends[0]["folder"] == ends[1]["folder"]
    waited = a if ends[0]["cached"] else b
    assert any(e.get("phase") == "waiting" for e in waited)
    folder = shared_root / "envs" / "twice"
    assert [p.name for p in folder.iterdir()] == [ends[0]["folder"].rsplit("/", 1)[1]]


async def test_two_uploads_to_one_path_one_wins_the_other_409(api, store):
    assert (await api.post("t", "mkdir", {"path": "up"})).code == 201
    one, two = b"1" * 300_000, b"2" * 200_000
    a, b = await asyncio.gather(api.upload("t", "up/f.bin", one, chunk=65536),
                                api.upload("t", "up/f.bin", two, chunk=65536))
    codes = sorted((a.code, b.code))
    assert codes == [201, 409], (a.code, a.json, b.code, b.json)
    won = one if a.code == 201 else two
    assert store.read("up/f.bin") == won  # whole, never a mix of the two
    assert [p for p in store.everything() if "ray-dev-upload" in p] == []


async def test_two_uploads_overwriting_one_path_leave_one_whole_file(api, store):
    assert (await api.post("t", "mkdir", {"path": "up"})).code == 201
    one, two = b"1" * 300_000, b"2" * 200_000
    a, b = await asyncio.gather(
        api.upload("t", "up/f.bin", one, chunk=65536, overwrite=True),
        api.upload("t", "up/f.bin", two, chunk=65536, overwrite=True))
    assert (a.code, b.code) == (201, 201), (a.json, b.json)
    assert store.read("up/f.bin") in (one, two)
    assert [p for p in store.everything() if "ray-dev-upload" in p] == []
