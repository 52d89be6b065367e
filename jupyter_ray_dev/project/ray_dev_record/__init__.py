"""Run a Ray job's driver and record the environment it really ran in.

    python -m ray_dev_record script.py [args...]
    python -m ray_dev_record -m package.module [args...]

Shipped with each job as a ``py_modules`` entry and run by the job's own
interpreter: Ray's per-job virtualenv (``pip``/``uv``), a ``py_executable``, or
the head's Python with ``PYTHONPATH`` installs. That interpreter may not have
jupyter_ray_dev, so this file uses the standard library only and runs on every
Python Ray supports (3.9+).

The script runs in this process (as ``python script.py`` would: same
``__main__``, ``sys.argv`` and ``sys.path[0]``), so what it imported is visible
when it ends. The record is a JSON file in the folder the job's metadata names
(``ray_dev_records``, a folder of the Jupyter server on the head), written when the
driver starts (interpreter, ``sys.path``: cheap) and again when it ends, also on
failure (every installed distribution, the ones the run imported, the expanded
env vars with secrets masked). Nothing here may break the job: a record that
cannot be written is skipped with one line on stderr.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import sys
import time

FORMAT = 1
RECORDS_KEY = "ray_dev_records"  # job metadata: the folder records are written to
JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # Ray gives the driver its metadata here
MASK = "********"
# env var names and values that look like credentials: shared with the server, which masks
# the submitted runtime_env and keeps such values out of images with the same rules
SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|AUTH)",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|sk-[A-Za-z0-9_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.)"
)
_SUBMISSION_ID = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")
_USAGE = "usage: python -m ray_dev_record (script.py | -m module) [args...]"


def secret_reason(name: str, value: object) -> str | None:
    """Why a variable must not be shown or baked (None: it may)."""
    if SECRET_NAME.search(str(name)):
        return "its name looks like a credential"
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return "its value looks like a credential"
    return None


def canonical(name: str) -> str:
    """PEP 503's normalised project name (as ``packaging.utils.canonicalize_name``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- where the record goes -------------------------------------------------------------------

def _job_config() -> dict:
    try:
        config = json.loads(os.environ.get(JOB_CONFIG_ENV) or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def record_path(config: dict) -> str | None:
    """``<records folder>/<submission id>.json``, or None when this run is not recorded:
    no folder in the metadata, or the folder is not on this node (the driver was placed
    on a worker: the server cannot read it there, so nothing is left behind)."""
    metadata = config.get("metadata") or {}
    folder, job = metadata.get(RECORDS_KEY), metadata.get("job_submission_id")
    if not isinstance(folder, str) or not isinstance(job, str) or not _SUBMISSION_ID.match(job):
        return None
    if not os.path.isdir(folder):
        return None
    return os.path.join(folder, f"{job}.json")


def _write(path: str, record: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, sort_keys=True)
        os.replace(tmp, path)  # the server reads a whole record or the previous one
    except Exception as err:  # noqa: BLE001 - a record must never fail the job
        print(f"ray_dev_record: the run record was not written ({err})", file=sys.stderr)
        try:
            os.unlink(tmp)
        except OSError:
            pass


# --- what the environment holds ------------------------------------------------------------

def _stdlib_names() -> frozenset:
    """The standard library's top-level modules: Python's list (3.10+) and whatever was
    loaded from the standard library's folder (3.9, and generated ones such as
    ``_sysconfigdata_*``)."""
    import sysconfig

    paths = sysconfig.get_paths()
    folders = tuple(os.path.realpath(paths[k]) + os.sep for k in ("stdlib", "platstdlib"))
    found = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if "." not in name and where and "-packages" not in where \
                and os.path.realpath(where).startswith(folders):
            found.add(name)
    return frozenset(found)


def _header(text: str) -> tuple:
    """(Name, Version) from a METADATA/PKG-INFO text: only its header is read (the whole
    email parse of every distribution cost the job's end a quarter of a second)."""
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
    return name, version


def _module_keys(dist: object) -> set:
    """The import names a distribution provides: ``pkg`` and, for namespace packages,
    ``ns.sub`` (from RECORD; top_level.txt for older installs)."""
    keys = set()
    top_level = dist.read_text("top_level.txt")  # type: ignore[attr-defined]
    if top_level:
        keys.update(n.strip().replace("/", ".") for n in top_level.split() if n.strip())
    record = dist.read_text("RECORD")  # type: ignore[attr-defined]
    for line in (record or "").splitlines():
        parts = line.split(",", 1)[0].split("/")
        first = parts[0]
        if not first or first.startswith("..") or first.endswith((".dist-info", ".data",
                                                                   ".pth", ".egg-info")):
            continue
        if len(parts) == 1:
            if first.endswith(".py"):
                keys.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                keys.add(first.split(".", 1)[0])
            continue
        keys.add(first)
        second = parts[1]
        if len(parts) > 2 or second.endswith(".py"):
            keys.add(f"{first}.{second[:-3] if second.endswith('.py') else second}")
    return keys


def environment(imported_names: set) -> dict:
    """Every distribution on ``sys.path`` (the first of a name wins, as for imports) and
    which of them provide the modules in ``imported_names``."""
    import importlib.metadata as metadata

    versions: dict = {}
    owners: dict = {}
    for dist in metadata.distributions():
        try:
            text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
            name, version = _header(text)
        except Exception:  # noqa: BLE001 - a broken install must not lose the record
            continue
        if not name or not version:
            continue
        key = canonical(name)
        if key in versions:
            continue  # shadowed by an earlier entry of sys.path: not what imports load
        versions[key] = version
        try:
            provided = _module_keys(dist) & imported_names
        except Exception:  # noqa: BLE001
            provided = set()
        for module in provided:
            owners.setdefault(module, key)
    imported: dict = {}
    for module, key in owners.items():
        imported.setdefault(key, []).append(module)
    return {"distributions": dict(sorted(versions.items())),
            "imported": {k: sorted(v) for k, v in sorted(imported.items())},
            "local_modules": sorted(imported_names - set(owners))}


def imported_modules(preloaded: set) -> set:
    """Top-level modules the run imported beyond the standard library (namespace packages
    as ``ns.sub``, the part a distribution owns)."""
    stdlib = _stdlib_names()
    names = set()
    modules = dict(sys.modules)
    for full in modules:
        top = full.split(".", 1)[0]
        if top in preloaded or top in stdlib or top.startswith("__") or top == __name__:
            continue
        module = modules.get(top)
        if module is None:
            continue
        located = getattr(module, "__file__", None) is not None
        if not located and not hasattr(module, "__path__"):
            continue  # made at run time (Cython's helper modules), nothing installed
        if not located:  # a namespace package: the distribution owns ns.sub
            parts = full.split(".")
            if len(parts) > 1:
                names.add(f"{parts[0]}.{parts[1]}")
        else:
            names.add(top)
    return names


def env_vars(config: dict) -> dict:
    """The runtime_env's env vars as the driver got them (``${VAR}`` expanded by Ray),
    secrets masked."""
    declared = ((config.get("runtime_env") or {}).get("env_vars") or {})
    out = {}
    for name in declared:
        value = os.environ.get(name)
        out[name] = MASK if value is not None and secret_reason(name, value) else value
    return out


# --- running the driver ------------------------------------------------------------------------

def _target(argv: list) -> tuple:
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr)
        raise SystemExit(2)
    if argv[0] == "-m":
        if len(argv) < 2:
            print(_USAGE, file=sys.stderr)
            raise SystemExit(2)
        return "module", argv[1], argv[2:]
    return "path", argv[0], argv[1:]


def _run(kind: str, target: str, args: list) -> None:
    if kind == "module":
        sys.argv = [target, *args]  # run_module sets argv[0] to the module's file
        # `python -m` keeps the current folder first on sys.path, as here
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target, *args]
        sys.path[0] = os.path.dirname(os.path.abspath(target))  # as `python script.py`
        runpy.run_path(target, run_name="__main__")


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def _user_traceback(tb: object) -> object:
    """The traceback from the user's first frame: this launcher and runpy are not theirs."""
    mine = {os.path.abspath(__file__), os.path.abspath(runpy.__file__), "<frozen runpy>"}
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename  # type: ignore[attr-defined]
        if name not in mine and os.path.abspath(name) not in mine:
            break
        tb = tb.tb_next  # type: ignore[attr-defined]
    return tb


def main(argv: list | None = None) -> None:
    kind, target, args = _target(sys.argv[1:] if argv is None else argv)
    config = _job_config()
    path = record_path(config)
    record: dict | None = None
    preloaded = {name.split(".", 1)[0] for name in sys.modules}
    if path is not None:
        record = {
            "format": FORMAT, "phase": "started",
            "submission_id": (config.get("metadata") or {}).get("job_submission_id"),
            "started": time.time(), "pid": os.getpid(),
            "python": {"executable": sys.executable,
                       "version": ".".join(str(p) for p in sys.version_info[:3]),
                       "implementation": sys.implementation.name},
            "cwd": os.getcwd(), "target": [kind, target, *args],
            "sys_path": [p for p in sys.path if p],
        }
        _write(path, record)
    code, error = 0, None
    try:
        _run(kind, target, args)
    except SystemExit as exc:
        code = _exit_code(exc)
        raise
    except KeyboardInterrupt:
        code, error = 130, "KeyboardInterrupt"
        raise
    except Exception as exc:  # noqa: BLE001 - reported as Python would, then exit 1
        code = 1
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
        trimmed = exc.with_traceback(_user_traceback(exc.__traceback__))  # type: ignore[arg-type]
        sys.excepthook(type(exc), trimmed, trimmed.__traceback__)
    finally:
        if record is not None and path is not None:
            begun = time.perf_counter()
            try:
                found = environment(imported_modules(preloaded))
            except Exception as err:  # noqa: BLE001
                found = {"environment_error": f"{type(err).__name__}: {err}"}
            record.update(found)
            record.update({
                "phase": "finished", "finished": time.time(), "exit_code": code,
                "error": error, "env_vars": env_vars(config),
                "record_seconds": round(time.perf_counter() - begun, 4),
            })
            _write(path, record)
    if code:
        raise SystemExit(code)
