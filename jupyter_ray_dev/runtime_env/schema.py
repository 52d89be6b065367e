"""The JSON Schema of runtime_env.yaml, shipped inside the package (the frontend's form is
generated from the same file)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

SCHEMA_FILE = "runtime_env.schema.json"


@cache
def runtime_env_schema() -> dict[str, Any]:
    text = files(__package__).joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator() -> Any:
    import jsonschema  # a jupyter_server dependency (through jupyter_events)

    schema = runtime_env_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_validator() -> Any:
    return _validator()
