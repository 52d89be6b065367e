"""Packages a notebook installed into its kernel's Python (``%pip install``, ``!pip
install``, ``%uv pip install``...) that the project's runtime_env does not declare.

Two halves, one file format:

- **In the kernel** (``activate``), an ``InstallRecorder`` on IPython's ``pre_run_cell`` /
  ``post_run_cell`` events: before a cell it notes the ``*.dist-info`` / ``*.egg-info``
  entries of the kernel's ``sys.path`` folders (a ``stat`` per folder, a listing only when
  a folder changed); after it, if they changed *and* the cell ran a pip/uv install
  command, the distributions that appeared (name, installed version, the command) go into
  ``<folder>/<kernel id>.json``. So an install is attributed to the kernel whose cell did
  it, not to every kernel sharing the Python, and its version is the one installed. An
  uninstall in a later cell drops it again.
- **In the server** (``read_installs``), those files are read back, each kernel's notebook
  taken from the live sessions (a renamed notebook is followed) or from what the kernel
  recorded, and every install the notebook's project declares (a requirement the
  installed version satisfies) or the user dismissed is left out.

The server loads the recorder into each Python kernel it starts (``activation_code``);
nothing here imports IPython. Blocking file work: the server calls it off the loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import site
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FORMAT = 1
DISMISSED_FILE = "dismissed.json"
_RECORDER_ATTR = "_jupyter_ray_dev_install_recorder"
# a cell that runs an installer: %pip / !pip / pip3 / python -m pip / %uv pip / uv add
# (and uninstall: what it removes is no longer the notebook's)
INSTALL_COMMAND = re.compile(
    r"(?:\bpip3?\b[^\n]*\b(?:un)?install\b)|(?:\buv\b[^\n]*\b(?:add|(?:un)?install|sync)\b)")
_META_SUFFIXES = (".dist-info", ".egg-info")
_KERNEL_ID = re.compile(r"^[\w-]{1,100}$")


def canonical(name: str) -> str:
    """PEP 503's normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- in the kernel ------------------------------------------------------------------------------

def watched_dirs(paths: Iterable[str] | None = None) -> list[str]:
    """The folders of ``sys.path`` distributions live in, plus the user site (``pip install
    --user`` creates it when the environment is not writable)."""
    out: list[str] = []
    candidates = list(sys.path if paths is None else paths)
    with contextlib.suppress(Exception):
        candidates.append(site.getusersitepackages())
    for entry in candidates:
        if not entry:
            continue  # the working folder: a notebook's files, not installs
        real = os.path.realpath(entry)
        if real not in out and not real.endswith(".zip"):
            out.append(real)
    return out


def _mtimes(dirs: list[str]) -> tuple[float, ...]:
    out = []
    for d in dirs:
        try:
            out.append(os.stat(d).st_mtime)
        except OSError:
            out.append(-1.0)
    return tuple(out)


def _entries(dirs: list[str]) -> set[str]:
    found: set[str] = set()
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        found.update(os.path.join(d, n) for n in names if n.endswith(_META_SUFFIXES))
    return found


def _metadata(entry: str) -> dict[str, Any] | None:
    """Name, version and where it came from (PEP 610's direct_url.json) of one installed
    distribution's metadata folder."""
    import importlib.metadata as metadata

    dist = metadata.PathDistribution(Path(entry))
    try:
        name, version = dist.metadata["Name"], dist.version
    except Exception:  # noqa: BLE001 - a half-written install is skipped, not fatal
        return None
    if not name or not version:
        return None
    out: dict[str, Any] = {"name": name, "version": version}
    with contextlib.suppress(Exception):
        direct = json.loads(dist.read_text("direct_url.json") or "null")
        if isinstance(direct, dict) and isinstance(direct.get("url"), str):
            # credentials in an index or VCS URL are never kept
            out["url"] = re.sub(r"(?<=://)[^/@\s]+@", "", direct["url"])
    return out


def _command(source: str) -> str:
    for line in source.splitlines():
        if INSTALL_COMMAND.search(line):
            return line.strip()[:300]
    return ""


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class InstallRecorder:
    """One kernel's record of what its cells installed (see the module doc)."""

    def __init__(self, folder: str | Path, kernel_id: str, notebook: str | None = None,
                 paths: list[str] | None = None) -> None:
        self.file = Path(folder) / f"{kernel_id}.json"
        self._paths = paths  # None: the live sys.path
        self._path_key = self._current_path()
        self.dirs = watched_dirs(self._path_key)
        self.record: dict[str, Any] = {
            "format": FORMAT, "kernel_id": kernel_id, "notebook": notebook,
            "python": sys.executable, "installs": {}}
        with contextlib.suppress(Exception):  # a restarted kernel keeps what it recorded
            old = json.loads(self.file.read_text(encoding="utf-8"))
            if old.get("format") == FORMAT and isinstance(old.get("installs"), dict):
                self.record["installs"] = old["installs"]
                self.record["notebook"] = notebook or old.get("notebook")
        self._stamp = _mtimes(self.dirs)
        self._known = _entries(self.dirs)
        self._before: tuple[float, ...] | None = None

    def _current_path(self) -> list[str]:
        return list(sys.path if self._paths is None else self._paths)

    def pre_run_cell(self, info: Any = None) -> None:
        path = self._current_path()
        if path != self._path_key:  # a cell changed sys.path: watch its folders too
            self._path_key, self.dirs = path, watched_dirs(path)
            self._stamp, self._known = _mtimes(self.dirs), _entries(self.dirs)
        stamp = _mtimes(self.dirs)
        if stamp != self._stamp:  # changed between cells (another kernel, a terminal)
            self._stamp, self._known = stamp, _entries(self.dirs)
        self._before = stamp

    def post_run_cell(self, result: Any = None) -> None:
        try:
            self._after(result)
        except Exception:  # noqa: BLE001 - recording must never disturb the user's cell
            pass

    def _after(self, result: Any) -> None:
        before, self._before = self._before, None
        stamp = _mtimes(self.dirs)
        if before is None or stamp == before:
            return
        entries = _entries(self.dirs)
        added, removed = entries - self._known, self._known - entries
        self._stamp, self._known = stamp, entries
        info = getattr(result, "info", None)
        source = getattr(info, "raw_cell", None) or ""
        if not INSTALL_COMMAND.search(source):
            return  # the change was not this cell's install
        self.apply(added, removed, _command(source))

    def apply(self, added: Iterable[str], removed: Iterable[str], command: str) -> None:
        installs = self.record["installs"]
        gone = {canonical(n) for n in (_name_of(e) for e in removed) if n}
        now = time.time()
        for entry in sorted(added):
            meta = _metadata(entry)
            if meta is None:
                continue
            key = canonical(meta["name"])
            gone.discard(key)
            installs[key] = {**meta, "command": command, "installed": now, "location": entry}
        for key in gone:
            installs.pop(key, None)  # uninstalled (not upgraded): no longer in the notebook
        self.file.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.file, self.record)

    def catch_up(self, sources: Iterable[str], since: float) -> None:
        """Cells that ran before the recorder was loaded (a notebook run at once can beat the
        server's request): the distributions installed since the kernel started, when one
        of those cells ran an install command."""
        commands = [_command(src) for src in sources if src and INSTALL_COMMAND.search(src)]
        if not commands:
            return
        recent = []
        for entry in self._known:
            with contextlib.suppress(OSError):
                if os.stat(entry).st_mtime >= since:
                    recent.append(entry)
        if recent:
            self.apply(recent, (), commands[-1])


def _name_of(entry: str) -> str | None:
    base = os.path.basename(entry)
    for suffix in _META_SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)].split("-", 1)[0] or None
    return None


def activate(shell: Any, folder: str, kernel_id: str, notebook: str | None = None,
             started: float | None = None) -> bool:
    """Record this kernel's installs (idempotent: a second call replaces the first);
    ``started``: when the kernel started, to catch up with cells that ran before. False
    when ``shell`` is not an IPython shell."""
    events = getattr(shell, "events", None)
    if events is None or not _KERNEL_ID.match(kernel_id):
        return False
    old = getattr(shell, _RECORDER_ATTR, None)
    if old is not None:
        for name, fn in (("pre_run_cell", old.pre_run_cell), ("post_run_cell", old.post_run_cell)):
            with contextlib.suppress(ValueError):
                events.unregister(name, fn)
    recorder = InstallRecorder(folder, kernel_id,
                               notebook or os.environ.get("JPY_SESSION_NAME"))
    events.register("pre_run_cell", recorder.pre_run_cell)
    events.register("post_run_cell", recorder.post_run_cell)
    setattr(shell, _RECORDER_ATTR, recorder)
    if started is not None and old is None:
        with contextlib.suppress(Exception):
            recorder.catch_up(getattr(shell.history_manager, "input_hist_raw", []), started)
    return True


def activation_code(folder: str | Path, kernel_id: str, started: float) -> str:
    """What the server runs (silently) in a Python kernel it started at ``started``: load
    the recorder if this package is importable there; say nothing either way."""
    return ("try:\n"
            "    __import__('jupyter_ray_dev.runtime_env.notebook_installs', fromlist=['_'])"
            f".activate(get_ipython(), {str(folder)!r}, {kernel_id!r}, None, {started!r})\n"
            "except Exception:\n"
            "    pass\n")


# --- in the server ------------------------------------------------------------------------------

def default_folder() -> Path:
    """Where kernels write their records: <jupyter data dir>/ray_dev/notebook_installs."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "ray_dev" / "notebook_installs"


def install_id(notebook: str, name: str, version: str) -> str:
    """An install's id: its notebook, name and version (a dismissal holds for that notebook
    until it installs another version)."""
    return hashlib.sha256(f"{notebook}\0{canonical(name)}\0{version}".encode()).hexdigest()[:16]


def read_records(folder: Path) -> list[dict[str, Any]]:
    out = []
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return []
    for path in files:
        if path.name == DISMISSED_FILE:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a kernel mid-write (renames are atomic) or a stray file
        if isinstance(data, dict) and data.get("format") == FORMAT \
                and isinstance(data.get("installs"), dict):
            out.append(data)
    return out


def read_dismissed(folder: Path) -> set[str]:
    try:
        data = json.loads((folder / DISMISSED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {x for x in data if isinstance(x, str)} if isinstance(data, list) else set()


def dismiss(folder: Path, ids: Iterable[str]) -> set[str]:
    dismissed = read_dismissed(folder) | {i for i in ids if isinstance(i, str)}
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / DISMISSED_FILE, sorted(dismissed))
    return dismissed


def declared_requirements(env: Mapping[str, Any], project: Path) -> list[str]:
    """The pip (or uv) requirements of a runtime_env (a requirements file read from the
    project); [] when it declares none or they cannot be read."""
    value = env.get("pip", env.get("uv"))
    if isinstance(value, Mapping):
        value = value.get("packages")
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() else project / value
        try:
            value = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
    if not isinstance(value, list):
        return []
    return [ln for ln in (str(x).split(" #")[0].strip() for x in value)
            if ln and not ln.startswith(("#", "-"))]


def declaration(requirements: list[str], name: str, version: str) -> tuple[bool, str | None]:
    """(whether the requirements cover ``name`` at ``version``, the requirement naming it)."""
    from packaging.requirements import InvalidRequirement, Requirement

    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if canonical(req.name) != canonical(name):
            continue
        if req.url or not req.specifier:
            return True, text
        return req.specifier.contains(version, prereleases=True), text
    return False, None


def still_installed(item: Mapping[str, Any]) -> bool:
    """Whether the install is still there (a pod restart, a new image or a removed
    environment takes it away, while the record, under the data dir, may stay)."""
    location = item.get("location")
    return not isinstance(location, str) or os.path.isdir(location)


def sessions_by_kernel(sessions: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """kernel id -> notebook API path, from jupyter-server's session list."""
    out = {}
    for s in sessions:
        kernel = s.get("kernel") or {}
        if isinstance(kernel, Mapping) and kernel.get("id") and isinstance(s.get("path"), str):
            out[str(kernel["id"])] = s["path"]
    return out


def notebook_path(record: Mapping[str, Any], root: Path,
                  sessions: Mapping[str, str]) -> Path | None:
    """The real path of the record's notebook: the live session's (renames followed), else
    the one the kernel started with."""
    live = sessions.get(str(record.get("kernel_id")))
    if live:
        return (root / live.lstrip("/")).resolve()
    recorded = record.get("notebook")
    if isinstance(recorded, str) and recorded:
        path = Path(recorded)
        return (path if path.is_absolute() else root / path).resolve()
    return None
