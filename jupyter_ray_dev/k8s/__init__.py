"""Kubernetes: this pod's RayCluster, applying promoted KubeRay objects, kaniko builds.

Imports nothing of the ``kubernetes`` client until a call needs it.
"""

from .kaniko import KanikoBuild, kaniko_job
from .service import KubernetesService

__all__ = ["KanikoBuild", "KubernetesService", "kaniko_job"]
