"""``/storage/...``: browse, preview, download and change the configured storage roots.

Thin: read the request, call ``service.storage`` (jupyter_ray_dev.storage), write
JSON or stream bytes. Paths travel in the query (``?path=a/b.csv``) or a JSON
body, never in the URL path, so no router or proxy normalises them first; the
core checks them.

Uploads: ``POST uploads`` {path, size?, overwrite?} opens a session; ``PUT
uploads/<id>`` sends each chunk (raw bytes, ``Content-Range: bytes a-b/total``,
in order; a lost answer can be retried); ``POST uploads/<id>/commit`` makes the
file appear atomically; ``DELETE uploads/<id>`` cancels and leaves nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
import tornado.web

from ..errors import BadRequest
from ..storage.errors import RangeNotSatisfiable
from .base import API_PREFIX, RayDevHandler

if TYPE_CHECKING:
    from ..storage import StorageService

PREFIX = f"{API_PREFIX}/storage"
ROOT = r"(?P<root>[^/]+)"
UPLOAD = r"(?P<upload_id>[A-Za-z0-9_-]+)"

# types a browser may render inline from our origin would be a script-injection risk;
# downloads are always attachments, and these are also sent as plain bytes
_INLINE_RISK = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml",
                "application/xml", "application/javascript", "text/javascript")


class StorageHandler(RayDevHandler):
    @property
    def storage(self) -> StorageService:
        return self.service.storage

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        # every verb, also ones a route does not serve: unauthenticated is 403, never 405
        if self.current_user is None:
            raise tornado.web.HTTPError(403)

    def query(self, name: str, default: str | None = None) -> str | None:
        # the raw value: Tornado's get_argument strips spaces and turns control characters
        # into spaces, which would hide a NUL from the core's checks
        values = self.request.query_arguments.get(name)
        if not values:
            return default
        try:
            return values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"`{name}` is not valid UTF-8.", field=name) from None

    def query_int(self, name: str) -> int | None:
        value = self.query(name)
        if value in (None, ""):
            return None
        try:
            return int(value)  # type: ignore[arg-type]
        except ValueError:
            raise BadRequest(f"`{name}` must be an integer.", field=name) from None


class RootsHandler(StorageHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.reply({"roots": self.storage.roots()})


class ListHandler(StorageHandler):
    @tornado.web.authenticated
    async def get(self, root: str) -> None:
        page = await self.storage.list(root, self.query("path", ""), self.query_int("limit"),
                                       self.query("cursor"), owner=self.principal)
        if isinstance(page["entries"], bytes):
            # listed ahead, as JSON already: embedded as it is, not decoded and encoded again
            page["entries"] = orjson.Fragment(page["entries"])
        self.reply(page)


class StatHandler(StorageHandler):
    @tornado.web.authenticated
    async def get(self, root: str) -> None:
        self.reply(await self.storage.stat(root, self.query("path", "")))


class PreviewHandler(StorageHandler):
    @tornado.web.authenticated
    async def get(self, root: str) -> None:
        self.reply(await self.storage.preview(root, self.query("path", ""),
                                              self.query_int("max_bytes")))


class DownloadHandler(StorageHandler):
    @tornado.web.authenticated
    async def get(self, root: str) -> None:
        download = await self.storage.download(root, self.query("path", ""),
                                               self.request.headers.get("Range"))
        mime = download.mime
        if mime.split(";")[0] in _INLINE_RISK:
            mime = "application/octet-stream"
        self.set_status(206 if download.partial else 200)
        self.set_header("Content-Type", mime)
        self.set_header("Content-Length", str(download.length))
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Disposition",
                        f"attachment; filename*=UTF-8''{quote(download.name, safe='')}")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        if download.partial:
            self.set_header("Content-Range",
                            f"bytes {download.start}-{download.end - 1}/{download.size}")
        await self.reply_stream(download.chunks)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        err = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(err, RangeNotSatisfiable):
            # set here: Tornado clears the headers before writing an error
            self.set_header("Content-Range", f"bytes */{err.details.get('size', 0)}")
        super().write_error(status_code, **kwargs)


class UploadsHandler(StorageHandler):
    @tornado.web.authenticated
    async def post(self, root: str) -> None:
        from ..storage.requests import UploadRequest

        request = self.request_of(UploadRequest)
        session = await self.storage.start_upload(root, request.path, request.size,
                                                  request.overwrite)
        self.reply(session, status=201)


class UploadHandler(StorageHandler):
    @tornado.web.authenticated
    async def put(self, root: str, upload_id: str) -> None:
        self.reply(await self.storage.upload_chunk(root, upload_id, self.request.body,
                                                   self.request.headers.get("Content-Range")))

    @tornado.web.authenticated
    async def delete(self, root: str, upload_id: str) -> None:
        await self.storage.abort_upload(root, upload_id)
        self.set_status(204)
        self.finish()


class UploadCommitHandler(StorageHandler):
    @tornado.web.authenticated
    async def post(self, root: str, upload_id: str) -> None:
        self.reply(await self.storage.commit_upload(root, upload_id), status=201)


class MkdirHandler(StorageHandler):
    @tornado.web.authenticated
    async def post(self, root: str) -> None:
        from ..storage.requests import MkdirRequest

        self.reply(await self.storage.mkdir(root, self.request_of(MkdirRequest).path),
                   status=201)


class RenameHandler(StorageHandler):
    @tornado.web.authenticated
    async def post(self, root: str) -> None:
        from ..storage.requests import RenameRequest

        request = self.request_of(RenameRequest)
        self.reply(await self.storage.rename(root, request.path, request.new_path))


class DeleteHandler(StorageHandler):
    @tornado.web.authenticated
    async def post(self, root: str) -> None:
        from ..storage.requests import DeleteRequest

        request = self.request_of(DeleteRequest)
        self.reply(await self.storage.delete(root, request.path, request.recursive))


ROUTES = [
    (f"{PREFIX}/roots", RootsHandler),
    (f"{PREFIX}/{ROOT}/list", ListHandler),
    (f"{PREFIX}/{ROOT}/stat", StatHandler),
    (f"{PREFIX}/{ROOT}/preview", PreviewHandler),
    (f"{PREFIX}/{ROOT}/download", DownloadHandler),
    (f"{PREFIX}/{ROOT}/uploads", UploadsHandler),
    (f"{PREFIX}/{ROOT}/uploads/{UPLOAD}", UploadHandler),
    (f"{PREFIX}/{ROOT}/uploads/{UPLOAD}/commit", UploadCommitHandler),
    (f"{PREFIX}/{ROOT}/mkdir", MkdirHandler),
    (f"{PREFIX}/{ROOT}/rename", RenameHandler),
    (f"{PREFIX}/{ROOT}/delete", DeleteHandler),
]
