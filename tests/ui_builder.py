"""The image builder of the Galata server (ui-tests/jupyter_server_test_config.py).

buildah (vfs storage, chroot isolation) on a store kept between runs under
``~/.cache/jupyter-ray-dev/``, one per UI port so two UI runs never share one. The store
holds the local stand-in for rayproject/ray (promote_base.py) under the very name the
review chooses for this dev cluster, ``rayproject/ray:<ray>-py<XY>``, so a promotion
builds from it without a field to fill in and without a pull. A docker-registry on a free
loopback port takes the pushes; it lives as long as the server and is stopped by its PID.

The stand-in also holds the head's PyYAML, as rayproject/ray does (Ray depends on it): a
promoted image then installs a project's pin of it with no package index to reach.

Each start removes what earlier runs built (working containers, promoted images), keeping
the stand-in: vfs copies the whole image at every step, so they are large.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import json
import shutil
import sys
import tempfile
from pathlib import Path

from image_parts import BASE_REF, build_base_image, buildah, start_registry
from promote_base import RAY_VERSION, SITE_PACKAGES, cache_dir, recipe_key

PYYAML = importlib.metadata.distribution("PyYAML")
STAND_IN = f"docker.io/rayproject/ray:{RAY_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}"
# names this recipe: a changed stand-in, Ray or PyYAML builds a new image
RECIPE = hashlib.sha256(f"{recipe_key()} {PYYAML.version}".encode()).hexdigest()[:16]
RECIPE_REF = f"localhost/ray-dev-ui-base:{RECIPE}"
CONTAINERFILE = f"FROM {BASE_REF}\nCOPY --chown=1000:100 site/ {SITE_PACKAGES}/\n"


def _copy_pyyaml(site: Path) -> None:
    for file in PYYAML.files or []:
        if ".." in file.parts or "__pycache__" in file.parts:
            continue  # its scripts (none) and compiled caches
        dest = site / file
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PYYAML.locate_file(file), dest)


def _keep_only_stand_in(store: dict[str, str]) -> None:
    for container in buildah(store, "containers", "--quiet").split():
        buildah(store, "rm", container)
    images = json.loads(buildah(store, "images", "--json") or "null") or []
    keep = {BASE_REF, RECIPE_REF, STAND_IN}
    for image in images:
        if not keep & set(image.get("names") or []):
            buildah(store, "rmi", "--force", image["id"])


def _ensure_stand_in(store: dict[str, str], work: Path) -> None:
    if buildah(store, "images", "--quiet", "--filter", f"reference={RECIPE_REF}").strip():
        return
    build_base_image(store, work / "base")
    context = work / "stand-in"
    _copy_pyyaml(context / "site")
    (context / "Containerfile").write_text(CONTAINERFILE)
    buildah(store, "build", "--isolation", "chroot", "-t", RECIPE_REF, "-t", STAND_IN,
            "-f", str(context / "Containerfile"), str(context))


def configure(c, port: int) -> None:
    """Builds, pushes and checks promotions for real: c.RayDev's promote settings."""
    cache = cache_dir() / f"ui-buildah-{port}"
    # runroot holds sockets: a short path
    store = {"root": str(cache / "root"), "runroot": f"/tmp/rdp-ui-{port}-run"}
    work = Path(tempfile.mkdtemp(prefix=f"rdp-ui-{port}-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    _keep_only_stand_in(store)
    _ensure_stand_in(store, work)
    registry, address = start_registry(work)
    atexit.register(registry.stop)  # registered last: runs before the folder goes
    c.RayDev.promote_builder = "buildah"
    c.RayDev.promote_buildah_root = store["root"]
    c.RayDev.promote_buildah_runroot = store["runroot"]
    c.RayDev.promote_buildah_storage_driver = "vfs"
    c.RayDev.promote_registry = f"{address}/team"
    c.RayDev.promote_tls_verify = False
