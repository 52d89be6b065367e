"""Install a project's packages once onto storage every Ray node mounts (NFS/EFS).

``pip install --target`` into a temp folder beside the final one, then one rename: a
folder under ``<shared root>/envs/<project>/`` is complete or absent, never half there.
Folders are named by a hash of the normalised requirement set (and the Python version
and machine they were built for), so installing the same set again is a no-op, and two
projects, or two users, with the same set can share one. One install at a time per
folder (an asyncio lock; the rename settles a race between servers).

Jobs then find the packages through ``PYTHONPATH`` in the project's env_vars: no
virtualenv built per job and per node, as Ray's ``pip`` field would.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from ..leftovers import Claim, claim, die_with_parent

ENVS_DIR = "envs"
MANIFEST = ".ray-dev-env.json"
TMP_PREFIX = ".tmp-"


def normalise_requirements(requirements: Iterable[Any]) -> list[str]:
    """The set of requirements as one canonical, sorted list: ``Requests >= 2`` and
    ``requests>=2`` are the same. Paths and URLs are kept as written (stripped)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    out = set()
    for item in requirements:
        if not isinstance(item, str):
            raise BadRequest(f"Each requirement must be a string, not {item!r}.",
                             field="requirements")
        text = item.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("-"):
            raise BadRequest(
                f"{text!r}: pip options are not requirements; list packages only.",
                field="requirements")
        try:
            req = Requirement(text)
        except InvalidRequirement:
            out.add(text)  # a path or URL, or something pip will explain
            continue
        req.name = canonicalize_name(req.name)
        req.extras = set(sorted(canonicalize_name(e) for e in req.extras))
        out.add(str(req))
    if not out:
        raise BadRequest("There is nothing to install: give at least one requirement.",
                         field="requirements")
    return sorted(out)


def environment_hash(requirements: list[str], python: str | None = None) -> str:
    key = {"requirements": requirements,
           "python": python or f"{sys.version_info.major}.{sys.version_info.minor}",
           "machine": platform.machine(), "platform": sys.platform}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def project_slug(project: str) -> str:
    """A folder name for a project's API path ('' is the Jupyter root)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", project.strip("/")).strip("-.")
    return slug or "_root"


@dataclass(frozen=True)
class Target:
    root: Path
    project: str
    requirements: list[str]
    digest: str

    @property
    def folder(self) -> Path:
        return self.root / ENVS_DIR / project_slug(self.project) / self.digest


_PHASES = (("Collecting ", "collecting"), ("Downloading ", "downloading"),
           ("Processing ", "collecting"), ("Installing collected packages", "installing"),
           ("Successfully installed", "installed"))


def _scratch(target: Target) -> tuple[Path, Path, Claim]:
    """A fresh folder beside the target for pip to install into, its requirements file,
    and their claim (the next start removes both when this server is killed meanwhile)."""
    folder = target.folder
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.digest}-", dir=folder.parent))
    reqfile = tmp.parent / f"{tmp.name}.requirements.txt"
    held = claim(tmp, reqfile)
    try:
        reqfile.write_text("\n".join(target.requirements) + "\n", encoding="utf-8")
    except OSError:  # a full disk: nothing of this install stays
        _clean_up(reqfile, tmp, held)
        raise
    return tmp, reqfile, held


def _publish(tmp: Path, folder: Path, manifest: dict[str, Any]) -> bool:
    """Move the finished install into place in one rename; False when another server
    finished the same install first (its folder stays)."""
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    try:
        os.rename(tmp, folder)
    except OSError:
        if (folder / MANIFEST).is_file():
            return False
        raise
    return True


def _clean_up(reqfile: Path, tmp: Path | None, held: Claim) -> None:
    with contextlib.suppress(OSError):
        reqfile.unlink()
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    held.release()


_NO_SPACE = "No space left on device"


def _failed(folder: Path, why: str, code: int | None) -> dict[str, Any]:
    """The ``error`` event of an install that could not write; a full folder says so (507)."""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return {"type": "error", "code": 507, "reason": "storage_full",
                "message": f"The shared folder {folder.parent} is full ({why}): free space "
                           "there or install onto another shared root. Nothing was installed."}
    return {"type": "error", "message": f"The install into {folder.parent} failed: {why}."}


class SharedInstaller:
    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self._locks: weakref.WeakValueDictionary[Path, asyncio.Lock] = \
            weakref.WeakValueDictionary()
        self._running: set[asyncio.subprocess.Process] = set()

    def target(self, root: Path, project: str, requirements: Iterable[Any]) -> Target:
        reqs = normalise_requirements(requirements)
        return Target(root, project, reqs, environment_hash(reqs))

    async def install(self, target: Target) -> AsyncIterator[dict[str, Any]]:
        """Events: ``start``, ``line`` (pip's output), ``progress``, then ``done``
        ({folder, cached}) or ``error`` ({message}). Cancelling stops pip and removes
        what it wrote."""
        folder = target.folder
        yield {"type": "start", "folder": str(folder), "hash": target.digest,
               "requirements": target.requirements}
        lock = self._locks.get(folder)
        if lock is None:
            lock = self._locks[folder] = asyncio.Lock()
        if lock.locked():
            yield {"type": "progress", "phase": "waiting",
                   "message": "Another install of the same packages is running: waiting."}
        async with lock:
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, (folder / MANIFEST).is_file):
                yield {"type": "done", "folder": str(folder), "cached": True,
                       "message": "Already installed: nothing to do."}
                return
            async for event in self._install(target):
                yield event

    async def _install(self, target: Target) -> AsyncIterator[dict[str, Any]]:
        folder = target.folder
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, lambda: folder.parent.mkdir(parents=True,
                                                                         exist_ok=True))
        except OSError as err:
            yield {"type": "error", "message": f"Cannot create {folder.parent}: {err}."}
            return
        # the shared folder is often NFS: every file call on it runs off the loop
        try:
            tmp, reqfile, held = await loop.run_in_executor(None, _scratch, target)
        except OSError as err:
            yield _failed(folder, err.strerror or str(err), err.errno)
            return
        command = [self.python, "-m", "pip", "install", "--target", str(tmp),
                   "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
                   "--no-warn-script-location", "-r", str(reqfile)]
        ok = False
        started = time.monotonic()
        proc: asyncio.subprocess.Process | None = None
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent(),
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PIP_NO_INPUT": "1"})
            self._running.add(proc)
            yield {"type": "progress", "phase": "starting", "collected": 0,
                   "total": len(target.requirements),
                   "message": f"pip install --target {folder}"}
            collected = 0
            full = False
            assert proc.stdout is not None
            async for raw in proc.stdout:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                full = full or _NO_SPACE in text
                yield {"type": "line", "text": text}
                for prefix, phase in _PHASES:
                    if text.lstrip().startswith(prefix):
                        if phase == "collecting":
                            collected += 1
                        yield {"type": "progress", "phase": phase, "collected": collected,
                               "total": len(target.requirements), "message": text.strip()}
                        break
            code = await proc.wait()
            if code != 0 and full:
                yield {**_failed(folder, _NO_SPACE, errno.ENOSPC), "exit_code": code}
                return
            if code != 0:
                yield {"type": "error", "exit_code": code,
                       "message": f"pip failed (exit code {code}): see its output above. "
                                  "Nothing was installed."}
                return
            manifest = {"requirements": target.requirements, "hash": target.digest,
                        "project": target.project, "python": sys.version.split()[0],
                        "created": time.time()}
            if not await loop.run_in_executor(None, _publish, tmp, folder, manifest):
                yield {"type": "done", "folder": str(folder), "cached": True,
                       "message": "Installed meanwhile by another server."}
                return
            ok = True
            yield {"type": "done", "folder": str(folder), "cached": False,
                   "seconds": round(time.monotonic() - started, 1),
                   "message": f"Installed into {folder}."}
        except OSError as err:
            yield _failed(folder, err.strerror or str(err), err.errno)
        finally:
            if proc is not None:
                self._running.discard(proc)
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    with contextlib.suppress(Exception):
                        await asyncio.shield(proc.wait())
            await loop.run_in_executor(None, _clean_up, reqfile, None if ok else tmp, held)

    async def close(self) -> None:
        for proc in list(self._running):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
