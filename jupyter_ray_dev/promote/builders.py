"""Image builders behind one interface: report whether they can run here, build, push.

``buildah`` is daemonless and runs unprivileged-ish on a head pod (vfs storage,
chroot isolation), so it is the default. ``docker`` is detected (a reachable
engine) and reported; its build backend is not written yet. ``kaniko`` (a
Kubernetes Job) belongs with the Kubernetes tier of issue 8.

Registry credentials are the builder's own business: buildah reads
``REGISTRY_AUTH_FILE`` (or ``$XDG_RUNTIME_DIR/containers/auth.json``) from the
server's environment. Nothing from the browser reaches a builder's command line,
and credentials never enter the build context.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import RayDevError

Emit = Callable[[str], Awaitable[None]]
_STEP = re.compile(r"^STEP \d+/\d+: .*")


class BuildFailed(RayDevError):
    status = 502
    reason = "build_failed"


@dataclass(frozen=True)
class Availability:
    name: str
    available: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "available": self.available, "reason": self.reason}


@dataclass(frozen=True)
class BuildResult:
    image: str
    image_id: str
    digest: str | None  # the pushed manifest's digest (None when not pushed)


@dataclass(frozen=True)
class BuildahConfig:
    binary: str = "buildah"
    root: str = ""  # --root: image storage ("" = buildah's default)
    runroot: str = ""  # --runroot
    storage_driver: str = "vfs"  # works without overlay/fuse in a pod
    isolation: str = "chroot"  # no user namespaces or runc needed
    tls_verify: bool = True


async def _run(argv: list[str], emit: Emit | None, env: dict[str, str] | None = None
               ) -> tuple[int, list[str]]:
    """Run, streaming merged stdout/stderr line by line to ``emit``; (exit code, lines)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, env=env)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            lines.append(line)
            if emit is not None:
                await emit(line)
        return await proc.wait(), lines
    except BaseException:
        # cancelled (server stopping, client gone): stop our child, by its PID only
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise


class BuildahBuilder:
    name = "buildah"

    def __init__(self, config: BuildahConfig) -> None:
        self.config = config

    def _base(self) -> list[str]:
        c = self.config
        argv = [c.binary, "--storage-driver", c.storage_driver]
        if c.root:
            argv += ["--root", c.root]
        if c.runroot:
            argv += ["--runroot", c.runroot]
        return argv

    async def availability(self) -> Availability:
        if shutil.which(self.config.binary) is None:
            return Availability(self.name, False, f"{self.config.binary} is not installed on "
                                "the server (Debian/Ubuntu: apt-get install buildah).")
        try:
            code, lines = await asyncio.wait_for(_run([*self._base(), "info"], None), 30)
        except asyncio.TimeoutError:
            return Availability(self.name, False, "`buildah info` did not answer in 30 s.")
        if code != 0:
            return Availability(self.name, False, "buildah cannot run here: "
                                + " ".join(lines[-3:])[:400])
        return Availability(self.name, True, f"buildah ({self.config.storage_driver} storage, "
                            f"{self.config.isolation} isolation)")

    async def build(self, context: Path, image: str, labels: dict[str, str], push: bool,
                    emit: Emit) -> BuildResult:
        """``labels`` go on the final image only (``--label``): values that change every
        build (time, inputs hash) must not be a Dockerfile step, or no step after them
        could come from the cache."""
        argv = [*self._base(), "build", "--isolation", self.config.isolation, "--layers",
                "-f", str(context / "Dockerfile"), "-t", image]
        for key, value in sorted(labels.items()):
            argv += ["--label", f"{key}={value}"]
        with tempfile.TemporaryDirectory(prefix="ray-dev-build-") as scratch:
            iidfile = Path(scratch) / "iid"
            code, lines = await _run([*argv, "--iidfile", str(iidfile), str(context)], emit)
            if code != 0:
                step = next((ln for ln in reversed(lines) if _STEP.match(ln)), None)
                raise BuildFailed(
                    f"The image build failed at {step or 'the start'} (buildah exit {code}). "
                    "The log above shows why.", failed_step=step, exit_code=code)
            image_id = iidfile.read_text().strip()
            if not push:
                return BuildResult(image=image, image_id=image_id, digest=None)
            digestfile = Path(scratch) / "digest"
            tls = "true" if self.config.tls_verify else "false"
            await emit(f"Pushing {image} ...")
            code, lines = await _run([*self._base(), "push", f"--tls-verify={tls}",
                                      "--digestfile", str(digestfile), image,
                                      f"docker://{image}"], emit)
            if code != 0:
                raise BuildFailed(
                    f"The image was built but the push to {image} failed (buildah exit {code}): "
                    + " ".join(lines[-2:])[:400] + " Check the registry address and that the "
                    "server has credentials for it (REGISTRY_AUTH_FILE).", failed_step="push",
                    exit_code=code)
            return BuildResult(image=image, image_id=image_id,
                               digest=digestfile.read_text().strip())


class DockerDetector:
    """Reports whether a Docker engine is reachable; building with it is not written yet."""

    name = "docker"

    async def availability(self) -> Availability:
        if shutil.which("docker") is None:
            return Availability(self.name, False, "the docker CLI is not installed on the server.")
        try:
            code, lines = await asyncio.wait_for(
                _run(["docker", "version", "--format", "{{.Server.Version}}"], None,
                     env=dict(os.environ)), 10)
        except asyncio.TimeoutError:
            return Availability(self.name, False, "the Docker engine did not answer in 10 s.")
        if code != 0:
            return Availability(self.name, False, "no Docker engine is reachable: "
                                + " ".join(lines[-2:])[:300])
        return Availability(self.name, False, f"a Docker engine ({lines[-1] if lines else '?'})"
                            " is reachable, but the docker build backend is not implemented "
                            "yet: use buildah.")
