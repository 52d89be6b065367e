"""Building a planned image: which builder, the build as a background task, the parity
check of the image before its push (and the push a user asks for despite it), and the log
live (followers wake on each line) and then from the history.

The context is written and removed on the promote thread pool; the builders are async
subprocesses or Kubernetes Jobs: nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Conflict, NotFound, RayDevError
from ..leftovers import claimed_tempdir, remove_tempdir
from .builders import Availability, Builder, BuildFailed
from .builders.base import keeps_image, repository
from .codelayer import CODE_LAYER, make_image, tag, tag_digest
from .context import write_folder, write_tar_gz
from .dockerfile import build_time_args
from .options import PromoteOptions, registry_host
from .parity import PASSED, check_image, probe_workdir, unavailable
from .parity import summary as parity_summary
from .plan import LOCAL_IMAGE, Plan
from .registry import RegistryError
from .store import INTERRUPTED_BUILD, INTERRUPTED_PUSH, PromotionRecord, PromotionStore

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


def choose_builder(plan: Plan, options: PromoteOptions, default: str) -> str | None:
    """The builder for this plan, after the checks that make a build pointless. The
    code-layer path needs none: then it is the one that can check the image, if any."""
    if plan.image is None:
        raise BadRequest("No target image: give `image` (registry/name:tag) or set "
                         "c.RayDev.promote_registry on the server.", field="image")
    if options.push and registry_host(plan.image) is None:
        raise BadRequest(f"`image` {plan.image!r} names no registry to push to (without one "
                         "a push would go to Docker Hub; localhost/ names a local image): "
                         "give registry.example.com/name:tag.", field="image")
    if plan.manifest_errors:
        raise BadRequest("The generated manifests do not validate against KubeRay's CRDs: "
                         f"{plan.manifest_errors}", field="manifests")
    builder = options.builder or preferred(plan.builders, default)
    chosen = next(b for b in plan.builders if b.name == builder)
    if not chosen.available and is_code_layer(plan):
        return None
    if not chosen.available:
        tried = "; ".join(f"{b.name}: {b.reason}" for b in plan.builders)
        raise NoBuilder(f"No image builder can run here ({tried}). Export the build "
                        "context instead and build it in CI.",
                        builders=[b.to_dict() for b in plan.builders])
    return builder


def is_code_layer(plan: Plan) -> bool:
    return plan.build_path is not None and plan.build_path.path == CODE_LAYER


def blocked_message(parity: dict[str, Any]) -> str:
    if parity.get("status") == "failed":
        diff = "; ".join(m["message"] for m in parity.get("mismatches") or [])
        why = f"the image differs from {(parity.get('expected') or {}).get('source')}: {diff}"
    else:
        why = f"the parity check could not run: {parity.get('reason')}"
    return (f"Not pushed: {why}. *Push anyway* (override) pushes it and records the override; "
            "or fix the project and build again.")


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

    def __init__(self, store: PromotionStore, off_loop: OffLoop,
                 parity_timeout: float = 600.0, tls_verify: bool = True) -> None:
        self.store = store
        self._off_loop = off_loop
        self.parity_timeout = parity_timeout
        self.tls_verify = tls_verify  # the code-layer path's registry requests
        self.live: dict[str, LiveBuild] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _start(self, live: LiveBuild, work: Coroutine[Any, Any, None]) -> None:
        self.live[live.record.id] = live
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _done(self, live: LiveBuild) -> None:
        record = live.record
        record.log = "\n".join(live.lines)
        record.finished = datetime.datetime.now().timestamp()
        try:
            await self.store.put(record)
        finally:
            live.finish()
            self.live.pop(record.id, None)

    async def start(self, record: PromotionRecord, plan: Plan, builder: Builder | None,
                    push: bool) -> None:
        """One build of a project at a time: a second one, while the first runs, is refused
        naming it (both would build and tag the same image)."""
        running = next((b.record for b in self.live.values()
                        if b.record.project == record.project and b.record.kind == "build"
                        and b.record.status == "building"), None)
        if running is not None:
            raise Conflict(f"Promotion {running.id} of {record.project} is building: follow "
                           "it, or build again when it has ended.", promotion_id=running.id)
        live = LiveBuild(record)
        if is_code_layer(plan):
            await self._begin(live, lambda: self._code_layer(live, plan, builder))
        else:
            assert builder is not None  # choose_builder gives one to a full build
            await self._begin(live, lambda: self._run(live, plan, builder, push))

    async def _begin(self, live: LiveBuild,
                     work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Known as live before any await (a second click finds it), recorded, started."""
        self.live[live.record.id] = live
        try:
            await self.store.put(live.record)
        except BaseException:
            self.live.pop(live.record.id, None)
            raise
        self._start(live, work())

    async def _run(self, live: LiveBuild, plan: Plan, builder: Builder, push: bool) -> None:
        """Build; check the image against what it must reproduce; push only when the check
        passed (a builder that keeps the image here). A check that failed or could not run
        leaves the image built and ``blocked``: only the user's *Push anyway*
        (``start_push`` with override) pushes it then."""
        record = live.record
        scratch, held = await self._off_loop(claimed_tempdir, "ray-dev-context-")
        async with self._ending(live, scratch, held, "The build"):
            await live.emit(f"Writing the build context ({len(plan.collected.files)} files) ...")
            if builder.context_form == "tar.gz":
                context = scratch / "context.tar.gz"
                await self._off_loop(write_tar_gz, plan.spec, context)
            else:
                context = scratch
                await self._off_loop(write_folder, plan.spec, context)
            built = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            # a builder that keeps the image here pushes only after the check
            result = await builder.build(context, plan.image or "", build_time_args(built),
                                         push and not keeps_image(builder), live.emit)
            record.digest = result.digest
            assert plan.expected is not None  # compute_plan sets it
            # a builder that cannot check first: which ones here could have
            could = None if keeps_image(builder) else [
                b.name for b in plan.builders if b.available and b.name in LOCAL_IMAGE]
            # an image kept here is checked by name; one only in the registry by its digest
            checked = result.image if keeps_image(builder) or not result.digest \
                else f"{repository(result.image)}@{result.digest}"
            record.parity = await check_image(
                builder, checked, plan.expected,
                probe_workdir(plan.workdir, plan.collected.entrypoint.script), live.emit,
                self.parity_timeout, could)
            if not keeps_image(builder) and record.parity["status"] == "failed":
                await live.emit(f"{builder.name} pushed before the check: {result.image} is "
                                "in the registry although it differs. Do not deploy it: fix "
                                "the project and build again (buildah or docker check first).")
            if push and keeps_image(builder) and record.parity["status"] != PASSED:
                record.status = "blocked"
                record.error = blocked_message(record.parity)
                await live.emit(record.error)
                return
            if push and keeps_image(builder):
                record.digest = await builder.push(result.image, live.emit)
            record.status = "pushed" if push else "built"
            await live.emit(f"Done: {result.image}"
                            + (f"@{record.digest}" if record.digest else " (not pushed)"))

    async def _code_layer(self, live: LiveBuild, plan: Plan, builder: Builder | None) -> None:
        """The code-layer path: the new layer, config and manifest go to the registry by
        digest; the image is checked when a builder here can run it (pulled by digest),
        and tagged only when the check passed or none could run."""
        record, chosen = live.record, plan.build_path
        assert chosen is not None and chosen.earlier is not None and plan.expected is not None
        scratch, held = await self._off_loop(claimed_tempdir, "ray-dev-layer-")
        async with self._ending(live, scratch, held, "The code-layer push"):
            earlier = chosen.earlier
            await live.emit(f"Code only: {chosen.reason}")
            await live.emit(f"Writing the code layer ({len(plan.collected.files)} files) on "
                            f"{repository(earlier['image'])}@{earlier['digest'][:19]} ...")
            made = await self._off_loop(make_image, plan, chosen, scratch,
                                        self.tls_verify, plan.labels)
            record.digest = made.digest
            await live.emit(f"Uploaded the code layer ({made.layer.files} files, "
                            f"{made.layer.size} bytes) and the image's config and manifest: "
                            f"{made.by_digest}")
            record.parity = await self._check_made(live, plan, builder, made.by_digest)
            if builder is not None and record.parity["status"] != PASSED:
                record.status = "blocked"
                record.error = blocked_message(record.parity)
                await live.emit(record.error)
                return
            await self._off_loop(tag, made.image, made.manifest, self.tls_verify)
            record.status = "pushed"
            await live.emit(f"Done: {made.image}@{made.digest}")

    @asynccontextmanager
    async def _ending(self, live: LiveBuild, scratch: Path, held: Any, what: str
                      ) -> AsyncIterator[None]:
        """How a build or a code-layer push ends, whatever happened: its failure recorded
        with the reason, its scratch folder removed, its record stored."""
        record = live.record
        try:
            yield
        except (BuildFailed, RegistryError) as err:
            record.status = "failed"
            record.error = err.message if isinstance(err, BuildFailed) else f"{what} failed: {err}"
            await live.emit(record.error)
        except asyncio.CancelledError:  # the server is stopping
            record.status, record.error = "interrupted", INTERRUPTED_BUILD
            await live.emit(record.error)
            raise
        except Exception as err:
            log.exception("promotion %s failed", record.id)
            record.status, record.error = "failed", f"{what} failed: {err}"
            await live.emit(record.error)
        finally:
            try:
                # a folder context of a large project is thousands of files to remove
                await self._off_loop(remove_tempdir, scratch, held)
            finally:
                await self._done(live)

    async def _check_made(self, live: LiveBuild, plan: Plan, builder: Builder | None,
                          image: str) -> dict[str, Any]:
        """The parity check of an image the code-layer path put in the registry: run by a
        builder that can run it (one that keeps images here pulls it first)."""
        assert plan.expected is not None
        if builder is None:
            result = unavailable(plan.expected, "No builder can run an image on this server, "
                                 "so the image made by the code-layer path (which needs none) "
                                 "was not checked before its push.")
            await live.emit(f"Not checked: {result['reason']}")
            return result
        pull = getattr(builder, "pull", None)
        started = time.perf_counter()
        if keeps_image(builder):
            if pull is None:
                return unavailable(plan.expected, f"The {builder.name} builder cannot fetch "
                                   f"{image} from the registry to check it.")
            try:
                await pull(image, live.emit)
            except BuildFailed as err:
                return unavailable(plan.expected, err.message)
        result = await check_image(builder, image, plan.expected,
                                   probe_workdir(plan.workdir, plan.collected.entrypoint.script),
                                   live.emit, self.parity_timeout)
        # the pull is there only for the check: its time is the check's
        result["seconds"] = round(time.perf_counter() - started, 2)
        return result


    async def start_push(self, promotion_id: str, override: bool, builders: dict[str, Builder],
                         user: str | None) -> PromotionRecord:
        """Push a built image that waits for its push; ``override`` is the user's *Push
        anyway* for one whose parity check did not pass (recorded in ``overrides``)."""
        record = await self.store.get(promotion_id)
        if record is None:
            raise NotFound(f"No promotion {promotion_id!r} in the history.",
                           promotion_id=promotion_id)
        if promotion_id in self.live or record.kind != "build" or \
                record.status not in ("blocked", "built"):
            state = "in progress" if promotion_id in self.live else record.status
            raise Conflict(f"Promotion {promotion_id} is {state}: only a built image waiting "
                           "for its push can be pushed.", promotion_id=promotion_id)
        if not record.image or registry_host(record.image) is None:
            raise Conflict(f"{record.image} names no registry (a local build): build again "
                           "with a registry image to push.", promotion_id=promotion_id)
        builder = builders.get(record.builder or "")
        made_here = (record.build_path or {}).get("path") == CODE_LAYER
        if made_here and not record.digest:
            raise Conflict("This image never reached the registry: promote again.",
                           promotion_id=promotion_id)
        if not made_here and (builder is None or not keeps_image(builder)):
            raise Conflict(f"The {record.builder} builder keeps no image to push later.",
                           promotion_id=promotion_id)
        parity = record.parity or {}
        checked = parity.get("status") == PASSED
        if not checked and not override:
            raise Conflict(blocked_message(parity) if parity else
                           "This image was not checked: send override true to push it.",
                           promotion_id=promotion_id, parity=parity_summary(parity))
        before = record.status
        record.status, record.error = "pushing", None
        live = LiveBuild(record)
        live.lines = record.log.splitlines()
        await self._begin(live, lambda: self._push(live, None if made_here else builder,
                                                   before, None if checked else user or "",
                                                   parity))
        return record

    async def _push(self, live: LiveBuild, builder: Builder | None, before: str,
                    overridden_by: str | None, parity: dict[str, Any]) -> None:
        """Push with ``builder``; None: the code-layer path's image, in the registry by
        digest already, gets its tag."""
        record = live.record
        image = record.image or ""
        try:
            if overridden_by is not None:
                await live.emit(f"Push anyway: {image} is pushed although its parity check "
                                f"{'failed' if parity.get('status') == 'failed' else 'did not run'}"
                                " (recorded as an override).")
            if builder is None:
                record.digest = await self._off_loop(tag_digest, image, record.digest or "",
                                                     self.tls_verify)
            else:
                record.digest = await builder.push(image, live.emit)
            if overridden_by is not None:
                record.overrides = [*(record.overrides or []), {
                    "what": "parity", "parity_status": parity.get("status"),
                    "mismatches": [m["message"] for m in parity.get("mismatches") or []],
                    "reason": parity.get("reason"), "user": overridden_by or None,
                    "at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds")}]
            record.status = "pushed"
            await live.emit(f"Done: {image}@{record.digest}")
        except (BuildFailed, RegistryError) as err:
            # still built: push again
            record.status, record.error = before, str(getattr(err, "message", err))
            await live.emit(record.error)
        except asyncio.CancelledError:  # the server is stopping
            record.status, record.error = before, INTERRUPTED_PUSH
            await live.emit(record.error)
            raise
        except Exception as err:
            log.exception("push of promotion %s failed", record.id)
            record.status, record.error = before, f"The push failed: {err}"
            await live.emit(record.error)
        finally:
            await self._done(live)

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
