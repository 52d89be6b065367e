"""docker: ``docker build`` + ``docker push`` against a reachable Docker engine.

The classic builder (``DOCKER_BUILDKIT=0``) is the default: Debian's dockerd 20.10
runs it with nothing else installed, while BuildKit from a current CLI needs the
separate buildx plugin. Registry credentials are the CLI's own: ``DOCKER_CONFIG``
(default ``~/.docker``) from the server's environment, never the browser's.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from .base import (
    Availability,
    BuildFailed,
    BuildResult,
    Emit,
    build_image,
    probe,
    quietly,
    repository,
    run,
    run_limited,
)

# the classic builder's "Step 2/9 : RUN ...", BuildKit's "#7 [3/9] RUN ..."
_STEP = re.compile(r"^(Step \d+/\d+ : |#\d+ \[[^\]]*\d+/\d+\] ).*")
_PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class DockerConfig:
    binary: str = "docker"
    host: str = ""  # DOCKER_HOST for the engine ("" = the server environment's)
    buildkit: bool = False


class DockerBuilder:
    name = "docker"
    context_form = "folder"
    local_image = True

    def __init__(self, config: DockerConfig) -> None:
        self.config = config

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)  # DOCKER_CONFIG, DOCKER_CERT_PATH... as the server has them
        if self.config.host:
            env["DOCKER_HOST"] = self.config.host
        env["DOCKER_BUILDKIT"] = "1" if self.config.buildkit else "0"
        env["DOCKER_CLI_HINTS"] = "false"
        return env

    async def availability(self) -> Availability:
        found = await probe(self.name, [self.config.binary, "version", "--format",
                                        "{{.Server.Version}}"], 10,
                            "Debian/Ubuntu: apt-get install docker.io", env=self._env())
        if isinstance(found, Availability):
            return found
        where = self.config.host or os.environ.get("DOCKER_HOST") or "the default socket"
        version = found[-1] if found else "?"
        mode = "BuildKit" if self.config.buildkit else "classic builder"
        return Availability(self.name, True, f"Docker engine {version} at {where} ({mode})")

    async def build(self, context: Path, image: str, build_args: dict[str, str], push: bool,
                    emit: Emit) -> BuildResult:
        env = self._env()
        image_id = await build_image(
            "docker", [self.config.binary, "build", "-f", str(context / "Dockerfile"), "-t",
                       image], context, build_args, _STEP, emit, env=env)
        if not push:
            return BuildResult(image=image, image_id=image_id, digest=None)
        return BuildResult(image=image, image_id=image_id, digest=await self.push(image, emit))

    async def push(self, image: str, emit: Emit) -> str | None:
        env = self._env()
        await emit(f"Pushing {image} ...")
        code, lines = await run([self.config.binary, "push", image], emit, env=env)
        if code != 0:
            raise BuildFailed(
                f"The image was built but the push to {image} failed (docker exit {code}): "
                + " ".join(lines[-2:])[:400] + " Check the registry address, that the server "
                "has credentials for it (DOCKER_CONFIG), and for a plain-HTTP registry that "
                "the engine lists it in insecure-registries.", failed_step="push",
                exit_code=code)
        digest = next((m[1] for ln in reversed(lines) if (m := _PUSHED.search(ln))), None)
        return digest or await self._repo_digest(image, env)

    async def pull(self, image: str, emit: Emit) -> None:
        """Fetch ``image`` into the engine (layers it has are reused)."""
        await emit(f"Pulling {image} to check it ...")
        code, lines = await run([self.config.binary, "pull", "--quiet", image], None,
                                env=self._env())
        if code != 0:
            raise BuildFailed(f"docker could not pull {image} (exit {code}): "
                              + " ".join(lines[-2:])[:400], failed_step="pull", exit_code=code)

    async def run_in_image(self, image: str, argv: list[str], workdir: str, emit: Emit,
                           timeout: float) -> tuple[int, list[str]]:
        """``docker run --rm`` of the engine's image (never pulled), no network; removed
        by its name as well, as a stopped CLI does not stop its container."""
        env = self._env()
        name = f"ray-dev-check-{secrets.token_hex(4)}"
        try:
            return await run_limited(
                [self.config.binary, "run", "--rm", "--name", name, "--pull", "never",
                 "--network", "none", "--workdir", workdir, "--entrypoint", argv[0], image,
                 *argv[1:]], emit, timeout, f"The check in {image}", env=env)
        finally:
            await quietly(run([self.config.binary, "rm", "--force", name], None, env=env),
                          f"docker rm {name}")

    async def _repo_digest(self, image: str, env: dict[str, str]) -> str | None:
        """The pushed digest as the engine recorded it, for CLIs that do not print it."""
        code, lines = await run([self.config.binary, "inspect", "--format",
                                 "{{range .RepoDigests}}{{println .}}{{end}}", image], None,
                                env=env)
        repo = repository(image)
        for line in lines if code == 0 else []:
            name, _, digest = line.strip().partition("@")
            if name == repo and digest.startswith("sha256:"):
                return digest
        return None
