"""How the core's answers look to a person: plain text (CLI, text/plain) and HTML (notebooks).

Pure functions from the same JSON documents the REST API returns, so the
magics, the CLI and the API cannot drift apart; nothing here asks Ray anything.
"""

from __future__ import annotations

import datetime as _dt
import json
from html import escape
from typing import Any

from .errors import RayDevError


def _amount(value: float | None) -> str:
    if value is None:
        return "?"
    if value >= 1024**3 and value == int(value):  # memory and object store are in bytes
        return f"{value / 1024**3:.1f} GiB"
    return f"{value:g}"


def _when(seconds: float | None) -> str:
    if not seconds:
        return ""
    return _dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else \
        f"{seconds:.1f}s"


def table_text(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def table_html(headers: list[str], rows: list[list[str]], caption: str = "") -> str:
    head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{escape(c)}</td>"
                                     for c in row) + "</tr>" for row in rows)
    cap = f"<caption style='text-align:left'>{escape(caption)}</caption>" if caption else ""
    return f"<table class='jp-RayDev-table'>{cap}<thead><tr>{head}</tr></thead>" \
           f"<tbody>{body}</tbody></table>"


# --- cluster ---------------------------------------------------------------------------------

def _cluster_parts(summary: dict[str, Any]) -> tuple[list[tuple[str, str]], list[list[str]],
                                                       list[list[str]]]:
    facts = [
        ("Ray", str(summary.get("ray_version") or "?")),
        ("Python", str(summary.get("python_version") or "?")),
        ("Dashboard", str(summary.get("dashboard_url") or summary.get("address") or "")),
        ("Nodes", f"{summary.get('alive_nodes', 0)} alive, {summary.get('dead_nodes', 0)} dead"),
        ("Auth", str(summary.get("auth_mode") or "none")),
    ]
    kuberay = summary.get("kuberay")
    if kuberay:
        facts.append(("KubeRay", f"{kuberay.get('namespace', '?')}/{kuberay.get('name', '?')}"))
    totals = [[name, _amount(v.get("available")), _amount(v.get("total"))]
              for name, v in sorted((summary.get("totals") or {}).items())]
    nodes = [[n.get("hostname") or n.get("node_ip") or "", n.get("node_ip") or "",
              "head" if n.get("is_head") else "worker", n.get("state") or "",
              ", ".join(f"{k}={_amount(v)}" for k, v in sorted(
                  (n.get("resources_total") or {}).items()) if k in ("CPU", "GPU"))]
             for n in summary.get("nodes") or []]
    return facts, totals, nodes


def cluster_text(summary: dict[str, Any]) -> str:
    facts, totals, nodes = _cluster_parts(summary)
    width = max(len(k) for k, _ in facts)
    out = [f"{k.ljust(width)}  {v}" for k, v in facts]
    out += ["", table_text(["Resource", "Available", "Total"], totals)]
    out += ["", table_text(["Node", "IP", "Role", "State", "Resources"], nodes)]
    return "\n".join(out)


def cluster_html(summary: dict[str, Any]) -> str:
    facts, totals, nodes = _cluster_parts(summary)
    facts_rows = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th>"
                         f"<td style='text-align:left'>{escape(v)}</td></tr>" for k, v in facts)
    return (f"<div class='jp-RayDev-status'><table>{facts_rows}</table>"
            + table_html(["Resource", "Available", "Total"], totals, "Resources")
            + table_html(["Node", "IP", "Role", "State", "Resources"], nodes, "Nodes")
            + "</div>")


# --- jobs ------------------------------------------------------------------------------------

JOB_HEADERS = ["Submission id", "Status", "File", "Started", "Duration", "Message"]


def _job_row(job: dict[str, Any]) -> list[str]:
    message = job.get("error_summary") or job.get("message") or ""
    return [job.get("submission_id") or "", job.get("status") or "GONE",
            job.get("file") or job.get("entrypoint") or "", _when(job.get("start_time")),
            _duration(job.get("duration")), message.splitlines()[0] if message else ""]


def jobs_text(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "No jobs."
    return table_text(JOB_HEADERS, [_job_row(j) for j in jobs])


def jobs_html(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "<p>No jobs.</p>"
    return table_html(JOB_HEADERS, [_job_row(j) for j in jobs])


def job_line(job: dict[str, Any]) -> str:
    status = job.get("status") or "unknown to Ray"
    summary = job.get("error_summary")
    return f"Job {job.get('submission_id')}: {status}" + (f" ({summary})" if summary else "")


def stop_line(job: dict[str, Any]) -> str:
    """After a stop request: Ray stops a job asynchronously, so it may still show RUNNING."""
    if job.get("status") in ("STOPPED", "SUCCEEDED", "FAILED"):
        return job_line(job)
    return f"Stopping Ray job {job.get('submission_id')} (was {job.get('status')})."


def warnings_text(doc: dict[str, Any]) -> list[str]:
    return [f"warning: {w.get('message')}" for w in doc.get("warnings") or []]


# --- storage ---------------------------------------------------------------------------------

def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""


def _entry_row(entry: dict[str, Any]) -> list[str]:
    name = entry["name"] + ("/" if entry.get("kind") == "directory" else "")
    hint = entry.get("ray_hint") or ""
    return [name, _size(entry.get("size")) if entry.get("kind") == "file" else "",
            _when((entry.get("modified") or 0) / 1000), hint]  # storage times are in ms


def listing_text(page: dict[str, Any]) -> str:
    rows = [_entry_row(e) for e in page.get("entries") or []]
    out = table_text(["Name", "Size", "Modified", "Ray"], rows) if rows else "(empty)"
    if page.get("next_cursor"):
        out += f"\n... more entries: ask for the next page (cursor {page['next_cursor']})"
    return out


def listing_html(page: dict[str, Any]) -> str:
    rows = [_entry_row(e) for e in page.get("entries") or []]
    where = f"{page.get('root')}:{page.get('path') or '/'}"
    more = "<p>More entries not shown.</p>" if page.get("next_cursor") else ""
    return table_html(["Name", "Size", "Modified", "Ray"], rows, where) + more


def roots_text(roots: list[dict[str, Any]]) -> str:
    if not roots:
        return "No storage roots are configured (c.RayDev.storage_roots)."
    return table_text(["Root", "URL", "Read-only"],
                      [[r["name"], r["url"], "yes" if r.get("read_only") else ""] for r in roots])


def preview_text(preview: dict[str, Any]) -> str:
    head = f"{preview.get('uri')} ({_size(preview.get('size'))}, {preview.get('mime')})"
    if preview.get("columns") is not None:
        columns = [str(c.get("name", c)) if isinstance(c, dict) else str(c)
                   for c in preview["columns"]]
        rows = [[_cell(v) for v in row] for row in preview.get("rows") or []]
        body = table_text(columns, rows)
    elif "text" in preview:
        body = preview["text"] + (f"\n...\n{preview['tail']}" if preview.get("tail") else "")
    elif preview.get("message"):
        body = preview["message"]
    else:
        shown = {k: v for k, v in preview.items() if k not in ("root", "path", "uri", "mime",
                                                                 "size", "name", "modified")}
        body = json.dumps(shown, indent=2, default=str)[:4000]
    if preview.get("truncated"):
        body += "\n... (truncated)"
    return f"{head}\n{body}"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# --- runtime_env and ray.init ----------------------------------------------------------------

def runtime_env_text(runtime_env: dict[str, Any]) -> str:
    if not runtime_env:
        return "(empty runtime_env: Ray's defaults)"
    import yaml  # a jupyter_server dependency already

    return yaml.safe_dump(runtime_env, sort_keys=False).rstrip()


def env_file_text(doc: dict[str, Any]) -> str:
    """A project's runtime_env.yaml as the runtime_env core reads it (comments kept)."""
    if not doc.get("exists"):
        return f"{doc.get('path')} does not exist: jobs and ray.init use Ray's defaults."
    return f"# {doc.get('path')}\n{(doc.get('yaml') or '').rstrip()}"


def _findings(kind: str, findings: list[dict[str, Any]]) -> list[str]:
    return [f"{kind} [{f.get('path') or '(whole file)'}]: {f.get('message')}"
            + (f" Fix: {f['fix']}" if f.get("fix") else "") for f in findings]


def verdict_text(verdict: dict[str, Any], path: str) -> str:
    lines = [f"{path} is valid for Ray." if verdict.get("valid") else f"{path} is not valid:"]
    lines += _findings("error", verdict.get("errors") or [])
    lines += _findings("warning", verdict.get("warnings") or [])
    if not verdict.get("ray_checked"):
        lines.append("(Ray is not installed here: checked against the schema only.)")
    return "\n".join(lines)


def saved_text(doc: dict[str, Any], change: str) -> str:
    lines = [f"Saved {doc.get('path')}: {change}"]
    lines += _findings("warning", doc.get("warnings") or [])
    return "\n".join(lines)


def init_text(applied: dict[str, Any]) -> str:
    verb = "Already initialised" if applied.get("already") else "Initialised"
    env = runtime_env_text(applied.get("runtime_env") or {})
    project = applied.get("project") or "(the Jupyter root)"
    return (f"{verb} Ray at {applied['address']} with the runtime_env of project "
            f"{project}:\n{env}")


# --- errors ----------------------------------------------------------------------------------

def error_text(err: RayDevError) -> str:
    field = err.details.get("field")
    where = f" [{field}]" if field else ""
    return f"Error{where}: {err.message}"


# --- promote -------------------------------------------------------------------------------------

_EXCLUDED_SHOWN = 20


def _sentence(warning: Any) -> str:
    """A warning as the sentence it carries (the core's are {kind, message, ...})."""
    if isinstance(warning, dict):
        return str(warning.get("message") or warning.get("kind") or warning)
    return str(warning)


def promote_plan_text(plan: dict[str, Any]) -> str:
    """The review a user checks before building: what goes into the image, and what differs."""
    entry = plan["entrypoint"]
    reqs = plan["requirements"]
    lines = [
        (f"Promote {plan['project'] or '/'}: {entry['source']} -> "
         f"{plan['image'] or '(no target image: give --image or set c.RayDev.promote_registry)'}"),
        f"  base image   {plan['base_image']}",
        f"  command      {entry['command']}",
        (f"  files        {plan['files']['count']} ({_size(plan['files']['bytes'])}), "
         f"{len(plan['files']['excluded'])} excluded"),
        f"  inputs hash  {plan['inputs_hash'][:16]}",
    ]
    shape = plan.get("shape_source") or {}
    if shape.get("source") == "raycluster":
        lines.append(f"  shape        from the RayCluster {shape.get('raycluster')} "
                     f"({len(shape.get('dropped') or [])} dev-only parts left out)")
    elif shape:
        lines.append(f"  shape        from Ray's view of its nodes: {shape.get('reason')}")
        for n in shape.get("numbers") or []:
            flag = "" if n.get("used") else " (a machine total: left out, set it yourself)"
            lines.append(f"    {n['group']} {n['resource']} {n['value']}{flag}: "
                         f"from {n['from']}")
    excluded = plan["files"]["excluded"]
    if excluded:
        shown = ", ".join(excluded[:_EXCLUDED_SHOWN])
        more = f" and {len(excluded) - _EXCLUDED_SHOWN} more" \
            if len(excluded) > _EXCLUDED_SHOWN else ""
        from .promote.collect import PROMOTE_EXCLUDES

        lines.append(f"  excluded     {shown}{more} (ignore rules: .gitignore, .rayignore, "
                     f".dockerignore, Ray's defaults, {', '.join(PROMOTE_EXCLUDES)})")
    lines += [f"  warning: {_sentence(w)}" for w in entry.get("warnings") or []]
    for builder in plan.get("builders") or []:
        state = ("available" if builder.get("available")
                 else f"not available: {builder.get('reason')}")
        lines.append(f"  builder {builder['name']}: {state}")
    build_path = plan.get("build_path")
    if build_path:
        lines.append(f"  build path   {build_path_line(build_path)}")
    source = plan.get("source") or {}
    if source:
        lines.append(f"  versions     from {source.get('description')}")
    expected = (plan.get("parity") or {}).get("expected")
    if expected:
        lines.append(f"  parity       the image is checked against {expected['source']}; "
                     f"imports {', '.join(expected['modules']) or 'none'} (from "
                     f"{expected['modules_source']})")
    lines += [f"  warning: {w['message']}" for w in plan.get("warnings") or []]
    pinned = reqs.get("requirements") or ["(none)"]
    lines += ["", f"requirements.txt (from {reqs.get('source')}, lock "
                  f"{(plan.get('lock_hash') or '')[:12]}):", *(f"  {r}" for r in pinned)]
    for change in reqs.get("changes") or []:
        origin = change.get("from") or {}
        if change.get("how") == "installed":
            where = (f"run {origin['run_id']}" if origin.get("run_id")
                     else "this server's Python")
            never = " (declared, never imported by the run)" if origin.get("imported") is \
                False else ""
            lines.append(f"  {change.get('pinned')}: from {where}{never}")
    for item in reqs.get("unpinned") or []:
        lines.append(f"  not pinned: {item.get('spec')}: {item.get('reason')}")
    for item in plan.get("undeclared") or []:
        lines.append(f"  imported, not declared: {item['requirement']} (modules "
                     f"{', '.join(item['modules'])}): add it to runtime_env.yaml")
    serve = plan.get("serve_app")
    if plan.get("variant") == "rayservice" and serve:
        lines.append(f"  serves       {', '.join(serve['import_paths'])} "
                     f"(from {serve['source']})")
    schedule = plan.get("schedule")
    if schedule:
        suspended = " (created suspended)" if schedule.get("suspend") else ""
        lines += ["", f"RayCronJob schedule {schedule['schedule']!r} in "
                      f"{schedule['zone_shown']}{suspended}; next runs:",
                  *(f"  {t}" for t in schedule["next_runs"])]
    logs = plan.get("logs") or {}
    if logs.get("message"):
        lines += ["", f"logs: {logs['message']}"]
    if logs.get("error"):
        lines.append(f"  history server not usable: {logs['error']}")
    for name, errors in (plan.get("manifest_errors") or {}).items():
        lines += [f"  manifest {name}: {e}" for e in errors]
    lines += ["", "Dockerfile:", *(f"  {line}" for line in plan["dockerfile"].splitlines())]
    return "\n".join(lines)


def build_path_line(build_path: dict[str, Any]) -> str:
    """Which way the image is (or was) made, and why."""
    how = ("the code layer on the earlier image, no builder"
           if build_path["path"] == "code_layer" else "a full build")
    return f"{how}: {build_path['reason']}"


def promotion_line(promotion: dict[str, Any]) -> str:
    image = promotion.get("image") or ""
    # a held-back code-layer image waits in the registry by digest, untagged: no reference
    # to deploy until it is pushed
    digest = promotion.get("digest") if promotion.get("status") != "blocked" else None
    where = f"{image}@{digest}" if digest else image
    error = f": {promotion['error']}" if promotion.get("error") else ""
    parity = (promotion.get("parity") or {}).get("status")
    check = f" (parity {parity})" if parity else ""
    if promotion.get("overrides"):
        check += " (pushed anyway: the override is recorded)"
    if (promotion.get("build_path") or {}).get("path") == "code_layer":
        check += " (code layer, no builder)"
    run = promotion.get("source_run")
    lock = (promotion.get("lock_hash") or "")[:12]
    provenance = (f" (pins from run {run}" if run else " (pins from the server's Python") + \
        (f", lock {lock})" if lock else ")")
    return (f"Promotion {promotion['id']} {promotion['status']}{check} {where}".rstrip()
            + provenance + error)


def provenance_lines(provenance: dict[str, Any] | None) -> list[str]:
    """A promotion's provenance (``PromotionRecord.provenance``) as the CLI and the magic
    print it: the source run, the lock, the parity check, every override."""
    if not provenance:
        return []
    run = provenance.get("source_run")
    if run:
        when = f" (started {_when(run['time'])})" if run.get("time") else ""
        lines = [f"  source run   {run['id']}{when}"]
    else:
        lines = ["  source run   none: the pins come from this server's Python"]
    lock = provenance.get("lock") or {}
    requirements = lock.get("requirements") or []
    lines.append(f"  lock         sha256 {lock.get('sha256') or '?'}, "
                 f"{len(requirements)} pinned line{'' if len(requirements) == 1 else 's'}")
    lines += [f"    {r}" for r in requirements]
    parity = provenance.get("parity")
    if parity:
        status = parity.get("status")
        against = f" against {parity['source']}" if parity.get("source") else ""
        lines.append(f"  parity       {status}{against}")
        lines += [f"    {m['message']}" for m in parity.get("mismatches") or []]
        if parity.get("reason"):
            lines.append(f"    {parity['reason']}")
    else:
        lines.append("  parity       not checked")
    for override in provenance.get("overrides") or []:
        who = f" by {override['user']}" if override.get("user") else ""
        lines.append(f"  override     pushed anyway{who} at {override.get('at')} although "
                     f"the parity check {override.get('parity_status')}")
    return lines


def promotion_text(promotion: dict[str, Any]) -> str:
    """The end of a build or push: its line, then its provenance."""
    return "\n".join([promotion_line(promotion),
                      *provenance_lines(promotion.get("provenance"))])