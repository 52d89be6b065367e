"""Content digests of a project's files, remembered by each file's stat.

A project is hashed again and again: each job records its files, each promote review
and build hashes its inputs. A file whose identity and stat are unchanged is read
once; a file modified within the last two seconds is always read, because its next
change may keep the same size and timestamps (they tick coarser than writes come),
as git's "racily clean" entries.
"""

from __future__ import annotations

import hashlib
import os
import time
from functools import lru_cache

_CHUNK = 1 << 20
_SETTLED_SECONDS = 2.0


def file_digest(path: os.PathLike[str] | str) -> str:
    """sha256 of the file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=1 << 16)
def _settled_digest(path: str, dev: int, ino: int, size: int, mtime_ns: int,
                    ctime_ns: int) -> str:
    return file_digest(path)


def stat_digest(path: str, st: os.stat_result | None, now: float | None = None) -> str:
    """The file's digest, read again only when its stat changed (or it is too fresh)."""
    now = time.time() if now is None else now
    if st is None or now - max(st.st_mtime, st.st_ctime) < _SETTLED_SECONDS:
        return file_digest(path)
    return _settled_digest(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                           st.st_ctime_ns)
