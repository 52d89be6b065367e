"""The parity check of a built image: what it must hold, how the image is asked, and the
diff between the two. Pure logic; the builders run the probe (``parity_probe.py``) in the
image and hand back its report.

What the image must hold (:class:`ExpectedEnv`) comes from the run the promotion
reproduces (:func:`expected_from_run`) when there is one; else from the pinned lock and the
dev cluster's Python and Ray versions, which the base image was chosen for
(:func:`expected_from_lock`). The modules to import come from the run (what it really
imported) or, without one, from the entrypoint's source (:func:`entrypoint_modules`).
"""

from __future__ import annotations

import ast
import asyncio
import json
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..project.imports import handles_import_error
from .builders.base import CheckUnavailable, keeps_image
from .parity_probe import MARKER

PROBE_FILE = Path(__file__).with_name("parity_probe.py")
# a mismatch blocks the push; a note is shown only
PASSED, FAILED, UNAVAILABLE = "passed", "failed", "unavailable"


def canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


@dataclass(frozen=True)
class RunEnvironment:
    """What a dev run really ran in, as its record gives it (the adapter's input).

    ``distributions`` is every distribution of the run's environment; ``imported`` the
    distributions the run imported from; ``modules`` the top-level modules it imported."""

    run_id: str
    python: str | None
    ray: str | None
    distributions: Mapping[str, str]
    imported: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    when: str | None = None  # the run's start, for the source line


@dataclass(frozen=True)
class ExpectedEnv:
    source: str  # where the expectations came from, said to the user
    where: str  # how a diff line names that source: "the run", "the lock"
    python: str | None  # "3.11.7" (a run) or "3.11" (the base image choice); None: unchecked
    ray: str | None
    ray_where: str  # "the run", "the dev cluster"
    distributions: dict[str, str | None]  # canonical name -> exact version (None: any)
    modules: tuple[str, ...]
    modules_source: str
    source_run: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "source_run": self.source_run, "python": self.python,
                "ray": self.ray, "distributions": dict(sorted(self.distributions.items())),
                "modules": list(self.modules), "modules_source": self.modules_source,
                "notes": list(self.notes)}


def _lock_entries(lines: Iterable[str]) -> tuple[dict[str, str | None], list[str]]:
    """{canonical name: exact version or None} of requirements.txt lines; what was skipped."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    out: dict[str, str | None] = {}
    skipped: list[str] = []
    for line in lines:
        if line.startswith("./"):
            name = PurePosixPath(line).name
            try:
                parsed = parse_wheel_filename(name)[:2] if name.endswith(".whl") \
                    else parse_sdist_filename(name)
            except ValueError:
                skipped.append(f"{line}: its name gives no distribution and version")
                continue
            out[str(parsed[0])] = str(parsed[1])
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            skipped.append(f"{line}: not a requirement")
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue  # not installed where the marker does not hold
        exact = [s.version for s in req.specifier if s.operator in ("==", "===")
                 and "*" not in s.version]
        out[canonical(req.name)] = exact[0] if exact and not req.url else None
    return out, skipped


def expected_from_lock(lock_lines: Iterable[str], ray: str | None, python: str | None,
                       modules: tuple[str, ...], modules_source: str) -> ExpectedEnv:
    """No run to reproduce: the image must hold the pinned lock, and the Ray and Python
    versions of the dev cluster the base image was chosen for."""
    dists, skipped = _lock_entries(lock_lines)
    minor = ".".join(python.split(".")[:2]) if python else None
    notes = [f"Not checked: {s}." for s in skipped]
    if not ray:
        notes.append("The dev cluster's Ray version is unknown: Ray's version is not checked.")
    versions = f"Ray {ray}, Python {minor}" if ray and minor else "Python " + (minor or "?")
    return ExpectedEnv(
        source=f"the pinned lock (requirements.txt) and the dev cluster's {versions}, which "
               "the base image was chosen for: no recorded run",
        where="the lock", python=minor, ray=ray or None, ray_where="the dev cluster",
        distributions=dists, modules=modules, modules_source=modules_source,
        notes=tuple(notes))


def expected_from_run(run: RunEnvironment, lock_lines: Iterable[str],
                      own_modules: Iterable[str] = ()) -> ExpectedEnv:
    """The run's environment: the distributions it imported from and the ones the lock
    pins, at the versions the run had. The rest of the run's environment (on the head's
    own Python: JupyterLab and everything else) is not required of the image. The
    project's ``own_modules`` are not imported in the check: their code would run."""
    versions = {canonical(k): v for k, v in run.distributions.items()}
    locked, _ = _lock_entries(lock_lines)
    wanted = {canonical(n) for n in run.imported} | set(locked)
    dists: dict[str, str | None] = {}
    notes: list[str] = []
    for name in sorted(wanted):
        if name == "ray":
            continue  # checked on its own, against the run's Ray
        if name in versions:
            dists[name] = versions[name]
        else:
            dists[name] = locked.get(name)
            notes.append(f"{name} is in the lock but not in the run's environment.")
    when = f" ({run.when})" if run.when else ""
    return ExpectedEnv(
        source=f"the run {run.run_id}{when}", where="the run", python=run.python,
        ray=run.ray, ray_where="the run", distributions=dists,
        modules=tuple(m for m in run.modules if m not in set(own_modules)),
        modules_source=f"what the run {run.run_id} imported (the project's own modules "
                       "left out)", source_run=run.run_id,
        notes=tuple(notes))


# --- the entrypoint's imports, when no run recorded them ------------------------------------

def own_modules(script: str, files: Iterable[str]) -> set[str]:
    """Top-level names the project's own files provide where the entrypoint runs (its
    folder, and the image's PYTHONPATH: the project's root)."""
    folder = str(PurePosixPath(script).parent)
    prefixes = ("",) if folder == "." else ("", f"{folder}/")
    names: set[str] = set()
    for path in files:
        for prefix in prefixes:
            if path.startswith(prefix):
                first = path[len(prefix):].split("/", 1)
                if len(first) == 2 and first[1].endswith(".py"):
                    names.add(first[0])
                elif first[0].endswith(".py"):
                    names.add(first[0][:-3])
    return names


def _imports(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(top-level modules imported, relative-import targets) outside optional blocks."""
    found: set[str] = set()
    relative: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try) and handles_import_error(node.handlers):
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child)
            return
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                relative.add((node.module or "").split(".")[0])
            elif node.module and node.module != "__future__":
                found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found, relative


def entrypoint_modules(project: Path, script: str, text: str,
                       files: Iterable[str]) -> tuple[tuple[str, ...], str]:
    """The third-party top-level modules the entrypoint imports, following the project's
    own modules it imports (which are not imported in the check: their code would run);
    standard library modules left out. ``(modules, how it was found)``."""
    kept = set(files)
    folder = PurePosixPath(script).parent
    search = [folder, PurePosixPath(".")] if str(folder) != "." else [PurePosixPath(".")]

    def local(name: str, base: PurePosixPath) -> str | None:
        for where in [base, *search]:
            for candidate in (where / f"{name}.py", where / name / "__init__.py"):
                if str(candidate) in kept:
                    return str(candidate)
            if any(f.startswith(f"{where / name}/") for f in kept if f.endswith(".py")):
                return str(where / name)  # a namespace package of the project
        return None

    stdlib = set(sys.stdlib_module_names) | {"__main__"}
    third: set[str] = set()
    unreadable: list[str] = []
    seen: set[str] = set()
    queue: list[tuple[str, str]] = [(script, text)]
    while queue:
        path, source = queue.pop()
        try:
            tree = ast.parse(source, filename=path)
        except SyntaxError as err:
            unreadable.append(f"{path} (line {err.lineno}: {err.msg})")
            continue
        found, relative = _imports(tree)
        base = PurePosixPath(path).parent
        for name in sorted(found | {r for r in relative if r}):
            if name in stdlib:
                continue
            mine = local(name, base)
            if mine is None:
                if name not in relative:
                    third.add(name)
                continue
            if mine in seen or not mine.endswith(".py"):
                continue
            seen.add(mine)
            try:
                queue.append((mine, (project / mine).read_text(encoding="utf-8",
                                                              errors="replace")))
            except OSError:
                unreadable.append(mine)
    how = f"static analysis of {script}'s imports (and the project modules it imports)"
    if unreadable:
        how += f"; could not parse {', '.join(unreadable)}"
    return tuple(sorted(third)), how


# --- running and reading the probe ----------------------------------------------------------

def probe_argv(modules: tuple[str, ...]) -> list[str]:
    """The command run in the image (its ``python``, as the entrypoint's command uses)."""
    return ["python", "-c", PROBE_FILE.read_text(encoding="utf-8"), json.dumps(list(modules))]


def probe_workdir(workdir: str, script: str) -> str:
    """The entrypoint's folder in the image: imports resolve as they will when it runs."""
    return str(PurePosixPath(workdir) / PurePosixPath(script).parent)


def read_report(lines: list[str]) -> dict[str, Any] | None:
    for line in reversed(lines):
        if line.startswith(MARKER):
            try:
                found = json.loads(line[len(MARKER):])
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


@dataclass
class _Diff:
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, name: str, image: str | None, expected: str | None,
            message: str) -> None:
        self.mismatches.append({"kind": kind, "name": name, "image": image,
                                "expected": expected, "message": message})


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def compare(expected: ExpectedEnv, report: Mapping[str, Any]) -> dict[str, Any]:
    """The parity result: ``failed`` with every mismatch (a different or missing Python
    minor, Ray, distribution, a failed import, a ``pip check`` problem of a distribution
    the run used), else ``passed``; extra distributions and notes are informational."""
    diff = _Diff(notes=list(expected.notes))
    where = expected.where
    py = str(report.get("python") or "")
    if expected.python:
        want = expected.python.split(".")
        have = py.split(".")
        if have[:2] != want[:2]:
            diff.add("python", "python", py or None, expected.python,
                     f"Python {py or '?'} in the image, {expected.python} in {where}")
        elif len(want) > 2 and have[:3] != want[:3]:
            diff.notes.append(f"Python {py} in the image, {expected.python} in {where} "
                              "(same minor version: not a mismatch)")
    ray = report.get("ray")
    if expected.ray:
        if not ray:
            diff.add("ray", "ray", None, expected.ray, f"ray is not installed in the image "
                     f"({expected.ray} in {expected.ray_where})")
        elif not _same_version(ray, expected.ray):
            diff.add("ray", "ray", ray, expected.ray,
                     f"ray {ray} in the image, {expected.ray} in {expected.ray_where}")
    have_dists = {canonical(k): v for k, v in (report.get("distributions") or {}).items()}
    for name, version in sorted(expected.distributions.items()):
        got = have_dists.get(name)
        if got is None:
            diff.add("missing", name, None, version, f"{name} is not installed in the image"
                     + (f" ({version} in {where})" if version else f" (in {where})"))
        elif version is not None and not _same_version(got, version):
            diff.add("version", name, got, version,
                     f"{name} {got} in the image, {version} in {where}")
    for item in report.get("imports") or []:
        if not item.get("ok"):
            diff.add("import", item.get("module") or "?", None, None,
                     f"import {item.get('module')} failed in the image: {item.get('error')}")
    pip = report.get("pip_check") or {}
    wanted = set(expected.distributions) | ({"ray"} if expected.ray else set())
    problems = (pip.get("lines") or []) if pip.get("ok") is False else []
    for line in problems:
        owner = canonical(line.split(" ", 1)[0]) if line.strip() else ""
        if owner in wanted:
            diff.add("pip_check", owner, None, None, f"pip check: {line}")
        else:
            diff.notes.append(f"pip check (a distribution {where} did not use): {line}")
    if pip.get("ran") is False and pip.get("error"):
        diff.notes.append(pip["error"])
    extras = [{"name": k, "version": v} for k, v in sorted(have_dists.items())
              if k not in expected.distributions and k != "ray"]
    if report.get("shadowed"):
        diff.notes.append("Installed more than once (the first on sys.path is used): "
                          + ", ".join(report["shadowed"]))
    return {
        "status": FAILED if diff.mismatches else PASSED,
        "expected": expected.to_dict(),
        "image": {"python": py or None, "ray": ray},
        "mismatches": diff.mismatches,
        "extras": extras,
        "notes": diff.notes,
        "imports": list(report.get("imports") or []),
        "pip_check": pip,
    }


def unavailable(expected: ExpectedEnv | None, reason: str,
                could: list[str] | None = None) -> dict[str, Any]:
    """The result of a check that could not run: why, and which builder could."""
    if could:
        reason += f" The {' or '.join(could)} builder can check an image before its push."
    return {"status": UNAVAILABLE, "reason": reason, "could_check": could or [],
            "expected": expected.to_dict() if expected else None, "image": None,
            "mismatches": [], "extras": [], "notes": [], "imports": [], "pip_check": None}


def summary(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a history row and the end of a build carry: the verdict and the diff, without
    the long lists."""
    if result is None:
        return None
    keep = ("status", "reason", "could_check", "mismatches", "notes", "seconds", "builder")
    out = {k: result[k] for k in keep if k in result}
    out["source"] = (result.get("expected") or {}).get("source")
    out["extras"] = len(result.get("extras") or [])
    return out


def describe(result: Mapping[str, Any]) -> list[str]:
    """The result as log lines (the build stream, the CLI)."""
    status = result["status"]
    source = (result.get("expected") or {}).get("source") or "?"
    if status == UNAVAILABLE:
        return [f"Parity check could not run: {result.get('reason')}"]
    seconds = f" in {result['seconds']:.1f} s" if "seconds" in result else ""
    lines = [f"Parity check against {source}: {status.upper()}{seconds}"]
    expected = result.get("expected") or {}
    lines.append(f"  modules imported: {', '.join(expected.get('modules') or []) or 'none'} "
                 f"(from {expected.get('modules_source')})")
    lines += [f"  MISMATCH {m['message']}" for m in result.get("mismatches") or []]
    lines += [f"  note: {n}" for n in result.get("notes") or []]
    extras = result.get("extras") or []
    if extras:
        shown = ", ".join(f"{e['name']} {e['version']}" for e in extras[:12])
        more = f" and {len(extras) - 12} more" if len(extras) > 12 else ""
        lines.append(f"  also in the image (informational): {shown}{more}")
    return lines


async def check_image(builder: Any, image: str, expected: ExpectedEnv, workdir: str,
                      emit: Any, timeout: float, could: list[str] | None = None
                      ) -> dict[str, Any]:
    """Run the probe in the built image with ``builder`` and compare; the result always
    says what happened (a check that could not run is ``unavailable``, with why and, from
    ``could``, which builders can check an image before its push)."""
    async def relay(line: str) -> None:
        if not line.startswith(MARKER):  # the report itself is for the server, not the log
            await emit(line)

    started = time.perf_counter()
    if keeps_image(builder):
        await emit(f"Checking {image} against {expected.source} ...")
    argv = await asyncio.to_thread(probe_argv, expected.modules)  # reads the probe's file
    try:
        run_in_image = getattr(builder, "run_in_image", None)
        if run_in_image is None:  # a site's builder that cannot run what it built
            raise CheckUnavailable(f"The {builder.name} builder cannot run an image to check it.")
        code, lines = await run_in_image(image, argv, workdir, relay, timeout)
    except CheckUnavailable as err:
        result = unavailable(expected, str(err), could)
    else:
        report = read_report(lines)
        if report is None:
            tail = " ".join(ln for ln in lines[-3:] if not ln.startswith(MARKER))[:400]
            result = unavailable(expected, f"The check in the image printed no report (exit "
                                 f"{code}): {tail or 'no output'}")
        else:
            result = compare(expected, report)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["builder"] = builder.name
    for line in describe(result):
        await emit(line)
    return result
