"""Which image builders a server offers, by name: the built-in ones, any a site registers
with :func:`register_builder`, and any an installed package declares in the entry point
group ``jupyter_ray_dev.builders``::

    # pyproject.toml of a site package
    [project.entry-points."jupyter_ray_dev.builders"]
    podman = "site_builders:podman_builder"

An entry point's object is a :data:`BuilderFactory`: called once per promote service
with the server's :class:`PromoteConfig` and the storage and Kubernetes capabilities
(factories: ``None`` when not configured); it returns a :class:`Builder` whose ``name``
is the registered one. ``c.RayDev.promote_builder``, a request's ``builder`` and the
command lines' ``--builder`` accept every registered name (:data:`BUILDER_NAMES`).

Cheap to import (the request models read it): a builder's module loads when a promote
service makes the builders.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .builders import Builder
    from .config import PromoteConfig

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "jupyter_ray_dev.builders"
BuilderFactory = Callable[["PromoteConfig", "Callable[[], Any] | None",
                           "Callable[[], Any] | None"], "Builder"]
_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")


def _buildah(config: PromoteConfig, storage: Any, kubernetes: Any) -> Builder:
    from .builders import BuildahBuilder, BuildahConfig

    return BuildahBuilder(BuildahConfig(
        root=config.buildah_root, runroot=config.buildah_runroot,
        storage_driver=config.buildah_storage_driver, tls_verify=config.tls_verify))


def _docker(config: PromoteConfig, storage: Any, kubernetes: Any) -> Builder:
    from .builders import DockerBuilder, DockerConfig

    return DockerBuilder(DockerConfig(host=config.docker_host))


def _kaniko(config: PromoteConfig, storage: Any, kubernetes: Any) -> Builder:
    from .builders import KanikoBuilder

    return KanikoBuilder(config.kaniko, storage, kubernetes)


_registered: dict[str, BuilderFactory] = {"buildah": _buildah, "docker": _docker,
                                          "kaniko": _kaniko}
_entry_points_loaded = False


def register_builder(name: str, factory: BuilderFactory) -> None:
    """Offer ``factory``'s builder under ``name`` (registering a name again replaces it)."""
    if not _NAME.match(name):
        raise ValueError(f"A builder name is lower-case letters, digits, - and _: {name!r}.")
    _registered[name] = factory


def registered_builders() -> dict[str, BuilderFactory]:
    """Every builder by name, in registration order (the built-in ones first)."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        _load_entry_points()
    return dict(_registered)


def builder_names() -> tuple[str, ...]:
    return tuple(registered_builders())


class _Names(Sequence[str]):
    """The registered names, read when asked: a model's and argparse's ``choices``."""

    def __getitem__(self, index: Any) -> Any:
        return builder_names()[index]

    def __len__(self) -> int:
        return len(builder_names())


BUILDER_NAMES: Sequence[str] = _Names()


def make_builders(config: PromoteConfig, storage: Callable[[], Any] | None,
                  kubernetes: Callable[[], Any] | None) -> dict[str, Builder]:
    return {name: factory(config, storage, kubernetes)
            for name, factory in registered_builders().items()}


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in _registered:
            log.warning("jupyter_ray_dev: builder %r of %s is ignored: a builder of that name "
                        "is already registered.", point.name, point.value)
            continue
        try:
            register_builder(point.name, point.load())
        except Exception as err:  # a broken site package must not take promotion down
            log.warning("jupyter_ray_dev: builder %r (%s) could not be loaded: %s",
                        point.name, point.value, err)
