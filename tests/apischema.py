"""Validate API responses against the schemas of the shipped OpenAPI document."""

from __future__ import annotations

import jsonschema

from jupyter_ray_dev.handlers import openapi_document


def validate_response(body: object, schema_name: str) -> None:
    doc = openapi_document()
    schema = {"components": doc["components"], "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema).validate(body)
