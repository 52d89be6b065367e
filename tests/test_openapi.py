"""The shipped OpenAPI document describes exactly the routes the server registers."""

from __future__ import annotations

import json
import re

from openapi_spec_validator import validate

from jupyter_ray_dev.handlers import ROUTES, openapi_document


def test_openapi_document_is_valid():
    validate(openapi_document())


def as_template(pattern: str) -> str:
    r"""A route regex as an OpenAPI path template: (?P<job_id>[\w\-]+) -> {job_id}."""
    return re.sub(r"\(\?P<(\w+)>[^()]*\)", r"{\1}", pattern)


def test_every_registered_route_is_described_and_every_described_route_exists(jp_serverapp):
    described = set(openapi_document()["paths"])
    declared = {as_template(pattern) for pattern, _ in ROUTES}
    assert declared == described

    # and the running server really routes each described path to our handlers
    rules = [rule.matcher.regex.pattern for rule in jp_serverapp.web_app.wildcard_router.rules
             if hasattr(rule.matcher, "regex")]
    for path in described:
        concrete = re.sub(r"\{\w+\}", "raysubmit_x-1", path)  # a value each template takes
        assert any(re.fullmatch(p.rstrip("$"), concrete) for p in rules), f"{path} not routed"


async def test_openapi_is_served(jp_fetch):
    response = await jp_fetch("ray-dev", "api", "openapi.json")
    assert json.loads(response.body) == openapi_document()
