"""The build context: a folder (for a builder) or a ``.tar.gz`` (for an external CI).

Layout::

    Dockerfile  .dockerignore
    deps/requirements.txt  deps/wheels/*      -> the dependency layer
    app/<the project's kept files>            -> the code layer
    manifests/rayjob.yaml  manifests/raycluster.yaml   (not sent to the image; the
                                                       RayService variant: rayservice.yaml)

Every file gets the same mtime and mode bits from its content only, so two
contexts of the same inputs are byte-identical and a builder's layer cache sees
an unchanged dependency folder as unchanged.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FIXED_MTIME = 315532800  # 1980-01-01, the zip epoch: any constant does
_CHUNK = 1 << 20


@dataclass
class ContextFile:
    name: str  # path in the context, '/'-separated
    source: Path | None = None  # copied from here...
    text: str | None = None  # ...or written from this


@dataclass
class ContextSpec:
    files: list[ContextFile] = field(default_factory=list)

    def add_text(self, name: str, text: str) -> None:
        self.files.append(ContextFile(name, text=text))

    def add_file(self, name: str, source: Path) -> None:
        self.files.append(ContextFile(name, source=source))

    def sorted(self) -> list[ContextFile]:
        return sorted(self.files, key=lambda f: f.name)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def inputs_hash(spec: ContextSpec, skip: tuple[str, ...] = ("Dockerfile",)) -> str:
    """sha256 over every (name, content digest) the image is built from."""
    h = hashlib.sha256()
    for f in spec.sorted():
        if f.name in skip or f.name.startswith("manifests/"):
            continue
        digest = (hashlib.sha256(f.text.encode()).hexdigest() if f.text is not None
                  else _file_digest(f.source))  # type: ignore[arg-type]
        h.update(f"{f.name}\0{digest}\n".encode())
    return h.hexdigest()


def _mode(f: ContextFile) -> int:
    executable = f.source is not None and os.access(f.source, os.X_OK)
    return 0o755 if executable else 0o644


def write_folder(spec: ContextSpec, dest: Path) -> None:
    """Write the context into ``dest`` (an empty folder the caller owns)."""
    for f in spec.sorted():
        target = dest / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.text is not None:
            target.write_text(f.text, encoding="utf-8")
        else:
            shutil.copyfile(f.source, target)  # type: ignore[arg-type]
        os.chmod(target, _mode(f))
        os.utime(target, (FIXED_MTIME, FIXED_MTIME))
    for folder, dirs, _ in os.walk(dest):
        for d in dirs:
            os.utime(Path(folder) / d, (FIXED_MTIME, FIXED_MTIME))


def _tar_info(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _dirs_of(names: list[str]) -> Iterator[str]:
    seen: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in seen:
                seen.add(d)
                yield d


def write_tar_gz(spec: ContextSpec, dest: Path) -> int:
    """Write the context as ``dest`` (.tar.gz), atomically: a failed export leaves no file.
    Returns the size in bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=".partial-", suffix=".tar.gz", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            # mtime=0 in the gzip header too: same inputs, same bytes
            import gzip

            # tarfile writes 512-byte pieces: a buffer in front of gzip saves most calls
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz, \
                    io.BufferedWriter(gz, buffer_size=_CHUNK) as buffered, \
                    tarfile.open(fileobj=buffered, mode="w", format=tarfile.GNU_FORMAT) as tar:
                files = spec.sorted()
                for d in _dirs_of([f.name for f in files]):
                    info = _tar_info(d, 0, 0o755)
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                for f in files:
                    if f.text is not None:
                        data = f.text.encode("utf-8")
                        tar.addfile(_tar_info(f.name, len(data), _mode(f)), io.BytesIO(data))
                    else:
                        assert f.source is not None
                        with f.source.open("rb") as src:
                            size = os.fstat(src.fileno()).st_size
                            tar.addfile(_tar_info(f.name, size, _mode(f)), src)
        os.replace(partial, dest)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return dest.stat().st_size
