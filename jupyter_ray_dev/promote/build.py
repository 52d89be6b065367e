"""Building a planned image: which builder, the build as a background task, and its log
live (followers wake on each line) and then from the history.

The context is written and removed on the promote thread pool; the builders are async
subprocesses or Kubernetes Jobs: nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import BadRequest, NotFound, RayDevError
from .builders import Availability, Builder, BuildFailed
from .context import write_folder, write_tar_gz
from .dockerfile import build_time_args
from .options import PromoteOptions, registry_host
from .plan import Plan
from .store import PromotionRecord, PromotionStore

log = logging.getLogger(__name__)

OffLoop = Callable[..., Awaitable[Any]]


class NoBuilder(RayDevError):
    status = 409
    reason = "no_builder"


def preferred(found: list[Availability], default: str) -> str:
    """The server's default builder, or when it cannot run here the first that can: the
    review dialog offers "Build and push" whenever any builder is available."""
    usable = [b.name for b in found if b.available]
    return default if default in usable or not usable else usable[0]


def choose_builder(plan: Plan, options: PromoteOptions, default: str) -> str:
    """The builder for this plan, after the checks that make a build pointless."""
    if plan.image is None:
        raise BadRequest("No target image: give `image` (registry/name:tag) or set "
                         "c.RayDev.promote_registry on the server.", field="image")
    if options.push and registry_host(plan.image) is None:
        raise BadRequest(f"`image` {plan.image!r} names no registry, so a push would go "
                         "to Docker Hub: give registry.example.com/name:tag.", field="image")
    if plan.manifest_errors:
        raise BadRequest("The generated manifests do not validate against KubeRay's CRDs: "
                         f"{plan.manifest_errors}", field="manifests")
    builder = options.builder or preferred(plan.builders, default)
    chosen = next(b for b in plan.builders if b.name == builder)
    if not chosen.available:
        tried = "; ".join(f"{b.name}: {b.reason}" for b in plan.builders)
        raise NoBuilder(f"No image builder can run here ({tried}). Export the build "
                        "context instead and build it in CI.",
                        builders=[b.to_dict() for b in plan.builders])
    return builder


class LiveBuild:
    """A build in progress: its log so far, and a wake-up for followers."""

    def __init__(self, record: PromotionRecord) -> None:
        self.record = record
        self.lines: list[str] = []
        self.done = False
        self._changed = asyncio.Event()

    async def emit(self, line: str) -> None:
        self.lines.append(line)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, start: int) -> AsyncIterator[dict[str, Any]]:
        n = start
        while True:
            changed = self._changed
            while n < len(self.lines):
                yield {"type": "line", "n": n, "text": self.lines[n]}
                n += 1
            if self.done:
                return
            await changed.wait()


class Builds:
    """The builds in progress, as background tasks recorded in ``store`` when they end."""

    def __init__(self, store: PromotionStore, off_loop: OffLoop) -> None:
        self.store = store
        self._off_loop = off_loop
        self.live: dict[str, LiveBuild] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, record: PromotionRecord, plan: Plan, builder: Builder,
                    push: bool) -> None:
        await self.store.put(record)
        live = LiveBuild(record)
        self.live[record.id] = live
        task = asyncio.create_task(self._run(live, plan, builder, push))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, live: LiveBuild, plan: Plan, builder: Builder, push: bool) -> None:
        record = live.record
        scratch = Path(await self._off_loop(tempfile.mkdtemp, "", "ray-dev-context-"))
        try:
            await live.emit(f"Writing the build context ({len(plan.collected.files)} files) ...")
            if builder.context_form == "tar.gz":
                context = scratch / "context.tar.gz"
                await self._off_loop(write_tar_gz, plan.spec, context)
            else:
                context = scratch
                await self._off_loop(write_folder, plan.spec, context)
            built = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            result = await builder.build(context, plan.image or "",
                                         build_time_args(built), push, live.emit)
            record.digest = result.digest
            record.status = "pushed" if push else "built"
            await live.emit(f"Done: {result.image}"
                            + (f"@{result.digest}" if result.digest else " (not pushed)"))
        except BuildFailed as err:
            record.status, record.error = "failed", err.message
            await live.emit(err.message)
        except asyncio.CancelledError:
            record.status, record.error = "failed", "The build was cancelled (server stopping)."
            raise
        except Exception as err:
            log.exception("promotion %s failed", record.id)
            record.status, record.error = "failed", f"The build failed: {err}"
            await live.emit(record.error)
        finally:
            try:
                # a folder context of a large project is thousands of files to remove
                await self._off_loop(shutil.rmtree, scratch, True)
            finally:
                record.log = "\n".join(live.lines)
                record.finished = datetime.datetime.now().timestamp()
                try:
                    await self.store.put(record)
                finally:
                    live.finish()
                    self.live.pop(record.id, None)

    async def follow(self, promotion_id: str, start: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The build log as ``line`` events (numbered from 0), then one ``end`` event."""
        live = self.live.get(promotion_id)
        if live is not None:
            async for event in live.follow(start):
                yield event
            record = live.record
        else:
            found = await self.store.get(promotion_id)
            if found is None:
                raise NotFound(f"No promotion {promotion_id!r} in the history.",
                               promotion_id=promotion_id)
            record = found
            for n, text in enumerate(record.log.splitlines()[start:], start):
                yield {"type": "line", "n": n, "text": text}
        yield {"type": "end", "promotion": record.summary()}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
