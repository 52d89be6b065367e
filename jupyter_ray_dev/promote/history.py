"""Pure logic over recorded promotions: the per-artifact diff of two, and which of a
promotion's manifests a re-apply means."""

from __future__ import annotations

import difflib
from typing import Any

from ..errors import BadRequest
from .manifests import manifest_key, to_yaml

# what a user most likely means
APPLY_ORDER = ("RayCronJob", "RayJob", "RayService", "RayCluster")


def _docs(text: str) -> list[dict[str, Any]]:
    import yaml

    try:
        return [d for d in yaml.safe_load_all(text or "") if isinstance(d, dict)]
    except yaml.YAMLError:
        return []  # a record from an older version that we cannot read: diff it as text


def unified(old: str, new: str, old_label: str, new_label: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        fromfile=old_label, tofile=new_label))


def _manifests_by_key(text: str) -> dict[str, str]:
    return {manifest_key(d): to_yaml([d]) for d in _docs(text)}


def _origin(origin: dict[str, Any] | None) -> str:
    origin = origin or {}
    if origin.get("run_id"):
        return f"run {origin['run_id']}"
    return {"server": "the server's Python", "file": "a local file"}.get(
        origin.get("kind") or "", "unknown")


def lock_text(lock: dict[str, Any] | None) -> str:
    """The lock as lines a diff reads: where the versions came from, then each pin with
    its own source. A promotion recorded before locks were kept has none ('')."""
    if not lock:
        return ""
    source = lock.get("source") or {}
    lines = [f"# versions from {source.get('description') or 'unknown'}\n"]
    for pin in lock.get("pins") or []:
        if pin.get("pinned"):
            lines.append(f"{pin['pinned']}  # {pin.get('how')}, from {_origin(pin.get('from'))}\n")
    for pin in lock.get("unpinned") or []:
        lines.append(f"{pin.get('spec')}  # not pinned\n")
    return "".join(lines)


def _pins(lock: dict[str, Any] | None) -> dict[str, str | None]:
    from packaging.utils import canonicalize_name

    pins: dict[str, str | None] = {}
    for pin in (lock or {}).get("pins") or []:
        if pin.get("name"):
            pins[canonicalize_name(pin["name"])] = pin.get("pinned")
    for pin in (lock or {}).get("unpinned") or []:
        if pin.get("name"):
            pins[canonicalize_name(pin["name"])] = pin.get("spec")
    return pins


def lock_changes(old: dict[str, Any] | None, new: dict[str, Any] | None
                 ) -> list[dict[str, Any]]:
    """Per package: what the old lock pinned and what the new one pins (None: absent)."""
    before, after = _pins(old), _pins(new)
    return [{"name": n, "from": before.get(n), "to": after.get(n)}
            for n in sorted(before.keys() | after.keys()) if before.get(n) != after.get(n)]


def history_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``artifacts``: one entry per Dockerfile, requirements.txt, the lock (each pin with the
    run its version came from) and manifest (by kind/name, present in either), each with
    its unified diff ('' when equal). ``dockerfile``, ``requirements``, ``lock`` and
    ``manifests`` keep the whole-text diffs; ``lock_changes`` lists the packages whose pin
    changed, ``source_runs`` the two promotions' source runs."""
    a, b = old["id"], new["id"]
    out: dict[str, Any] = {"from": a, "to": b, "same_inputs": old["inputs_hash"] ==
                           new["inputs_hash"]}
    for key in ("dockerfile", "requirements", "manifests"):
        out[key] = unified(old[key], new[key], f"{a}/{key}", f"{b}/{key}")
    out["lock"] = unified(lock_text(old.get("lock")), lock_text(new.get("lock")),
                          f"{a}/lock", f"{b}/lock")
    out["lock_changes"] = lock_changes(old.get("lock"), new.get("lock"))
    out["source_runs"] = {"from": old.get("source_run"), "to": new.get("source_run")}
    out["same_lock"] = old.get("lock_hash") == new.get("lock_hash")
    artifacts = [{"name": "Dockerfile", "kind": "dockerfile", "diff": out["dockerfile"]},
                 {"name": "requirements.txt", "kind": "requirements",
                  "diff": out["requirements"]},
                 {"name": "lock", "kind": "lock", "diff": out["lock"]}]
    before, after = _manifests_by_key(old["manifests"]), _manifests_by_key(new["manifests"])
    for name in [*after, *(k for k in before if k not in after)]:
        artifacts.append({"name": name, "kind": "manifest", "diff": unified(
            before.get(name, ""), after.get(name, ""),
            f"{a}/{name}" if name in before else "/dev/null",
            f"{b}/{name}" if name in after else "/dev/null")})
    out["artifacts"] = artifacts
    return out


def choose_manifest(manifests_yaml: str, kind: str | None) -> dict[str, Any]:
    """The object of ``kind`` (or the first of RayCronJob, RayJob, RayService, RayCluster)."""
    docs = [d for d in _docs(manifests_yaml) if d.get("kind") in APPLY_ORDER]
    kinds = sorted({d["kind"] for d in docs}, key=APPLY_ORDER.index)
    if kind is not None:
        docs = [d for d in docs if d["kind"] == kind]
        if not docs:
            raise BadRequest(f"This promotion has no {kind}: it has "
                             f"{', '.join(kinds) or 'no KubeRay manifest'}.", field="kind")
        return docs[0]
    if not docs:
        raise BadRequest("This promotion has no KubeRay manifest to apply.", field="kind")
    return min(docs, key=lambda d: APPLY_ORDER.index(d["kind"]))


def schedule_of(manifests_yaml: str) -> dict[str, Any] | None:
    """A scheduled promotion's schedule, time zone and suspend, as its RayCronJob says."""
    if "kind: RayCronJob" not in (manifests_yaml or ""):
        return None  # most promotions: no YAML to parse for the history list
    for doc in _docs(manifests_yaml):
        if doc.get("kind") == "RayCronJob":
            spec = doc.get("spec") or {}
            return {"schedule": spec.get("schedule"), "time_zone": spec.get("timeZone"),
                    "suspend": bool(spec.get("suspend"))}
    return None
