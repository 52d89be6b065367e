"""A sample project for the promote tests: notebook + module + data file + runtime_env
(pip and env_vars) + ignored folders, and a cluster summary of the shape the
dashboard returns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
from promote_base import RAY_VERSION

GIB = 1024**3

SUMMARY = {
    "ray_version": RAY_VERSION,  # the Ray of the stand-in base image
    "python_version": "3.11.7",
    "nodes": [
        {"node_id": "h", "is_head": True, "state": "ALIVE",
         "resources_total": {"CPU": 2.0, "memory": 4 * GIB, "object_store_memory": GIB,
                             "my_custom": 4.0}},
        {"node_id": "w1", "is_head": False, "state": "ALIVE",
         "resources_total": {"CPU": 4.0, "GPU": 1.0, "memory": 8 * GIB}},
        {"node_id": "w2", "is_head": False, "state": "ALIVE",
         "resources_total": {"CPU": 4.0, "GPU": 1.0, "memory": 8 * GIB}},
        {"node_id": "w3", "is_head": False, "state": "DEAD",
         "resources_total": {"CPU": 64.0}},
    ],
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def sample_project(root: Path, name: str = "proj", pip: list[str] | None = None,
                   env_vars: dict[str, str] | None = None) -> Path:
    import yaml

    project = root / name
    notebook(project / "train.ipynb",
             "%pip install tqdm",
             "import helpers\nprint('RESULT', helpers.answer(), open('data/params.txt').read())")
    write(project / "helpers.py", "def answer():\n    return 42\n")
    write(project / "data" / "params.txt", "lr=0.1")
    write(project / ".gitignore", "checkpoints/\n*.log\n")
    write(project / "checkpoints" / "big.ckpt", "x" * 1000)
    write(project / "run.log", "noise")
    write(project / ".dockerignore", "scratch/\n")
    write(project / "scratch" / "notes.txt", "not for images")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "helpers.cpython-311.pyc").write_bytes(b"\0")
    env = {"pip": pip if pip is not None else ["pyyaml>=5", "packaging"],
           "env_vars": env_vars if env_vars is not None else {"MODE": "prod"},
           "excludes": ["*.tmp"]}
    (project / "runtime_env.yaml").write_text(yaml.safe_dump(env))
    write(project / "cache.tmp", "temp")
    return project


def build_wheel(src: Path, out: Path, name: str = "raydevdep", version: str = "1.2.3") -> Path:
    """A real wheel of a tiny package with no dependencies, so pip installs it offline
    (hatchling: already in the venv, it builds without network)."""
    pkg = src / name
    write(pkg / "pyproject.toml", f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{name}"
        version = "{version}"
        """)
    write(pkg / name / "__init__.py", f"VERSION = {version!r}\n")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(pkg)], check=True)
    return next(out.glob(f"{name}-{version}-*.whl"))


def dev_raycluster(name: str = "ray-dev") -> dict:
    """A dev RayCluster as a team runs one: JupyterLab in the head (its port, token env, a
    git-sync sidecar, a hostPath cache and a Jupyter config map), a CPU and a GPU worker
    group with resources, rayStartParams and placement, and an NFS-backed PVC everywhere."""
    shared = {"name": "shared", "persistentVolumeClaim": {"claimName": "ray-dev-shared"}}
    shm = {"name": "dshm", "emptyDir": {"medium": "Memory"}}
    mounts = [{"name": "shared", "mountPath": "/mnt/shared"},
              {"name": "dshm", "mountPath": "/dev/shm"}]
    gpu_toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}

    def worker(group, cpu, memory, gpu, params, selector, tolerations, replicas, lo, hi):
        limits = {"cpu": cpu, "memory": memory, **({"nvidia.com/gpu": gpu} if gpu else {})}
        return {
            "groupName": group, "replicas": replicas, "minReplicas": lo, "maxReplicas": hi,
            "rayStartParams": params,
            "template": {"spec": {
                "serviceAccountName": "ray-dev",
                "nodeSelector": selector,
                "tolerations": tolerations,
                "containers": [{
                    "name": "ray-worker", "image": "ghcr.io/example/ray-dev:2.60.0-py311",
                    "env": [{"name": "NCCL_DEBUG", "value": "WARN"},
                            {"name": "RAY_DEV_ARTIFACTS", "value": "/mnt/shared/artifacts"}],
                    "resources": {"requests": dict(limits), "limits": dict(limits)},
                    "volumeMounts": mounts}],
                "volumes": [shared, shm]}},
        }

    return {
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": name,
                     "annotations": {"ray.io/overwrite-container-cmd": "true"}},
        "spec": {
            "rayVersion": "2.60.0",
            "enableInTreeAutoscaling": True,
            "autoscalerOptions": {"upscalingMode": "Default", "idleTimeoutSeconds": 300,
                                  "image": "ghcr.io/example/ray-dev:2.60.0-py311"},
            "headGroupSpec": {
                "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},
                "template": {"spec": {
                    "serviceAccountName": "ray-dev",
                    "securityContext": {"fsGroup": 100},
                    "nodeSelector": {"pool": "system"},
                    "containers": [
                        {"name": "ray-head", "image": "ghcr.io/example/ray-dev:2.60.0-py311",
                         "command": ["/bin/bash", "-lc", "--"],
                         "args": ["jupyter lab --port=8888 & ${KUBERAY_GEN_RAY_START_CMD}"],
                         "ports": [{"name": "gcs", "containerPort": 6379},
                                   {"name": "dashboard", "containerPort": 8265},
                                   {"name": "client", "containerPort": 10001},
                                   {"name": "metrics", "containerPort": 8080},
                                   {"name": "jupyter", "containerPort": 8888}],
                         "env": [{"name": "JUPYTER_TOKEN", "valueFrom": {"secretKeyRef": {
                                     "name": "ray-dev-jupyter", "key": "token"}}},
                                 {"name": "AWS_REGION", "value": "eu-west-1"}],
                         "envFrom": [{"secretRef": {"name": "ray-dev-s3", "optional": True}}],
                         "resources": {"requests": {"cpu": "2", "memory": "8Gi"},
                                       "limits": {"memory": "8Gi"}},
                         "volumeMounts": [*mounts,
                                          {"name": "jupyter-config",
                                           "mountPath": "/home/ray/.jupyter"},
                                          {"name": "pip-cache", "mountPath": "/home/ray/.cache"}]},
                        {"name": "git-sync", "image": "registry.k8s.io/git-sync:v4.2.1",
                         "volumeMounts": [{"name": "repo", "mountPath": "/repo"}]}],
                    "volumes": [shared, shm,
                                {"name": "jupyter-config",
                                 "configMap": {"name": "ray-dev-jupyter-config"}},
                                {"name": "pip-cache", "hostPath": {"path": "/var/cache/pip"}},
                                {"name": "repo", "emptyDir": {}}]}},
            },
            "workerGroupSpecs": [
                worker("cpu", "4", "16Gi", None, {}, {"pool": "cpu"}, [], 1, 0, 4),
                worker("gpu", "8", "32Gi", "1", {"num-gpus": "1"},
                       {"pool": "gpu", "nvidia.com/gpu.product": "NVIDIA-A10G"},
                       [gpu_toleration], 2, 1, 2),
            ],
        },
    }
