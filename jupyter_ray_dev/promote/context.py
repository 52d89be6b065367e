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
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RayDevError

FIXED_MTIME = 315532800  # 1980-01-01, the zip epoch: any constant does
_CHUNK = 1 << 20


@dataclass
class ContextFile:
    name: str  # path in the context, '/'-separated
    source: Path | str | None = None  # copied from here...
    text: str | None = None  # ...or written from this


@dataclass
class ContextSpec:
    files: list[ContextFile] = field(default_factory=list)

    def add_text(self, name: str, text: str) -> None:
        self.files.append(ContextFile(name, text=text))

    def add_file(self, name: str, source: Path | str) -> None:
        self.files.append(ContextFile(name, source=source))

    def sorted(self) -> list[ContextFile]:
        return sorted(self.files, key=lambda f: f.name)


def _file_digest(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
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


# GNU tar writes the archive (5,000 small files: ~5x faster than tarfile, whose
# per-member header code dominates). Every value that could differ between two runs
# or machines is fixed: order (the lists'), owner, times, modes (exactly 0644/0755, as
# write_folder), the gzip header (-n: no name, no time).
_TAR_FIXED = ("--format=gnu", "--owner=0", "--group=0", "--numeric-owner",
              f"--mtime=@{FIXED_MTIME}", "--mode=u=rwX,go=rX", "--no-recursion",
              # symlinks are followed, as the project walk (and Ray's zip) follows them
              "--dereference")


def _stage(spec: ContextSpec, staging: Path) -> list[tuple[Path, list[str]]]:
    """The (folder, member names) groups tar is given: generated text in ``staging/text``;
    each folder the sourced files come from, under its context prefix, as a symlink in
    ``staging/links-<n>`` (no copy of the project: tar reads it in place)."""
    text_dir = staging / "text"
    groups: dict[tuple[str, Path], list[str]] = {}
    texts: list[str] = []
    for f in spec.sorted():
        if f.text is not None:
            target = text_dir / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8")
            texts.append(f.name)
            continue
        assert f.source is not None
        prefix, _, rest = f.name.partition("/")
        source = Path(f.source).absolute()
        base = source.parents[rest.count("/")] if rest else None
        if not rest or base is None or base / rest != source:
            target = text_dir / f.name  # no folder maps onto its name: copied (small files)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            shutil.copymode(source, target)
            texts.append(f.name)
            continue
        groups.setdefault((prefix, base), []).append(f.name)
    out = [(text_dir, texts)] if texts else []
    for n, ((prefix, base), names) in enumerate(groups.items()):
        links = staging / f"links-{n}"
        links.mkdir()
        (links / prefix).symlink_to(base, target_is_directory=True)
        out.append((links, names))
    return out


class ContextExportFailed(RayDevError, OSError):
    """tar could not write the context: said with what to do, never a bare 500."""

    reason = "context_export_failed"


class ContextToolMissing(ContextExportFailed):
    status = 503
    reason = "context_tool_missing"


def write_tar_gz(spec: ContextSpec, dest: Path) -> int:
    """Write the context as ``dest`` (.tar.gz), atomically: a failed export leaves no file.
    Returns the size in bytes. Blocking: call it off the event loop."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=".partial-", suffix=".tar.gz", dir=dest.parent)
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(prefix="ray-dev-tar-") as scratch:
            staging = Path(scratch)
            argv = ["tar", "--create", "--use-compress-program=gzip -n -6", f"--file={partial}",
                    *_TAR_FIXED, "--verbatim-files-from"]
            for n, (folder, names) in enumerate(_stage(spec, staging)):
                listing = staging / f"list-{n}"
                # NUL-separated: any byte but NUL may be in a name
                listing.write_bytes(b"".join(os.fsencode(x) + b"\0" for x in names))
                argv += ["-C", str(folder), "--null", "-T", str(listing)]
            if shutil.which("tar") is None or shutil.which("gzip") is None:
                raise ContextToolMissing(
                    "Writing a build context needs GNU tar and gzip on the Jupyter server, "
                    "and one of them is missing: install them in the server's image "
                    "(apt-get install tar gzip; every rayproject/ray image has them).")
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise ContextExportFailed(
                    f"Writing the build context failed (tar exit {done.returncode}: "
                    f"{done.stderr.strip()[-400:]}). A project file that changed or vanished "
                    "during the export does this: try again.")
        os.replace(partial, dest)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return dest.stat().st_size
