"""The frontend's translations: every string of the source is in each catalog, translated,
with its placeholders; the .json JupyterLab serves is the compiled .po; the server finds it
through the `jupyterlab.locale` entry point.

The strings are extracted afresh from src/ and schema/ with jupyterlab-translate (what
`make i18n` runs), so a new or changed string that is not translated fails here.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "jupyter_ray_dev"
LOCALE_DIR = ROOT / DOMAIN / "locale"
LOCALES = ("zh_CN",)
FIX = "run `make i18n`, translate the new entries of the .po, run `make i18n` again"

# what a translation must keep as is: JupyterLab's placeholders (%1), named ones ({name}),
# code spans, server settings and the product names
PLACEHOLDER = re.compile(r"%\d+|\{\w+\}")
KEPT = re.compile(
    r"`[^`]+`|c\.RayDev\.\w+|\b(?:Ray|KubeRay|JupyterLab|Jupyter|runtime_env|RayJob|RayService"
    r"|RayCluster)\b"
)


def _load_script():
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _key(entry: polib.POEntry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def _po(locale: str) -> polib.POFile:
    return polib.pofile(str(LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"))


def _translations(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [text for _, text in sorted(entry.msgstr_plural.items())]
    return [entry.msgstr]


@pytest.fixture(scope="module")
def fresh_keys(tmp_path_factory) -> set[tuple[str, str, str]]:
    pot = _load_script().extract(tmp_path_factory.mktemp("pot"))
    keys = {_key(entry) for entry in polib.pofile(str(pot))}
    # a sanity floor: an extraction that found nothing would make every check below vacuous
    assert len(keys) > 300, f"only {len(keys)} strings extracted from src/ and schema/"
    return keys


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalog_holds_exactly_the_strings_of_the_source(locale, fresh_keys):
    catalog = {_key(entry) for entry in _po(locale) if not entry.obsolete}
    missing = sorted(fresh_keys - catalog)
    stale = sorted(catalog - fresh_keys)
    assert not missing, f"{len(missing)} not in the {locale} catalog ({FIX}): {missing[:10]}"
    assert not stale, f"{len(stale)} of {locale} gone from the source ({FIX}): {stale[:10]}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_string_is_translated_and_reviewed(locale):
    po = _po(locale)
    untranslated = [entry.msgid for entry in po.untranslated_entries()]
    fuzzy = [entry.msgid for entry in po.fuzzy_entries()]
    assert not untranslated, f"untranslated in {locale}: {untranslated[:10]}"
    # pybabel marks a changed string fuzzy with the old translation: someone must check it
    assert not fuzzy, f"fuzzy (review, then drop the flag) in {locale}: {fuzzy[:10]}"


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_placeholders_code_and_product_names(locale):
    wrong = []
    for entry in _po(locale):
        placeholders = Counter(PLACEHOLDER.findall(entry.msgid))
        kept = set(KEPT.findall(entry.msgid))
        for text in _translations(entry):
            if Counter(PLACEHOLDER.findall(text)) != placeholders:
                wrong.append((entry.msgid, text, "placeholders"))
            if not kept <= set(KEPT.findall(text)):
                wrong.append((entry.msgid, text, sorted(kept - set(KEPT.findall(text)))))
    assert not wrong, f"{locale} translations that lose or add a placeholder or kept word: {wrong}"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_json_and_mo_are_the_compiled_po(locale):
    messages = LOCALE_DIR / locale / "LC_MESSAGES"
    po = _po(locale)
    expected = {}
    for entry in po:
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        # one plural form in Chinese: JupyterLab wants at least two items for a plural
        expected[key] = _translations(entry) + ([""] if entry.msgid_plural else [])
    data = json.loads((messages / f"{DOMAIN}.json").read_text(encoding="utf-8"))
    header = data.pop("")
    assert data == expected, FIX
    # JupyterLab looks a bundle up under exactly this language tag (not Babel's zh-Hans-CN)
    assert header["language"] == locale.replace("_", "-")
    assert header["domain"] == DOMAIN
    assert header["plural_forms"] == po.metadata["Plural-Forms"]

    mo = polib.mofile(str(messages / f"{DOMAIN}.mo"))
    assert {(e.msgctxt or "", e.msgid): _translations(e) for e in mo if e.msgid} == {
        (e.msgctxt or "", e.msgid): _translations(e) for e in po
    }, FIX


@pytest.mark.parametrize("locale", LOCALES)
def test_jupyterlab_serves_the_catalog_with_its_language_pack(locale):
    # the translations API's own code: the language pack (a test dependency) makes the
    # locale selectable, the `jupyterlab.locale` entry point adds this package's catalog
    from jupyterlab_server.translation_utils import get_language_pack

    data, message = get_language_pack(locale)
    assert not message.strip(), message
    assert DOMAIN in data, (
        f"no {DOMAIN} catalog for {locale}: is the package installed with its "
        f"`jupyterlab.locale` entry point (pip install -e .)?"
    )
    ours = json.loads(
        (LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.json").read_text(encoding="utf-8")
    )
    assert data[DOMAIN] == ours
    assert data["jupyterlab"][""]["language"] == ours[""]["language"]


def test_every_translated_call_is_one_the_extractor_reads():
    # gettext-extractor (through jupyterlab-translate) reads calls on these receivers only;
    # `options.trans.__('x')` would be shown in English forever without failing anything
    receivers = {"trans", "this.trans", "this._trans", "props.trans", "this.props.trans"}
    call = re.compile(
        r"(?<![\w.$])([\w$]+(?:\([^()]*\))?(?:\.[\w$]+(?:\([^()]*\))?)*)\.(?:__|_n|_p|_np)\("
    )
    others = []
    for path in sorted((ROOT / "src").rglob("*.ts*")):
        if "__tests__" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            others += [
                f"{path.relative_to(ROOT)}:{number}: {found}"
                for found in call.findall(line)
                if found not in receivers
            ]
    assert not others, f"call through a local `trans` instead: {others}"
