"""The project: the Jupyter root and confinement to it, which folder is a project (the
nearest holding ``runtime_env.yaml``), the files Ray would pack from it (Ray's ignore
rules), a notebook as a script, the project's runtime_env file, and the record of what
each run used (``run_record``, written by the ``ray_dev_record`` launcher a job's driver
runs through).

jobs, runtime_env, promote and the driver build on this; it depends only on the shared
utilities. Importing it is cheap: its modules, nbconvert and ruamel.yaml load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import by_module, exports

if TYPE_CHECKING:
    from .discovery import (
        find_project,
        project_dir,
        resolve_file_and_project,
        resolve_project_folder,
    )
    from .files import (
        DASHBOARD_UPLOAD_LIMIT,
        UploadSize,
        default_excludes,
        describe_size,
        iter_kept_files,
        measure_upload,
    )
    from .notebook import ConvertedNotebook, convert_notebook, write_module
    from .root import ROOT_ENV, resolve_in_root, to_api_path
    from .runtime_env import (
        RUNTIME_ENV_FILE,
        EnvFile,
        InvalidYaml,
        dump,
        load_project_runtime_env,
        load_runtime_env,
        parse,
        plain,
        read_file,
        with_project_paths,
    )
    from .service import ProjectService

# Loaded on first use (PEP 562): the server reads only the root's environment variable at
# start-up, and the kept-files walk (pathspec, re2) is not needed until a job or an export
_LAZY = by_module(
    discovery="find_project project_dir resolve_file_and_project resolve_project_folder",
    files="DASHBOARD_UPLOAD_LIMIT UploadSize default_excludes describe_size iter_kept_files "
    "measure_upload",
    notebook="ConvertedNotebook convert_notebook write_module",
    root="ROOT_ENV resolve_in_root to_api_path",
    runtime_env="RUNTIME_ENV_FILE EnvFile InvalidYaml dump load_project_runtime_env "
    "load_runtime_env parse plain read_file with_project_paths",
    service="ProjectService",
)

__all__ = sorted(_LAZY)
__getattr__ = exports(__name__, _LAZY)
