"""Request models: one definition per request, read by every face.

A request is a frozen dataclass whose fields are declared with ``option(...)``: the
name (the JSON key), the type (the annotation), the default, the help text and how
it appears on a command line. From that one definition:

- ``Model.from_json(body)`` validates a JSON body (REST) into the model; a bad field
  is a ``BadRequest`` naming it and the fix;
- ``add_options(parser, Model)`` adds the fields to an argparse parser (the CLI's
  subcommand, or an IPython magic's parser, which is argparse too);
- ``options_body(Model, namespace)`` turns the parsed options back into the JSON body,
  which then goes through ``from_json`` like a REST body.

So a field added to a model is accepted by the REST API, the CLI and the magics with
the same name, default and checks; nothing else has to change.

Command-line form derived from the type: ``name_x: str | None`` is ``--name-x VALUE``;
``bool`` defaulting to True is ``--no-name``; defaulting to False, ``--name``;
``bool | None`` is the pair ``--name`` / ``--no-name``; ``choices`` become argparse
choices; ``float``/``int`` parse as numbers. ``flags=()`` keeps a field off the command
line (e.g. a manifest given as JSON); ``cli=(Flag(...), ...)`` spells it out, e.g.
several flags filling one object field (``--cpus`` -> ``resources.num_cpus``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, TypeVar, Union

from .errors import BadRequest

M = TypeVar("M", bound="RequestModel")
REQUIRED: Any = dataclasses.MISSING  # option(REQUIRED, ...): a field the request must give


@dataclass(frozen=True)
class Flag:
    """One command-line option (or positional) of a field."""

    names: tuple[str, ...]  # ("--cpus",) or ("file",) for a positional
    help: str
    key: str | None = None  # fills this key of the field's object (``resources.num_cpus``)
    type: Callable[[str], Any] | None = None
    nargs: Any = None
    metavar: str | None = None
    const: Any = None  # with nargs="?": the value of the option given without one


@dataclass(frozen=True)
class Spec:
    help: str
    check: Callable[[Any, str], Any] | None  # the JSON value -> the field's value, or BadRequest
    short: str | None  # e.g. "-e"
    metavar: str | None
    choices: tuple[str, ...] | None
    flags: tuple[Flag, ...] | None  # None: derived from the type; (): not on a command line
    path: str | None  # "cwd" or "project": a command line gives a local path (see faces)
    raw: bool  # the check takes the JSON value as it came and does all the checking


def option(default: Any = None, *, help: str, check: Callable[[Any, str], Any] | None = None,
           short: str | None = None, metavar: str | None = None,
           choices: tuple[str, ...] | None = None, cli: tuple[Flag, ...] | None = None,
           path: str | None = None, raw: bool = False,
           default_factory: Callable[[], Any] | None = None) -> Any:
    """A request field: its default, help text and command-line form (see the module doc).

    ``check`` validates the JSON value beyond its type (it gets the value and the field's
    name, and returns the value to keep; with ``raw``, the value as it came, unchecked);
    ``path`` marks a file or folder path, which a
    command line gives relative to the current directory (``cwd``) or to the project
    (``project``) and the core takes relative to the Jupyter root."""
    meta = {"spec": Spec(help, check, short, metavar, choices, cli, path, raw)}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Field:
    name: str
    kind: type  # str, bool, int, float, tuple, dict, or a RequestModel
    optional: bool  # None is accepted
    default: Any
    spec: Spec

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@cache
def fields_of(cls: type) -> tuple[Field, ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with option()")
        kind, optional = _unwrap(hints[f.name])
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING \
            else f.default
        out.append(Field(f.name, kind, optional, default, spec))
    return tuple(out)


def _unwrap(hint: Any) -> tuple[type, bool]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        kind, _ = _unwrap(args[0])
        return kind, True
    return (origin or hint), False


class RequestModel:
    """Base of the request dataclasses: JSON in, JSON out, command-line options."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    what: ClassVar[str] = "request"  # named in the unknown-field message

    @classmethod
    def from_json(cls: type[M], body: Any) -> M:
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise BadRequest(f"The {cls.what} body must be a JSON object.", field="body")
        fields = fields_of(cls)
        names = [f.name for f in fields]
        unknown = sorted(set(body) - set(names))
        if unknown:
            raise BadRequest(f"Unknown field {unknown[0]!r}: a {cls.what} takes "
                             f"{_listed(names)}.", field=unknown[0])
        values = {f.name: _value(f, body.get(f.name)) for f in fields
                  if f.name in body or f.default is REQUIRED}
        return cls(**values)

    from_request = from_json

    @classmethod
    def coerce(cls: type[M], body: Any) -> M:
        """The model itself, or one validated from a JSON body (what the core accepts)."""
        return body if isinstance(body, cls) else cls.from_json(body)

    def to_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields_of(type(self))}


def _listed(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def _plain(value: Any) -> Any:
    if isinstance(value, RequestModel):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _value(f: Field, value: Any) -> Any:
    """The type checks the annotation implies, then the field's own ``check`` (a ``raw``
    check does all of it: it gets the JSON value as it came)."""
    spec = f.spec
    if spec.raw:
        return spec.check(value, f.name)  # type: ignore[misc]
    if value is None or (value == "" and f.kind is str and f.optional):
        if f.optional:
            return None
        if f.default is not None and f.default is not REQUIRED:  # null: "the default"
            return f.default
        raise BadRequest(f"Give `{f.name}`: {spec.help}", field=f.name)
    if f.kind is bool and not isinstance(value, bool):
        raise BadRequest(f"`{f.name}` must be true or false.", field=f.name)
    if f.kind is str and not isinstance(value, str):
        raise BadRequest(f"`{f.name}` must be a string.", field=f.name)
    if f.kind in (int, float) and (isinstance(value, bool)
                                   or not isinstance(value, (int, float))):
        raise BadRequest(f"`{f.name}` must be a number.", field=f.name)
    if spec.check is not None:
        return spec.check(value, f.name)
    if spec.choices is not None and value not in spec.choices:
        raise BadRequest(f"`{f.name}` must be one of {', '.join(spec.choices)}.", field=f.name)
    return value


# --- command lines -------------------------------------------------------------------------------

def _dest(field: Field, flag: Flag | None = None) -> str:
    return field.name if flag is None or flag.key is None else f"{field.name}__{flag.key}"


def add_options(parser: Any, model: type[RequestModel], *, only: tuple[str, ...] | None = None,
                exclude: tuple[str, ...] = ()) -> None:
    """Add the model's fields to an argparse parser (or argument group)."""
    for f in fields_of(model):
        if f.name in exclude or (only is not None and f.name not in only):
            continue
        spec = f.spec
        if spec.flags is not None:
            for flag in spec.flags:
                kw: dict[str, Any] = {"help": flag.help, "type": flag.type, "nargs": flag.nargs,
                                      "metavar": flag.metavar, "const": flag.const}
                kw = {k: v for k, v in kw.items() if v is not None}
                if flag.names[0].startswith("-"):
                    kw["dest"] = _dest(f, flag)
                    kw["default"] = None
                    if flag.type in (int, float):
                        kw.setdefault("metavar", "N")
                parser.add_argument(*flag.names, **kw)
            continue
        names = (spec.short, f.flag) if spec.short else (f.flag,)
        if f.kind is bool and f.optional:
            pair = parser.add_mutually_exclusive_group()
            pair.add_argument(*names, dest=f.name, action="store_true", default=None,
                              help=spec.help)
            pair.add_argument(f"--no-{f.flag[2:]}", dest=f.name, action="store_false")
        elif f.kind is bool:
            negated = f.default is True
            parser.add_argument(f"--no-{f.flag[2:]}" if negated else f.flag, dest=f.name,
                                action="store_const", const=not f.default, default=None,
                                help=spec.help)
        else:
            kw = {"dest": f.name, "default": None, "help": spec.help}
            if spec.metavar:
                kw["metavar"] = spec.metavar
            if spec.choices:
                kw["choices"] = spec.choices
            if f.kind in (int, float):
                kw["type"] = f.kind
            parser.add_argument(*names, **kw)


def options_body(model: type[RequestModel], args: argparse.Namespace,
                 paths: Callable[[Any, str, str], Any] | None = None) -> dict[str, Any]:
    """The JSON body the parsed options stand for: only what was given, so the model's
    defaults apply as they do to a REST body. ``paths(value, how, field)`` turns a local
    path field (``how``: its ``path`` kind) into the core's form."""
    body: dict[str, Any] = {}
    for f in fields_of(model):
        flags = f.spec.flags if f.spec.flags is not None else (None,)
        for flag in flags:
            dest = f.name if flag is not None and not flag.names[0].startswith("-") \
                else _dest(f, flag)
            value = getattr(args, dest, None)
            if value is None:
                continue
            if f.spec.path and paths is not None:
                value = paths(value, f.spec.path, f.name)
            if flag is not None and flag.key is not None:
                body.setdefault(f.name, {})[flag.key] = value
            else:
                body[f.name] = value
    return body
