"""The head image: deploy/image/Dockerfile built with buildah, unchanged, from a local
stand-in for rayproject/ray (none can be pulled here), then run as the head container of
deploy/dev/raycluster.yaml runs it (tests/pod.py): as uid 1000, its JupyterLab and Ray
head started by the YAML's command, reached through one port-forward. The smoke set's API
checks pass against it.

The stand-in: the promote tests' Debian image (python3 in a virtualenv owned by ``ray``,
uid 1000 gid 100, HOME and WORKDIR /home/ray) plus ``ray[default]`` of the version the
dev environment runs, installed from the wheelhouse. What it does not have of the real
image: Ubuntu and conda (Debian's python3 in a venv instead), CUDA, and the real image's
extra tools. The Dockerfile's pip step runs offline (``PIP_OPTIONS`` names the wheelhouse,
mounted for the build): nothing reaches PyPI from inside a build here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pod import UBUNTU_PROFILE, Pod, remove
from promote_base import build_context
from smoke_api import SmokeSet, check_promote_review

# three image builds before the first test: the timeout is only a hang guard
pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[1]
PYTHON_TAG = "py311"  # Debian bookworm's python3, the stand-in's

RAY_STANDIN = """\
FROM {base}
USER root
# rayproject/ray is Ubuntu: a login shell (KubeRay's `bash -lc`) keeps the image's PATH
COPY profile /etc/profile
# its Python's standard library is compiled (the base image dropped the .pyc files, which
# `ray` may not write there): else each of Ray's processes compiles it again on start
RUN python3 -m compileall -q -j 0 /usr/lib/python3.11
USER ray
# the base holds the promote tests' empty `ray` of this version, which pip would take as
# installed: the real one goes over it
RUN pip install --no-cache-dir --no-index --find-links /wheelhouse --ignore-installed \
    "ray[default]=={ray}"
"""


class Store:
    """buildah with its own --root/--runroot, overlay storage where this machine mounts it
    (a layer then costs what it changes), else vfs (copies whole images)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="rdw-bh-"))
        # buildah's temporary copies (hundreds of MB) go here too, not to /var/tmp, so
        # nothing is left behind when a build is interrupted
        (self.base / "tmp").mkdir()
        self.env = {**os.environ, "TMPDIR": str(self.base / "tmp")}
        self.driver = "overlay"
        if subprocess.run(self._argv("info"), capture_output=True, env=self.env).returncode:
            self.driver = "vfs"

    def _argv(self, *args: str) -> list[str]:
        return ["buildah", "--root", str(self.base / "root"), "--runroot",
                str(self.base / "run"), "--storage-driver", self.driver, *args]

    def __call__(self, *args: str) -> str:
        out = subprocess.run(self._argv(*args), capture_output=True, text=True, env=self.env)
        assert out.returncode == 0, out.stderr + out.stdout
        return out.stdout

    def build(self, ref: str, containerfile: Path, context: Path, *options: str) -> str:
        self("build", "--isolation", "chroot", "--pull=never", "-t", ref, "-f",
             str(containerfile), *options, str(context))
        return ref

    def remove(self) -> None:
        subprocess.run(self._argv("rm", "--all"), capture_output=True, env=self.env)
        subprocess.run(self._argv("rmi", "--all", "--force"), capture_output=True, env=self.env)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def store():
    store = Store()
    yield store
    store.remove()


@pytest.fixture(scope="module")
def ray_image(store, wheelhouse, ray_version, tmp_path_factory):
    """The stand-in, tagged as the Dockerfile's FROM names it."""
    context = build_context(tmp_path_factory.mktemp("base-context"))
    base = store.build("localhost/ray-dev-test-base:image", context / "Containerfile", context)
    context = tmp_path_factory.mktemp("ray-standin")
    (context / "Containerfile").write_text(RAY_STANDIN.format(base=base, ray=ray_version))
    (context / "profile").write_text(UBUNTU_PROFILE)
    return store.build(f"docker.io/rayproject/ray:{ray_version}-{PYTHON_TAG}",
                       context / "Containerfile", context,
                       "--volume", f"{wheelhouse}:/wheelhouse:ro")


@pytest.fixture(scope="module")
def head_image(store, ray_image, wheel_file, wheelhouse, ray_version, tmp_path_factory):
    """Built as the Dockerfile says, from a context whose dist/ holds the wheel only; pip
    finds the dependencies in the wheelhouse, mounted for the build (not in the image)."""
    context = tmp_path_factory.mktemp("head-context")
    (context / "dist").mkdir()
    shutil.copy(wheel_file, context / "dist")
    return store.build(
        "localhost/ray-dev-head:test", REPO / "deploy" / "image" / "Dockerfile", context,
        "--build-arg", f"RAY_VERSION={ray_version}", "--build-arg", f"PYTHON={PYTHON_TAG}",
        "--volume", f"{wheelhouse}:/wheelhouse:ro",
        "--build-arg", "PIP_OPTIONS=--no-index --find-links /wheelhouse")


@pytest.fixture(scope="module")
def image_config(store, head_image):
    return json.loads(store("inspect", "--type", "image", head_image))["OCIv1"]["config"]


@pytest.fixture(scope="module")
def pod(store, head_image, image_config):
    container = store("from", "--pull=never", head_image).strip()
    folder = Path(tempfile.mkdtemp(prefix="rdw-img-", dir="/var/tmp"))
    try:
        rootfs = Path(store("mount", container).strip())
        env = dict(item.split("=", 1) for item in image_config["Env"])
        pod = Pod(folder, env, rootfs=rootfs, workdir=image_config["WorkingDir"])
        try:
            yield pod.start()
        finally:
            pod.stop()
    finally:
        store("umount", container)
        store("rm", container)
        remove(folder)


def test_the_image_runs_as_ray_with_the_wheel_installed(pod, image_config):
    assert image_config["User"] == "ray" and image_config["WorkingDir"] == "/home/ray"
    assert "8888/tcp" in image_config["ExposedPorts"]
    passwd = (pod.rootfs / "etc" / "passwd").read_text().splitlines()
    assert any(line.startswith("ray:x:1000:100:") for line in passwd)
    site = list((pod.rootfs / "home" / "ray" / "venv" / "lib").glob(
        "python3.*/site-packages/jupyter_ray_dev"))
    assert len(site) == 1 and (site[0] / "__init__.py").is_file()
    # installed from the wheel: no editable finder or .pth pointing at a source tree
    dist_info = list(site[0].parent.glob("jupyter_ray_dev-*.dist-info"))
    assert len(dist_info) == 1 and not (dist_info[0] / "direct_url.json").exists() or \
        "editable" not in (dist_info[0] / "direct_url.json").read_text()
    labext = site[0].parent.parent.parent.parent / "share/jupyter/labextensions/jupyter-ray-dev"
    assert (labext / "package.json").is_file() and not labext.is_symlink()


class TestSmokeSet(SmokeSet):
    pass


def test_promote_review(pod, pod_api, ray_version):
    plan = check_promote_review(pod_api, ray_version, PYTHON_TAG)
    builders = {b["name"]: b for b in plan["builders"]}
    # the image has neither buildah nor docker, and no Kubernetes here: each says why
    assert "buildah is not installed" in builders["buildah"]["reason"]
    assert "docker is not installed" in builders["docker"]["reason"]
    assert not any(b["available"] for b in plan["builders"])
