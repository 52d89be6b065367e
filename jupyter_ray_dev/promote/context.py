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
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import RayDevError
from ..project.digest import stat_digest

FIXED_MTIME = 315532800  # 1980-01-01, the zip epoch: any constant does


@dataclass
class ContextFile:
    name: str  # path in the context, '/'-separated
    source: Path | str | None = None  # copied from here...
    text: str | None = None  # ...or written from this
    stat: os.stat_result | None = None  # the source's, when the walk has it


@dataclass
class ContextSpec:
    files: list[ContextFile] = field(default_factory=list)

    def add_text(self, name: str, text: str) -> None:
        self.files.append(ContextFile(name, text=text))

    def add_file(self, name: str, source: Path | str,
                 stat: os.stat_result | None = None) -> None:
        self.files.append(ContextFile(name, source=source, stat=stat))

    def sorted(self) -> list[ContextFile]:
        return sorted(self.files, key=lambda f: f.name)


def _digest(f: ContextFile, now: float) -> str:
    if f.text is not None:
        return hashlib.sha256(f.text.encode()).hexdigest()
    return stat_digest(str(f.source), f.stat, now)


def inputs_hash(spec: ContextSpec, skip: tuple[str, ...] = ("Dockerfile",),
                prefix: str = "") -> str:
    """sha256 over every (name, content digest) the image is built from (of the names
    starting with ``prefix``)."""
    now = time.time()
    # one update of the joined lines: the same digest as one update per file, faster
    lines = "".join(f"{f.name}\0{_digest(f, now)}\n" for f in spec.sorted()
                    if f.name not in skip and not f.name.startswith("manifests/")
                    and f.name.startswith(prefix))
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def file_mode(f: ContextFile) -> int:
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
        os.chmod(target, file_mode(f))
        os.utime(target, (FIXED_MTIME, FIXED_MTIME))
    for folder, dirs, _ in os.walk(dest):
        for d in dirs:
            os.utime(Path(folder) / d, (FIXED_MTIME, FIXED_MTIME))


# GNU tar writes the archive (5,000 small files: ~5x faster than tarfile, whose
# per-member header code dominates). Every value that could differ between two runs
# or machines is fixed: order (the project's files in walk order, then the rest by
# name), owner, times, modes (exactly 0644/0755, as write_folder), the gzip header
# (no name, no time).
_TAR_FIXED = ("--format=gnu", "--owner=0", "--group=0", "--numeric-owner",
              f"--mtime=@{FIXED_MTIME}", "--mode=u=rwX,go=rX", "--no-recursion",
              # symlinks are followed, as the project walk (and Ray's zip) follows them;
              # the staged tail is symlinks too, so no file is copied
              "--dereference", "--verbatim-files-from", "--null")
_APP = "app/"
_FS_ENCODING = sys.getfilesystemencoding()  # os.fsencode's, without its per-call checks


def _tar_env() -> dict[str, str]:
    """The server's environment, read at each export, minus TAR_OPTIONS: GNU tar reads
    options from it, which could change the archive's headers."""
    return {k: v for k, v in os.environ.items() if k != "TAR_OPTIONS"}


# ISA-L's deflate (python-isal) compresses tar's output in a thread of this process:
# gzip's format, ~10x faster than gzip -6 on one core, and it releases the GIL while it
# compresses, so the walk's own CPU runs beside it. On two cores it also beat pigz, and
# one compressor everywhere makes the archive's bytes the same on every server. Fed in
# fixed-size chunks, so the bytes depend on the input only.
_ISAL_LEVEL = 2  # ISA-L's default: zlib -1's size at several times its speed
_CHUNK = 1 << 20


def _isal_gzip(src: IO[bytes], fd: int, failed: list[BaseException]) -> None:
    """Compress ``src`` (tar's stdout) to the descriptor ``fd`` (closed here): no name and
    mtime 0 in the header, as ``gzip -n``."""
    from isal import igzip

    try:
        with src, open(fd, "wb", closefd=True) as raw, igzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0,
                compresslevel=_ISAL_LEVEL) as out:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
    except BaseException as err:  # noqa: BLE001 - reported by finish(), as tar's exit code
        failed.append(err)


def _staging_dir() -> str | None:
    """Where tar's few staged names go (symlinks, the generated text, tar's stderr): memory
    (/dev/shm) when writable, so making and removing them never waits on a disk busy with
    writeback, which cost an export more than its own Python work; else the temp dir."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


class ContextExportFailed(RayDevError, OSError):
    """tar could not write the context: said with what to do, never a bare 500."""

    reason = "context_export_failed"


class ContextToolMissing(ContextExportFailed):
    status = 503
    reason = "context_tool_missing"


class TarGzWriter:
    """Writes a context ``.tar.gz`` while the project is still being walked.

    The project's files go to GNU tar's stdin as the walk finds them (``add``), so tar
    and ISA-L's deflate (in a thread) archive the project while the walk,
    the pins and the inputs hash are still being computed; the rest of the context
    (generated text, wheels, manifests) follows from a staged folder once the spec is
    whole (``finish``). Atomic: the archive is
    renamed into place only when tar succeeded; any failure or an unfinished writer
    leaves no file. Blocking: use it off the event loop.
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self._proc: subprocess.Popen[bytes] | None = None
        self._deflate: threading.Thread | None = None  # compresses tar's output
        self._deflate_failed: list[BaseException] = []
        self._streamed: set[str] = set()
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._partial: str | None = None

    def __enter__(self) -> TarGzWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, project: Path | str) -> None:
        """Start tar on ``project``: the folder the ``app/`` names are relative to."""
        if shutil.which("tar") is None:
            raise ContextToolMissing(
                "Writing a build context needs GNU tar on the Jupyter server, and it is "
                "missing: install it in the server's image (apt-get install tar; every "
                "rayproject/ray image has it).")
        self._scratch = tempfile.TemporaryDirectory(prefix="ray-dev-tar-", dir=_staging_dir())
        staging = Path(self._scratch.name)
        (staging / "project").mkdir()
        (staging / "project" / _APP.rstrip("/")).symlink_to(Path(project).absolute(),
                                                             target_is_directory=True)
        (staging / "tail").mkdir()
        # tar reads the tail's list only after stdin's end, which ``finish`` writes first
        names = ["-C", str(staging / "project"), "-T", "-",
                 "-C", str(staging / "tail"), "-T", str(staging / "tail-list")]
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        fd, self._partial = tempfile.mkstemp(prefix=".partial-", suffix=".tar.gz",
                                             dir=self.dest.parent)
        # the children keep their own copies of the files' descriptors
        with os.fdopen(fd, "wb") as out, open(staging / "stderr", "wb") as stderr:
            try:
                self._start(names, out, stderr)
            except OSError as err:  # close() stops what did start, by its PID
                raise ContextExportFailed(
                    f"Could not start {err.filename or 'tar'} to write the build context "
                    f"({err.strerror or err}): check the server's tar.") from err

    def _start(self, names: list[str], out: IO[bytes], stderr: IO[bytes]) -> None:
        self._proc = subprocess.Popen(
            ["tar", "--create", "--file=-", *_TAR_FIXED, *names],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_tar_env(), stderr=stderr)
        assert self._proc.stdout is not None
        self._deflate = threading.Thread(
            target=_isal_gzip, name="context-gzip", daemon=True,
            args=(self._proc.stdout, os.dup(out.fileno()), self._deflate_failed))
        self._deflate.start()

    def add(self, rel: str) -> None:
        """Archive the project's file ``rel`` (as ``app/<rel>``), now."""
        assert self._proc is not None and self._proc.stdin is not None
        name = _APP + rel
        self._streamed.add(name)
        try:
            self._proc.stdin.write(name.encode(_FS_ENCODING, "surrogateescape") + b"\0")
        except BrokenPipeError:
            pass  # tar stopped: finish() reports why

    def finish(self, spec: ContextSpec) -> int:
        """Add what of ``spec`` was not streamed, wait for tar; the archive's size."""
        assert self._proc is not None and self._proc.stdin is not None and self._scratch
        staging = Path(self._scratch.name)
        names = []
        for f in spec.sorted():
            if f.name in self._streamed:
                continue
            target = staging / "tail" / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if f.text is not None:
                target.write_text(f.text, encoding="utf-8")
            else:
                target.symlink_to(Path(f.source).absolute())  # type: ignore[arg-type]
            names.append(f.name)
        # NUL-separated: any byte but NUL may be in a name
        (staging / "tail-list").write_bytes(b"".join(os.fsencode(x) + b"\0" for x in names))
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        code = self._proc.wait()
        if self._deflate is not None:
            self._deflate.join()
            self._deflate = None
            if self._deflate_failed:  # disk full? tar then dies of the closed pipe: not its fault
                failed = self._deflate_failed[0]
                raise ContextExportFailed(
                    f"Compressing the build context (gzip) failed: {type(failed).__name__}: "
                    f"{failed}. Check that {self.dest.parent} has free space and that the "
                    "server may write there, then export again.")
        if code != 0:
            err = (staging / "stderr").read_text(errors="replace").strip()
            raise ContextExportFailed(
                f"Writing the build context failed (tar exit {code}: {err[-400:]}). A "
                "project file that changed or vanished during the export does this: try "
                "again.")
        assert self._partial is not None
        os.replace(self._partial, self.dest)
        self._partial = None
        return self.dest.stat().st_size

    def close(self) -> None:
        """Stop tar if it still runs (by its PID) and remove what an unfinished write left."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            if self._deflate is not None:  # tar's output ended with it: the thread ends
                self._deflate.join()
                self._deflate = None
            if self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                except BrokenPipeError:
                    pass
            self._proc = None
        if self._partial is not None:
            Path(self._partial).unlink(missing_ok=True)
            self._partial = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def write_tar_gz(spec: ContextSpec, dest: Path) -> int:
    """Write the context as ``dest`` (.tar.gz), atomically; the size in bytes. The same
    bytes as a streamed export of the same inputs. Blocking: call it off the event loop."""
    with TarGzWriter(dest) as tar:
        project = _project_of(spec)
        tar.open(project or dest.parent)
        if project is not None:
            base = os.path.join(project, "")
            for f in spec.files:  # insertion order: the walk's
                if f.source is not None and f.name.startswith(_APP) and \
                        str(f.source) == base + f.name[len(_APP):]:
                    tar.add(f.name[len(_APP):])
        return tar.finish(spec)


def _project_of(spec: ContextSpec) -> str | None:
    """The folder the spec's ``app/`` files are read from (the first one's)."""
    for f in spec.files:
        if f.source is not None and f.name.startswith(_APP):
            rel = f.name[len(_APP):]
            source = str(f.source)
            if source.endswith(os.sep + rel):
                return source[:-len(rel) - 1]
    return None
