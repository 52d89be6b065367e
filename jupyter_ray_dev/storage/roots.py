"""Storage roots: what ``c.RayDev.storage_roots`` may say, checked once, with errors naming the fix.

A root is a name (the URL segment the API uses), a location (local/NFS folder,
``s3://bucket/prefix``, ``gs://bucket/prefix``), fsspec options and ``read_only``.
Options may hold credentials, so a root's public view shows option *names* only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import PathRejected, StorageConfigInvalid
from .paths import clean_relpath

ALLOWED_KEYS = ("name", "url", "options", "read_only")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,221}[A-Za-z0-9]$")
PROTOCOL_ALIASES = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs", "file": "file"}

# Network file systems worth offering as roots; fuse.* covers s3fs-fuse, gcsfuse,
# mountpoint-s3, efs-proxy. Desktop/system FUSE mounts are noise on a Ray head.
NETWORK_FS_TYPES = ("nfs", "nfs4", "efs")
IGNORED_FUSE = {"fuse.portal", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.snapfuse",
                "fuse.xdg-document-portal", "fuse.kio-fuse", "fuse.jetbrains-toolbox"}


@dataclass(frozen=True)
class StorageRoot:
    name: str
    url: str  # as shown to users: /abs/path, s3://bucket/prefix, gs://bucket/prefix
    protocol: str  # "file", "s3" or "gs"
    location: str  # local: absolute path; remote: "bucket" or "bucket/prefix"
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)  # may hold secrets
    read_only: bool = False

    @property
    def bucket(self) -> str:
        return self.location.split("/", 1)[0]

    @property
    def prefix(self) -> str:
        return self.location.split("/", 1)[1] if "/" in self.location else ""

    def uri(self, path: str = "") -> str:
        """The item's address as Ray, pyarrow and fsspec write it (for "copy URI", snippets)."""
        if self.protocol == "file":
            return os.path.join(self.location, path) if path else self.location
        return f"{self.protocol}://{self.location}" + (f"/{path}" if path else "")

    def public(self) -> dict[str, Any]:
        # never the option values: they are where credentials go
        return {
            "name": self.name,
            "url": self.url,
            "protocol": self.protocol,
            "read_only": self.read_only,
            "option_names": sorted(self.options),
        }


def parse_roots(items: Iterable[Any]) -> list[StorageRoot]:
    """Validate the whole configuration; the first problem raises StorageConfigInvalid."""
    roots: list[StorageRoot] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        root = parse_root(item, index)
        if root.name in seen:
            raise _invalid(index, "name", f"the name '{root.name}' is used twice; names must be "
                           "unique")
        seen.add(root.name)
        roots.append(root)
    return roots


def parse_root(item: Any, index: int = 0) -> StorageRoot:
    if isinstance(item, str):
        item = {"url": item}  # shorthand: c.RayDev.storage_roots = ["s3://bucket/x"]
    if not isinstance(item, Mapping):
        raise _invalid(index, None, "each root must be a dict with 'name' and 'url' (or a URL "
                       f"string), not {type(item).__name__}")
    unknown = sorted(set(item) - set(ALLOWED_KEYS))
    if unknown:
        raise _invalid(index, unknown[0], f"unknown key(s) {unknown}; allowed: "
                       f"{list(ALLOWED_KEYS)}")
    url = item.get("url")
    if not isinstance(url, str) or not url.strip():
        raise _invalid(index, "url", "'url' is required: a folder (/mnt/shared, file:///mnt/"
                       "shared), s3://bucket[/prefix] or gs://bucket[/prefix]")
    protocol, location = _parse_url(url.strip(), index)
    options = item.get("options") or {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise _invalid(index, "options", "'options' must be a dict of fsspec options "
                       "(e.g. {'endpoint_url': ..., 'anon': True})")
    if protocol == "file" and options:
        raise _invalid(index, "options", "'options' apply to s3:// and gs:// roots only")
    read_only = item.get("read_only", False)
    if not isinstance(read_only, bool):
        raise _invalid(index, "read_only", "'read_only' must be true or false")
    name = item.get("name") or _default_name(protocol, location)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _invalid(index, "name", f"'name' {name!r} must be 1-64 letters, digits, '.', '_' "
                       "or '-', starting with a letter or digit (it is part of the API's URLs)")
    shown = location if protocol == "file" else f"{protocol}://{location}"
    return StorageRoot(name=name, url=shown, protocol=protocol, location=location,
                       options=dict(options), read_only=read_only)


def _parse_url(url: str, index: int) -> tuple[str, str]:
    if url.startswith("/"):
        return "file", _local_path(url, index)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in PROTOCOL_ALIASES:
        raise _invalid(index, "url", f"{url!r}: use an absolute folder path, file://, s3:// or "
                       "gs:// (relative paths are ambiguous on a server)")
    protocol = PROTOCOL_ALIASES[scheme]
    if parts.query or parts.fragment:
        raise _invalid(index, "url", f"{url!r}: no query or fragment; put settings in 'options'")
    if protocol == "file":
        if parts.netloc not in ("", "localhost"):
            raise _invalid(index, "url", f"{url!r}: file:// URLs name a local path "
                           "(file:///mnt/shared)")
        return "file", _local_path(parts.path, index)
    if "@" in parts.netloc:
        raise _invalid(index, "url", "credentials do not belong in the URL: put them in the "
                       "environment or in 'options' (never shown by the API)")
    bucket = parts.netloc
    if not BUCKET_RE.match(bucket):
        raise _invalid(index, "url", f"{url!r}: {bucket!r} is not a valid bucket name")
    try:
        prefix = clean_relpath(parts.path.lstrip("/"), field="url")
    except PathRejected as err:
        raise _invalid(index, "url", f"{url!r}: {err.message}") from err
    return protocol, f"{bucket}/{prefix}" if prefix else bucket


def _local_path(path: str, index: int) -> str:
    if not path.startswith("/"):
        raise _invalid(index, "url", f"{path!r} must be an absolute path")
    if "\x00" in path:
        raise _invalid(index, "url", "the path contains NUL")
    normal = os.path.normpath(path)
    return "/" if normal == "//" else normal


def _default_name(protocol: str, location: str) -> str:
    last = location.rstrip("/").rsplit("/", 1)[-1] or protocol
    return re.sub(r"[^A-Za-z0-9._-]", "-", last).lstrip("._-")[:64] or protocol


def _invalid(index: int, key: str | None, why: str) -> StorageConfigInvalid:
    where = f"c.RayDev.storage_roots[{index}]" + (f".{key}" if key else "")
    return StorageConfigInvalid(f"{where}: {why}. Fix the server configuration and restart.",
                                field=where)


# --- defaults -------------------------------------------------------------------------------

def default_roots(env: Mapping[str, str] | None = None,
                  mounts_file: str = "/proc/mounts") -> list[dict[str, Any]]:
    """The local artifacts folder of ``make lab`` plus network mounts (NFS, EFS, FUSE)."""
    env = os.environ if env is None else env
    roots: list[dict[str, Any]] = []
    artifacts = env.get("RAY_DEV_ARTIFACTS")
    if artifacts and artifacts.startswith("/"):
        roots.append({"name": "artifacts", "url": artifacts})
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as fh:
            mounts = network_mounts(fh.read())
    except OSError:
        mounts = []
    names = {r["name"] for r in roots}
    urls = {r["url"] for r in roots}
    for mountpoint in mounts:
        if mountpoint in urls:
            continue
        base = _default_name("file", mountpoint)
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        roots.append({"name": name, "url": mountpoint})
    return roots


def network_mounts(text: str) -> list[str]:
    """Mount points of network file systems in ``/proc/mounts`` text, in mount order."""
    found: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mountpoint, fstype = _unescape_mount(fields[1]), fields[2]
        if fstype in NETWORK_FS_TYPES or (fstype.startswith("fuse.") and
                                          fstype not in IGNORED_FUSE):
            if mountpoint not in found:
                found.append(mountpoint)
    return found


def _unescape_mount(field_text: str) -> str:
    # the kernel writes space, tab, newline and backslash as \040 \011 \012 \134
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_text)
