"""Real image-building parts without pytest, shared by the promote tests' fixtures
(promote_fixtures.py) and the Galata server's configuration (ui_builder.py): buildah on a
store of its own, the local stand-in for rayproject/ray built into it (promote_base.py),
and Debian's docker-registry serving a folder on a loopback port."""

from __future__ import annotations

import subprocess
from pathlib import Path

from promote_base import build_context, recipe_key
from servers import Server

from jupyter_ray_dev.cluster.local_head import free_port

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  delete:
    enabled: true  # a test removes an image a promotion pushed
  filesystem:
    rootdirectory: {root}
http:
  addr: 127.0.0.1:{port}
"""
BASE_REF = f"localhost/ray-dev-test-base:{recipe_key()}"


def buildah(store: dict[str, str], *args: str) -> str:
    """buildah on ``store`` (its --root and --runroot) with vfs storage: its stdout."""
    out = subprocess.run(["buildah", "--root", store["root"], "--runroot", store["runroot"],
                          "--storage-driver", "vfs", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args[:2])} failed: {out.stderr}{out.stdout}")
    return out.stdout


def build_base_image(store: dict[str, str], workdir: Path) -> str:
    """localhost/ray-dev-test-base:<recipe> in ``store``: python3 + pip in a venv owned by
    ray (the rootfs is cached per recipe; the image is built from it)."""
    context = build_context(workdir)
    buildah(store, "build", "--isolation", "chroot", "-t", BASE_REF, "-f",
            str(context / "Containerfile"), str(context))
    return BASE_REF


def start_registry(folder: Path) -> tuple[Server, str]:
    """docker-registry on a free loopback port, storing under ``folder``: the server (stop
    it) and its address."""
    port = free_port()
    config = folder / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=folder / "storage", port=port))
    server = Server("docker-registry", ["docker-registry", "serve", str(config)], port,
                    folder / "registry.log")
    try:
        server.wait("/v2/")
    except BaseException:
        server.stop()
        raise
    return server, f"127.0.0.1:{port}"
