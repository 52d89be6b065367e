"""Google Cloud Storage through gcsfs, imported on first use."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..errors import StorageBackendMissing
from .remote import FsspecBackend, RemoteWriter, public_endpoint


class GCSWriter(RemoteWriter):
    async def abort(self) -> None:
        handle, self.handle = self.handle, None
        if handle is None:
            return
        handle.closed = True  # so its __del__ cannot flush later
        location = getattr(handle, "location", None)
        if location:
            await self.backend._remote(self.path, lambda fs: _cancel_upload(fs, location))
        self.claim.release()

    @staticmethod
    def upload_id(handle: Any) -> str | None:
        """The resumable session's URL (None before the first chunk goes up)."""
        return getattr(handle, "location", None)


async def _cancel_upload(fs: Any, location: str) -> None:
    # One attempt, not gcsfs's retry loop (~35 s when a cancel fails, as on the emulator,
    # which answers 501). An uncancelled session never becomes an object; GCS drops it
    # after a week.
    once = getattr(type(fs)._request, "__wrapped__", type(fs)._request)
    await once(fs, "DELETE", location.replace("&ifGenerationMatch=0", ""))


class GCSBackend(FsspecBackend):
    writer_class = GCSWriter
    credentials_hint = (
        "Give the server credentials through the environment (GOOGLE_APPLICATION_CREDENTIALS, "
        "Workload Identity for the pod) or the root's options (token, project); use options "
        "{'token': 'anon'} for public buckets."
    )

    @property
    def endpoint(self) -> str:
        url = self.root.options.get("endpoint_url") or os.environ.get("STORAGE_EMULATOR_HOST")
        return public_endpoint(url) if url else "https://storage.googleapis.com"

    def _make_fs(self) -> Any:
        try:
            import gcsfs
            from gcsfs.core import GCSFileSystem
        except ImportError as err:
            raise StorageBackendMissing(
                f"Storage root '{self.root.name}' ({self.root.url}) needs gcsfs, which is not "
                "installed: pip install 'jupyter_ray_dev[cloud]' (or gcsfs) and restart.",
                root=self.root.name) from err
        options = dict(self.root.options)
        options.setdefault("skip_instance_cache", True)
        options.setdefault("use_listings_cache", False)
        # gcsfs.GCSFileSystem is the "extended" class (zonal/HNS buckets via gRPC) unless
        # GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false; custom endpoints (emulators, private
        # gateways) do not speak that gRPC API and each bucket would wait 60 s for it, so they
        # get the plain JSON-API class. Chosen per root: no process-wide env change.
        cls = GCSFileSystem if options.get("endpoint_url") else gcsfs.GCSFileSystem
        return cls(**options)

    def _abort_interrupted(self, fs: Any, upload: dict[str, Any]) -> str:
        from fsspec.asyn import sync

        where = f"gs://{upload['bucket']}/{upload['key']}"
        if not upload.get("id"):
            # no session was recorded, and GCS cannot list sessions: if one was started just
            # before the kill it never becomes an object, and GCS drops it after a week
            return f"{where}: no resumable session was started"
        try:
            sync(fs.loop, _cancel_upload, fs, upload["id"])
        except FileNotFoundError:
            pass  # finished or cancelled meanwhile
        except Exception as err:  # noqa: BLE001
            if "HttpError" not in {c.__name__ for c in type(err).__mro__}:
                raise
            # the store answered but would not cancel (the emulator says 501): asking again
            # at every start would not change that; the session expires on its own
            return f"{where}: the resumable session's cancel was refused ({err}); it expires"
        return f"{where}: resumable session cancelled"

    async def _list_call(self, fs: Any, bucket: str, prefix: str, limit: int,
                         token: str | None, delimiter: bool = True
                         ) -> tuple[list[str], list[tuple[str, int, Any]], str | None]:
        out = await fs._call_list_objects(
            bucket, prefix=prefix, delimiter="/" if delimiter else None,
            maxResults=min(limit, 1000), pageToken=token)
        files = [(i["name"], int(i.get("size", 0)), i.get("updated"))
                 for i in out.get("items", [])]
        return list(out.get("prefixes", [])), files, out.get("nextPageToken")

    async def _head_call(self, fs: Any, bucket: str, key: str) -> None:
        await fs._call("GET", "b/{}/o/{}", bucket, key, json_out=True)  # 404 -> FileNotFoundError

    async def _delete_keys(self, fs: Any, bucket: str, keys: list[str]) -> None:
        # the JSON API deletes one object per request: a few at a time
        limit = asyncio.Semaphore(16)

        async def delete(key: str) -> None:
            async with limit:
                try:
                    await fs._call("DELETE", "b/{}/o/{}", bucket, key)
                except FileNotFoundError:
                    pass  # gone already: that is what we wanted

        await asyncio.gather(*(delete(key) for key in keys))
