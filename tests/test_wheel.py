"""The wheel as users get it: ``make dist`` builds the sdist, then the wheel from the sdist
(as the extension template releases); this checks that a wheel built straight from the
tree holds the same files byte for byte (so the sdist misses nothing), what the wheel
holds, and that the clean virtualenv the Galata smoke set runs against
(``make ui-test-wheel``) has both extensions from the wheel and nothing from this tree."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy_fixtures import REPO, WHEEL_VENV, built

pytestmark = pytest.mark.wheel

LABEXT = "share/jupyter/labextensions/jupyter-ray-dev"


def _record(wheel: Path) -> dict[str, tuple[str, str]]:
    """path -> (hash, size) from the wheel's RECORD, which hashes every other file."""
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
        rows = list(csv.reader(io.StringIO(zf.read(name).decode())))
        assert sorted(zf.namelist()) == sorted(r[0] for r in rows)
    return {path: (digest, size) for path, digest, size in rows if path != name}


def test_the_sdist_builds_the_same_wheel_as_the_tree(wheel_file, tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir",
                    str(tmp_path), str(REPO)], check=True, capture_output=True)
    [from_tree] = tmp_path.glob("jupyter_ray_dev-*.whl")
    assert from_tree.name == wheel_file.name
    ours, theirs = _record(wheel_file), _record(from_tree)
    assert sorted(set(ours) ^ set(theirs)) == [], "files only in one wheel (left: from the " \
        "sdist); a frontend rebuilt since `make dist` differs too: run `make dist`"
    assert {p for p in ours if ours[p] != theirs[p]} == set()


def test_the_wheel_holds_the_built_frontend_and_the_server_config(wheel_file):
    names = set(_record(wheel_file))
    data = f"{wheel_file.name.split('-py3')[0]}.data/data"
    for expected in (f"{LABEXT}/package.json", f"{LABEXT}/install.json",
                     "etc/jupyter/jupyter_server_config.d/jupyter_ray_dev.json"):
        assert f"{data}/{expected}" in names, expected
    static = [n for n in names if n.startswith(f"{data}/{LABEXT}/static/")]
    assert any("remoteEntry." in n for n in static)
    # the production build: no source maps
    assert not [n for n in static if n.endswith(".map")]
    assert "jupyter_ray_dev/openapi.json" in names
    assert not [n for n in names if n.startswith(("tests/", "src/", "ui-tests/"))
                or "node_modules" in n]
    with zipfile.ZipFile(wheel_file) as zf:
        config = json.loads(zf.read(f"{data}/etc/jupyter/jupyter_server_config.d/"
                                    "jupyter_ray_dev.json"))
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_ray_dev": True}}}


def _in_venv(*args: str) -> str:
    python = built(WHEEL_VENV / "bin" / "python", "deploy-test")
    # from an empty folder with a clean environment: nothing of this tree on the path
    out = subprocess.run([str(python), *args], capture_output=True, text=True, cwd="/",
                         env={"PATH": f"{WHEEL_VENV / 'bin'}:/usr/bin:/bin", "HOME": "/tmp"})
    assert out.returncode == 0, out.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # jupyter's colours


def test_the_wheel_venv_has_both_extensions_from_the_wheel():
    package = Path(_in_venv("-c", "import jupyter_ray_dev; print(jupyter_ray_dev.__file__)")
                   .strip())
    assert package.is_relative_to(WHEEL_VENV)
    assert not package.is_relative_to(REPO / "jupyter_ray_dev")
    dist_info = json.loads(_in_venv("-c", "import json, importlib.metadata as m; "
                                    "d = m.distribution('jupyter_ray_dev'); "
                                    "print(json.dumps(d.read_text('direct_url.json')))"))
    assert dist_info is None or "editable" not in dist_info  # a wheel install, not -e

    labext = _in_venv("-m", "jupyter", "labextension", "list")
    [line] = [ln for ln in labext.splitlines() if "jupyter-ray-dev" in ln]
    assert "enabled" in line and "OK" in line and "(python, jupyter_ray_dev)" in line
    installed = WHEEL_VENV / LABEXT
    assert (installed / "package.json").is_file() and not installed.is_symlink()
    assert str(WHEEL_VENV / "share" / "jupyter" / "labextensions") in labext

    server = _in_venv("-m", "jupyter", "server", "extension", "list")
    assert "jupyter_ray_dev enabled" in " ".join(server.split())
    assert any("jupyter_ray_dev" in ln and "OK" in ln for ln in server.splitlines())
