"""What every real build test checks about a promoted image, whichever builder made it:
the hostile sample project, the build run to its end, and the pushed image as the
registry holds it (labels, user, workdir, env, files present and absent, the
dependency installed, no secret anywhere), and that a code-only rebuild reused the
dependency layers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tarfile
from pathlib import Path

from promote_helpers import SUMMARY, build_wheel, notebook, sample_project, write

from jupyter_ray_dev.promote import PromoteConfig, PromoteService

# what the Dockerfile's pip step starts with, as a failed build must name it
PIP_STEP = "RUN mkdir -p /home/ray/app && cd /home/ray/.ray-dev-deps"

HOSTILE = 'say "hi" $HOME `id` \\'
SECRET = "hf_do_not_bake_me_0123456789"


def skopeo(*args: str) -> dict:
    out = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def layer_files(image: str, dest: Path) -> list[set[str]]:
    """The file names in each pushed layer, in order (copied out of the registry)."""
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{image}",
                    f"dir:{dest}"], check=True, capture_output=True)
    manifest = json.loads((dest / "manifest.json").read_text())
    layers = []
    for layer in manifest["layers"]:
        with tarfile.open(dest / layer["digest"].split(":")[1]) as tar:
            layers.append({m.name.lstrip("./") for m in tar.getmembers()})
    return layers


async def _summary():
    return SUMMARY


def vfs_service(root: Path, store: Path, buildah_store: dict[str, str],
                registry: str) -> PromoteService:
    """The promote service of the build tests: buildah with vfs storage (what works in any
    pod), pushing to ``registry``/team over plain HTTP."""
    return PromoteService(PromoteConfig(
        root_dir=root, registry=f"{registry}/team", tls_verify=False,
        buildah_root=buildah_store["root"], buildah_runroot=buildah_store["runroot"],
        buildah_storage_driver="vfs", store_path=store), _summary)


def hostile_vfs_build(tmp_path: Path, buildah_store: dict[str, str], registry: str,
                      base_image: str) -> tuple[Path, PromoteService, dict]:
    """The hostile project, the vfs promote service and the build request of the build
    tests: (Jupyter root, service, body)."""
    root = hostile_project(tmp_path)
    service = vfs_service(root, tmp_path / "p.sqlite", buildah_store, registry)
    return root, service, {"entrypoint": "proj/train.ipynb", "base_image": base_image}


async def run_build(service, body):
    lines, end = [], None
    async for event in service.build("proj", body):
        if event["type"] == "line":
            lines.append(event["text"])
        elif event["type"] == "end":
            end = event["promotion"]
    return lines, end


def hostile_project(tmp_path: Path) -> Path:
    """The sample project with a real local wheel, hostile env values and file names,
    and a secret env var; returns the Jupyter root."""
    root = tmp_path / "root"
    wheel = build_wheel(tmp_path / "src", root / "proj" / "wheels")
    project = sample_project(root, pip=[f"./wheels/{wheel.name}"],
                             env_vars={"MODE": "prod", "GREETING": HOSTILE, "HF_TOKEN": SECRET})
    notebook(project / "train.ipynb", "%pip install tqdm",
             "import os, helpers, raydevdep\n"
             "print('RESULT', helpers.answer(), raydevdep.VERSION, open('data/params.txt')"
             ".read(), os.environ['GREETING'])")
    write(project / "$(touch fnpwn).py", "x = 1\n")  # a hostile name is only ever data
    return root


def check_pushed_image(image: str, end: dict, pulled: Path) -> None:
    # the registry has it, under the digest we recorded
    info = skopeo("inspect", "--tls-verify=false", f"docker://{image}")
    assert info["Digest"] == end["digest"]
    labels = info["Labels"]
    assert labels["io.ray-dev.project"] == "proj"
    assert labels["io.ray-dev.entrypoint"] == "train.py"
    assert labels["io.ray-dev.inputs-hash"] == end["inputs_hash"]
    assert labels["org.opencontainers.image.created"].startswith("20")
    # provenance: no run recorded, so the lock is what the image was checked against
    assert labels["io.ray-dev.source-run"] == ""
    assert len(labels["io.ray-dev.lock-sha256"]) == 64
    assert end["parity"]["status"] == "passed", end["parity"]
    assert end["parity"]["source"].startswith("the pinned lock")
    config = skopeo("inspect", "--tls-verify=false", "--config", f"docker://{image}")
    assert config["config"]["User"] == "ray"
    assert config["config"]["WorkingDir"] == "/home/ray/app"
    env = dict(e.split("=", 1) for e in config["config"]["Env"])
    assert env["MODE"] == "prod" and env["GREETING"] == HOSTILE  # literal, not expanded
    assert env["PYTHONPATH"] == "/home/ray/app"
    assert "HF_TOKEN" not in env

    layers = [files for files in layer_files(image, pulled) if files]
    code = layers[-1]
    assert {"home/ray/app/train.py", "home/ray/app/helpers.py",
            "home/ray/app/data/params.txt", "home/ray/app/$(touch fnpwn).py"} <= code
    everything = set().union(*layers)
    for gone in ("checkpoints", "run.log", "scratch", "__pycache__", "cache.tmp"):
        assert not any(f"home/ray/app/{gone}" in name for name in everything), gone
    assert any(n.endswith("site-packages/raydevdep/__init__.py") for n in everything)
    assert not any("fnpwn" in n for n in everything - code)  # nothing ran it
    blobs = b"".join(p.read_bytes() for p in pulled.iterdir())
    assert SECRET.encode() not in blobs  # no layer and no config holds the secret


def rebuild_after_code_change(service, body, root: Path, first: dict,
                              cache_marker: str) -> tuple[list[str], dict]:
    """Change only code and build again: the pip step must come from the builder's
    cache (``cache_marker`` is how the builder says so) and only the code layer differ.
    Into another repository: in the same one, a code-only change takes the code-layer
    path, which needs no builder (test_promote_codelayer.py)."""
    write(root / "proj" / "helpers.py", "def answer():\n    return 43\n")
    repo = first["image"].rsplit(":", 1)[0]
    lines, end = asyncio.run(run_build(service, {**body, "image": f"{repo}-rebuilt:v2"}))
    assert end["status"] == "pushed", "\n".join(lines[-30:])
    assert end["build_path"]["path"] == "full_build"
    pip_step = next(i for i, ln in enumerate(lines) if "pip install" in ln)
    assert lines[pip_step + 1].strip().startswith(cache_marker), lines[pip_step:pip_step + 3]
    assert not any("Processing ./wheels" in ln for ln in lines)  # pip did not run again
    before = skopeo("inspect", "--tls-verify=false", f"docker://{first['image']}")["Layers"]
    after = skopeo("inspect", "--tls-verify=false", f"docker://{end['image']}")["Layers"]
    assert after[:-1] == before[:-1] and after[-1] != before[-1]
    return lines, end


def broken_wheel_project(tmp_path: Path) -> Path:
    """A project whose pip step must fail (a "wheel" that is not one); the Jupyter root."""
    root = tmp_path / "root"
    sample_project(root, pip=["./wheels/missing-0.1-py3-none-any.whl"])
    write(root / "proj" / "wheels" / "missing-0.1-py3-none-any.whl", "not a wheel")
    return root


def check_failed_and_not_pushed(end: dict, registry: str) -> None:
    assert end["status"] == "failed"
    assert PIP_STEP in end["error"]
    assert end["digest"] is None
    tags = subprocess.run(["skopeo", "list-tags", "--tls-verify=false",
                           f"docker://{registry}/team/proj"], capture_output=True, text=True)
    assert end["image"].split(":")[-1] not in tags.stdout
