"""Ray token authentication, resolved the way Ray's own clients resolve it.

Ray 2.60: ``RAY_AUTH_MODE`` set explicitly wins; when it is unset, token auth is
on as soon as a token can be found. The token comes from ``RAY_AUTH_TOKEN``,
then the file named by ``RAY_AUTH_TOKEN_PATH``, then ``~/.ray/auth_token``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RayAuthFailed


@dataclass(frozen=True)
class RayAuth:
    mode: str  # "token" or "none"
    token: str | None = field(default=None, repr=False)  # never logged, never returned
    source: str | None = None  # where the token came from, safe to show

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


# Every status read (each panel, each live log's ticks) resolves the auth on the event
# loop: a token file's content is read at most once a second, not per call, so a disk
# busy with writeback (a big folder just written) stalls the loop at most that often. A
# rotated token is picked up within a second, a new one at once (a missing file is only
# a name lookup), without restarting Jupyter.
_FILE_TTL = 1.0
_files: dict[Path, tuple[float, str | None]] = {}
_files_lock = threading.Lock()


def _read_token_file(path: Path) -> str | None:
    now = time.monotonic()
    with _files_lock:
        cached = _files.get(path)
    if cached is not None and now - cached[0] < _FILE_TTL:
        return cached[1]
    try:
        token = path.read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError):
        token = None
    if token is not None:
        with _files_lock:
            if len(_files) > 16:
                _files.clear()
            _files[path] = (now, token)
    return token


def _find_token(env: Mapping[str, str], home: Path) -> tuple[str | None, str | None]:
    if env.get("RAY_AUTH_TOKEN", "").strip():
        return env["RAY_AUTH_TOKEN"].strip(), "RAY_AUTH_TOKEN"
    if env.get("RAY_AUTH_TOKEN_PATH"):
        path = Path(env["RAY_AUTH_TOKEN_PATH"]).expanduser()
        return _read_token_file(path), f"RAY_AUTH_TOKEN_PATH ({path})"
    default = home / ".ray" / "auth_token"
    token = _read_token_file(default)
    return token, (str(default) if token else None)


def resolve_auth(env: Mapping[str, str] | None = None, home: Path | None = None) -> RayAuth:
    """Work out how to authenticate to Ray from the environment."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    mode = env.get("RAY_AUTH_MODE", "").strip().lower()
    if mode and mode != "token":
        return RayAuth(mode="none")
    token, source = _find_token(env, home)
    if token:
        return RayAuth(mode="token", token=token, source=source)
    if mode == "token":
        raise RayAuthFailed(
            "RAY_AUTH_MODE=token is set but no Ray token was found. Set RAY_AUTH_TOKEN, "
            "or RAY_AUTH_TOKEN_PATH to a file holding it, or write it to ~/.ray/auth_token "
            "(`ray get-auth-token` prints it on a machine of the cluster).",
            auth_mode="token",
        )
    return RayAuth(mode="none")
