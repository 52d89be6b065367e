"""What the deploy tiers share: the wheel and sdist of ``make dist``, the wheelhouse
``make deploy-test`` resolves for Debian's python3, and clean virtualenvs installed from
it offline (``--no-index``), as a user's ``pip install`` would make them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist"
WHEELHOUSE = REPO / "build" / "wheelhouse"
WHEEL_VENV = REPO / "build" / "wheel-venv"
# a Python every user can run (the dev venv's may live under /root, mode 700), and the
# Python of the stand-in head image (Debian bookworm's)
SYS_PYTHON = "/usr/bin/python3"


def built(path: Path, target: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing: run `make {target}` "
                    "(`make deploy-test` builds it before these tests)")
    return path


def one(folder: Path, pattern: str, target: str) -> Path:
    found = sorted(built(folder, target).glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


def wheel_version(wheelhouse: Path, project: str) -> str:
    path = one(wheelhouse, f"{project}-*.whl", "deploy-test")
    return re.match(rf"{project}-([^-]+)-", path.name)[1]


def make_venv(dest: Path, wheelhouse: Path, *requirements: str) -> Path:
    """A virtualenv of SYS_PYTHON with ``requirements`` from the wheelhouse only."""
    subprocess.run([SYS_PYTHON, "-m", "venv", "--without-pip", str(dest)], check=True)
    # this pip, run by the new venv's Python: it installs there, offline
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python",
                    str(dest / "bin" / "python"), "install", "-q", "--no-index",
                    "--find-links", str(wheelhouse), "pip", *requirements], check=True)
    return dest


@pytest.fixture(scope="session")
def wheel_file() -> Path:
    return one(DIST, "jupyter_ray_dev-*.whl", "dist")


@pytest.fixture(scope="session")
def sdist_file() -> Path:
    return one(DIST, "jupyter_ray_dev-*.tar.gz", "dist")


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    one(WHEELHOUSE, "jupyter_ray_dev-*.whl", "deploy-test")
    return WHEELHOUSE


@pytest.fixture(scope="session")
def ray_version(wheelhouse) -> str:
    return wheel_version(wheelhouse, "ray")


@pytest.fixture(scope="session")
def pod_venv(wheelhouse):
    """The wheel, JupyterLab and Ray in a fresh virtualenv under /var/tmp (readable by
    uid 1000; not under /tmp, which a pod gets its own of)."""
    folder = Path(tempfile.mkdtemp(prefix="rdw-venv-", dir="/var/tmp"))
    folder.chmod(0o755)
    try:
        yield make_venv(folder / "venv", wheelhouse, "jupyter_ray_dev[ray]",
                        "jupyterlab>=4.6,<5")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pod_api(pod):
    """The API of the module's ``pod`` once its Ray head is up. When Ray fails to start
    (on a loaded machine its agent can miss Ray's own start-up deadline) the container
    ends and, as the kubelet would, the pod restarts it, twice at most."""
    from smoke_api import ContainerEnded, PodAPI, wait_for_cluster

    while True:
        api = PodAPI(pod.url, pod.jupyter_token)
        try:
            wait_for_cluster(api, running=pod.running)
            return api
        except ContainerEnded:
            if pod.restarts == 2:
                raise AssertionError("the container ended 3 times:\n" + pod.diagnose()) \
                    from None
            pod.restart()
        except AssertionError as err:
            raise AssertionError(f"{err}\n{pod.diagnose()}") from None
