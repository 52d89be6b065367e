"""buildah: daemonless, runs on a head pod (chroot isolation): the default.

Storage: ``auto`` (the default) takes overlay where buildah can mount it, so a layer
costs what it changes and a code-only rebuild takes about a second; else vfs, which
works in any pod but copies the whole image at every step (seconds per step).

Registry credentials are buildah's own business: it reads ``REGISTRY_AUTH_FILE``
(or ``$XDG_RUNTIME_DIR/containers/auth.json``) from the server's environment.
Nothing from the browser reaches its command line, and credentials never enter
the build context.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

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
        image_id = await build_image(
            "buildah", [*self._base(), "build", "--isolation", self.config.isolation, "--layers",
                        "-f", str(context / "Dockerfile"), "-t", image], context, build_args, _STEP,
            emit)
        if not push:
            return BuildResult(image=image, image_id=image_id, digest=None)
        return BuildResult(image=image, image_id=image_id, digest=await self.push(image, emit))

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

    async def run_in_image(self, image: str, argv: list[str], workdir: str, emit: Emit,
                           timeout: float) -> tuple[int, list[str]]:
        """A working container of the local image (never pulled), removed by its name
        afterwards, whatever happened. Without network, except under chroot isolation,
        which cannot take a network namespace: imports then share the pod's network."""
        if self._driver is None:
            await self.availability()
        name = f"ray-dev-check-{secrets.token_hex(4)}"
        code, lines = await run([*self._base(), "from", "--pull=never", "--name", name, image],
                                None)
        if code != 0:
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
