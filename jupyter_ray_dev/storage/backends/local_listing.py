"""One page of a local folder, listed from the folder's descriptor.

Shared by the local backend (on the server's thread pool) and the lister process
(``lister.py``), so a page is the same whichever of them listed it. Nothing here
opens a path: the caller opened the folder and checked that it is inside the root.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import os
import stat as statmod
import threading
import time
from collections import OrderedDict
from typing import Any, NamedTuple

Entry = dict[str, Any]

UPLOAD_SUFFIX = ".ray-dev-upload"  # temp files of uploads in progress; hidden from listings
_PROC_FD = "/proc/self/fd"
HAVE_PROC = os.path.isdir(_PROC_FD)
_NAME_CACHE_SIZE = 16
_IFMT, _IFLNK, _IFDIR = 0o170000, statmod.S_IFLNK, statmod.S_IFDIR
_O_PATH = getattr(os, "O_PATH", 0)  # Linux

# (st_dev, st_ino, st_mtime_ns) of a folder: a page listed ahead is served only while
# the folder still has it
Identity = tuple[int, int, int]


class Page(NamedTuple):
    # a page the lister process listed comes as JSON already (bytes)
    entries: list[Entry] | bytes
    next_token: str | None  # None: the last page
    folder: Identity  # of the folder when listed


def inside(real: str, base_real: str) -> bool:
    return real == base_real or real.startswith(base_real.rstrip("/") + "/")


def fd_path(fd: int) -> str | None:
    """Where a descriptor really points (None without /proc)."""
    return os.readlink(f"{_PROC_FD}/{fd}") if HAVE_PROC else None


def identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


class NameCache:
    """Sorted names of the last few big folders listed, while their mtime is unchanged:
    later pages of a 100k folder reuse the first page's listing instead of listing
    100k names again per page.

    A first page (``fresh``) lists again, unless the names were listed moments ago
    (``FRESH_FOR`` seconds) from a folder whose mtime was already older than that listing
    by more than a coarse clock's step (git's rule for its index): a change since would
    have moved the mtime. Re-opening or walking a big folder again right away then skips
    a 100k-name listing and sort; a mount that never moves a folder's mtime (some FUSE
    file systems) shows a new name at most that much later. On a local file system that
    moves a folder's mtime at every change in it (``MTIME_TRUSTED``) the names are reused
    for as long as the mtime says unchanged: opening a big folder again later lists
    nothing. NFS is not among them: its client caches attributes."""

    FRESH_FOR = 2.0
    COARSE_MTIME = 2.0  # FAT/SMB: 2 s; NFS follows the server's, often 1 s

    def __init__(self) -> None:
        # (dev, ino) -> (mtime_ns, listed at, names, whether sorted yet)
        self._names: OrderedDict[tuple[int, int], tuple[int, float, list[str], bool]] = \
            OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._names.clear()

    def sorted_names(self, fd: int, fresh: bool, head: int = 0,
                     prefix: str = "") -> tuple[list[str], Identity]:
        """The folder's sorted names, and its identity when they were listed.

        ``head``: only the first ``head`` names are wanted (a first page). A folder listed
        afresh then answers with those, picked from the unsorted listing (a heap select:
        a few ms for 100k names, where the full sort is the listing's dearest step after
        readdir), and its full sort waits for the first call that needs it: a later page,
        listed ahead while the client reads the first. ``prefix``: only names starting
        with it are wanted; an unsorted listing is filtered, not sorted, for them."""
        st = os.fstat(fd)
        key, folder = (st.st_dev, st.st_ino), identity(st)
        now = time.time()
        unsorted: list[str] | None = None
        with self._lock:
            cached = self._names.get(key)
            if cached and cached[0] == st.st_mtime_ns and (not fresh or (
                    (now - cached[1] < self.FRESH_FOR or mtime_trusted(st.st_dev))
                    and cached[1] - st.st_mtime_ns / 1e9 > self.COARSE_MTIME)):
                self._names.move_to_end(key)
                if cached[3]:
                    return cached[2], folder
                now, unsorted = cached[1], cached[2]  # as old as its listing
        if unsorted is None:
            unsorted = os.listdir(fd)
            if head and len(unsorted) > head * 4:
                first = heapq.nsmallest(head, unsorted)
                if not any(_hidden(n) for n in first):  # else the general path filters
                    self._keep(key, st.st_mtime_ns, now, unsorted, False)
                    return first, folder
        elif prefix:
            return sorted(n for n in unsorted if n.startswith(prefix) and not _hidden(n)), \
                folder
        else:
            unsorted = list(unsorted)  # sorted in place below: another thread may read it
        names = _sorted_visible(unsorted)
        self._keep(key, st.st_mtime_ns, now, names, True)
        return names, folder

    def _keep(self, key: tuple[int, int], mtime_ns: int, listed_at: float, names: list[str],
              is_sorted: bool) -> None:
        with self._lock:
            self._names[key] = (mtime_ns, listed_at, names, is_sorted)
            self._names.move_to_end(key)
            while len(self._names) > _NAME_CACHE_SIZE:
                self._names.popitem(last=False)


# local file systems that set a folder's mtime (to the nanosecond, from a clock that
# steps by a tick at most) at every create, delete and rename in it
MTIME_TRUSTED = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs", "zfs"})


@functools.lru_cache(maxsize=64)
def mtime_trusted(dev: int) -> bool:
    """Whether the device ``dev`` is mounted with a file system in ``MTIME_TRUSTED``
    (its line in /proc/self/mountinfo; False when that cannot be read)."""
    want = f"{os.major(dev)}:{os.minor(dev)}"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 2 and fields[2] == want and "-" in fields:
                    fstype = fields[fields.index("-") + 1:][:1]
                    return bool(fstype) and fstype[0] in MTIME_TRUSTED
    except OSError:
        pass
    return False


def _hidden(name: str) -> bool:
    return name.endswith(UPLOAD_SUFFIX) and name.startswith(".")


def _sorted_visible(names: list[str]) -> list[str]:
    """``names`` sorted in place, less uploads in progress: their names start with '.', so
    they lie in one run of the sorted list, the only part searched for them."""
    names.sort()
    lo = bisect.bisect_left(names, ".")
    hi = bisect.bisect_left(names, "/", lo)  # '/' sorts right after '.'; no name holds it
    if any(_hidden(n) for n in names[lo:hi]):
        names[lo:hi] = [n for n in names[lo:hi] if not _hidden(n)]
    return names


def list_fd(fd: int, names_cache: NameCache, path: str, limit: int, after: str | None,
            name_prefix: str, base_real: str,
            folder_real: str) -> Page:
    """Up to ``limit`` entries after the name ``after``, the next page's token, and the
    folder's identity. ``folder_real`` is the folder's real path (symlink targets are
    resolved from it and must stay under ``base_real``)."""
    # a user's first page lists afresh; later pages and name-prefix probes (Ray
    # detection right after that first page) reuse it while the folder is unchanged
    first = after is None and not name_prefix
    names, folder = names_cache.sorted_names(fd, fresh=first, head=limit + 1 if first else 0,
                                             prefix=name_prefix)
    start = bisect.bisect_right(names, after) if after is not None else 0
    if name_prefix:
        start = max(start, bisect.bisect_left(names, name_prefix))
    # one name past the page tells whether there is more (slice, not a copy of the rest)
    page = names[start:start + limit + 1]
    if name_prefix:
        page = [n for n in page if n.startswith(name_prefix)]
    more = len(page) > limit
    page = page[:limit]
    prefix = f"{path}/" if path else ""
    # the per-entry cost of a 100k walk: one lstat and one dict, in a tight loop; the
    # file-type bits are masked inline (a call to S_IFMT per entry cost ~15% of the loop),
    # and os.lstat, not os.stat(follow_symlinks=False), whose keyword cost ~20% more
    entries: list[Entry] = []
    append, lstat = entries.append, os.lstat
    for name in page:
        try:
            st = lstat(name, dir_fd=fd)
        except FileNotFoundError:
            continue  # removed since the listing: skip, as a fresh listing would
        fmt = st.st_mode & _IFMT
        if fmt == _IFLNK:
            append(link_entry(folder_real, base_real, prefix, name, st))
        elif fmt == _IFDIR:
            append({"name": name, "path": prefix + name, "kind": "directory",
                    "size": None, "modified": st.st_mtime_ns // 1_000_000})
        else:
            append({"name": name, "path": prefix + name, "kind": "file",
                    "size": st.st_size, "modified": st.st_mtime_ns // 1_000_000})
    return Page(entries, page[-1] if more else None, folder)


def link_entry(folder_real: str, base_real: str, prefix: str, name: str,
               lst: os.stat_result) -> Entry:
    entry: Entry = {"name": name, "path": prefix + name, "kind": "symlink", "size": None,
                    "modified": lst.st_mtime_ns // 1_000_000}
    target = os.path.realpath(os.path.join(folder_real, name))
    try:
        st = _stat_inside(target, base_real) if inside(target, base_real) else None
    except OSError:
        entry["link"] = "broken"
        return entry
    if st is None:
        # say nothing about what is outside: no size, no kind, no time of the target
        entry["link"] = "outside_root"
        return entry
    is_dir = statmod.S_ISDIR(st.st_mode)
    entry.update(kind="directory" if is_dir else "file", size=None if is_dir else st.st_size,
                 modified=st.st_mtime_ns // 1_000_000, link="inside_root")
    return entry


def _stat_inside(target: str, base_real: str) -> os.stat_result | None:
    """The target's stat, None if it is not inside the root any more: opened first
    (O_PATH: no read access needed, nothing read) and checked where the descriptor really
    points, so a path component swapped after realpath cannot make us stat outside."""
    if not (HAVE_PROC and _O_PATH):
        return os.stat(target)
    fd = os.open(target, _O_PATH | os.O_CLOEXEC)
    try:
        return os.fstat(fd) if inside(fd_path(fd) or "", base_real) else None
    finally:
        os.close(fd)
