"""The base every handler shares: the core service, the request body as a typed model,
one way to reply, who is asking, JSON errors, no stale caches.

A handler reads its request with ``self.request_of(Model)`` (a 400 naming the field
when the body does not fit), calls the core, and answers with ``self.reply(doc)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado.iostream import StreamClosedError

from ..errors import BadRequest, RayDevError
from ..service import RayDevService

if TYPE_CHECKING:
    # a model's module loads with its route's first request, not at start-up
    from ..request_model import RequestModel

M = TypeVar("M", bound="RequestModel")


def encode(doc: Any) -> bytes:
    """A reply's JSON. orjson: a 5000-entry storage page encodes ~10x faster than with json
    (a 100k-entry walk spent more time encoding than listing), compact, and it embeds an
    ``orjson.Fragment`` (JSON encoded already) as it is. Non-string keys are rare and cost
    the fast path ~1.6x, so only a document that has them takes the slower option."""
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)


class RayDevHandler(ExtensionHandlerMixin, APIHandler):
    """Base: turns core errors into JSON bodies with their status, without a traceback."""

    @property
    def service(self) -> RayDevService:
        return self.extensionapp.service  # type: ignore[attr-defined]

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # cluster state changes by the second; no cache may serve it stale
        self.set_header("Cache-Control", "no-store")

    def compute_etag(self) -> str | None:
        # every reply is no-store, so an ETag is never used; Tornado would hash each body
        # for one (a 100k-entry storage walk is 10 MB of JSON)
        return None

    # --- the request -------------------------------------------------------------------------

    def json_body(self) -> Any:
        """The body as JSON (an empty body is null)."""
        try:
            return json.loads(self.request.body or b"null")
        except ValueError as err:
            raise BadRequest(f"The request body is not JSON: {err}.", field="body") from err

    def request_of(self, model: type[M]) -> M:
        """The body validated into ``model``: a 400 naming the field and the fix if not."""
        return model.from_json(self.json_body())

    def body(self) -> dict[str, Any]:
        """A body that must be a JSON object (routes whose core checks each value)."""
        body = self.json_body()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.", field="body")
        return body

    @property
    def user(self) -> str | None:
        """Who is asking, as recorded with a job or a promotion."""
        user = self.current_user
        return getattr(user, "username", None) or (user if isinstance(user, str) else None)

    @property
    def principal(self) -> str:
        """Who may be served what was prepared for this request's user (a storage walk's
        pages listed ahead): this user only. jupyter-server gives a token-only request (no
        login cookie) a new random anonymous user each time, so there it is the token
        presented (hashed: no copy of it is kept); otherwise the user's name."""
        if self.token_authenticated:
            presented = self.identity_provider.get_token(self) or ""
            return "token:" + hashlib.sha256(presented.encode()).hexdigest()
        return "user:" + self.current_user.username

    # --- the reply ---------------------------------------------------------------------------

    def reply(self, doc: Any, status: int = 200) -> None:
        """The one way a handler answers with JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(encode(doc))

    async def reply_stream(self, chunks: AsyncIterator[bytes]) -> None:
        """Send bytes as they come (downloads), one chunk in memory at a time; headers are
        the caller's. A browser that goes away ends it quietly."""
        try:
            async for chunk in chunks:
                self.write(chunk)
                await self.flush()  # waits for the socket: memory stays at one chunk
        except StreamClosedError:
            return
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()  # the source's clean-up runs now, not when collected
        self.finish()

    # --- errors ------------------------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RayDevError):
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.to_dict()))
            return
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # expected conditions (Ray down, bad input) are not server bugs: one line, no traceback
        if isinstance(value, RayDevError):
            self.log.warning("%s %s: %s", self.request.method, self.request.path, value.message)
            return
        super().log_exception(typ, value, tb)


@cache
def openapi_document() -> dict[str, Any]:
    return json.loads(files("jupyter_ray_dev").joinpath("openapi.json").read_text(encoding="utf-8"))


class OpenAPIHandler(RayDevHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.reply(openapi_document())


API_PREFIX = "/ray-dev/api"
