"""One configuration: every ``c.RayDev`` setting reaches the capability config that names
it, with the same default either way, and image builders are registered by name (in code
or through an installed package's entry point)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from promote_helpers import SUMMARY, sample_project
from traitlets import TraitError
from traitlets.config import Config

from jupyter_ray_dev.app import RayDev
from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.jobs import JobsConfig
from jupyter_ray_dev.k8s.client import KubeConfig
from jupyter_ray_dev.local import config_from_jupyter
from jupyter_ray_dev.promote import PromoteConfig, PromoteOptions, PromoteService
from jupyter_ray_dev.promote import builder_registry as registry
from jupyter_ray_dev.promote.builders import Availability, BuildResult
from jupyter_ray_dev.runtime_env import RuntimeEnvConfig
from jupyter_ray_dev.service import ClusterConfig, RayDevService
from jupyter_ray_dev.settings import from_settings, traits_read
from jupyter_ray_dev.storage.service import StorageConfig

CONFIGS = [ClusterConfig, JobsConfig, RuntimeEnvConfig, StorageConfig, KubeConfig, PromoteConfig]
# what a config needs that is no setting: the resolved Jupyter root
GIVEN = {JobsConfig: {"root_dir": Path("/r")}, RuntimeEnvConfig: {"root_dir": Path("/r")},
         PromoteConfig: {"root_dir": Path("/r")}}


def test_every_setting_is_read_by_a_capability_and_every_read_is_a_setting():
    traits = set(RayDev.class_own_traits(config=True))
    read = {t for cls in CONFIGS for t in traits_read(cls).values()}
    assert read == traits


def test_a_config_built_directly_has_the_defaults_the_server_gives(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the trait's default reads it
    values = RayDev().ray_dev_settings("/r").values
    for cls in CONFIGS:
        derived = from_settings(cls, values, **GIVEN.get(cls, {}))
        direct = cls(**GIVEN.get(cls, {}))
        for f in fields(cls):
            if f.name == "roots_config":  # the trait's default is this machine's mounts
                continue
            assert getattr(derived, f.name) == getattr(direct, f.name), (cls.__name__, f.name)


def test_a_setting_reaches_its_capability_through_the_config_files(tmp_path):
    config = Config({"RayDev": {
        "ray_address": "http://head:8265", "request_timeout": 7,
        "shared_roots": ["/mnt/a"], "job_upload_limit_mib": 2, "job_store_path": "",
        "storage_roots": [{"name": "art", "url": str(tmp_path)}], "storage_timeout": 4,
        "kubernetes_timeout": 3, "promote_registry": "registry.example.com/team",
        "promote_store_path": str(tmp_path / "p.sqlite"), "promote_kaniko": {"context": "x"},
    }})
    service = RayDevService(config_from_jupyter(config, root_dir=str(tmp_path)))
    try:
        assert service.cluster_config.request_timeout == 7
        assert service.dashboard_address == "http://head:8265"
        assert service.jobs.config.shared_roots == (Path("/mnt/a"),)
        assert service.jobs.config.upload_limit == 2 * 1024 * 1024
        assert service.jobs.config.store_path is None  # "": the default place
        assert service.runtime_env.config.upload_limit == 2 * 1024 * 1024
        assert [r["name"] for r in service.storage.roots()] == ["art"]
        assert service.storage.timeout == 4
        assert service.kubernetes.client.timeout == 3
        assert service.promote.config.registry == "registry.example.com/team"
        assert service.promote.config.store_path == tmp_path / "p.sqlite"
        assert service.promote.config.kaniko == {"context": "x"}
        assert service.promote.config.root_dir == tmp_path.resolve()
    finally:
        asyncio.run(service.close())


class _Podman:
    """A site's builder: available, builds nothing (the registry is what is under test)."""

    name = "podman"
    context_form = "folder"

    def __init__(self, config, storage, kubernetes):
        self.registry = config.registry

    async def availability(self):
        return Availability("podman", True, "")

    async def build(self, context, image, build_args, push, emit):
        await emit(f"podman build {image}")
        return BuildResult(image=image, image_id="sha256:0", digest=None)


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)


async def _summary():
    return SUMMARY


def test_a_registered_builder_is_offered_chosen_and_accepted_by_name(clean_registry, tmp_path):
    with pytest.raises(BadRequest) as err:
        PromoteOptions.from_request({"builder": "podman"})
    assert err.value.details["field"] == "builder"
    with pytest.raises(TraitError):
        RayDev(config=Config({"RayDev": {"promote_builder": "podman"}}))

    registry.register_builder("podman", _Podman)
    assert PromoteOptions.from_request({"builder": "podman"}).builder == "podman"
    assert RayDev(config=Config({"RayDev": {"promote_builder": "podman"}})).promote_builder \
        == "podman"
    root = tmp_path / "root"
    root.mkdir()
    sample_project(root)
    service = PromoteService(PromoteConfig(root_dir=root, registry="registry.example.com/t",
                                           store_path=tmp_path / "p.sqlite", builder="podman"),
                             _summary)

    async def build():
        plan = await service.plan("proj", {"entrypoint": "proj/train.ipynb"})
        events = [e async for e in service.build("proj", {"entrypoint": "proj/train.ipynb",
                                                            "push": False})]
        await service.close()
        return plan, events

    plan, events = asyncio.run(build())
    assert service.builders["podman"].registry == "registry.example.com/t"
    assert {"name": "podman", "available": True, "reason": ""} in plan["builders"]
    assert events[-1]["promotion"]["builder"] == "podman"
    assert events[-1]["promotion"]["status"] == "built"
    assert any(e.get("text", "").startswith("podman build registry.example.com/t/proj:")
               for e in events)


def test_an_installed_package_adds_a_builder_through_its_entry_point(clean_registry, tmp_path,
                                                                      monkeypatch):
    site = tmp_path / "site"
    dist = site / "site_builders-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: site-builders\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[jupyter_ray_dev.builders]\npodman = site_builders:Podman\n"
        "broken = site_builders:missing\n")
    (site / "site_builders.py").write_text(
        "from test_settings import _Podman as Podman\n")
    monkeypatch.syspath_prepend(str(site))
    assert "podman" in registry.builder_names()
    # a broken entry point is skipped, not fatal
    assert "broken" not in registry.builder_names()
    assert registry.builder_names()[:3] == ("buildah", "docker", "kaniko")
    del sys.modules["site_builders"]
