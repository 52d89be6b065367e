"""A local stand-in for ``rayproject/ray``: base images cannot be pulled here.

Debian minbase with python3 and a virtualenv owned by ``ray`` (uid 1000, gid 100)
on PATH, which is the layout that matters to a promoted image: the same user and
group, ``HOME=/home/ray``, ``WORKDIR /home/ray``, and a Python whose site-packages
``ray`` may install into (rayproject/ray's conda env is owned by ray too), so the
Dockerfile's real ``pip install`` step runs as it would on the real image.
busybox has no pip, so it could not test dependency installation.

Ray itself is a stand-in too: a ``ray`` distribution of the dev cluster's version
(``RAY_VERSION``: the venv's Ray, which the tests' real head runs) with an empty package,
so the parity check reads the version rayproject/ray would have and ``import ray`` works.
The real Ray (hundreds of MB with its dependencies) could not be installed here without
network in the image; nothing in the tests runs Ray inside an image.

debootstrap takes about a minute; the rootfs tarball is cached under
``~/.cache/jupyter-ray-dev/`` keyed on this recipe, so later sessions only import it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SUITE = "bookworm"
MIRROR = os.environ.get("RAY_DEV_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "python3,python3-venv"
SETUP = """\
set -e
useradd --uid 1000 --gid 100 --create-home --home-dir /home/ray --shell /bin/bash ray
python3 -m venv /home/ray/venv
/home/ray/venv/bin/pip uninstall -q -y setuptools
chown -R 1000:100 /home/ray
# smaller is faster: vfs storage copies the whole rootfs for every build step
rm -rf /var/cache/apt /var/lib/apt /var/cache/debconf /usr/share/doc /usr/share/man \
       /usr/share/info /usr/share/locale /usr/share/i18n /usr/share/zoneinfo \
       /usr/share/python-wheels /usr/share/perl* /usr/lib/x86_64-linux-gnu/perl* /usr/bin/perl*
find / -xdev -name __pycache__ -type d -prune -exec rm -rf {} +
"""


def _host_ray() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ray")
    except PackageNotFoundError:
        return "2.60.0"


# the dev cluster's Ray: the tests' real head runs the venv's own
RAY_VERSION = _host_ray()
SITE_PACKAGES = "/home/ray/venv/lib/python3.11/site-packages"  # bookworm's Python 3.11
# the image config rayproject/ray has and promoted images rely on
CONTAINERFILE = f"""\
FROM scratch
ADD rootfs.tar /
COPY --chown=1000:100 ray-stub/ {SITE_PACKAGES}/
ENV HOME=/home/ray PATH=/home/ray/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER ray
WORKDIR /home/ray
"""
RAY_STUB = {
    "ray/__init__.py": f"__version__ = {RAY_VERSION!r}\n",
    f"ray-{RAY_VERSION}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: ray\n"
                                             f"Version: {RAY_VERSION}\n",
    f"ray-{RAY_VERSION}.dist-info/INSTALLER": "stand-in\n",
    f"ray-{RAY_VERSION}.dist-info/RECORD": "",
}


def rootfs_key() -> str:
    recipe = "\n".join([SUITE, PACKAGES, SETUP])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def recipe_key() -> str:
    recipe = "\n".join([rootfs_key(), CONTAINERFILE, repr(sorted(RAY_STUB.items()))])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "jupyter-ray-dev"


def base_rootfs() -> Path:
    """The rootfs tarball, built once per recipe (atomically: no half-written cache)."""
    target = cache_dir() / f"promote-base-{rootfs_key()}.tar"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ray-dev-base-", dir=target.parent))
    try:
        root = work / "root"
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE,
                        str(root), MIRROR], check=True, capture_output=True)
        subprocess.run(["chroot", str(root), "/bin/sh", "-c", SETUP], check=True,
                       capture_output=True)
        partial = work / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."],
                       check=True)
        os.replace(partial, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def build_context(dest: Path) -> Path:
    """A build context for the base image: the cached rootfs, the Ray stand-in and the
    Containerfile."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel, text in RAY_STUB.items():
        (dest / "ray-stub" / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / "ray-stub" / rel).write_text(text)
    rootfs = dest / "rootfs.tar"
    if not rootfs.exists():
        os.link(base_rootfs(), rootfs) if _same_fs(dest) else shutil.copy(base_rootfs(), rootfs)
    (dest / "Containerfile").write_text(CONTAINERFILE)
    return dest


def _same_fs(dest: Path) -> bool:
    return os.stat(dest).st_dev == os.stat(cache_dir()).st_dev


if __name__ == "__main__":
    print(base_rootfs())
