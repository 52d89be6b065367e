"""buildah's storage driver: ``auto`` (the default) builds with overlay where buildah can
mount it and falls back to vfs, saying why, where it cannot. Real buildah builds a
``FROM scratch`` image (no base image needed) into a private store."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from ci import skip_unless_ci

from jupyter_ray_dev.promote.builders import BuildahBuilder, BuildahConfig



@pytest.fixture(autouse=True)
def _buildah():
    if shutil.which("buildah") is None:
        skip_unless_ci("buildah not installed: `make pytest` installs it")


@pytest.fixture
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("bh")
    root = {"root": str(base / "root"), "runroot": str(base / "run")}
    yield root
    for driver in ("overlay", "vfs"):
        subprocess.run(["buildah", "--root", root["root"], "--runroot", root["runroot"],
                        "--storage-driver", driver, "rmi", "--all", "--force"],
                       capture_output=True)


def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "app").mkdir(parents=True)
    (ctx / "app" / "main.py").write_text("print('hi')\n")
    (ctx / "Dockerfile").write_text('FROM scratch\nCOPY app/ /app/\nARG RAY_DEV_CREATED=""\n'
                                    'LABEL built="${RAY_DEV_CREATED}"\n')
    return ctx


def images(store: dict[str, str], driver: str) -> str:
    return subprocess.run(["buildah", "--root", store["root"], "--runroot", store["runroot"],
                           "--storage-driver", driver, "images", "--format", "{{.Name}}"],
                          capture_output=True, text=True, check=True).stdout


async def _build(builder: BuildahBuilder, ctx: Path) -> None:
    async def emit(line: str) -> None:
        pass

    await builder.build(ctx, "localhost/driver-test:1", {"RAY_DEV_CREATED": "2026"}, False,
                        emit)


def test_auto_falls_back_to_vfs_and_says_why_when_overlay_cannot_mount(tmp_path, store):
    # This machine can mount overlayfs, so a pod that cannot is played by a buildah
    # wrapper that refuses overlay the way containers/storage does; vfs is real buildah.
    wrapper = tmp_path / "buildah"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --storage-driver overlay "*)\n'
        '  echo "Error: kernel does not support overlay fs: overlay: the backing tmpfs '
        'filesystem is formatted without d_type support" >&2; exit 125;;\nesac\n'
        f'exec {shutil.which("buildah")} "$@"\n')
    wrapper.chmod(0o755)
    builder = BuildahBuilder(BuildahConfig(binary=str(wrapper), storage_driver="auto", **store))
    found = asyncio.run(builder.availability())
    assert found.available, found.reason
    assert builder.storage_driver == "vfs"
    assert "vfs storage" in found.reason and "does not support overlay" in found.reason
    asyncio.run(_build(builder, context(tmp_path)))
    assert "localhost/driver-test" in images(store, "vfs")


def test_auto_builds_with_overlay_where_it_mounts(tmp_path, store):
    builder = BuildahBuilder(BuildahConfig(storage_driver="auto", **store))
    found = asyncio.run(builder.availability())
    assert found.available, found.reason
    if builder.storage_driver != "overlay":
        # CI runs as root on machines that mount overlayfs: there, this must be tested
        skip_unless_ci(f"buildah cannot mount overlay on this machine: {found.reason}")
    assert "overlay storage" in found.reason
    asyncio.run(_build(builder, context(tmp_path)))
    assert "localhost/driver-test" in images(store, "overlay")
    assert "localhost/driver-test" not in images(store, "vfs")


def test_a_named_driver_is_used_as_given(tmp_path, store):
    builder = BuildahBuilder(BuildahConfig(storage_driver="vfs", **store))
    assert builder.storage_driver == "vfs"
    found = asyncio.run(builder.availability())
    assert found.available and "vfs storage" in found.reason
    assert "overlay" not in found.reason  # nothing was tried but what was asked for
