"""Runs INSIDE a built image (``python -c <this file's text> <modules as JSON>``): what the
image really has, as one JSON line after ``MARKER``.

Self-contained on purpose: only the standard library of whatever Python the image has
(3.8 and later), nothing of jupyter_ray_dev, so the image needs nothing extra to be
checked. It never compares: the server does, against the environment the run used.

What it reports: the interpreter, Ray's version (from its metadata: importing Ray just to
read a version would take seconds), every installed distribution, ``pip check`` (in a child
process, while the imports run), and an import of each module asked for. stderr joins
stdout, so everything goes out through one pipe in the order it was written, and the JSON
line is the last word: a runner that copies two pipes into one (buildah run) could put
stderr text inside the report, which Python writes in 8 KiB pieces.
"""

import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback

MARKER = "RAY_DEV_PARITY "


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _distributions():
    """{canonical name: version} of the first of each name on sys.path (what imports get);
    the names found more than once, which pip may not see the same way."""
    from importlib import metadata

    found, shadowed = {}, []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = _canonical(name)
        if key in found:
            shadowed.append(key)
            continue
        found[key] = dist.version
    return found, sorted(set(shadowed))


def _start_pip_check():
    """``pip check`` in a child process, started first: it runs while the imports do."""
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        return {"ran": False, "ok": None, "lines": [], "error": "pip is not installed in the "
                "image, so `pip check` could not run."}
    env = dict(os.environ, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    try:
        return subprocess.Popen([sys.executable, "-m", "pip", "check"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    except OSError as err:
        return {"ran": False, "ok": None, "lines": [], "error": "pip check: %s" % err}


def _pip_check_result(started):
    if isinstance(started, dict):
        return started
    try:
        out, _ = started.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        started.kill()
        started.communicate()
        return {"ran": False, "ok": None, "lines": [], "error": "pip check did not finish "
                "within 300 s."}
    lines = [ln for ln in out.decode("utf-8", "replace").splitlines() if ln.strip()]
    return {"ran": True, "ok": started.returncode == 0, "lines": lines[:200], "error": None}


def _import_all(modules):
    import importlib

    results = []
    for name in modules:
        started = time.perf_counter()
        sys.stderr.write("parity: importing %s\n" % name)
        sys.stderr.flush()
        try:
            importlib.import_module(name)
            error = None
        except BaseException as err:  # noqa: BLE001 - SystemExit from a module is a failure too
            lines = traceback.format_exception_only(type(err), err)
            error = "".join(lines).strip()[-2000:]
        results.append({"module": name, "ok": error is None, "error": error,
                        "seconds": round(time.perf_counter() - started, 3)})
    return results


def main(argv):
    sys.stderr.flush()
    os.dup2(1, 2)
    modules = json.loads(argv[1]) if len(argv) > 1 else []
    pip = _start_pip_check()
    from importlib import metadata

    try:
        ray = metadata.version("ray")
    except metadata.PackageNotFoundError:
        ray = None
    dists, shadowed = _distributions()
    report = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation().lower(),
        "executable": sys.executable,
        "ray": ray,
        "distributions": dists,
        "shadowed": shadowed,
    }
    report["imports"] = _import_all(modules)
    sys.stdout.flush()  # what imported code printed, before the report
    report["pip_check"] = _pip_check_result(pip)
    sys.stdout.write(MARKER + json.dumps(report) + "\n")
    sys.stdout.flush()
    # a module's threads or atexit hooks must not change what was reported
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
