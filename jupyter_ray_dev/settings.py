"""Capability configuration read from the server's settings (``c.RayDev.*``) by name.

A capability's config dataclass says, per field, which ``RayDev`` trait sets it::

    @dataclass(frozen=True)
    class PromoteConfig:
        registry: str = setting("promote_registry", "")

and ``from_settings(PromoteConfig, values)`` builds it from the traits' values, which
``RayDev.ray_dev_settings()`` reads the same way for the server, a kernel and the CLI. A new
setting is a trait and the field that reads it: nothing is copied in between. The
field's default is what a config built directly (a test, a benchmark) gets;
``tests/test_settings.py`` checks it agrees with the trait's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING


def setting(trait: str, default: Any = _MISSING, *, convert: Callable[[Any], Any] | None = None,
            default_factory: Any = _MISSING) -> Any:
    """A dataclass field set from the ``RayDev`` trait ``trait`` (through ``convert``)."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"trait": trait, "convert": convert})


def from_settings(cls: type[T], values: Mapping[str, Any], **given: Any) -> T:
    """``cls`` with each field that names a trait set from ``values`` (trait name -> value);
    ``given`` fields (what is not a setting, e.g. the resolved Jupyter root) win."""
    kwargs = dict(given)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        trait = f.metadata.get("trait")
        if trait is None or f.name in kwargs or trait not in values:
            continue
        convert = f.metadata["convert"]
        kwargs[f.name] = convert(values[trait]) if convert else values[trait]
    return cls(**kwargs)


def traits_read(cls: type) -> dict[str, str]:
    """field name -> the trait it is read from, for ``cls``'s settings."""
    return {f.name: f.metadata["trait"] for f in dataclasses.fields(cls)
            if "trait" in f.metadata}


# conversions from a trait's value to what a capability works with
def optional_path(value: str) -> Path | None:
    """"" (the trait's "use the default") -> None."""
    return Path(value) if value else None


def paths(values: Any) -> tuple[Path, ...]:
    return tuple(Path(v) for v in values)


def mib(value: float) -> int:
    """MiB -> bytes."""
    return int(value * 1024 * 1024)


def as_kwargs(config: Any) -> dict[str, Any]:
    """A settings dataclass as keyword arguments (its fields named as the parameters)."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
