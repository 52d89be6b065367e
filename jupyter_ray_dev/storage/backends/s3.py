"""S3 and S3-compatible stores (MinIO, Ceph, moto) through s3fs, imported on first use."""

from __future__ import annotations

import os
from typing import Any

from ..errors import StorageBackendMissing
from .remote import FsspecBackend, public_endpoint


class S3Backend(FsspecBackend):
    credentials_hint = (
        "Give the server credentials through the environment (AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an IAM role for the pod) or the root's options "
        "(key/secret, profile); use options {'anon': true} for public buckets."
    )

    @property
    def endpoint(self) -> str:
        opts = self.root.options
        url = opts.get("endpoint_url") or (opts.get("client_kwargs") or {}).get("endpoint_url") \
            or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return public_endpoint(url) if url else f"s3://{self.root.bucket} (AWS)"

    def _make_fs(self) -> Any:
        try:
            import s3fs
        except ImportError as err:
            raise StorageBackendMissing(
                f"Storage root '{self.root.name}' ({self.root.url}) needs s3fs, which is not "
                "installed: pip install 'jupyter_ray_dev[cloud]' (or s3fs) and restart.",
                root=self.root.name) from err
        options = dict(self.root.options)
        # short network timeouts and few retries: a dead endpoint should become a 503 in
        # seconds, not after botocore's and s3fs's retry loops multiply each other
        config = {"connect_timeout": 5, "read_timeout": 60,
                  "retries": {"max_attempts": 3, "mode": "standard"},
                  **(options.pop("config_kwargs", None) or {})}
        options.setdefault("skip_instance_cache", True)
        # we page ourselves and need fresh listings after every write
        options.setdefault("use_listings_cache", False)
        fs = s3fs.S3FileSystem(config_kwargs=config, **options)
        fs.retries = min(fs.retries, 3)
        return fs

    async def _list_call(self, fs: Any, bucket: str, prefix: str, limit: int,
                         token: str | None, delimiter: bool = True
                         ) -> tuple[list[str], list[tuple[str, int, Any]], str | None]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": limit}
        if delimiter:
            kwargs["Delimiter"] = "/"
        if token:
            kwargs["ContinuationToken"] = token
        out = await fs._call_s3("list_objects_v2", **kwargs)
        dirs = [p["Prefix"] for p in out.get("CommonPrefixes", [])]
        files = [(c["Key"], int(c.get("Size", 0)), c.get("LastModified"))
                 for c in out.get("Contents", [])]
        return dirs, files, out.get("NextContinuationToken") if out.get("IsTruncated") else None

    async def _head_call(self, fs: Any, bucket: str, key: str) -> None:
        await fs._call_s3("head_object", Bucket=bucket, Key=key)  # s3fs: 404 -> FileNotFoundError

    def _abort_interrupted(self, fs: Any, upload: dict[str, Any]) -> str:
        bucket, key = upload["bucket"], upload["key"]
        if upload.get("id"):
            ids = [upload["id"]]
        else:
            # killed between starting the upload and recording its id: the unfinished
            # uploads of exactly this key (not filtered by their start: S3-compatible stores
            # do not all report it, moto answers a fixed date)
            out = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=key)
            ids = [u["UploadId"] for u in out.get("Uploads", []) if u["Key"] == key]
        for upload_id in ids:
            try:
                fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key,
                           UploadId=upload_id)
            except FileNotFoundError:
                pass  # completed or aborted meanwhile
        return f"s3://{bucket}/{key}: {len(ids)} unfinished multipart upload(s) aborted"

    async def _delete_keys(self, fs: Any, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": key} for key in keys[start:start + 1000]]
            out = await fs._call_s3("delete_objects", Bucket=bucket,
                                    Delete={"Objects": batch, "Quiet": True})
            if out.get("Errors"):
                first = out["Errors"][0]
                raise PermissionError(f"{first.get('Key')}: {first.get('Message')}")
