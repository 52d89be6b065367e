"""Runtime environments: the project's ``runtime_env.yaml``, its schema, its validation
(Ray's own, plus the warnings Ray cannot give), and installs onto shared storage.

Importing this package is cheap: ruamel.yaml, jsonschema and ray are imported on first use.
"""

from .document import (
    RUNTIME_ENV_FILE,
    add_pip_package,
    dump,
    load_runtime_env,
    merge,
    parse,
    plain,
    remove_pip_package,
    set_env_var,
    unset_env_var,
)
from .schema import runtime_env_schema
from .service import InvalidRuntimeEnv, RuntimeEnvConfig, RuntimeEnvService, StaleEtag
from .validate import Finding, Place, Verdict, format_path, validate

__all__ = [
    "RUNTIME_ENV_FILE",
    "Finding",
    "InvalidRuntimeEnv",
    "Place",
    "RuntimeEnvConfig",
    "RuntimeEnvService",
    "StaleEtag",
    "Verdict",
    "add_pip_package",
    "dump",
    "format_path",
    "load_runtime_env",
    "merge",
    "parse",
    "plain",
    "remove_pip_package",
    "runtime_env_schema",
    "set_env_var",
    "unset_env_var",
    "validate",
]
