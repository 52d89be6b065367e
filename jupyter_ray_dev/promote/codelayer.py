"""Code-only promotion without a builder: the new image is an earlier pushed promotion's
image with its code layer swapped for one of the project's files now, as ko and Jib make
images (no base-image pull, no buildah or Docker, no privileges: any user in any pod).

A full build's layers are the base's, the dependencies' (``COPY deps/`` and the pip step,
which also makes the code's folder), and the code's (``COPY --chown=1000:100 app/``), with
ENV, WORKDIR and the labels in the image config. When everything before the code's COPY
is what the earlier promotion built (the Dockerfile's lines up to it, the dependency files'
content), its layers are what a full build would make again, so the new image is::

    the earlier layers, its code layer replaced  +  a config with that layer's diff_id
    and history entry and the labels of this plan  +  a manifest naming the same blobs

The earlier code layer is replaced, not shadowed by one more on top: a removed or renamed
file is gone as in a full build (no whiteouts to compute from the earlier image's files),
and the image does not grow a layer per promotion.

The layer is a reproducible tar: the kept files under the workdir, owned by the COPY's
user and group, each mode from its content as in the build context, the context's fixed
mtime, entries sorted by name, gzip with no name and no time.
"""

from __future__ import annotations

import copy
import datetime
import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .builders.base import repository
from .context import FIXED_MTIME, ContextSpec, file_mode, inputs_hash
from .dockerfile import CODE_GID, CODE_UID, CREATED_LABEL
from .registry import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    Manifest,
    Registry,
    RegistryError,
    split_reference,
)

CODE_LAYER = "code_layer"
FULL_BUILD = "full_build"
# what the history entry of a layer this module wrote says, so the next code-only
# promotion finds it again
COMMENT = "jupyter-ray-dev: the project's code"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# a Docker v2 manifest's media types and their OCI equivalents (the same bytes)
_TO_OCI = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": OCI_LAYER,
    "application/vnd.docker.container.image.v1+json": OCI_CONFIG,
}
_APP = "app/"


def deps_hash(spec: ContextSpec) -> str:
    """sha256 over the dependency files the image installs (requirements.txt, wheels)."""
    return inputs_hash(spec, prefix="deps/")


def dockerfile_head(dockerfile: str) -> list[str]:
    """The Dockerfile's lines before the code's COPY: what makes every earlier layer."""
    lines = dockerfile.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("COPY ") and f" {_APP} " in line:
            return lines[:n]
    return lines


@dataclass
class BuildPath:
    """Which way a build makes the image, and why; for ``code_layer`` the earlier
    promotion and what the registry holds of it."""

    path: str
    reason: str
    earlier: dict[str, Any] | None = None  # {id, image, digest}
    manifest: Manifest | None = field(default=None, repr=False)
    config: dict[str, Any] | None = field(default=None, repr=False)
    code_index: int = -1  # the earlier code layer's position in the manifest's layers

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason, "earlier": self.earlier}


def full(reason: str, earlier: Any = None) -> BuildPath:
    return BuildPath(FULL_BUILD, reason, _earlier(earlier) if earlier is not None else None)


def _earlier(record: Any) -> dict[str, Any]:
    return {"id": record.id, "image": record.image, "digest": record.digest}


def _instruction(lines: list[str], word: str) -> list[str]:
    """The lines of each ``word`` instruction with their continuation lines."""
    out, inside = [], False
    for line in lines:
        if line.startswith(word + " "):
            inside = True
        if inside:
            out.append(line)
            inside = line.rstrip().endswith("\\")
    return out


def what_changed(old_dockerfile: str, new_dockerfile: str, old_deps: str | None,
                 new_deps: str) -> str | None:
    """Why the earlier image's layers below the code are not this plan's; None when they
    are."""
    old, new = dockerfile_head(old_dockerfile), dockerfile_head(new_dockerfile)
    if _instruction(old, "FROM") != _instruction(new, "FROM"):
        was = " ".join(_instruction(old, "FROM"))[5:] or "?"
        now = " ".join(_instruction(new, "FROM"))[5:]
        return f"the base image changed ({was} -> {now})"
    if old_deps != new_deps or _instruction(old, "RUN") != _instruction(new, "RUN"):
        return "the locked dependencies changed (requirements.txt or a wheel)"
    if _instruction(old, "ENV") != _instruction(new, "ENV"):
        return "the image's environment changed (runtime_env env_vars)"
    if _instruction(old, "WORKDIR") != _instruction(new, "WORKDIR"):
        return "the working directory changed"
    if old != new:
        return "the Dockerfile before the code's COPY changed"
    return None


def earlier_promotion(records: list[Any], image: str) -> Any:
    """The newest pushed build of the same repository (``records``: newest first)."""
    repo = repository(image)
    for record in records:
        if record.kind == "build" and record.status == "pushed" and record.digest \
                and record.image and repository(record.image) == repo:
            return record
    return None


def code_layer_index(config: dict[str, Any], layers: int, workdir: str) -> int | None:
    """The position of the code's layer among ``layers``: the last layer whose history entry
    is the code's COPY into ``workdir`` (or one this module wrote); None when the history
    does not say."""
    history = config.get("history") or []
    non_empty = [h for h in history if not h.get("empty_layer")]
    if len(non_empty) != layers:
        return None  # the history does not map onto the layers
    for index in range(layers - 1, -1, -1):
        entry = non_empty[index]
        made_by = entry.get("created_by") or ""
        if entry.get("comment") == COMMENT or ("COPY" in made_by and workdir in made_by):
            return index
    return None


def decide(plan: Any, records: list[Any], push: bool, tls_verify: bool) -> BuildPath:
    """Which path a build of ``plan`` takes. Reads the earlier image's manifest and config
    from the registry (blocking: off the event loop)."""
    from .options import registry_host

    if not push:
        return full("--no-push: the code-layer path makes the image in the registry only.")
    image = plan.image
    if image is None or registry_host(image) is None:
        return full("no registry to push to: the code-layer path makes the image there.")
    record = earlier_promotion(records, image)
    if record is None:
        return full(f"no earlier pushed promotion of {plan.project} to {repository(image)} "
                    "to put the code on.")
    if record.deps_hash is None:
        return full(f"promotion {record.id} was recorded without the hash of its dependency "
                    "files, so its layers cannot be matched.", record)
    changed = what_changed(record.dockerfile, plan.dockerfile, record.deps_hash,
                           plan.deps_hash)
    if changed is not None:
        return full(f"{changed} since promotion {record.id}.", record)
    host, path, _ = split_reference(record.image)
    registry = Registry(host, tls_verify)
    try:
        manifest = registry.manifest(path, record.digest, retry=False)
        if manifest is None:
            return full(f"{repository(record.image)}@{record.digest[:19]} (promotion "
                        f"{record.id}) is no longer in the registry.", record)
        doc = manifest.doc
        if manifest.media_type not in (OCI_MANIFEST, DOCKER_MANIFEST):
            return full(f"the earlier image's manifest is a {manifest.media_type}, not one "
                        "image's manifest.", record)
        config = json.loads(registry.blob(path, doc["config"]["digest"], retry=False))
    except RegistryError as err:
        return full(f"the registry could not be read: {err}", record)
    index = code_layer_index(config, len(doc.get("layers") or []), plan.workdir)
    if index is None:
        return full(f"the history of {record.image} does not say which layer is the code, "
                    "so it cannot be replaced.", record)
    return BuildPath(
        CODE_LAYER, f"only the code changed since promotion {record.id}: the same base "
        "image, locked dependencies and environment, so its layers are reused and one new "
        "layer holds the code (no builder needed).", _earlier(record), manifest, config,
        index)


# --- the layer ---------------------------------------------------------------------------
class _Hashing:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, out: IO[bytes] | None) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        if self.out is not None:
            self.out.write(data)
        return len(data)

    def flush(self) -> None:
        if self.out is not None:
            self.out.flush()


@dataclass(frozen=True)
class Layer:
    path: Path
    digest: str  # of the gzip blob
    diff_id: str  # of the tar
    size: int
    files: int


def _entries(spec: ContextSpec, workdir: str) -> list[tuple[str, Any]]:
    """(name in the layer, context file or None for a folder), sorted by name."""
    top = workdir.strip("/")
    files = {}
    for f in spec.files:
        if f.name.startswith(_APP):
            files[f"{top}/{f.name[len(_APP):]}"] = f  # the later one wins, as in the folder
    folders = {top}
    for name in files:
        parent = name.rsplit("/", 1)[0]
        while parent not in folders and parent.startswith(top + "/"):
            folders.add(parent)
            parent = parent.rsplit("/", 1)[0]
    entries: list[tuple[str, Any]] = [(d, None) for d in folders]
    entries += list(files.items())
    return sorted(entries, key=lambda e: e[0])


def write_layer(spec: ContextSpec, workdir: str, dest: Path) -> Layer:
    """The code layer as ``dest`` (tar.gz), with its digests. Blocking."""
    count = 0
    with open(dest, "wb") as out:
        blob = _Hashing(out)
        with gzip.GzipFile(filename="", mode="wb", fileobj=blob, mtime=0,  # type: ignore[arg-type]
                           compresslevel=6) as gz:
            raw = _Hashing(gz)  # type: ignore[arg-type]
            with tarfile.open(fileobj=raw, mode="w|", format=tarfile.GNU_FORMAT) as tar:  # type: ignore[call-overload]
                for name, f in _entries(spec, workdir):
                    info = tarfile.TarInfo(name)
                    info.uid, info.gid, info.uname, info.gname = CODE_UID, CODE_GID, "", ""
                    info.mtime = FIXED_MTIME
                    if f is None:
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                        continue
                    info.mode = file_mode(f)
                    count += 1
                    if f.text is not None:
                        data = f.text.encode("utf-8")
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
                    else:
                        with open(f.source, "rb") as src:  # type: ignore[arg-type]
                            info.size = os.fstat(src.fileno()).st_size
                            tar.addfile(info, src)
    return Layer(dest, "sha256:" + blob.sha.hexdigest(), "sha256:" + raw.sha.hexdigest(),
                 blob.size, count)


# --- the image ---------------------------------------------------------------------------
def image_config(earlier: dict[str, Any], index: int, layer: Layer,
                 labels: list[tuple[str, str]], created: str, workdir: str) -> dict[str, Any]:
    """The earlier image's config with the code layer at ``index`` replaced by ``layer``
    and this plan's labels; Env, User, WorkingDir, Entrypoint and Cmd stay the earlier's,
    which a full build of the same Dockerfile head would give."""
    config = copy.deepcopy(earlier)
    config["rootfs"]["diff_ids"][index] = layer.diff_id
    entries = [n for n, h in enumerate(config.get("history") or []) if not h.get("empty_layer")]
    config["history"][entries[index]] = {
        "created": created, "created_by": f"COPY --chown={CODE_UID}:{CODE_GID} {_APP} "
        f"{workdir}/", "comment": COMMENT}
    config["created"] = created
    inner = config.setdefault("config", {})
    inner["Labels"] = {**(inner.get("Labels") or {}), **dict(labels), CREATED_LABEL: created}
    return config


def image_manifest(earlier: dict[str, Any], index: int, layer: Layer, config: bytes
                   ) -> dict[str, Any]:
    """An OCI manifest naming the earlier blobs (by digest) and the new layer and config."""
    layers = [{"mediaType": _TO_OCI.get(lyr["mediaType"], lyr["mediaType"]),
               "digest": lyr["digest"], "size": lyr["size"]} for lyr in earlier["layers"]]
    layers[index] = {"mediaType": OCI_LAYER, "digest": layer.digest, "size": layer.size}
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG,
                       "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                       "size": len(config)},
            "layers": layers}


@dataclass(frozen=True)
class Made:
    """An image made by the code-layer path, in the registry by digest (not yet tagged)."""

    image: str  # the target, registry/name:tag
    digest: str
    manifest: bytes
    layer: Layer

    @property
    def by_digest(self) -> str:
        return f"{repository(self.image)}@{self.digest}"


def make_image(plan: Any, chosen: BuildPath, scratch: Path, tls_verify: bool,
               labels: list[tuple[str, str]]) -> Made:
    """Write the code layer, upload it and the new config, and put the manifest by its
    digest (no tag yet: the parity check may hold it back). Blocking."""
    assert chosen.manifest is not None and chosen.config is not None
    layer = write_layer(plan.spec, plan.workdir, scratch / "code.tar.gz")
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    config = json.dumps(image_config(chosen.config, chosen.code_index, layer, labels,
                                     created, plan.workdir),
                        sort_keys=True, separators=(",", ":")).encode()
    (scratch / "config.json").write_bytes(config)
    manifest = json.dumps(image_manifest(chosen.manifest.doc, chosen.code_index, layer, config),
                          separators=(",", ":")).encode()
    host, path, _ = split_reference(plan.image)
    registry = Registry(host, tls_verify)
    registry.upload(path, layer.path, layer.digest, layer.size)
    registry.upload(path, scratch / "config.json",
                    "sha256:" + hashlib.sha256(config).hexdigest(), len(config))
    digest = registry.put_manifest(path, "sha256:" + hashlib.sha256(manifest).hexdigest(),
                                   manifest, OCI_MANIFEST)
    return Made(plan.image, digest, manifest, layer)


def tag(image: str, manifest: bytes, tls_verify: bool) -> str:
    """Put ``manifest`` (in the registry by digest) under ``image``'s tag. Blocking."""
    host, path, ref = split_reference(image)
    return Registry(host, tls_verify).put_manifest(path, ref, manifest, OCI_MANIFEST)


def tag_digest(image: str, digest: str, tls_verify: bool) -> str:
    """Tag the manifest the registry holds as ``digest`` with ``image``'s tag. Blocking."""
    host, path, ref = split_reference(image)
    registry = Registry(host, tls_verify)
    found = registry.manifest(path, digest)
    if found is None:
        raise RegistryError(f"{repository(image)}@{digest[:19]} is no longer in the registry: "
                            "promote again.")
    return registry.put_manifest(path, ref, found.raw, found.media_type)
