"""What every image builder shares: the interface, its results and errors, and a
subprocess runner that streams output without blocking the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ...errors import RayDevError
from ...leftovers import claimed_tempdir, die_with_parent, remove_tempdir

Emit = Callable[[str], Awaitable[None]]
log = logging.getLogger(__name__)


class BuildFailed(RayDevError):
    status = 502
    reason = "build_failed"


class CheckUnavailable(Exception):
    """A command could not be run in a built image: the message says why."""


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


class Builder(Protocol):
    name: str
    # what ``build`` is given: the context as a folder (local engines read it in place)
    # or as one .tar.gz (a remote build uploads it)
    context_form: Literal["folder", "tar.gz"]
    # True: ``build(push=False)`` leaves the image in this server's storage, where
    # ``run_in_image`` runs it and ``push`` sends it later; False: the image exists only once
    # pushed (kaniko builds in the cluster), so nothing can run it before its push
    local_image: bool

    async def availability(self) -> Availability: ...

    async def build(self, context: Path, image: str, build_args: dict[str, str], push: bool,
                    emit: Emit) -> BuildResult: ...

    async def push(self, image: str, emit: Emit) -> str | None:
        """Push a built image; its pushed digest."""
        ...

    async def run_in_image(self, image: str, argv: list[str], workdir: str, emit: Emit,
                           timeout: float) -> tuple[int, list[str]]:
        """Run ``argv`` in a throw-away container of ``image`` (no network), from ``workdir``;
        (exit code, output lines). CheckUnavailable when it cannot."""
        ...


def keeps_image(builder: Builder) -> bool:
    """Whether ``builder`` leaves its image here, to be checked before its push. A site's
    builder written before ``local_image`` was part of the protocol says nothing: no."""
    return bool(getattr(builder, "local_image", False))


def repository(image: str) -> str:
    """``registry:5000/team/app:tag`` -> ``registry:5000/team/app`` (a port is not a tag)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


async def run(argv: list[str], emit: Emit | None, env: dict[str, str] | None = None
              ) -> tuple[int, list[str]]:
    """Run, streaming merged stdout/stderr line by line to ``emit``; (exit code, lines).

    The tool gets a temporary folder of its own as TMPDIR (buildah keeps its scratch
    there): a tool killed with a killed server leaves nothing the next start does not
    remove."""
    async with scratch_dir("ray-dev-tool-") as tmp:
        return await _run(argv, emit, {**(os.environ if env is None else env), "TMPDIR": str(tmp)})


async def _run(argv: list[str], emit: Emit | None, env: dict[str, str]) -> tuple[int, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, env=env, preexec_fn=die_with_parent())
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


async def probe(name: str, argv: list[str], timeout: float, install_hint: str,
                env: dict[str, str] | None = None) -> Availability | list[str]:
    """Run a builder's health command: its output lines, or the Availability saying why not."""
    if shutil.which(argv[0]) is None:
        return Availability(name, False, f"{argv[0]} is not installed on the server "
                            f"({install_hint}).")
    try:
        code, lines = await asyncio.wait_for(run(argv, None, env=env), timeout)
    except asyncio.TimeoutError:
        return Availability(name, False, f"`{' '.join(argv[:2])}` did not answer in "
                            f"{timeout:.0f} s.")
    if code != 0:
        return Availability(name, False, f"{name} cannot run here: "
                            + " ".join(lines[-3:])[:400])
    return lines


async def quietly(cleanup: Awaitable[object], what: str) -> None:
    """Clean-up that must finish even while its task is being cancelled, and whose failure
    must not hide the outcome of what it cleans up after."""
    try:
        await asyncio.shield(cleanup)
    except Exception as err:  # noqa: BLE001 - reported, never raised over the real outcome
        log.warning("%s failed: %s", what, err)


async def run_limited(argv: list[str], emit: Emit | None, timeout: float, what: str,
                      env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """``run`` within ``timeout`` seconds; CheckUnavailable saying so when it does not end."""
    try:
        return await asyncio.wait_for(run(argv, emit, env=env), timeout)
    except asyncio.TimeoutError:
        raise CheckUnavailable(f"{what} did not finish within {timeout:.0f} s.") from None


def last_match(lines: list[str], pattern: Callable[[str], object]) -> str | None:
    """The last line that ``pattern`` matches: the step a failed build was in."""
    return next((ln for ln in reversed(lines) if pattern(ln)), None)


@asynccontextmanager
async def scratch_dir(prefix: str) -> AsyncIterator[Path]:
    """A temporary folder, made and removed off the event loop (and by the next start
    when the server is killed meanwhile)."""
    path, held = await asyncio.to_thread(claimed_tempdir, prefix)
    try:
        yield path
    finally:
        await asyncio.to_thread(remove_tempdir, path, held)


async def build_image(tool: str, argv: list[str], context: Path, build_args: dict[str, str],
                      step: re.Pattern[str], emit: Emit, env: dict[str, str] | None = None
                      ) -> str:
    """Run a ``build`` command line that takes ``--build-arg`` and ``--iidfile`` (buildah's
    and docker's); the image id. A failure names the last step the log started."""
    argv = list(argv)
    for key, value in sorted(build_args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    async with scratch_dir("ray-dev-build-") as scratch:
        iidfile = scratch / "iid"
        code, lines = await run([*argv, "--iidfile", str(iidfile), str(context)], emit, env=env)
        if code != 0:
            failed = last_match(lines, step.match)
            raise BuildFailed(
                f"The image build failed at {failed or 'the start'} ({tool} exit {code}). "
                "The log above shows why.", failed_step=failed, exit_code=code)
        return (await asyncio.to_thread(iidfile.read_text)).strip()
