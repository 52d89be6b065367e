"""Image builders behind one interface (:class:`Builder`): say whether they can run
here and why not, build, push, stream output, record the digest.

``buildah`` (daemonless: the default on a head pod), ``docker`` (a reachable Docker
engine) and ``kaniko`` (a Kubernetes Job, for pods where neither runs); a site adds its
own by name (``promote.builder_registry``).
"""

from .base import Availability, Builder, BuildFailed, BuildResult, Emit
from .buildah import BuildahBuilder, BuildahConfig
from .docker import DockerBuilder, DockerConfig
from .kaniko import KanikoBuilder, KanikoConfig

__all__ = ["Availability", "BuildFailed", "BuildResult", "BuildahBuilder",
           "BuildahConfig", "Builder", "DockerBuilder", "DockerConfig", "Emit", "KanikoBuilder",
           "KanikoConfig"]
