"""HTTP byte ranges: ``Range`` for downloads and ``Content-Range`` for upload chunks (RFC 9110)."""

from __future__ import annotations

import re

from ..errors import BadRequest
from .errors import RangeNotSatisfiable

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` with ``end`` exclusive, or None to send the whole file.

    Multiple ranges and malformed headers are ignored (the whole file is sent), as
    the RFC allows; a well-formed range outside the file is a 416.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if not match or "," in header:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise _unsatisfiable(header, size)
        return max(0, size - length), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if last != "" and int(last) < start:
        return None  # invalid: ignore the header
    if start >= size:
        raise _unsatisfiable(header, size)
    return start, end


def _unsatisfiable(header: str, size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(f"Range {header!r} is outside the file ({size} bytes).", size=size)


def parse_content_range(header: str | None, length: int) -> tuple[int, int | None]:
    """``(start, total)`` of an upload chunk of ``length`` bytes; no header = one chunk at 0."""
    if not header:
        return 0, None
    match = _CONTENT_RANGE.match(header)
    if not match:
        raise BadRequest("Content-Range must look like 'bytes START-END/TOTAL' (or TOTAL '*').",
                         field="Content-Range")
    start, last, total = match.groups()
    start_i, last_i = int(start), int(last)
    if last_i - start_i + 1 != length:
        raise BadRequest(f"Content-Range says {last_i - start_i + 1} bytes but the body has "
                         f"{length}.", field="Content-Range")
    total_i = None if total == "*" else int(total)
    if total_i is not None and last_i >= total_i:
        raise BadRequest("Content-Range ends beyond its total.", field="Content-Range")
    return start_i, total_i
