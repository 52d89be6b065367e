"""CI or a user's machine: a skip is a reason on the one, a failure on the other."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """CI as `.ci/run` sets it (CI=1) or as CI runners do (CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_unless_ci(reason: str) -> None:
    """Skip on a user's machine, where the part may truly be missing; fail in CI, which
    installs every part (a skip there would pass what was never tested)."""
    if in_ci():
        pytest.fail(f"CI must run this test: {reason}", pytrace=False)
    pytest.skip(reason)
