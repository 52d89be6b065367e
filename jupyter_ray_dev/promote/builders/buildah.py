"""buildah: daemonless, runs on a head pod (chroot isolation): the default.

Storage: ``auto`` (the default) takes overlay where buildah can mount it, so a layer
costs what it changes and a code-only rebuild takes about a second; else vfs, which
works in any pod but copies the whole image at every step (seconds per step).

As a user other than root (rayproject/ray's ``ray``, uid 1000) buildah runs rootless, which
needs user namespaces and subordinate ids for the user (/etc/subuid, /etc/subgid and the
setuid newuidmap/newgidmap): with a single id mapped, unpacking an image whose files have
other owners fails. An unprivileged pod rarely has them, so they are checked first and the
review says what is missing and what to use instead.

Registry credentials are buildah's own business: it reads ``REGISTRY_AUTH_FILE``
(or ``$XDG_RUNTIME_DIR/containers/auth.json``) from the server's environment.
Nothing from the browser reaches its command line, and credentials never enter
the build context.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ...leftovers import claim
from .base import (
    Availability,
    BuildFailed,
    BuildResult,
    CheckUnavailable,
    Emit,
    build_image,
    probe,
    quietly,
    run,
    run_limited,
    scratch_dir,
)

_STEP = re.compile(r"^STEP \d+/\d+: .*")
# the ids rootless builds map (podman's and buildah's default range)
SUBORDINATE_IDS = 65536
INSTEAD = ("Use kaniko instead (c.RayDev.promote_builder = \"kaniko\" with "
           "c.RayDev.promote_kaniko: the build runs as a Job in the cluster) or a Docker engine "
           "the server reaches (c.RayDev.promote_docker_host).")


def _subordinate_ids(path: str, uid: int, name: str | None) -> int:
    """How many subordinate ids ``path`` (/etc/subuid or /etc/subgid) gives the user."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return 0
    total = 0
    for line in lines:
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[0] in (str(uid), name) and fields[2].isdigit():
            total += int(fields[2])
    return total


# unshare() of a user namespace fails in a process with threads (the server has some), so
# a one-shot child tries it
_USERNS_PROBE = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
    sys.exit(os.strerror(ctypes.get_errno()))
"""


def _userns_refused() -> str:
    """Why this user cannot create a user namespace, or "" when it can."""
    try:
        done = subprocess.run([sys.executable, "-c", _USERNS_PROBE], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    return done.stderr.strip().splitlines()[-1] if done.returncode else ""


def rootless_gaps(uid: int | None = None, *, subuid: str = "/etc/subuid",
                  subgid: str = "/etc/subgid",
                  max_userns: str = "/proc/sys/user/max_user_namespaces",
                  status: str = "/proc/self/status") -> list[str]:
    """What rootless buildah needs that this user lacks; empty for root."""
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return []
    try:
        name: str | None = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = None
    who = f"{name} (uid {uid})" if name else f"uid {uid}"
    gaps = []
    try:
        userns_off = Path(max_userns).read_text().strip() == "0"
    except OSError:
        userns_off = False
    if userns_off:
        gaps.append("user namespaces are off (user.max_user_namespaces = 0)")
    elif refused := _userns_refused():
        # the sysctl allows them, yet a seccomp or AppArmor profile may forbid the call
        gaps.append(f"this process cannot create a user namespace ({refused}): the pod's "
                    "seccomp or AppArmor profile or the kernel forbids it")
    for path in (subuid, subgid):
        count = _subordinate_ids(path, uid, name)
        if count == 0:
            gaps.append(f"{path} has no range for {who}")
        elif count < SUBORDINATE_IDS:
            gaps.append(f"{path} gives {who} {count} ids, fewer than {SUBORDINATE_IDS}")
    missing = [tool for tool in ("newuidmap", "newgidmap") if shutil.which(tool) is None]
    if missing:
        gaps.append(f"{' and '.join(missing)} not installed (Debian/Ubuntu: apt-get install "
                    "uidmap)")
    try:
        no_new_privs = any(line.split() == ["NoNewPrivs:", "1"]
                           for line in Path(status).read_text().splitlines())
    except OSError:
        no_new_privs = False
    if no_new_privs:
        gaps.append("no_new_privs is set (allowPrivilegeEscalation: false), so the setuid "
                    "newuidmap/newgidmap cannot map subordinate ids")
    return gaps


@dataclass(frozen=True)
class BuildahConfig:
    binary: str = "buildah"
    root: str = ""  # --root: image storage ("" = buildah's default)
    runroot: str = ""  # --runroot
    storage_driver: str = "auto"  # auto | overlay | vfs
    isolation: str = "chroot"  # no user namespaces or runc needed
    tls_verify: bool = True


class BuildahBuilder:
    name = "buildah"
    context_form = "folder"
    local_image = True

    def __init__(self, config: BuildahConfig) -> None:
        self.config = config
        # what ``auto`` chose, once a probe succeeded with it (and why not overlay)
        self._driver: str | None = None if config.storage_driver == "auto" \
            else config.storage_driver
        self._not_overlay = ""

    def _base(self, driver: str | None = None) -> list[str]:
        c = self.config
        argv = [c.binary, "--storage-driver", driver or self._driver or "vfs"]
        if c.root:
            argv += ["--root", c.root]
        if c.runroot:
            argv += ["--runroot", c.runroot]
        return argv

    async def _probe(self, driver: str | None = None) -> Availability | list[str]:
        return await probe(self.name, [*self._base(driver), "info"], 30,
                           "Debian/Ubuntu: apt-get install buildah")

    async def availability(self) -> Availability:
        installed = shutil.which(self.config.binary) is not None
        # reads a few files and starts a probe: off the event loop
        gaps = await asyncio.to_thread(rootless_gaps) if installed else []
        if gaps:
            # `buildah info` may still answer: it maps the user's one id, enough to list
            # storage but not to unpack rayproject/ray, whose files belong to several users
            return Availability(self.name, False, "buildah cannot build rootless here: "
                                + "; ".join(gaps) + ". " + INSTEAD)
        found = await self._availability()
        if not found.available and installed and os.geteuid() != 0:
            # rootless with every id in place, and still refused: a seccomp or AppArmor
            # profile forbids user namespaces, as in most unprivileged pods
            return Availability(self.name, False, f"{found.reason} (rootless buildah needs "
                                "user namespaces, which the pod's security profile may "
                                f"forbid). {INSTEAD}")
        return found

    async def _availability(self) -> Availability:
        if self._driver is None:  # auto, not decided yet: overlay if this pod can mount it
            found = await self._probe("overlay")
            if isinstance(found, Availability):
                if shutil.which(self.config.binary) is None:
                    return found
                self._not_overlay = found.reason
                found = await self._probe("vfs")
                if isinstance(found, Availability):
                    return found
                self._driver = "vfs"
            else:
                self._driver = "overlay"
        else:
            found = await self._probe()
            if isinstance(found, Availability):
                return found
        why = f"; overlay: {self._not_overlay}" if self._not_overlay else ""
        return Availability(self.name, True, f"buildah ({self._driver} storage{why}, "
                            f"{self.config.isolation} isolation)")

    @property
    def storage_driver(self) -> str | None:
        """The driver builds use: None until ``auto`` has probed."""
        return self._driver

    async def build(self, context: Path, image: str, build_args: dict[str, str], push: bool,
                    emit: Emit) -> BuildResult:
        if self._driver is None:
            await self.availability()  # auto: decide before the first build
        # a killed server's build leaves its working container: the claim lets the next
        # start remove the ones made since (--force-rm covers only a failed step)
        held = await asyncio.to_thread(claim, containers={
            "base": self._base(), "before": await self._containers()})
        try:
            image_id = await build_image(
                "buildah", [*self._base(), "build", "--isolation", self.config.isolation,
                            "--layers", "--force-rm", "-f", str(context / "Dockerfile"),
                            "-t", image], context, build_args, _STEP, emit)
        except asyncio.CancelledError:
            raise  # buildah was killed: its container stays claimed for the next start
        except BaseException:
            await asyncio.to_thread(held.release)
            raise
        await asyncio.to_thread(held.release)
        if not push:
            return BuildResult(image=image, image_id=image_id, digest=None)
        return BuildResult(image=image, image_id=image_id, digest=await self.push(image, emit))

    async def _containers(self) -> list[str]:
        """The ids of the working containers in the store now."""
        code, lines = await run([*self._base(), "containers", "--all", "--quiet", "--notruncate"],
                                None)
        return [ln.strip() for ln in lines if ln.strip()] if code == 0 else []

    async def push(self, image: str, emit: Emit) -> str | None:
        if self._driver is None:
            await self.availability()
        async with scratch_dir("ray-dev-push-") as scratch:
            digestfile = scratch / "digest"
            tls = "true" if self.config.tls_verify else "false"
            await emit(f"Pushing {image} ...")
            code, lines = await run([*self._base(), "push", f"--tls-verify={tls}",
                                     "--digestfile", str(digestfile), image,
                                     f"docker://{image}"], emit)
            if code != 0:
                raise BuildFailed(
                    f"The image was built but the push to {image} failed (buildah exit {code}): "
                    + " ".join(lines[-2:])[:400] + " Check the registry address and that the "
                    "server has credentials for it (REGISTRY_AUTH_FILE).", failed_step="push",
                    exit_code=code)
            return (await asyncio.to_thread(digestfile.read_text)).strip()

    async def pull(self, image: str, emit: Emit) -> None:
        """Fetch ``image`` from its registry into this storage (layers it has are reused)."""
        if self._driver is None:
            await self.availability()
        tls = "true" if self.config.tls_verify else "false"
        await emit(f"Pulling {image} to check it ...")
        code, lines = await run([*self._base(), "pull", "--quiet", f"--tls-verify={tls}",
                                 image], None)
        if code != 0:
            raise BuildFailed(f"buildah could not pull {image} (exit {code}): "
                              + " ".join(lines[-2:])[:400], failed_step="pull", exit_code=code)

    async def run_in_image(self, image: str, argv: list[str], workdir: str, emit: Emit,
                           timeout: float) -> tuple[int, list[str]]:
        """A working container of the local image (never pulled), removed by its name
        afterwards, whatever happened. Without network, except under chroot isolation,
        which cannot take a network namespace: imports then share the pod's network."""
        if self._driver is None:
            await self.availability()
        name = f"ray-dev-check-{secrets.token_hex(4)}"
        held = await asyncio.to_thread(claim, containers={"base": self._base(), "names": [name]})
        code, lines = await run([*self._base(), "from", "--pull=never", "--name", name, image],
                                None)
        if code != 0:
            await asyncio.to_thread(held.release)
            raise CheckUnavailable(f"buildah could not make a container of {image}: "
                                   + " ".join(lines[-2:])[:400])
        try:
            network = [] if self.config.isolation == "chroot" else ["--network", "none"]
            return await run_limited(
                [*self._base(), "run", "--isolation", self.config.isolation, *network,
                 "--workingdir", workdir, name, "--", *argv], emit, timeout,
                f"The check in {image}")
        finally:
            await quietly(run([*self._base(), "rm", name], None), f"buildah rm {name}")
            await asyncio.to_thread(held.release)
