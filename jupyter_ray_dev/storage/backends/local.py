"""Local and NFS/EFS folders, confined to their root.

Why ``os`` and not fsspec's LocalFileSystem here: confinement needs file
descriptors (open, then check where the descriptor really points, then read from
it) and listing pages need ``listdir`` + ``lstat`` on a page only; fsspec's local
``ls`` stats every entry and follows symlinks. The remote backends use fsspec.

Confinement: a path is resolved with ``realpath`` and must stay under the root's
real path; a file or folder is then opened and the *descriptor's* path
(``/proc/self/fd/N``) is checked again, so swapping a symlink in between cannot
leak a byte from outside. Writes go through the checked parent folder's
descriptor (``dir_fd``), never through a path a symlink could redirect.
"""

from __future__ import annotations

import asyncio
import bisect
import errno
import os
import secrets
import shutil
import stat as statmod
import threading
import time
from collections import OrderedDict
from typing import Any, NamedTuple

from ...errors import RayDevError
from ..errors import (
    IsADirectory,
    NotADirectory,
    PathOutsideRoot,
    PathRejected,
    StorageConflict,
    StorageNotFound,
    StoragePermissionDenied,
    StorageUnreachable,
)
from ..paths import parent_and_name
from .base import Backend, Entry, Writer

UPLOAD_SUFFIX = ".ray-dev-upload"  # temp files of uploads in progress; hidden from listings
_PROC_FD = "/proc/self/fd"
_HAVE_PROC = os.path.isdir(_PROC_FD)
_NAME_CACHE_SIZE = 16
_IFMT, _IFLNK, _IFDIR = 0o170000, statmod.S_IFLNK, statmod.S_IFDIR
# pages listed ahead, per root: a few walks at once, each page at most MAX_LIMIT entries
_AHEAD_PAGES = 4
# a walk asks for its next page within milliseconds; a page left longer is stale, not ahead
_AHEAD_TTL = 5.0


class _Page(NamedTuple):
    entries: list[Entry]
    next_token: str | None
    folder: tuple[int, int, int]  # (st_dev, st_ino, st_mtime_ns) of the folder when listed


class _Ahead(NamedTuple):
    path: str
    expires: float
    page: asyncio.Future  # -> _Page | None


class StorageFull(RayDevError):
    status = 507
    reason = "storage_full"


class LocalBackend(Backend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = self.root.location
        # folder real path -> (mtime_ns, sorted names): later pages of a big folder reuse
        # the first page's listing instead of listing 100k names again per page
        self._names: OrderedDict[str, tuple[int, list[str]]] = OrderedDict()
        self._names_lock = threading.Lock()
        # (owner, path, limit, token) -> the page a walk will ask for next, listed on the pool
        # while the client reads the current one. Touched on the event loop only.
        self._ahead: OrderedDict[tuple[str, str, int, str], _Ahead] = OrderedDict()

    @property
    def endpoint(self) -> str:
        return self.base

    # -- confinement (run on the thread pool) ------------------------------------------------

    def _base_real(self) -> str:
        real = os.path.realpath(self.base)
        if not os.path.isdir(real):
            raise StorageUnreachable(
                f"Storage root '{self.root.name}': the folder {self.base} does not exist or is "
                "not a folder (not mounted yet?). Mount it or fix c.RayDev.storage_roots.",
                root=self.root.name, endpoint=self.base,
            )
        return real

    def _inside(self, real: str, base_real: str) -> bool:
        return real == base_real or real.startswith(base_real.rstrip("/") + "/")

    def _resolve(self, path: str) -> tuple[str, str]:
        """(real path, base real path) of ``path``; it may not exist, but must be inside."""
        base_real = self._base_real()
        real = os.path.realpath(os.path.join(base_real, path)) if path else base_real
        if not self._inside(real, base_real):
            raise PathOutsideRoot(
                f"'{path}' leads outside storage root '{self.root.name}' (through a symbolic "
                "link); only items inside the root can be read or changed.",
                root=self.root.name, path=path,
            )
        return real, base_real

    def _open_checked(self, path: str, flags: int) -> int:
        real, base_real = self._resolve(path)
        fd = os.open(real, flags | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            if _HAVE_PROC:
                # the descriptor's true path: catches a symlink swapped in after _resolve
                where = os.readlink(f"{_PROC_FD}/{fd}")
                if not self._inside(where, base_real):
                    raise PathOutsideRoot(f"'{path}' leads outside storage root "
                                          f"'{self.root.name}'.", root=self.root.name, path=path)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _parent_fd(self, path: str) -> tuple[int, str]:
        """A descriptor of ``path``'s (checked, existing) parent folder, and the last name."""
        if not path:
            raise PathRejected("This operation needs a path inside the root, not the root "
                               "itself.", field="path")
        parent, name = parent_and_name(path)
        try:
            fd = self._open_checked(parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as err:
            raise self._os_error(err, parent or "/") from err
        return fd, name

    # -- errors --------------------------------------------------------------------------------

    def _os_error(self, err: OSError, path: str) -> RayDevError:
        where = f"'{path}' in storage root '{self.root.name}'"
        details = {"root": self.root.name, "path": path}
        code = err.errno
        if code == errno.ENOENT:
            return StorageNotFound(f"{where} does not exist.", **details)
        if code in (errno.EACCES, errno.EPERM):
            return StoragePermissionDenied(
                f"Permission denied for {where}: the server's user cannot do this there.",
                **details)
        if code == errno.EROFS:
            return StoragePermissionDenied(f"{where} is on a read-only file system.", **details)
        if code == errno.ENOTDIR:
            return NotADirectory(f"{where}: a part of the path is a file, not a folder.",
                                 **details)
        if code == errno.EISDIR:
            return IsADirectory(f"{where} is a folder.", **details)
        if code in (errno.EEXIST, errno.ENOTEMPTY):
            return StorageConflict(f"{where} already exists or is not empty.", **details)
        if code == errno.ELOOP:
            return PathOutsideRoot(f"{where} is a symbolic link that cannot be followed here.",
                                   **details)
        if code in (errno.ENAMETOOLONG, errno.EINVAL):
            return PathRejected(f"{where}: {err.strerror}.", **details)
        if code in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull(f"No space left for {where}.", **details)
        return StorageUnreachable(
            f"Storage root '{self.root.name}' ({self.base}) failed on '{path}': "
            f"{err.strerror or err}. If it is a network mount, check that it is healthy.",
            endpoint=self.base, **details)

    def _call(self, path: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except OSError as err:
            raise self._os_error(err, path) from err

    # -- listing ---------------------------------------------------------------------------------

    async def list_page(self, path: str, limit: int, token: str | None,
                        name_prefix: str = "") -> tuple[list[Entry], str | None]:
        page = await self.in_thread(self._call, path, self._list_page, path, limit, token,
                                    name_prefix)
        return page.entries, page.next_token

    async def list_page_for(self, owner: str, path: str, limit: int,
                            token: str | None) -> tuple[list[Entry], str | None]:
        """``list_page``, then the next page is listed ahead for the same owner.

        A paged walk otherwise serialises: the pool idles while the client parses a page
        and Jupyter handles the next request. A page listed ahead is served once, only to
        the same owner, folder, limit and cursor, within _AHEAD_TTL, and only if the
        folder is still the one listed (same inode and mtime, the check the name cache
        makes for a later page anyway); otherwise the page is listed afresh.
        """
        ahead = self._ahead.pop((owner, path, limit, token), None) if token else None
        listed = None
        if ahead is not None and ahead.expires > time.monotonic():
            listed = ahead.page.result() if ahead.page.done() else \
                await self._deadline(ahead.page)
        elif ahead is not None:
            ahead.page.cancel()
        page = await self.in_thread(self._call, path, self._list_page_unless, path, limit,
                                    token, listed)
        if page.next_token is not None:
            # after this step of the request, i.e. once its reply is written: listing ahead
            # while the reply is encoded and sent only delays it (one GIL); the server is
            # idle while the client reads the reply and asks for the next page
            asyncio.get_running_loop().call_soon(self._list_ahead, owner, path, limit,
                                                 page.next_token)
        return page.entries, page.next_token

    def _list_ahead(self, owner: str, path: str, limit: int, token: str) -> None:
        now = time.monotonic()
        for key, ahead in list(self._ahead.items()):
            if ahead.expires <= now:
                del self._ahead[key]
                ahead.page.cancel()
        page = asyncio.get_running_loop().run_in_executor(
            self.executor, self._list_page_quietly, path, limit, token)
        self._ahead[(owner, path, limit, token)] = _Ahead(path, now + _AHEAD_TTL, page)
        while len(self._ahead) > _AHEAD_PAGES:
            _, oldest = self._ahead.popitem(last=False)
            oldest.page.cancel()

    def _forget_ahead(self, *folders: str, tree: str | None = None) -> None:
        """Drop pages listed ahead of these folders (and of everything under ``tree``):
        after a write through this root they may miss what it changed, even on a file
        system whose mtime is too coarse to tell."""
        with self._names_lock:
            self._names.clear()  # the same blind spot: names kept while the mtime is unchanged
        for key, ahead in list(self._ahead.items()):
            if ahead.path in folders or (tree is not None and (
                    ahead.path == tree or ahead.path.startswith(tree + "/"))):
                del self._ahead[key]
                ahead.page.cancel()

    def _list_page_quietly(self, path: str, limit: int, token: str) -> _Page | None:
        try:
            return self._list_page(path, limit, token, "")
        except (OSError, RayDevError):
            return None  # the request for this page lists it itself and reports the error

    def _list_page_unless(self, path: str, limit: int, after: str | None,
                          listed: _Page | None) -> _Page:
        """The page ``listed`` ahead if the folder is unchanged since; else list it now.
        Either way the folder is opened and checked again, so a path that left the root
        (a swapped symlink) or vanished fails as it would without the page ahead."""
        fd = self._open_checked(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if listed is not None:
                st = os.fstat(fd)
                if listed.folder == (st.st_dev, st.st_ino, st.st_mtime_ns):
                    return listed
            return self._list_fd(fd, path, limit, after, "")
        finally:
            os.close(fd)

    def _list_page(self, path: str, limit: int, after: str | None,
                   name_prefix: str) -> _Page:
        fd = self._open_checked(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return self._list_fd(fd, path, limit, after, name_prefix)
        finally:
            os.close(fd)

    def _list_fd(self, fd: int, path: str, limit: int, after: str | None,
                 name_prefix: str) -> _Page:
        # a user's first page lists afresh; later pages and name-prefix probes (Ray
        # detection right after that first page) reuse it while the folder is unchanged
        names, folder = self._sorted_names(fd, fresh=after is None and not name_prefix)
        start = bisect.bisect_right(names, after) if after is not None else 0
        if name_prefix:
            start = max(start, bisect.bisect_left(names, name_prefix))
        # one name past the page tells whether there is more (slice, not a copy of the rest)
        page = names[start:start + limit + 1]
        if name_prefix:
            page = [n for n in page if n.startswith(name_prefix)]
        more = len(page) > limit
        page = page[:limit]
        base_real = self._base_real()
        folder_real = os.readlink(f"{_PROC_FD}/{fd}") if _HAVE_PROC else \
            os.path.realpath(os.path.join(base_real, path))
        prefix = f"{path}/" if path else ""
        # the per-entry cost of a 100k walk: one lstat and one dict, in a tight loop; the
        # file-type bits are masked inline (a call to S_IFMT per entry cost ~15% of the loop)
        entries: list[Entry] = []
        append, lstat = entries.append, os.stat
        for name in page:
            try:
                st = lstat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since the listing: skip, as a fresh listing would
            fmt = st.st_mode & _IFMT
            if fmt == _IFLNK:
                append(self._link_entry(folder_real, base_real, prefix, name, st))
            elif fmt == _IFDIR:
                append({"name": name, "path": prefix + name, "kind": "directory",
                        "size": None, "modified": st.st_mtime_ns // 1_000_000})
            else:
                append({"name": name, "path": prefix + name, "kind": "file",
                        "size": st.st_size, "modified": st.st_mtime_ns // 1_000_000})
        return _Page(entries, page[-1] if more else None, folder)

    def _sorted_names(self, fd: int, fresh: bool) -> tuple[list[str], tuple[int, int, int]]:
        """The folder's sorted names, and the (dev, inode, mtime) they were listed at."""
        st = os.fstat(fd)
        key = f"{st.st_dev}:{st.st_ino}"
        folder = (st.st_dev, st.st_ino, st.st_mtime_ns)
        with self._names_lock:
            cached = self._names.get(key)
            if cached and not fresh and cached[0] == st.st_mtime_ns:
                self._names.move_to_end(key)
                return cached[1], folder
        names = sorted(n for n in os.listdir(fd)
                       if not (n.endswith(UPLOAD_SUFFIX) and n.startswith(".")))
        with self._names_lock:
            self._names[key] = (st.st_mtime_ns, names)
            self._names.move_to_end(key)
            while len(self._names) > _NAME_CACHE_SIZE:
                self._names.popitem(last=False)
        return names, folder

    def _link_entry(self, folder_real: str, base_real: str, prefix: str, name: str,
                    lst: os.stat_result) -> Entry:
        entry: Entry = {"name": name, "path": prefix + name, "kind": "symlink", "size": None,
                        "modified": lst.st_mtime_ns // 1_000_000}
        target = os.path.realpath(os.path.join(folder_real, name))
        if not self._inside(target, base_real):
            # say nothing about what is outside: no size, no kind, no time of the target
            entry["link"] = "outside_root"
            return entry
        try:
            st = os.stat(target)
        except OSError:
            entry["link"] = "broken"
            return entry
        is_dir = statmod.S_ISDIR(st.st_mode)
        entry.update(kind="directory" if is_dir else "file", size=None if is_dir else st.st_size,
                     modified=st.st_mtime_ns // 1_000_000, link="inside_root")
        return entry

    async def stat(self, path: str) -> Entry:
        return await self.in_thread(self._call, path, self._stat, path)

    def _stat(self, path: str) -> Entry:
        real, _ = self._resolve(path)
        # metadata only (no bytes), and of the resolved path, so no descriptor is needed:
        # a file the server may not read still has a size and a time, as in the listing
        st = os.stat(real, follow_symlinks=False)
        is_dir = statmod.S_ISDIR(st.st_mode)
        return {"name": path.rsplit("/", 1)[-1] if path else "", "path": path,
                "kind": "directory" if is_dir else "file",
                "size": None if is_dir else st.st_size, "modified": st.st_mtime_ns // 1_000_000}

    # -- reading ---------------------------------------------------------------------------------

    async def read(self, path: str, start: int, end: int) -> bytes:
        return await self.in_thread(self._call, path, self._read, path, start, end)

    def _read(self, path: str, start: int, end: int) -> bytes:
        fd = self._open_checked(path, os.O_RDONLY)
        try:
            if not statmod.S_ISREG(os.fstat(fd).st_mode):
                raise IsADirectory(f"'{path}' is not a regular file.", root=self.root.name,
                                   path=path)
            chunks, pos = [], start
            while pos < end:
                data = os.pread(fd, end - pos, pos)
                if not data:
                    break
                chunks.append(data)
                pos += len(data)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def open_sync(self, path: str) -> Any:
        fd = self._call(path, self._open_checked, path, os.O_RDONLY)
        return os.fdopen(fd, "rb")

    # -- writing ---------------------------------------------------------------------------------

    async def open_writer(self, path: str, overwrite: bool) -> Writer:
        return await self.in_thread(self._call, path, LocalWriter, self, path, overwrite)

    async def mkdir(self, path: str) -> None:
        try:
            await self.in_thread(self._call, path, self._mkdir, path)
        finally:
            self._forget_ahead(parent_and_name(path)[0])

    def _mkdir(self, path: str) -> None:
        fd, name = self._parent_fd(path)
        try:
            os.mkdir(name, dir_fd=fd)
        finally:
            os.close(fd)

    async def rename(self, src: str, dst: str) -> None:
        try:
            await self.in_thread(self._call, src, self._rename, src, dst)
        finally:
            self._forget_ahead(parent_and_name(src)[0], parent_and_name(dst)[0], tree=src)

    def _rename(self, src: str, dst: str) -> None:
        sfd, sname = self._parent_fd(src)
        try:
            dfd, dname = self._call(dst, self._parent_fd, dst)
            try:
                os.stat(sname, dir_fd=sfd, follow_symlinks=False)  # 404 for a missing source
                try:
                    os.stat(dname, dir_fd=dfd, follow_symlinks=False)
                    raise StorageConflict(f"'{dst}' already exists in storage root "
                                          f"'{self.root.name}'.", root=self.root.name, path=dst)
                except FileNotFoundError:
                    pass
                os.rename(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)

    async def delete(self, path: str, recursive: bool) -> None:
        try:
            await self.in_thread(self._call, path, self._delete, path, recursive)
        finally:
            self._forget_ahead(parent_and_name(path)[0], tree=path)

    def _delete(self, path: str, recursive: bool) -> None:
        fd, name = self._parent_fd(path)
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not statmod.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=fd)  # a symlink itself, never its target
            elif recursive:
                # rmtree's fd-based walk never follows symlinks out of the tree
                shutil.rmtree(name, dir_fd=fd)
            else:
                try:
                    os.rmdir(name, dir_fd=fd)
                except OSError as err:
                    if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        raise StorageConflict(
                            f"The folder '{path}' is not empty: delete with recursive=true to "
                            "remove it and everything in it.", root=self.root.name, path=path,
                        ) from err
                    raise
        finally:
            os.close(fd)


class LocalWriter(Writer):
    """Writes to a hidden temp file beside the target, renamed over it on commit."""

    def __init__(self, backend: LocalBackend, path: str, overwrite: bool) -> None:
        self.backend, self.path, self.overwrite = backend, path, overwrite
        self.dir_fd, self.name = backend._parent_fd(path)
        self.fd: int | None = None
        self.tmp: str | None = None
        try:
            self._check_target()
            # same folder, so the final rename is atomic (same file system)
            self.tmp = f".{self.name[:180]}.{secrets.token_hex(8)}{UPLOAD_SUFFIX}"
            self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW |
                              os.O_CLOEXEC, 0o666, dir_fd=self.dir_fd)
        except BaseException:
            self._abort()
            raise

    def _check_target(self) -> None:
        try:
            st = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if statmod.S_ISDIR(st.st_mode):
            raise StorageConflict(f"'{self.path}' is a folder; choose another name.",
                                  root=self.backend.root.name, path=self.path)
        if not self.overwrite:
            raise StorageConflict(f"'{self.path}' already exists; upload with overwrite=true "
                                  "to replace it.", root=self.backend.root.name, path=self.path)

    async def write(self, data: bytes) -> None:
        await self.backend.in_thread(self.backend._call, self.path, self._write, data)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)  # type: ignore[arg-type]
            view = view[written:]

    async def commit(self) -> None:
        try:
            await self.backend.in_thread(self.backend._call, self.path, self._commit)
        finally:
            self.backend._forget_ahead(parent_and_name(self.path)[0])

    def _commit(self) -> None:
        try:
            os.fsync(self.fd)  # type: ignore[arg-type]
            os.close(self.fd)  # type: ignore[arg-type]
            self.fd = None
            self._check_target()
            if self.overwrite:
                os.replace(self.tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            else:
                self._link_no_replace()
            self.tmp = None
        finally:
            self._abort()

    def _link_no_replace(self) -> None:
        # link() fails if the name exists: no clobbering a file that appeared meanwhile
        try:
            os.link(self.tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd,
                    follow_symlinks=False)
        except FileExistsError as err:
            raise StorageConflict(f"'{self.path}' appeared while uploading; upload again with "
                                  "overwrite=true to replace it.", root=self.backend.root.name,
                                  path=self.path) from err
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                                 errno.EMLINK):
                raise
            # file systems without hard links (some FUSE): checked just before, then rename
            os.replace(self.tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            return
        os.unlink(self.tmp, dir_fd=self.dir_fd)

    async def abort(self) -> None:
        await self.backend.in_thread(self._abort)

    def _abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.tmp is not None:
            try:
                os.unlink(self.tmp, dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass
            self.tmp = None
        if self.dir_fd is not None and self.tmp is None and self.fd is None:
            os.close(self.dir_fd)
            self.dir_fd = None  # type: ignore[assignment]
