"""Opaque page cursors: the backend's own position (a name, an S3/GCS token), tied to a folder.

Clients pass a cursor back untouched; it is base64 so nobody is tempted to build
one, and it names its root and folder so a cursor from elsewhere is refused
instead of silently listing the wrong place.
"""

from __future__ import annotations

import base64
import binascii
import json

from ..errors import BadRequest

MAX_CURSOR_CHARS = 8192


def encode_cursor(root: str, path: str, token: str) -> str:
    raw = json.dumps({"r": root, "p": path, "k": token}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, root: str, path: str) -> str:
    bad = BadRequest("`cursor` is not a cursor this API returned for this folder: list again "
                     "without a cursor to start from the first page.", field="cursor")
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        state = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(state, dict) or state.get("r") != root or state.get("p") != path or \
            not isinstance(state.get("k"), str):
        raise bad
    return state["k"]
