"""Real image-building parts for the promote tests: buildah with its own storage,
a private Docker engine, a local stand-in for rayproject/ray built into each, and
Debian's docker-registry on a free loopback port (its own config and storage,
stopped by its PID)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_engine import DockerEngine
from image_parts import BASE_REF, build_base_image, start_registry
from promote_base import build_context

from ci import skip_unless_ci

TOOLS = ("buildah", "skopeo", "docker-registry", "debootstrap")


def _need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        skip_unless_ci(f"{', '.join(missing)} not installed: `make pytest` installs them "
                    "(apt-get install buildah skopeo docker-registry debootstrap)")


@pytest.fixture(scope="session")
def buildah_store():
    """Private --root/--runroot: never the machine's image store, never another session's.
    Short paths under /tmp: vfs copies whole layers, and runroot holds sockets."""
    _need_tools()
    base = Path(tempfile.mkdtemp(prefix="rdp-bh-"))
    store = {"root": str(base / "root"), "runroot": str(base / "run")}
    yield store
    # vfs layers are owned by many uids: buildah removes them, then the folder goes
    subprocess.run(["buildah", "--root", store["root"], "--runroot", store["runroot"],
                    "--storage-driver", "vfs", "rmi", "--all", "--force"], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def base_image(buildah_store, tmp_path_factory):
    """localhost/ray-dev-test-base:<recipe>: python3 + pip in a venv owned by ray."""
    return build_base_image(buildah_store, tmp_path_factory.mktemp("base-context"))


@pytest.fixture(scope="session")
def docker_engine():
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        skip_unless_ci("dockerd not installed: `make pytest` installs it (apt-get install "
                    "docker.io)")
    engine = DockerEngine()
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def docker_base_image(docker_engine, tmp_path_factory):
    """The same stand-in for rayproject/ray as ``base_image``, built by the engine from
    the same rootfs and Containerfile."""
    _need_tools()
    context = build_context(tmp_path_factory.mktemp("docker-base-context"))
    docker_engine.docker("build", "-q", "-t", BASE_REF, "-f", str(context / "Containerfile"),
                         str(context))
    return BASE_REF


@contextlib.contextmanager
def serve_registry(folder: Path) -> Iterator[str]:
    """docker-registry on a free loopback port, its storage in ``folder``: its address."""
    server, address = start_registry(folder)
    try:
        yield address
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    _need_tools()
    with serve_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address
