"""buildah: daemonless, runs on a head pod (vfs storage, chroot isolation): the default.

Registry credentials are buildah's own business: it reads ``REGISTRY_AUTH_FILE``
(or ``$XDG_RUNTIME_DIR/containers/auth.json``) from the server's environment.
Nothing from the browser reaches its command line, and credentials never enter
the build context.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .base import Availability, BuildFailed, BuildResult, Emit, build_image, probe, run

_STEP = re.compile(r"^STEP \d+/\d+: .*")


@dataclass(frozen=True)
class BuildahConfig:
    binary: str = "buildah"
    root: str = ""  # --root: image storage ("" = buildah's default)
    runroot: str = ""  # --runroot
    storage_driver: str = "vfs"  # works without overlay/fuse in a pod
    isolation: str = "chroot"  # no user namespaces or runc needed
    tls_verify: bool = True


class BuildahBuilder:
    name = "buildah"
    context_form = "folder"

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
        found = await probe(self.name, [*self._base(), "info"], 30,
                            "Debian/Ubuntu: apt-get install buildah")
        if isinstance(found, Availability):
            return found
        return Availability(self.name, True, f"buildah ({self.config.storage_driver} storage, "
                            f"{self.config.isolation} isolation)")

    async def build(self, context: Path, image: str, labels: dict[str, str], push: bool,
                    emit: Emit) -> BuildResult:
        """``labels`` go on the final image only (``--label``): values that change every
        build (time, inputs hash) must not be a Dockerfile step, or no step after them
        could come from the cache."""
        image_id = await build_image(
            "buildah", [*self._base(), "build", "--isolation", self.config.isolation, "--layers",
                        "-f", str(context / "Dockerfile"), "-t", image], context, labels, _STEP,
            emit)
        if not push:
            return BuildResult(image=image, image_id=image_id, digest=None)
        with tempfile.TemporaryDirectory(prefix="ray-dev-push-") as scratch:
            digestfile = Path(scratch) / "digest"
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
            return BuildResult(image=image, image_id=image_id,
                               digest=digestfile.read_text().strip())
