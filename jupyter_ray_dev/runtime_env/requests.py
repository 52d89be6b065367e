"""What the runtime_env routes accept (request_model: one definition for every face)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..request_model import REQUIRED, Flag, RequestModel, option


def _as_sent(value: Any, name: str) -> Any:
    return value  # the core checks it where it knows the rules (Ray's schema, the roots)


@dataclass(frozen=True)
class RuntimeEnvWrite(RequestModel):
    what = "runtime_env write"

    runtime_env: dict[str, Any] | None = option(
        raw=True, check=_as_sent, cli=(), help="the environment, laid onto the file (its "
        "comments kept)")
    yaml: str | None = option(help="the file's whole text")
    etag: str | None = option(help="the ETag the file was read with (or If-Match)")


@dataclass(frozen=True)
class ValidateRequest(RequestModel):
    what = "validate request"

    runtime_env: dict[str, Any] | None = option(raw=True, check=_as_sent, cli=(),
                                                help="the environment to check")
    yaml: str | None = option(help="the file's text to check (a YAML error is a verdict)")


@dataclass(frozen=True)
class InstallRequest(RequestModel):
    what = "install request"

    requirements: list[str] | None = option(
        raw=True, check=_as_sent, cli=(), help="pip requirements (default: the environment's "
        "pip packages)")
    root: str | None = option(raw=True, check=_as_sent,
                              help="a folder under one of the server's shared roots")
    apply: bool = option(True, help="point the project's env at the installed folder")


@dataclass(frozen=True)
class PackagesRequest(RequestModel):
    """Packages to add to the project's pip (or uv) list, e.g. what a run imported but the
    project never declared, pinned to the run's version."""

    what = "packages request"

    requirements: list[str] | None = option(
        raw=True, check=_as_sent, help="requirements to add, e.g. tabulate==0.9.0",
        cli=(Flag(("requirements",), "requirements to add, e.g. tabulate==0.9.0",
                  nargs="+", metavar="REQUIREMENT"),))
    etag: str | None = option(help="the ETag the file was read with (or If-Match)")


def _ids(value: Any, name: str) -> list[str]:
    from ..errors import BadRequest

    if not isinstance(value, list) or not value or not all(
            isinstance(x, str) and 0 < len(x) <= 64 for x in value):
        raise BadRequest(f"`{name}` must be a non-empty list of install ids (the `id` of "
                         "each entry of GET .../notebook-installs).", field=name)
    return value


@dataclass(frozen=True)
class DismissInstallsRequest(RequestModel):
    """Installs a notebook made that the user does not want in the project's runtime_env."""

    what = "dismiss request"

    ids: list[str] = option(REQUIRED, raw=True, check=_ids, cli=(),
                            help="ids of the installs to hide")
