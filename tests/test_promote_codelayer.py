"""Code-only promotion without a builder: a real buildah build (vfs) of version 1 pushed to
a real registry on loopback, one code file changed, and then the image made by replacing
the code layer (oras to the registry, no builder) next to a full build of the same version
2: both unpacked layer by layer and compared file for file (content, mode, owner) and
config for config. And the cases where the path must not be taken, each with its reason
in the review and the history."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
import yaml
from apischema import validate_response
from ci import skip_unless_ci
from promote_helpers import notebook, write
from promote_image_checks import (
    hostile_project,
    hostile_vfs_build,
    run_build,
    skopeo,
    vfs_service,
)

from jupyter_ray_dev.promote.codelayer import (
    COMMENT,
    code_layer_index,
    dockerfile_head,
    what_changed,
    write_layer,
)
from jupyter_ray_dev.promote.context import ContextSpec

pytestmark = pytest.mark.timeout(1200)


def unpack(image: str, dest: Path) -> tuple[dict[str, tuple], dict, list[str]]:
    """The image's file tree with whiteouts applied ({path: (type, mode, uid, gid, content
    digest or link)}), its config, and its layer digests; copied out of the registry."""
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{image}",
                    f"dir:{dest}"], check=True, capture_output=True)
    manifest = json.loads((dest / "manifest.json").read_text())
    tree: dict[str, tuple] = {}
    for layer in manifest["layers"]:
        with tarfile.open(dest / layer["digest"].split(":")[1]) as tar:
            for m in tar:
                name = m.name.lstrip("./").rstrip("/")
                base = name.rsplit("/", 1)[-1]
                folder = name.rsplit("/", 1)[0] if "/" in name else ""
                if base == ".wh..wh..opq":
                    tree = {k: v for k, v in tree.items() if not k.startswith(folder + "/")}
                    continue
                if base.startswith(".wh."):
                    gone = (folder + "/" if folder else "") + base[4:]
                    tree = {k: v for k, v in tree.items()
                            if k != gone and not k.startswith(gone + "/")}
                    continue
                if m.isfile():
                    what = hashlib.sha256(tar.extractfile(m).read()).hexdigest()
                elif m.islnk():
                    what = tree[m.linkname.lstrip("./")][4]
                else:
                    what = m.linkname
                kind = "file" if m.islnk() else m.type
                # a file's time is its content's (the context's fixed one); a folder's is
                # when it was last written to, so not compared
                when = None if m.isdir() else m.mtime
                tree[name] = (kind, m.mode & 0o7777, m.uid, m.gid, what, when)
    config = json.loads((dest / manifest["config"]["digest"].split(":")[1]).read_text())
    return tree, config, [lyr["digest"] for lyr in manifest["layers"]]


def test_code_layer_image_equals_a_full_build_of_the_same_code(
        tmp_path, buildah_store, base_image, registry):
    root, service, body = hostile_vfs_build(tmp_path, buildah_store, registry, base_image)
    try:
        plan = asyncio.run(service.plan("proj", body))
        assert plan["build_path"]["path"] == "full_build"
        assert "no earlier pushed promotion of proj" in plan["build_path"]["reason"]
        lines, v1 = asyncio.run(run_build(service, body))
        assert v1["status"] == "pushed", "\n".join(lines[-30:])
        assert v1["build_path"]["path"] == "full_build"

        # version 2: one file changed, one added, one removed
        write(root / "proj" / "helpers.py", "def answer():\n    return 43\n")
        write(root / "proj" / "lib" / "extra.py", "X = 1\n")
        (root / "proj" / "data" / "params.txt").unlink()
        write(root / "proj" / "data" / "other.txt", "lr=0.2")
        notebook_code = "import helpers\nprint('RESULT', helpers.answer())"
        notebook(root / "proj" / "train.ipynb", notebook_code)
        os.chmod(root / "proj" / "lib" / "extra.py", 0o755)  # an executable stays one

        plan = asyncio.run(service.plan("proj", body))
        path = plan["build_path"]
        assert path["path"] == "code_layer", path
        validate_response(plan, "PromotionPlan")  # as REST answers it
        assert path["earlier"] == {"id": v1["id"], "image": v1["image"], "digest": v1["digest"]}
        assert "only the code changed" in path["reason"]
        lines, v2 = asyncio.run(run_build(service, body))
        assert v2["status"] == "pushed", "\n".join(lines[-30:])
        assert v2["build_path"]["path"] == "code_layer"
        validate_response(v2, "Promotion")
        assert not any(ln.startswith("STEP ") for ln in lines)  # no builder built anything
        # checked before its tag: buildah pulled it by digest and ran the probe in it
        assert v2["parity"]["status"] == "passed", v2["parity"]
        assert any(ln.startswith("Pulling ") and "@sha256:" in ln for ln in lines)
        stored = asyncio.run(service.get(v2["id"]))
        assert stored["build_path"] == v2["build_path"]
        assert skopeo("inspect", "--tls-verify=false",
                      f"docker://{v2['image']}")["Digest"] == v2["digest"]

        # the same version 2 by a full build (another repository: nothing earlier there)
        full_body = {**body, "image": f"{registry}/team/proj-full:v2"}
        lines, full = asyncio.run(run_build(service, full_body))
        assert full["status"] == "pushed", "\n".join(lines[-30:])
        assert full["build_path"]["path"] == "full_build"

        made_tree, made_cfg, made_layers = unpack(v2["image"], tmp_path / "made")
        full_tree, full_cfg, _ = unpack(full["image"], tmp_path / "full")
        _, _, v1_layers = unpack(v1["image"], tmp_path / "v1")
        differ = {k: (made_tree.get(k), full_tree.get(k))
                  for k in made_tree.keys() | full_tree.keys()
                  if made_tree.get(k) != full_tree.get(k)}
        assert differ == {}
        assert made_tree["home/ray/app/helpers.py"][4] == hashlib.sha256(
            b"def answer():\n    return 43\n").hexdigest()
        assert "home/ray/app/data/params.txt" not in made_tree  # removed: gone, no whiteout
        assert made_tree["home/ray/app/lib/extra.py"][1] == 0o755
        assert made_tree["home/ray/app/train.py"][2:4] == (1000, 100)
        for key in ("Env", "User", "WorkingDir", "Entrypoint", "Cmd"):
            assert made_cfg["config"].get(key) == full_cfg["config"].get(key), key
        labels = {k: v for k, v in made_cfg["config"]["Labels"].items()
                  if k != "org.opencontainers.image.created"}
        assert labels == {k: v for k, v in full_cfg["config"]["Labels"].items()
                          if k != "org.opencontainers.image.created"}
        assert labels["io.ray-dev.inputs-hash"] == v2["inputs_hash"]
        assert made_cfg["config"]["Labels"]["org.opencontainers.image.created"] \
            .startswith("20")
        # the earlier blobs are reused by digest: only the code layer is new
        changed = [n for n, (a, b) in enumerate(zip(made_layers, v1_layers)) if a != b]
        assert len(made_layers) == len(v1_layers) and len(changed) == 1
        assert made_cfg["history"][[n for n, h in enumerate(made_cfg["history"])
                                    if not h.get("empty_layer")][changed[0]]]["comment"] \
            == COMMENT

        # the next code-only change replaces that layer again: still one layer of code
        write(root / "proj" / "helpers.py", "def answer():\n    return 44\n")
        lines, v3 = asyncio.run(run_build(service, body))
        assert v3["status"] == "pushed" and v3["build_path"]["path"] == "code_layer", lines
        assert v3["build_path"]["earlier"]["id"] == v2["id"]
        _, _, v3_layers = unpack(v3["image"], tmp_path / "v3")
        assert len(v3_layers) == len(v1_layers)
        assert [a == b for a, b in zip(v3_layers, made_layers)].count(False) == 1
    finally:
        asyncio.run(service.close())

    # as the head pod runs it: uid 1000, no capabilities, no_new_privs, so no builder at all
    write(root / "proj" / "helpers.py", "def answer():\n    return 45\n")
    v4, log = promote_unprivileged(root, tmp_path / "p.sqlite", registry, body)
    assert v4["status"] == "pushed", log
    assert v4["build_path"]["path"] == "code_layer" and v4["builder"] is None, v4
    assert v4["build_path"]["earlier"]["id"] == v3["id"]
    assert v4["parity"]["status"] == "unavailable"
    assert "No builder can run an image on this server" in v4["parity"]["reason"]
    v4_tree, v4_cfg, _ = unpack(v4["image"], tmp_path / "v4")
    assert v4_tree["home/ray/app/helpers.py"][1:5] == (0o644, 1000, 100, hashlib.sha256(
        b"def answer():\n    return 45\n").hexdigest())
    assert v4_cfg["config"]["User"] == "ray"


UNPRIVILEGED = """\
import asyncio, json, sys
from jupyter_ray_dev.promote import PromoteConfig, PromoteService
root, store, registry, body, summary = sys.argv[1:]

async def cluster():
    return json.loads(summary)

async def main():
    service = PromoteService(PromoteConfig(
        root_dir=root, registry=registry + "/team", tls_verify=False, store_path=store,
        buildah_root=root + "/../bh", buildah_runroot=root + "/../run"), cluster)
    try:
        lines, end = [], None
        async for event in service.build("proj", json.loads(body)):
            if event["type"] == "line":
                lines.append(event["text"])
            elif event["type"] == "end":
                end = event["promotion"]
        print(json.dumps({"end": end, "log": lines}))
    finally:
        await service.close()

asyncio.run(main())
"""


def promote_unprivileged(root: Path, store: Path, registry: str, body: dict
                         ) -> tuple[dict, list[str]]:
    """Promote from a copy of the project and the history as uid 1000 gid 100 with no
    capabilities and no_new_privs (tests/pod.py's setpriv), the way a head pod runs."""
    from pod import GID, UID

    from promote_helpers import SUMMARY

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        skip_unless_ci("setpriv as root is needed to run the promotion as uid 1000")
    folder = Path(tempfile.mkdtemp(prefix="rdl-uid-", dir="/var/tmp"))
    try:
        shutil.copytree(root, folder / "root", symlinks=True)
        for part in store.parent.glob(store.name + "*"):  # with its WAL, if any
            shutil.copy(part, folder / part.name.replace(store.name, "p.sqlite"))
        for path in [folder, *folder.rglob("*")]:
            os.lchown(path, UID, GID)
        done = subprocess.run(
            ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups",
             "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all",
             "--no-new-privs", "--", sys.executable, "-c", UNPRIVILEGED,
             str(folder / "root"), str(folder / "p.sqlite"), registry, json.dumps(body),
             json.dumps(SUMMARY)],
            capture_output=True, text=True, timeout=300, cwd=folder,
            env={"HOME": str(folder), "PATH": os.environ["PATH"]})
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        return out["end"], out["log"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _runtime_env(project: Path, **changes) -> None:
    env = yaml.safe_load((project / "runtime_env.yaml").read_text())
    env.update(changes)
    (project / "runtime_env.yaml").write_text(yaml.safe_dump(env))


def test_the_code_layer_path_is_not_taken_when_more_than_code_changed(
        tmp_path, buildah_store, base_image, registry):
    root = hostile_project(tmp_path)
    project = root / "proj"
    service = vfs_service(root, tmp_path / "p.sqlite", buildah_store, registry)
    image = f"{registry}/team/fallback:v"
    body = {"entrypoint": "proj/train.ipynb", "base_image": base_image, "image": image}

    def path(**more) -> dict:
        return asyncio.run(service.plan("proj", {**body, **more}))["build_path"]

    try:
        lines, v1 = asyncio.run(run_build(service, body))
        assert v1["status"] == "pushed", "\n".join(lines[-30:])
        write(project / "helpers.py", "def answer():\n    return 43\n")
        assert path()["path"] == "code_layer"

        why = path(base_image=base_image + "-other")
        assert why["path"] == "full_build" and "the base image changed" in why["reason"]
        assert why["earlier"]["id"] == v1["id"]
        assert "--no-push" in path(push=False)["reason"]

        saved = (project / "runtime_env.yaml").read_text()
        _runtime_env(project, env_vars={"MODE": "staging", "GREETING": "hi"})
        why = path()
        assert why["path"] == "full_build"
        assert "environment changed (runtime_env env_vars)" in why["reason"]
        (project / "runtime_env.yaml").write_text(saved)

        wheel = next((project / "wheels").glob("*.whl"))
        original = wheel.read_bytes()
        wheel.write_bytes(original + b"\0")  # the same name, other content
        why = path()
        assert "the locked dependencies changed" in why["reason"], why
        wheel.write_bytes(original)
        assert path()["path"] == "code_layer"

        # the earlier image removed from the registry: the build falls back and says why
        subprocess.run(["skopeo", "delete", "--tls-verify=false",
                        f"docker://{registry}/team/fallback@{v1['digest']}"], check=True,
                       capture_output=True)
        why = path()
        assert why["path"] == "full_build" and "no longer in the registry" in why["reason"]
        lines, v2 = asyncio.run(run_build(service, body))
        assert v2["status"] == "pushed", "\n".join(lines[-30:])
        assert v2["build_path"] == why
        assert any(ln.startswith("STEP ") for ln in lines)  # buildah built it
        history = asyncio.run(service.get(v2["id"]))
        assert "no longer in the registry" in history["build_path"]["reason"]
    finally:
        asyncio.run(service.close())


# --- the parts, without a registry ---------------------------------------------------------
DOCKERFILE = """\
FROM {base}
USER ray
COPY --chown=1000:100 deps/ /home/ray/.ray-dev-deps/
RUN mkdir -p /home/ray/app && cd /home/ray/.ray-dev-deps && pip install -r requirements.txt
ENV MODE="{mode}" \\
    PYTHONPATH="/home/ray/app"
WORKDIR /home/ray/app
COPY --chown=1000:100 app/ /home/ray/app/
LABEL io.ray-dev.inputs-hash="{inputs}"
"""


def test_what_changed_names_the_first_difference_below_the_code():
    df = DOCKERFILE.format
    same = df(base="b:1", mode="prod", inputs="a")
    assert dockerfile_head(same)[-1] == "WORKDIR /home/ray/app"
    assert what_changed(same, df(base="b:1", mode="prod", inputs="b"), "d", "d") is None
    assert what_changed(same, df(base="b:2", mode="prod", inputs="a"), "d", "d") == \
        "the base image changed (b:1 -> b:2)"
    assert "dependencies" in what_changed(same, same, "d", "e")
    assert "env_vars" in what_changed(same, df(base="b:1", mode="dev", inputs="a"), "d", "d")


def test_the_code_layer_is_found_by_its_history_entry():
    history = [{"created_by": "ADD rootfs.tar /"},
               {"created_by": "/bin/sh -c #(nop) COPY dir:ab in /home/ray/app/"},
               {"created_by": "LABEL x=y", "empty_layer": True}]
    config = {"history": history}
    assert code_layer_index(config, 2, "/home/ray/app") == 1
    assert code_layer_index(config, 3, "/home/ray/app") is None  # history and layers disagree
    assert code_layer_index({"history": [{"created_by": "ADD x /"}]}, 1, "/home/ray/app") is None
    history[1] = {"created_by": "anything", "comment": COMMENT}
    assert code_layer_index(config, 2, "/home/ray/app") == 1


def test_the_layer_is_reproducible_and_owned_like_the_copy(tmp_path):
    project = tmp_path / "p"
    write(project / "a.py", "A = 1\n")
    write(project / "sub" / "deep" / "b.sh", "echo\n")
    os.chmod(project / "sub" / "deep" / "b.sh", 0o750)
    spec = ContextSpec()
    spec.add_file("app/a.py", project / "a.py")
    spec.add_file("app/sub/deep/b.sh", project / "sub" / "deep" / "b.sh")
    spec.add_text("app/train.py", "print(1)\n")
    spec.add_text("deps/requirements.txt", "x==1\n")  # not code: not in the layer
    first = write_layer(spec, "/home/ray/app", tmp_path / "one.tar.gz")
    os.utime(project / "a.py", (1, 1))  # a file's own time is not the layer's
    second = write_layer(spec, "/home/ray/app", tmp_path / "two.tar.gz")
    assert first.digest == second.digest and first.files == 3
    raw = gzip.decompress((tmp_path / "one.tar.gz").read_bytes())
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == first.diff_id
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        members = {m.name: m for m in tar}
    assert list(members) == sorted(members)
    assert set(members) == {"home/ray/app", "home/ray/app/a.py", "home/ray/app/sub",
                            "home/ray/app/sub/deep", "home/ray/app/sub/deep/b.sh",
                            "home/ray/app/train.py"}
    assert {(m.uid, m.gid) for m in members.values()} == {(1000, 100)}
    assert members["home/ray/app/sub"].isdir() and members["home/ray/app/sub"].mode == 0o755
    assert members["home/ray/app/sub/deep/b.sh"].mode == 0o755
    assert members["home/ray/app/a.py"].mode == 0o644
