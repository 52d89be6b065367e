"""What a server writes while it works and removes when the work ends (an upload's temp
file, an install's half-built folder, a build context, a build's working container),
journaled so that the next start removes it when the server that wrote it was killed
before it could.

Each claim is one small JSON file in ``<jupyter data dir>/ray_dev/leftovers/`` naming
the paths (and the buildah store a build ran in, or the object-store upload a writer
started: its storage root's name, bucket, key and upload id, never a credential) and
their owner: this host, this process's PID and its start time (a PID the kernel has since
given to another process is not the owner). The claim goes when the work ends, committed or cleaned up. ``sweep()``
runs once, on a thread a few seconds after the server started (never on the event loop,
never in the way of start-up: app.py): it cleans up after owners that are gone and drops their claims.
A claim of another host (a data dir on NFS shared by pods) is left to that host.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DIR_ENV = "RAY_DEV_LEFTOVERS_DIR"  # where claims are kept, when not the Jupyter data dir
_PR_SET_PDEATHSIG = 1


def journal_dir() -> Path:
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV])
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "ray_dev" / "leftovers"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), None when there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # the command name (field 2) may hold spaces and parentheses: split after it
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


@cache
def owner() -> str:
    """This process, as claims and histories name it: ``host:pid:start``."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid) or ''}"


def owner_gone(name: str | None) -> bool:
    """Whether the process ``owner()`` named is gone (a name of another host never is:
    that host knows)."""
    if not name:
        return True  # written before owners were recorded
    try:
        host, pid, start = name.rsplit(":", 2)
    except ValueError:
        return True
    if host != socket.gethostname():
        return False
    try:
        return _started(int(pid)) != start or not start
    except ValueError:
        return True


class Claim:
    """Paths this process is writing (and removes itself when the work ends)."""

    def __init__(self, paths: list[str], containers: dict[str, Any] | None = None,
                 upload: dict[str, Any] | None = None) -> None:
        self.file: Path | None = None
        self.entry = {"owner": owner(), "paths": paths, "containers": containers,
                      "upload": upload}
        try:
            folder = journal_dir()
            folder.mkdir(parents=True, exist_ok=True)
            file = folder / f"{os.getpid()}-{secrets.token_hex(6)}.json"
            self._write(file)
            self.file = file
        except OSError as err:  # no journal: the work still runs, as before journals
            log.warning("jupyter_ray_dev: cannot record %s for clean-up after a crash: %s",
                        paths or upload, err)

    def _write(self, file: Path) -> None:
        # written aside and renamed: a sweep never reads half a claim
        part = file.with_suffix(".part")
        part.write_text(json.dumps(self.entry), encoding="utf-8")
        os.replace(part, file)

    def update_upload(self, **fields: Any) -> None:
        """Add what the store told since (the upload id once the upload started)."""
        if self.file is None:
            return
        self.entry["upload"] = {**(self.entry["upload"] or {}), **fields}
        try:
            self._write(self.file)
        except OSError as err:
            log.warning("jupyter_ray_dev: cannot record %s for clean-up after a crash: %s",
                        self.entry["upload"], err)

    def release(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.unlink()
            self.file = None


def claim(*paths: str | os.PathLike[str], containers: dict[str, Any] | None = None) -> Claim:
    return Claim([os.path.abspath(p) for p in paths], containers)


def claim_upload(**upload: Any) -> Claim:
    """An object-store upload (multipart, resumable session) this process started: the
    sweep hands it to the abort function the server gives it (blocking)."""
    return Claim([], upload=upload)


def claimed_tempdir(prefix: str, folder: str | os.PathLike[str] | None = None
                    ) -> tuple[Path, Claim]:
    """``tempfile.mkdtemp`` with its claim (blocking: call it off the event loop)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    return path, claim(path)


def remove_tempdir(path: Path, held: Claim) -> None:
    """Remove a claimed folder, then its claim (blocking)."""
    shutil.rmtree(path, ignore_errors=True)
    held.release()


@cache
def _prctl() -> Any:
    import ctypes  # on first use: the server's start-up does not pay for it

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for a child that must not outlive a killed server (pip writing into
    a folder the next start removes, a build nobody follows): SIGTERM when the server dies.
    Resolved here, in the server: the child only calls it (no import after a fork)."""
    prctl = _prctl()
    if prctl is None:
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _remove_containers(spec: dict[str, Any]) -> None:
    """The working containers a killed buildah left in its store: those the claim names,
    or those made since the build started (its claim lists the ones there before)."""
    base = list(spec["base"])
    if spec.get("names"):
        for name in spec["names"]:  # one at a time: a name already gone fails alone
            subprocess.run([*base, "rm", name], capture_output=True, timeout=120, check=False)
        return
    before = set(spec.get("before") or ())
    out = subprocess.run([*base, "containers", "--all", "--json"], capture_output=True,
                         text=True, timeout=60, check=False)
    if out.returncode != 0:
        raise OSError(out.stderr.strip()[-400:])
    made = [c["id"] for c in json.loads(out.stdout or "null") or []
            if c["id"] not in before]
    if made:
        subprocess.run([*base, "rm", *made], capture_output=True, timeout=120, check=False)


class KeepClaim(Exception):
    """An abort function's answer when it could not abort now (the endpoint unreachable,
    the root no longer configured): the claim stays for the next start."""


UploadAborter = Callable[[dict[str, Any]], str]


def sweep(folder: Path | None = None, abort_upload: UploadAborter | None = None) -> list[str]:
    """Clean up after the owners that are gone; what was removed (blocking).

    ``abort_upload(spec)`` aborts an object-store upload a claim names (and says what it
    aborted); without it such claims wait for a sweep that has one."""
    folder = folder or journal_dir()
    removed: list[str] = []
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return removed
    for part in folder.glob("*.part"):  # a claim's rewrite its writer did not finish
        pid = part.name.split("-", 1)[0]
        if pid.isdigit() and _started(int(pid)) is None:
            with contextlib.suppress(OSError):
                part.unlink()
    for file in files:
        try:
            entry = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being written, or gone meanwhile
        if not owner_gone(entry.get("owner")):
            continue
        try:
            for path in entry.get("paths") or ():
                _remove(path)
                removed.append(path)
            if entry.get("containers"):
                _remove_containers(entry["containers"])
                removed.append("buildah containers of an interrupted build")
            if entry.get("upload"):
                if abort_upload is None:
                    continue
                removed.append(abort_upload(entry["upload"]))
            file.unlink()
        except KeepClaim as err:
            log.warning("jupyter_ray_dev: kept for the next start (%s): %s", file.name, err)
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as err:
            log.warning("jupyter_ray_dev: could not clean up after an interrupted server "
                        "(%s): %s", file.name, err)
    if removed:
        log.info("jupyter_ray_dev: removed what an interrupted server left: %s", removed)
    return removed


def sweep_logged(abort_upload: UploadAborter | None = None) -> None:
    """``sweep()`` on the server's own thread: a failure is logged, never raised."""
    try:
        sweep(abort_upload=abort_upload)
    except Exception:  # noqa: BLE001 - a sweep must never take the server down
        log.exception("jupyter_ray_dev: the clean-up after an interrupted server failed")
