"""Ray Train / Tune folders: recognise them by the files Ray writes, and summarise them.

- Tune experiment: ``tuner.pkl`` or ``experiment_state-<time>.json`` (Tuner.restore needs them)
- Tune trial: ``params.json``, ``result.json`` (one JSON line per report), ``progress.csv``
- Train V2 run: ``checkpoint_manager_snapshot.json`` (checkpoints + their metrics), or
  ``checkpoint_*`` folders without trial files
- checkpoint: a ``checkpoint_*`` folder (``ray.train.Checkpoint(path)`` opens it)

Detection costs a constant number of requests per folder (never one per entry):
the names of a folder that fits in one listing page, or a few targeted probes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from typing import Any

from ..errors import RayDevError
from .backends import Backend
from .paths import join
from .ray_names import (
    CHECKPOINT_PREFIX,
    EXPERIMENT_STATE_PREFIX,
    PROBED_FILES,
    SNAPSHOT,
    TRIAL_FILES,
    TUNER_PKL,
)

MAX_CHECKPOINTS = 1000
MAX_JSON_BYTES = 1 << 20
TAIL_BYTES = 256 << 10


def classify(files: set[str], dirs: set[str], has_experiment_state: bool,
             has_checkpoints: bool) -> str | None:
    if TUNER_PKL in files or has_experiment_state:
        return "tune_experiment"
    if SNAPSHOT in files:
        return "train_run"
    if files & set(TRIAL_FILES):
        return "tune_trial"
    if has_checkpoints:
        return "train_run"
    return None


async def probe_files(backend: Backend, path: str) -> frozenset[str] | None:
    """Which marker files ``path`` holds, asked before its first page is known (run beside
    the listing, remote folders cost one round trip: a marker is a HEAD, not a listing);
    None if a probe failed."""
    try:
        hits = await asyncio.gather(*(_exists(backend, join(path, f)) for f in PROBED_FILES))
    except RayDevError:
        return None
    return frozenset(f for f, hit in zip(PROBED_FILES, hits, strict=True) if hit)


async def detect(backend: Backend, path: str, first_page: list[dict[str, Any]] | None = None,
                 complete: bool = False, probed: frozenset[str] | None = None) -> str | None:
    """The folder's kind from its first listing page, probing only what the page cannot say.

    Backends list in name order, so a marker sorting before the page's last name is
    present exactly when it is in the page; only markers after it are probed (a stat
    or a one-name prefix listing each). A complete page needs no request at all, and
    marker files ``probed`` beforehand (probe_files) are not asked again.
    Never fails the listing it accompanies: a probe that errors means "not recognised".
    """
    entries = first_page or []
    files = {e["name"] for e in entries if e["kind"] != "directory"}
    dirs = {e["name"] for e in entries if e["kind"] == "directory"}
    bound = None if complete else (entries[-1]["name"] if entries else "")

    def covered(name: str) -> bool:
        return bound is None or name < bound

    def prefix_covered(prefix: str) -> bool:
        # every name starting with prefix sorts before bound
        return bound is None or (prefix < bound and not bound.startswith(prefix))

    found = {f for f in PROBED_FILES if covered(f) and f in files} | (probed or set())
    has_state = any(f.startswith(EXPERIMENT_STATE_PREFIX) and f.endswith(".json") for f in files)
    has_ckpt = any(d.startswith(CHECKPOINT_PREFIX) for d in dirs)
    if has_state or TUNER_PKL in found:
        return "tune_experiment"  # outranks every other kind: nothing left to ask
    unknown = [] if probed is not None else [f for f in PROBED_FILES if not covered(f)]
    probes = [_exists(backend, join(path, f)) for f in unknown]
    if not has_state and not prefix_covered(EXPERIMENT_STATE_PREFIX):
        probes.append(_any_with_prefix(backend, path, EXPERIMENT_STATE_PREFIX, want_dir=False))
    if not has_ckpt and not prefix_covered(CHECKPOINT_PREFIX):
        probes.append(_any_with_prefix(backend, path, CHECKPOINT_PREFIX, want_dir=True))
    if probes:
        try:
            results = await asyncio.gather(*probes)
        except RayDevError:
            return _by_name(path)
        found |= {f for f, hit in zip(unknown, results) if hit}
        extra = results[len(unknown):]
        if not has_state and not prefix_covered(EXPERIMENT_STATE_PREFIX):
            has_state = extra.pop(0)
        if not has_ckpt and not prefix_covered(CHECKPOINT_PREFIX):
            has_ckpt = extra.pop(0)
    return classify(found, dirs, has_state, has_ckpt) or _by_name(path)


def _by_name(path: str) -> str | None:
    return "checkpoint" if path.rsplit("/", 1)[-1].startswith(CHECKPOINT_PREFIX) else None


async def summarise(backend: Backend, path: str, kind: str | None) -> dict[str, Any] | None:
    """The ``ray`` block of a folder: its kind, and for trials/runs what a user looks for."""
    if kind is None:
        return None
    out: dict[str, Any] = {"kind": kind}
    if kind == "tune_trial":
        out["params"] = await _read_json(backend, join(path, "params.json"))
        out["last_metrics"] = await last_metrics(backend, path)
    if kind in ("tune_trial", "train_run"):
        out["checkpoints"] = await checkpoints(backend, path)
    if kind == "checkpoint":
        out["checkpoint"] = backend.root.uri(path)
    return out


async def last_metrics(backend: Backend, path: str) -> dict[str, Any] | None:
    tail = await _tail(backend, join(path, "result.json"))
    if tail is not None:
        for line in reversed(tail.splitlines()):
            try:
                value = json.loads(line)
            except ValueError:
                continue  # the first line of a tail is cut; a line may be half-written
            if isinstance(value, dict):
                return value
    # no result.json: progress.csv's header and last row
    head = await _head(backend, join(path, "progress.csv"), 64 << 10)
    tail = await _tail(backend, join(path, "progress.csv"))
    if not head or not tail:
        return None
    header = next(csv.reader(io.StringIO(head.splitlines()[0])), None)
    rows = [r for r in csv.reader(io.StringIO(tail)) if r]
    if not header or not rows or len(rows[-1]) != len(header) or rows[-1] == header:
        return None
    return {k: _number(v) for k, v in zip(header, rows[-1])}


async def checkpoints(backend: Backend, path: str) -> list[dict[str, Any]]:
    """``checkpoint_*`` folders, newest first, with metrics from Train V2's snapshot if any."""
    found: list[dict[str, Any]] = []
    token = None
    while len(found) < MAX_CHECKPOINTS:
        page, token = await backend.list_page(path, 500, token, name_prefix=CHECKPOINT_PREFIX)
        found.extend(e for e in page if e["kind"] == "directory")
        if not token:
            break
    snapshot = await _read_json(backend, join(path, SNAPSHOT))
    metrics: dict[str, Any] = {}
    latest = None
    if isinstance(snapshot, dict):
        for result in snapshot.get("checkpoint_results") or []:
            if isinstance(result, dict) and "checkpoint_dir_name" in result:
                metrics[result["checkpoint_dir_name"]] = result.get("metrics")
        latest = (snapshot.get("latest_checkpoint_result") or {}).get("checkpoint_dir_name")
    out = []
    for entry in sorted(found, key=_checkpoint_order, reverse=True):
        item = {"name": entry["name"], "path": entry["path"], "modified": entry["modified"],
                "uri": backend.root.uri(entry["path"])}
        if entry["name"] in metrics:
            item["metrics"] = metrics[entry["name"]]
        if latest is not None:
            item["latest"] = entry["name"] == latest
        out.append(item)
    return out


def _checkpoint_order(entry: dict[str, Any]) -> tuple[int, str]:
    # Tune: checkpoint_000012 (older Ray: checkpoint_12); Train V2: checkpoint_<date>_<time>
    match = re.fullmatch(r"checkpoint_(\d+)", entry["name"])
    if match:
        return int(match.group(1)), ""
    return 0, entry["name"]


# -- small reads -----------------------------------------------------------------------------

async def _exists(backend: Backend, path: str) -> bool:
    return await backend.has_file(path)


async def _any_with_prefix(backend: Backend, path: str, prefix: str, want_dir: bool) -> bool:
    token = None
    for _ in range(20):  # a few pages at most: markers are rare among checkpoint_ siblings
        page, token = await backend.list_page(path, 100, token, name_prefix=prefix)
        if any((e["kind"] == "directory") == want_dir for e in page):
            return True
        if not token:
            return False
    return False


async def _read_json(backend: Backend, path: str) -> Any:
    text = await _head(backend, path, MAX_JSON_BYTES)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


async def _head(backend: Backend, path: str, limit: int) -> str | None:
    try:
        data = await backend.read(path, 0, limit)
    except RayDevError:  # missing or unreadable: the summary just lacks it
        return None
    return data.decode("utf-8", errors="replace")


async def _tail(backend: Backend, path: str) -> str | None:
    try:
        entry = await backend.stat(path)
        size = entry.get("size") or 0
        data = await backend.read(path, max(0, size - TAIL_BYTES), size)
    except RayDevError:
        return None
    return data.decode("utf-8", errors="replace")


def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
