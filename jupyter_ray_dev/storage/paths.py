"""Paths inside a root: one strict syntax for every backend.

A request names an item by a path *relative to its root*, with ``/`` as the only
separator. Anything that could mean "somewhere else" is refused here, before a
backend sees it; the local backend adds the symlink check, which needs the disk.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .errors import PathRejected

MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255  # POSIX NAME_MAX; S3/GCS allow longer keys, but no user needs them here

# C0 controls and DEL: NUL truncates C strings, newlines forge log lines and headers
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_relpath(raw: object, *, field: str = "path") -> str:
    """Return ``raw`` as a normalised relative path (``""`` is the root itself) or raise.

    Refused: non-strings, absolute paths, ``.`` and ``..`` segments, empty segments,
    backslashes (a separator on Windows and in some S3 tools), control characters
    including NUL, and percent-encoded forms of any of those (``%2e%2e``, ``%2f``,
    ``%5c``, ``%00``, also double-encoded): the HTTP layer has decoded the request
    once already, so a ``%`` sequence that still decodes to something special is an
    attempt to get past a second decoder somewhere else.
    """
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise PathRejected(f"`{field}` must be a string.", field=field)
    path = raw
    if len(path) > MAX_PATH_CHARS:
        raise PathRejected(f"`{field}` is longer than {MAX_PATH_CHARS} characters.", field=field)
    if path.startswith("/"):
        raise PathRejected(
            f"`{field}` must be relative to the storage root (no leading '/'): "
            f"use 'a/b.txt', or '' for the root itself.",
            field=field,
        )
    # one trailing slash is how people write folders; tolerate it
    if path.endswith("/"):
        path = path[:-1]
    if path == "":
        return ""
    names = path.split("/")
    for name in names:
        _check_name(name, field)
    return "/".join(names)


def _check_name(name: str, field: str) -> None:
    if name == "":
        raise PathRejected(f"`{field}` has an empty segment ('//').", field=field)
    for form in _decodings(name):
        if form in (".", ".."):
            raise PathRejected(
                f"`{field}` may not contain '.' or '..' segments (also not percent-encoded): "
                "paths stay inside their root.",
                field=field,
            )
        if "\\" in form:
            raise PathRejected(f"`{field}` may not contain backslashes.", field=field)
        if _CONTROL.search(form):
            raise PathRejected(f"`{field}` may not contain control characters or NUL.",
                               field=field)
        if form is not name and "/" in form:
            raise PathRejected(f"`{field}` may not contain an encoded '/' (%2f).", field=field)
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise PathRejected(f"A name in `{field}` is longer than {MAX_NAME_BYTES} bytes.",
                           field=field)


def _decodings(name: str, rounds: int = 3) -> list[str]:
    """The name and what it decodes to, up to ``rounds`` levels of percent-encoding."""
    forms = [name]
    current = name
    for _ in range(rounds):
        if "%" not in current:
            break
        try:
            decoded = unquote(current, errors="strict")
        except UnicodeDecodeError:
            # not UTF-8 after decoding: still look at what a lenient decoder would see
            decoded = unquote(current, errors="replace")
        if decoded == current:
            break
        forms.append(decoded)
        current = decoded
    return forms


def join(*parts: str) -> str:
    """Join already-clean relative paths."""
    return "/".join(p for p in parts if p)


def parent_and_name(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name
