"""The frontend's translations, with jupyterlab-translate (JupyterLab's own tool).

    python scripts/i18n.py          # re-extract, merge into each .po, compile .mo and .json
    python scripts/i18n.py extract DIR   # only write DIR/jupyter_ray_dev.pot

jupyterlab-translate takes the strings of the `trans.__` / `_n` / `_p` calls in src/
(gettext-extractor under the hood) and the titles and descriptions of schema/*.json, merges
them into `jupyter_ray_dev/locale/<locale>/LC_MESSAGES/jupyter_ray_dev.po` (new strings
empty, changed ones fuzzy) and compiles each .po to the .mo and to the .json that
JupyterLab's translations API serves through the `jupyterlab.locale` entry point.

It works on a package folder and walks all of it, so it runs on a staging copy of what holds
strings (src/ without the tests, schema/, package.json) whose `jupyter_ray_dev/locale` is a
link to the real one: on the repository it would also walk .venv and node_modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "jupyter_ray_dev"
LOCALE_DIR = ROOT / DOMAIN / "locale"
LOCALES = ("zh_CN",)


def _env() -> dict[str, str]:
    # jupyterlab-translate calls `gettext-extract` and `pybabel` by name: this venv's
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _translate(stage: Path, *args: str) -> None:
    subprocess.run(
        [Path(sys.executable).parent / "jupyterlab-translate", *args],
        cwd=stage,
        env=_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _stage(tmp: Path, locale_dir: Path) -> Path:
    stage = tmp / "stage"
    shutil.copytree(ROOT / "src", stage / "src", ignore=shutil.ignore_patterns("__tests__"))
    shutil.copytree(ROOT / "schema", stage / "schema")
    shutil.copy(ROOT / "package.json", stage / "package.json")
    # the catalog's version: jupyterlab-translate reads <project>/package.json
    (stage / DOMAIN).mkdir()
    shutil.copy(ROOT / "package.json", stage / DOMAIN / "package.json")
    locale_dir.mkdir(parents=True, exist_ok=True)
    (stage / DOMAIN / "locale").symlink_to(locale_dir, target_is_directory=True)
    return stage


def extract(out_dir: Path) -> Path:
    """Write the template of every string the frontend has now; return its path."""
    with tempfile.TemporaryDirectory() as tmp:
        stage = _stage(Path(tmp), Path(out_dir))
        _translate(stage, "update", ".", DOMAIN)
    return Path(out_dir) / f"{DOMAIN}.pot"


def _tidy(po_path: Path, locale: str) -> None:
    po = polib.pofile(str(po_path), wrapwidth=100000)
    # Babel writes `zh_Hans_CN`; JupyterLab looks translations up under `zh-CN` exactly
    po.metadata["Language"] = locale
    # a string gone from the source has nothing to translate any more
    for entry in po.obsolete_entries():
        po.remove(entry)
    po.save(str(po_path))


def update() -> None:
    """Re-extract, merge into each locale's .po, compile the .mo and the .json."""
    with tempfile.TemporaryDirectory() as tmp:
        stage = _stage(Path(tmp), LOCALE_DIR)
        # left in place, the old template is merged with the new one: gone strings would stay
        (LOCALE_DIR / f"{DOMAIN}.pot").unlink(missing_ok=True)
        locale_args = [arg for locale in LOCALES for arg in ("-l", locale)]
        _translate(stage, "update", ".", DOMAIN, *locale_args)
        for locale in LOCALES:
            messages = LOCALE_DIR / locale / "LC_MESSAGES"
            _tidy(messages / f"{DOMAIN}.po", locale)
            # the converter merges into an existing .json: start from the .po alone
            (messages / f"{DOMAIN}.json").unlink(missing_ok=True)
        _translate(stage, "compile", ".", DOMAIN, *locale_args)


def main(argv: list[str]) -> None:
    if argv[:1] == ["extract"] and len(argv) == 2:
        print(extract(Path(argv[1])))
    elif not argv:
        update()
        for locale in LOCALES:
            po = polib.pofile(str(LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"))
            todo = len(po.untranslated_entries()) + len(po.fuzzy_entries())
            print(f"{locale}: {po.percent_translated()}% translated, {todo} to do")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
