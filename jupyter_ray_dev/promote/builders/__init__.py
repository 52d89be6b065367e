"""Image builders behind one interface (:class:`Builder`): say whether they can run
here and why not, build, push, stream output, record the digest.

``buildah`` (daemonless: the default on a head pod), ``docker`` (a reachable Docker
engine) and ``kaniko`` (a Kubernetes Job, for pods where neither runs) are registered
here; a site adds its own with ``register_builder`` or an entry point (``registry``).
"""

from .base import Availability, Builder, BuildFailed, BuildResult, Emit
from .buildah import BuildahBuilder, BuildahConfig
from .docker import DockerBuilder, DockerConfig
from .kaniko import KanikoBuilder, KanikoConfig
from .registry import (
    ENTRY_POINT_GROUP,
    BuilderFactory,
    builder_names,
    make_builders,
    register_builder,
    registered_builders,
)

register_builder("buildah", lambda config, storage, kubernetes: BuildahBuilder(BuildahConfig(
    root=config.buildah_root, runroot=config.buildah_runroot,
    storage_driver=config.buildah_storage_driver, tls_verify=config.tls_verify)))
register_builder("docker", lambda config, storage, kubernetes: DockerBuilder(
    DockerConfig(host=config.docker_host)))
register_builder("kaniko", lambda config, storage, kubernetes: KanikoBuilder(
    config.kaniko, storage, kubernetes))

__all__ = ["ENTRY_POINT_GROUP", "Availability", "BuildFailed", "BuildResult", "BuildahBuilder",
           "BuildahConfig", "Builder", "BuilderFactory", "DockerBuilder", "DockerConfig", "Emit",
           "KanikoBuilder", "KanikoConfig", "builder_names", "make_builders", "register_builder",
           "registered_builders"]
