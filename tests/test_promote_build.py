"""A real build: buildah (vfs, chroot) builds a promoted project from a local stand-in
for rayproject/ray, pushes it to a real registry on loopback, and the pushed image is
inspected: labels, user, workdir, env, files present and absent, the dependency really
installed by pip, the entrypoint really running. Then a code-only change rebuilds on
the cached dependency layers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from promote_fixtures import buildah
from promote_helpers import SUMMARY, build_wheel, notebook, sample_project, write

from jupyter_ray_dev.promote import PromoteConfig, PromoteService

HOSTILE = 'say "hi" $HOME `id` \\'
SECRET = "hf_do_not_bake_me_0123456789"


async def _summary():
    return SUMMARY


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


async def run_build(service, body):
    lines, end = [], None
    async for event in service.build("proj", body):
        if event["type"] == "line":
            lines.append(event["text"])
        elif event["type"] == "end":
            end = event["promotion"]
    return lines, end


def test_build_push_inspect_and_rebuild_on_cached_dependency_layers(
        tmp_path, buildah_store, base_image, registry):
    root = tmp_path / "root"
    wheel = build_wheel(tmp_path / "src", root / "proj" / "wheels")
    project = sample_project(root, pip=[f"./wheels/{wheel.name}"],
                             env_vars={"MODE": "prod", "GREETING": HOSTILE, "HF_TOKEN": SECRET})
    notebook(project / "train.ipynb", "%pip install tqdm",
             "import os, helpers, raydevdep\n"
             "print('RESULT', helpers.answer(), raydevdep.VERSION, open('data/params.txt')"
             ".read(), os.environ['GREETING'])")
    write(project / "$(touch fnpwn).py", "x = 1\n")  # a hostile name is only ever data
    service = PromoteService(PromoteConfig(
        root_dir=root, registry=f"{registry}/team", tls_verify=False,
        buildah_root=buildah_store["root"], buildah_runroot=buildah_store["runroot"],
        store_path=tmp_path / "p.sqlite"), _summary)
    body = {"entrypoint": "proj/train.ipynb", "base_image": base_image}
    try:
        lines, end = asyncio.run(run_build(service, body))
        assert end["status"] == "pushed", "\n".join(lines[-30:])
        image = end["image"]
        assert image.startswith(f"{registry}/team/proj:") and end["digest"].startswith("sha256:")

        # the registry has it, under the digest we recorded
        info = skopeo("inspect", "--tls-verify=false", f"docker://{image}")
        assert info["Digest"] == end["digest"]
        labels = info["Labels"]
        assert labels["io.ray-dev.project"] == "proj"
        assert labels["io.ray-dev.entrypoint"] == "train.py"
        assert labels["io.ray-dev.inputs-hash"] == end["inputs_hash"]
        assert labels["org.opencontainers.image.created"].startswith("20")
        config = skopeo("inspect", "--tls-verify=false", "--config", f"docker://{image}")
        assert config["config"]["User"] == "ray"
        assert config["config"]["WorkingDir"] == "/home/ray/app"
        env = dict(e.split("=", 1) for e in config["config"]["Env"])
        assert env["MODE"] == "prod" and env["GREETING"] == HOSTILE  # literal, not expanded
        assert env["PYTHONPATH"] == "/home/ray/app"
        assert "HF_TOKEN" not in env

        layers = layer_files(image, tmp_path / "pulled")
        code = layers[-1]
        assert {"home/ray/app/train.py", "home/ray/app/helpers.py",
                "home/ray/app/data/params.txt", "home/ray/app/$(touch fnpwn).py"} <= code
        everything = set().union(*layers)
        for gone in ("checkpoints", "run.log", "scratch", "__pycache__", "cache.tmp"):
            assert not any(f"home/ray/app/{gone}" in name for name in everything), gone
        assert any(n.endswith("site-packages/raydevdep/__init__.py") for n in everything)
        assert not any("fnpwn" in n for n in everything - code)  # nothing ran it
        blobs = b"".join(p.read_bytes() for p in (tmp_path / "pulled").iterdir())
        assert SECRET.encode() not in blobs  # no layer and no config holds the secret

        # the image runs the converted notebook: code, data, dependency, env all there
        ctr = buildah(buildah_store, "from", image).strip()
        try:
            out = buildah(buildah_store, "run", "--isolation", "chroot", ctr, "--", "sh", "-c",
                          end_command(service, body))
        finally:
            buildah(buildah_store, "rm", ctr)
        assert f"RESULT 42 1.2.3 lr=0.1 {HOSTILE}" in out

        # a code-only change: the dependency layers come from the cache
        write(project / "helpers.py", "def answer():\n    return 43\n")
        lines2, end2 = asyncio.run(run_build(service, body))
        assert end2["status"] == "pushed", "\n".join(lines2[-30:])
        assert end2["image"] != image  # content-addressed tag
        pip_step = next(i for i, ln in enumerate(lines2) if "pip install" in ln)
        assert lines2[pip_step + 1].startswith("--> Using cache"), lines2[pip_step:pip_step + 3]
        assert not any("Processing ./wheels" in ln for ln in lines2)  # pip did not run again
        first = skopeo("inspect", "--tls-verify=false", f"docker://{image}")["Layers"]
        second = skopeo("inspect", "--tls-verify=false", f"docker://{end2['image']}")["Layers"]
        assert second[:-1] == first[:-1] and second[-1] != first[-1]

        history = asyncio.run(service.history("proj"))
        assert [h["status"] for h in history] == ["pushed", "pushed"]
        stored = asyncio.run(service.get(end["id"]))
        assert "pip install" in stored["log"] and stored["digest"] == end["digest"]
    finally:
        asyncio.run(service.close())


def end_command(service, body) -> str:
    plan = asyncio.run(service.plan("proj", body))
    return plan["entrypoint"]["command"]


def test_a_failing_step_is_named_and_nothing_is_pushed(tmp_path, buildah_store, base_image,
                                                       registry):
    root = tmp_path / "root"
    sample_project(root, pip=["./wheels/missing-0.1-py3-none-any.whl"])
    write(root / "proj" / "wheels" / "missing-0.1-py3-none-any.whl", "not a wheel")
    service = PromoteService(PromoteConfig(
        root_dir=root, registry=f"{registry}/team", tls_verify=False,
        buildah_root=buildah_store["root"], buildah_runroot=buildah_store["runroot"],
        store_path=tmp_path / "p.sqlite"), _summary)
    try:
        lines, end = asyncio.run(run_build(service, {"entrypoint": "proj/train.ipynb",
                                                     "base_image": base_image}))
        assert end["status"] == "failed"
        assert "RUN mkdir -p /home/ray/app && cd /home/ray/.ray-dev-deps" in end["error"]
        assert end["digest"] is None
        tags = subprocess.run(["skopeo", "list-tags", "--tls-verify=false",
                               f"docker://{registry}/team/proj"], capture_output=True, text=True)
        assert end["image"].split(":")[-1] not in tags.stdout
    finally:
        asyncio.run(service.close())


pytestmark = pytest.mark.timeout(900)
