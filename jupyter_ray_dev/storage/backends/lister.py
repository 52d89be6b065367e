"""A helper process that lists the pages a paged walk of a local folder asks for next.

Why a process: a walk of a 100k-entry folder is 200 page requests. In one process
the listing (an lstat and a dict per entry) and Jupyter's handling of the requests
take turns on one GIL, so the walk costs their sum. From a child the next page is
listed on another core while the server answers the current one.

Confinement stays in the server: it opens and checks the folder (``_open_checked``)
and passes the open *descriptor* over a Unix socket (SCM_RIGHTS); the child lists
relative to it with the same code the server uses (``local_listing.list_fd``) and
never opens a path. The page comes back JSON-encoded and is passed on as bytes, which
the REST reply embeds as they are: the entries are not decoded and encoded again.
It lists a walk's first page too (and the name-prefix probes of Ray detection), so
the 100k-name listdir and sort of a big folder never hold the server's GIL.

The child only makes walks faster: when it is busy, not started yet, dead or slow,
``Lister.list`` returns None and the caller lists in its own thread, as it would
without it. It starts on first use, is stopped by its PID, and exits by itself when
the server's end of the socket closes.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import orjson

from .local_listing import NameCache, Page, fd_path, list_fd

log = logging.getLogger(__name__)

_READY = b"R"
_LENGTH = struct.Struct("!I")  # request: length, then the JSON (the descriptor rides along)
_REPLY = struct.Struct("!II")  # reply: header length, body length, header JSON, body JSON
_MAX_FAILED_STARTS = 3  # then this server lists in its threads only, as without the child
_STOP_WAIT = 2.0
_NICE = 10
_SOCKET_BUFFER = 4 << 20
# the folder holding the jupyter_ray_dev package (see _start)
_IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


class _Broken(Exception):
    """The child answered something that is not a reply."""


def _recv_exact(sock: socket.socket, n: int) -> memoryview:
    view, got = memoryview(bytearray(n)), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise _Broken("the lister process closed its socket")
        got += k
    return view


def _wait_readable(sock: socket.socket, timeout: float) -> None:
    poller = select.poll()  # not select(): descriptors above 1023 are common in a server
    poller.register(sock, select.POLLIN)
    poller.poll(timeout * 1000)


def _socketpair() -> tuple[socket.socket, socket.socket]:
    pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        for sock in pair:  # a batch of pages in one write and one read, not dozens of each
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
    except OSError:
        for sock in pair:
            sock.close()
        raise
    return pair


class Lister:
    """The server's side: one child per local root, one request at a time."""

    def __init__(self, timeout: float, root_name: str) -> None:
        self.timeout = timeout
        self.root_name = root_name
        self.generation = 0  # bumped by forget(); the child drops its names when it changes
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._ready = False
        self._failed_starts = 0
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def wait_ready(self, timeout: float) -> bool:
        """Start the child if it is not running and wait until it answers (for tests and
        benchmarks: a walk never waits for it). Blocking."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._closed:
                if self._usable():
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self._failed_starts >= _MAX_FAILED_STARTS:
                    return False
                if self._sock is not None:
                    _wait_readable(self._sock, left)
        return False

    def forget(self) -> None:
        """A write went through this root: names the child keeps may be stale (an mtime
        too coarse to tell), so its next request tells it to drop them."""
        self.generation += 1

    def list(self, fd: int, path: str, limit: int, after: str | None, base_real: str,
             pages: int = 1, name_prefix: str = "", wait: float = 0) -> list[Page] | None:
        """Up to ``pages`` consecutive pages after ``after`` of the (checked) folder open
        as ``fd``, listed by the child, their entries as JSON (bytes); None when the
        caller should list them itself. A child busy with another request is waited for
        up to ``wait`` seconds."""
        try:
            request = orjson.dumps({"path": path, "limit": limit, "after": after,
                                    "prefix": name_prefix, "pages": pages,
                                    "base": base_real, "generation": self.generation})
        except TypeError:
            return None  # a name that is not UTF-8: listed in a thread, as before
        if self._closed:
            return None
        # Lock.acquire takes timeout=-1 for "forever", so no wait is a non-blocking try
        if not (self._lock.acquire(timeout=wait) if wait > 0
                else self._lock.acquire(blocking=False)):
            return None  # busy with another request: a thread of the pool lists it
        try:
            if self._closed or not self._usable():
                return None
            return self._exchange(request, fd)
        except Exception as err:  # noqa: BLE001 - whatever it is, the caller lists the page
            # hung (timeout), dead, out of descriptors, or confused (a reply that does not
            # parse leaves the socket mid-message): stop it; the next walk starts another
            log.warning("storage root '%s': the lister process (pid %s) failed (%s: %s); "
                        "listing in the server's threads", self.root_name, self.pid,
                        type(err).__name__, err)
            self._stop_child()
            return None
        finally:
            self._lock.release()

    def _exchange(self, request: bytes, fd: int) -> list[Page] | None:
        assert self._sock is not None
        message = _LENGTH.pack(len(request)) + request
        sent = socket.send_fds(self._sock, [message], [fd])
        if sent < len(message):  # the descriptor went with the first bytes
            self._sock.sendall(message[sent:])
        header_len, body_len = _REPLY.unpack(_recv_exact(self._sock, _REPLY.size))
        header = orjson.loads(_recv_exact(self._sock, header_len))
        body = _recv_exact(self._sock, body_len)
        if "error" in header:
            return None  # the caller lists it and reports the error as it always has
        pages, start = [], 0
        for size, next_token, (dev, ino, mtime) in header["pages"]:
            pages.append(Page(body[start:start + size].tobytes(), next_token,
                              (dev, ino, mtime)))
            start += size
        if start != body_len:
            raise _Broken("the reply's pages do not add up to its body")
        return pages

    def _usable(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            log.warning("storage root '%s': the lister process (pid %s) exited with %s",
                        self.root_name, self._proc.pid, self._proc.returncode)
            self._failed_starts += not self._ready
            self._stop_child()
        if self._proc is None:
            if self._failed_starts < _MAX_FAILED_STARTS and not self._closed:
                self._start()
            return False  # starting: this page is listed in a thread
        if not self._ready:
            assert self._sock is not None
            try:
                ready = self._sock.recv(1, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False  # still starting
            if ready != _READY:
                self._failed_starts += 1
                self._stop_child()
                return False
            self._ready, self._failed_starts = True, 0
            log.info("storage root '%s': lister process %s started", self.root_name, self.pid)
        return True

    def _start(self) -> None:
        try:
            ours, theirs = _socketpair()
        except OSError as err:  # out of descriptors: no child this time
            self._failed_starts += 1
            log.warning("storage root '%s': cannot start the lister process (%s)",
                        self.root_name, err)
            return
        try:
            # its own session: a Ctrl-C in the server's terminal is the server's to handle
            # run from the folder this package is imported from: `-m` puts the working
            # directory first on sys.path, and the server's may be a notebook folder
            # anyone can write to
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, start_new_session=True, cwd=_IMPORT_ROOT)
        except OSError as err:
            ours.close()
            self._failed_starts += 1
            log.warning("storage root '%s': cannot start the lister process (%s)",
                        self.root_name, err)
            return
        finally:
            theirs.close()
        ours.settimeout(self.timeout)
        self._sock, self._ready = ours, False

    def _stop_child(self, gently: bool = False) -> None:
        proc, sock = self._proc, self._sock
        self._proc, self._sock, self._ready = None, None, False
        if sock is not None:
            sock.close()  # the child reads EOF and exits
        if proc is not None:
            _stop(proc, gently)

    def close(self) -> None:
        """Stop the child (by its PID) and start no other. Blocking: run it off the loop."""
        self._closed = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread waiting for a reply
            except OSError:
                pass
        with self._lock:
            self._stop_child(gently=True)


def _stop(proc: subprocess.Popen[bytes], gently: bool) -> None:
    # gently: it exits on EOF, else SIGTERM; a failed child is killed at once (hung)
    for sig in (None, signal.SIGTERM, signal.SIGKILL) if gently else (signal.SIGKILL,):
        if sig is not None and proc.poll() is None:
            os.kill(proc.pid, sig)  # by PID: only the child we started
        try:
            proc.wait(_STOP_WAIT)
            return
        except subprocess.TimeoutExpired:
            continue
    log.warning("lister process %s did not exit (blocked on a hung mount?)", proc.pid)


# -- the child ------------------------------------------------------------------------------------


def serve(sock: socket.socket) -> None:
    from ..ray_names import mark_checkpoints

    names, generation = NameCache(), None
    sock.sendall(_READY)
    while True:
        head, fds, _flags, _addr = socket.recv_fds(sock, _LENGTH.size, 1)
        if not head:
            return  # the server closed its end
        try:
            if len(head) < _LENGTH.size:
                head += _recv_exact(sock, _LENGTH.size - len(head)).tobytes()
            request = orjson.loads(_recv_exact(sock, _LENGTH.unpack(head)[0]))
            if not fds:
                raise _Broken("a request without a folder descriptor")
            if request["generation"] != generation:
                names.clear()
                generation = request["generation"]
            path, base, after = request["path"], request["base"], request["after"]
            folder_real = fd_path(fds[0]) or os.path.realpath(os.path.join(base, path))
            pages, bodies = [], []
            for _ in range(request["pages"]):
                page = list_fd(fds[0], names, path, request["limit"], after,
                               request["prefix"], base, folder_real)
                mark_checkpoints(page.entries)
                bodies.append(orjson.dumps(page.entries))
                pages.append((len(bodies[-1]), page.next_token, page.folder))
                after = page.next_token
                if after is None:
                    break
            header = orjson.dumps({"pages": pages})
        except (OSError, TypeError, ValueError, KeyError) as err:
            bodies, header = [], orjson.dumps({"error": f"{type(err).__name__}: {err}"})
        finally:
            for fd in fds:
                os.close(fd)
        sock.sendall(b"".join([_REPLY.pack(len(header), sum(map(len, bodies))), header,
                               *bodies]))


def main() -> None:
    # listing ahead is background work: the server answering requests comes first
    os.nice(_NICE)
    with socket.socket(fileno=int(sys.argv[1])) as sock:
        try:
            serve(sock)
        except (ConnectionError, _Broken):
            pass  # the server went away mid-request


if __name__ == "__main__":
    main()
