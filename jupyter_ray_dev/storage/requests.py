"""What the storage routes that change a root accept (request_model). Paths are checked
by the core (``clean_relpath``), which names the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from ..request_model import REQUIRED, RequestModel, option


def _path(value: Any, name: str) -> Any:
    return value  # clean_relpath checks it: type, NUL, `..`, length


def _size(value: int, name: str) -> int:
    if not isinstance(value, int):
        raise BadRequest("`size` must be the file's size in bytes.", field=name)
    return value


@dataclass(frozen=True)
class UploadRequest(RequestModel):
    what = "upload request"

    path: str = option(REQUIRED, raw=True, check=_path,
                       help="the file to create, relative to the root; its folder must exist")
    size: int | None = option(check=_size, help="the file's size in bytes, when known")
    overwrite: bool = option(False, help="replace an existing file")


@dataclass(frozen=True)
class MkdirRequest(RequestModel):
    what = "mkdir request"

    path: str = option(REQUIRED, raw=True, check=_path, help="the folder to create")


@dataclass(frozen=True)
class RenameRequest(RequestModel):
    what = "rename request"

    path: str = option(REQUIRED, raw=True, check=_path, help="what to rename")
    new_path: str = option(REQUIRED, raw=True, check=_path, help="its new path")


@dataclass(frozen=True)
class DeleteRequest(RequestModel):
    what = "delete request"

    path: str = option(REQUIRED, raw=True, check=_path, help="what to delete")
    recursive: bool = option(False, help="a folder and everything in it")
