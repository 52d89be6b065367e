"""The README's table of magics is what the extension registers: every `%ray_*` magic has
a row, and every flag a row names is one its parser accepts (no IPython kernel needed:
the magics' own parsers)."""

from __future__ import annotations

import re
from pathlib import Path

from IPython.core.magic import Magics

from jupyter_ray_dev.magics import RayDevMagics

README = Path(__file__).parents[1] / "README.md"


def _table_rows() -> dict[str, str]:
    text = README.read_text()
    table = text[text.index("| magic | what it does | main flags |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("| `%"):
            break
        name = re.match(r"\| `%%?(ray_\w+)`", line).group(1)
        rows[name] = line.rsplit(" | ", 1)[1]
    return rows


def _magics() -> dict[str, object]:
    found = {}
    for kind, names in RayDevMagics.magics.items():
        for name, method in names.items():
            found[name] = getattr(RayDevMagics, method)
    return found


def test_every_magic_has_a_row_and_every_row_a_magic():
    assert issubclass(RayDevMagics, Magics)
    assert sorted(_table_rows()) == sorted(_magics())


def test_every_flag_in_the_table_is_accepted_by_its_magic():
    magics = _magics()
    for name, flags in _table_rows().items():
        parser = getattr(magics[name], "parser", None)
        named = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", flags))
        if parser is None:
            assert not named, name
            continue
        known = {option for action in parser._actions for option in action.option_strings}
        assert named <= known, (name, named - known)
