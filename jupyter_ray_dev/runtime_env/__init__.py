"""Runtime environments: edits to the project's ``runtime_env.yaml`` (read by
``project.runtime_env``), its schema, its validation (Ray's own, plus the warnings Ray
cannot give), and installs onto shared storage.

Importing this package is cheap: ruamel.yaml, jsonschema and ray are imported on first use.
"""

from .document import (
    add_pip_package,
    merge,
    remove_pip_package,
    set_env_var,
    unset_env_var,
)
from .schema import runtime_env_schema
from .service import InvalidRuntimeEnv, RuntimeEnvConfig, RuntimeEnvService, StaleEtag
from .validate import Finding, Place, Verdict, format_path, validate

__all__ = [
    "Finding",
    "InvalidRuntimeEnv",
    "Place",
    "RuntimeEnvConfig",
    "RuntimeEnvService",
    "StaleEtag",
    "Verdict",
    "add_pip_package",
    "format_path",
    "merge",
    "remove_pip_package",
    "runtime_env_schema",
    "set_env_var",
    "unset_env_var",
    "validate",
]
