"""A real build with the docker builder: a private Debian dockerd (vfs, no bridge, no
iptables) builds the promoted project from the same local stand-in for rayproject/ray
the buildah tests use, ``docker push`` sends it to the real registry on loopback,
and skopeo inspects what the registry holds. Then a code-only change rebuilds on the
cached dependency layers, and a failing step is named."""

from __future__ import annotations

import asyncio

import pytest
from promote_helpers import SUMMARY
from promote_image_checks import (
    HOSTILE,
    broken_wheel_project,
    check_failed_and_not_pushed,
    check_pushed_image,
    hostile_project,
    rebuild_after_code_change,
    run_build,
)

from jupyter_ray_dev.promote import PromoteConfig, PromoteService

pytestmark = pytest.mark.timeout(900)


async def _summary():
    return SUMMARY


def _service(tmp_path, root, registry, engine):
    # docker is the server's default builder here: requests below name none
    return PromoteService(PromoteConfig(
        root_dir=root, registry=f"{registry}/team", builder="docker",
        docker_host=engine.host, store_path=tmp_path / "p.sqlite"), _summary)


def test_docker_builds_pushes_and_rebuilds_on_cached_dependency_layers(
        tmp_path, docker_engine, docker_base_image, registry, monkeypatch):
    # credentials come from the server's environment only: a private, empty DOCKER_CONFIG
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    root = hostile_project(tmp_path)
    service = _service(tmp_path, root, registry, docker_engine)
    body = {"entrypoint": "proj/train.ipynb", "base_image": docker_base_image}
    try:
        plan = asyncio.run(service.plan("proj", body))
        docker = next(b for b in plan["builders"] if b["name"] == "docker")
        assert docker["available"] and docker_engine.host in docker["reason"]

        lines, end = asyncio.run(run_build(service, body))
        assert end["status"] == "pushed", "\n".join(lines[-30:])
        assert end["builder"] == "docker"
        image = end["image"]
        assert image.startswith(f"{registry}/team/proj:") and end["digest"].startswith("sha256:")
        assert any(ln.startswith("Step 1/") for ln in lines)  # the engine's own output streamed
        check_pushed_image(image, end, tmp_path / "pulled")

        # the image the engine holds runs the converted notebook (no network needed)
        run = docker_engine.docker("run", "--rm", "--network", "none", image, "sh", "-c",
                                   plan["entrypoint"]["command"])
        assert f"RESULT 42 1.2.3 lr=0.1 {HOSTILE}" in run.stdout

        rebuild_after_code_change(service, body, root, end, "---> Using cache")
        history = asyncio.run(service.history("proj"))
        assert [(h["status"], h["builder"]) for h in history] == [("pushed", "docker")] * 2
    finally:
        asyncio.run(service.close())


def test_docker_names_the_failing_step_and_pushes_nothing(tmp_path, docker_engine,
                                                         docker_base_image, registry):
    service = _service(tmp_path, broken_wheel_project(tmp_path), registry, docker_engine)
    try:
        lines, end = asyncio.run(run_build(service, {"entrypoint": "proj/train.ipynb",
                                                     "base_image": docker_base_image}))
        check_failed_and_not_pushed(end, registry)
        assert "failed at Step " in end["error"]  # the classic builder's step line
    finally:
        asyncio.run(service.close())


def test_an_unreachable_engine_is_reported_not_offered(tmp_path):
    """A socket nobody listens on: the docker CLI's own refusal is the reason."""
    service = PromoteService(PromoteConfig(
        root_dir=tmp_path, docker_host=f"unix://{tmp_path}/none.sock",
        store_path=tmp_path / "p.sqlite"), _summary)
    try:
        docker = asyncio.run(service.builders["docker"].availability())
        assert not docker.available and "none.sock" in docker.reason
    finally:
        asyncio.run(service.close())
