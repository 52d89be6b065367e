"""Local and NFS/EFS folders, confined to their root.

Why ``os`` and not fsspec's LocalFileSystem here: confinement needs file
descriptors (open, then check where the descriptor really points, then read from
it) and listing pages need ``listdir`` + ``lstat`` on a page only; fsspec's local
``ls`` stats every entry and follows symlinks. The remote backends use fsspec.

Confinement: a path is resolved with ``realpath`` and must stay under the root's
real path; a file or folder is then opened and the *descriptor's* path
(``/proc/self/fd/N``) is checked again, so swapping a symlink in between cannot
leak a byte from outside. Writes go through the checked parent folder's
descriptor (``dir_fd``), never through a path a symlink could redirect. The pages a
walk asks for next are listed ahead (read_ahead.py), by a lister process given only
the checked folder's descriptor (lister.py); each is checked again when served.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import shutil
import stat as statmod
from typing import Any

import orjson

from ...errors import RayDevError
from ...leftovers import Claim, claim
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
from .lister import Lister
from .local_listing import (
    HAVE_PROC,
    UPLOAD_SUFFIX,
    NameCache,
    Page,
    fd_path,
    inside,
    list_fd,
)
from .read_ahead import ReadAhead

__all__ = ["UPLOAD_SUFFIX", "LocalBackend"]
# the lister process lists this many entries ahead of a walk per request: its round trip
# is paid per batch, not per page; without it, one page is listed ahead on the pool
_BATCH_ENTRIES = 2500
# A request the user waits for (a page, Ray's checkpoint_* probe) waits this long for the
# lister process when a batch ahead holds it: listing it here instead holds this process's
# GIL, which every request and stream shares, for the same time or longer
_FOREGROUND_WAIT = 0.5


def _decoded(entries: list[Entry] | bytes) -> list[Entry]:
    return orjson.loads(entries) if isinstance(entries, bytes) else entries


class StorageFull(RayDevError):
    status = 507
    reason = "storage_full"


class LocalBackend(Backend):
    def __init__(self, *args: Any, list_process: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = self.root.location
        self._names = NameCache()
        # lists the pages ahead beside the server, not on its GIL (see lister.py); given up
        # on at half the deadline, so a request waiting for it can still list in a thread
        self._lister = Lister(self.timeout / 2, self.root.name) if list_process else None
        self._ahead = ReadAhead(self._list_pages_quietly, self.executor, self._pages_per_batch)

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

    def _resolve(self, path: str) -> tuple[str, str]:
        """(real path, base real path) of ``path``; it may not exist, but must be inside."""
        base_real = self._base_real()
        real = os.path.realpath(os.path.join(base_real, path)) if path else base_real
        if not inside(real, base_real):
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
            # the descriptor's true path: catches a symlink swapped in after _resolve
            if HAVE_PROC and not inside(fd_path(fd) or "", base_real):
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
        return _decoded(page.entries), page.next_token

    async def list_page_for(self, owner: str, path: str, limit: int,
                            token: str | None) -> tuple[list[Entry] | bytes, str | None]:
        """``list_page``, with the next pages listed ahead for the same owner (read_ahead).

        A paged walk otherwise serialises: the listing idles while the client parses a
        page and Jupyter handles the next request. A page listed ahead is served only if
        the folder is still the one listed (same inode and mtime, the check the name
        cache makes for a later page anyway); otherwise the page is listed afresh.
        """
        # at most half the deadline for a page under way: the rest is for listing it here
        listed = await self._ahead.take(owner, path, limit, token, self.timeout / 2) \
            if token else None
        page = await self.in_thread(self._call, path, self._list_page_unless, path, limit,
                                    token, listed)
        if page.next_token is not None:
            # after this step of the request, i.e. once its reply is written: listing ahead
            # on the pool while the reply is encoded and sent only delays it (one GIL)
            asyncio.get_running_loop().call_soon(self._ahead.schedule, owner, path, limit,
                                                 page.next_token)
        if token is None:  # the first page: Ray detection reads its entries
            return _decoded(page.entries), page.next_token
        # later pages are the caller's to show: the child's JSON is passed on as it is
        return page.entries, page.next_token

    def _pages_per_batch(self, limit: int) -> int:
        return max(1, _BATCH_ENTRIES // limit) if self._lister is not None else 1

    def _forget_ahead(self, *folders: str, tree: str | None = None) -> None:
        """Drop pages listed ahead of these folders (and of everything under ``tree``):
        after a write through this root they may miss what it changed, even on a file
        system whose mtime is too coarse to tell."""
        self._names.clear()  # the same blind spot: names kept while the mtime is unchanged
        if self._lister is not None:
            self._lister.forget()
        self._ahead.forget(*folders, tree=tree)

    def _list_pages_quietly(self, path: str, limit: int, token: str,
                            pages: int) -> list[Page] | None:
        try:
            fd = self._open_checked(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                # a batch waits for the lister (a probe of the first page's Ray detection
                # holds it for moments) rather than list here on this process's GIL, where
                # a folder just changed would be listed and sorted whole a second time
                return self._list_fd_pages(fd, path, limit, token, "", pages,
                                           wait=_FOREGROUND_WAIT)
            finally:
                os.close(fd)
        except (OSError, RayDevError):
            return None  # the request for this page lists it itself and reports the error

    def _list_page_unless(self, path: str, limit: int, after: str | None,
                          listed: Page | None) -> Page:
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
                   name_prefix: str) -> Page:
        fd = self._open_checked(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return self._list_fd(fd, path, limit, after, name_prefix)
        finally:
            os.close(fd)

    def _list_fd(self, fd: int, path: str, limit: int, after: str | None,
                 name_prefix: str) -> Page:
        return self._list_fd_pages(fd, path, limit, after, name_prefix, 1,
                                   wait=_FOREGROUND_WAIT)[0]

    def _list_fd_pages(self, fd: int, path: str, limit: int, after: str | None,
                       name_prefix: str, pages: int, wait: float = 0) -> list[Page]:
        """Pages of the checked folder ``fd``: by the lister process when it is free (off
        this process's GIL) or frees up within ``wait`` seconds, else one page here."""
        base_real = self._base_real()
        if self._lister is not None:
            listed = self._lister.list(fd, path, limit, after, base_real, pages, name_prefix,
                                       wait)
            if listed:
                return listed
        folder_real = fd_path(fd) or os.path.realpath(os.path.join(base_real, path))
        return [list_fd(fd, self._names, path, limit, after, name_prefix, base_real,
                        folder_real)]

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
        # a link leading out is refused as stat refuses it, before anything moves
        self._resolve(src)
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


    async def close(self) -> None:
        self._ahead.clear()
        if self._lister is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._lister.close)


class LocalWriter(Writer):
    """Writes to a hidden temp file beside the target, renamed over it on commit."""

    def __init__(self, backend: LocalBackend, path: str, overwrite: bool) -> None:
        self.backend, self.path, self.overwrite = backend, path, overwrite
        self.dir_fd, self.name = backend._parent_fd(path)
        self.fd: int | None = None
        self.tmp: str | None = None
        self._claim: Claim | None = None
        try:
            self._check_target()
            # same folder, so the final rename is atomic (same file system)
            self.tmp = f".{self.name[:180]}.{secrets.token_hex(8)}{UPLOAD_SUFFIX}"
            # claimed first: a server killed mid-upload leaves it for the next start to remove
            folder = fd_path(self.dir_fd)
            self._claim = claim(os.path.join(folder, self.tmp)) if folder else None
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
        if statmod.S_ISLNK(st.st_mode):
            # a link leading out of the root is refused here as stat, preview and rename
            # refuse it; the commit's rename would replace the link itself, never its target
            self.backend._resolve(self.path)
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
        if self._claim is not None:
            self._claim.release()
            self._claim = None
        if self.dir_fd is not None and self.tmp is None and self.fd is None:
            os.close(self.dir_fd)
            self.dir_fd = None  # type: ignore[assignment]
