"""Configs as data: nested dataclasses of plain fields, walked, checked and changed by field path.

A config is a dataclass whose fields are ``bool``, ``int``, ``float`` or ``str`` (each may allow
``None``) or another such dataclass, a group (``TrainConfig.model`` is a ``ModelConfig``). A field is
named by its path, ``model.layers``; where no other field has its own name, that name is enough
(``layers``), and a config may add aliases (``model`` for ``model.kind``). Everything here is
generic, for every trainer's config: list the fields with the help their docstrings give, check
each value's type, set values by path, and read a config back from JSON, nested as
``dataclasses.asdict`` writes it or flat as older run folders hold it. ``baselines.config_cli``
builds command lines on it. Only the standard library: the GPU machine imports this too.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: The types a field may hold (besides a group).
PLAIN_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class ConfigField:
    """One plain field of a (nested) config."""

    path: str
    """Dotted from the top config, e.g. ``model.layers``."""
    type: type
    """``bool``, ``int``, ``float`` or ``str``."""
    optional: bool
    """Whether ``None`` is allowed."""
    default: Any
    help: str
    """The field's docstring, on one line."""

    @property
    def name(self) -> str:
        """The field's own name (the last part of its path): what messages call it."""
        return self.path.rpartition(".")[2]


def fail(name: str, message: str) -> None:
    """Stop on a bad value with a message that starts with the field's name."""
    raise ValueError(f"{name} {message}")


def check_choice(name: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        fail(name, f"must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def check_positive(config: Any, names: tuple[str, ...]) -> None:
    """Each of the integer fields ``names`` of ``config`` is at least 1, or a ``ValueError`` naming it."""
    for name in names:
        if getattr(config, name) < 1:
            fail(name, f"must be a positive integer, got {getattr(config, name)!r}")


def _plain_type(annotation: Any, where: str) -> tuple[type, bool]:
    """(the plain type, whether None is allowed) of a field's annotation."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    plain = [member for member in members if member is not type(None)]
    if len(plain) != 1 or plain[0] not in PLAIN_TYPES:
        raise TypeError(
            f"{where}: a config field must be bool, int, float or str (or | None), not {annotation}"
        )
    return plain[0], len(plain) < len(members)


def _groups_and_fields(config_type: type, prefix: str = "") -> Iterator[tuple[str, type | None, Any, str]]:
    """(path, group type or None, annotation, help) of every field, groups before their fields."""
    hints = typing.get_type_hints(config_type)
    docs = _attribute_docs(config_type)
    for f in dataclasses.fields(config_type):
        path, annotation = prefix + f.name, hints[f.name]
        if dataclasses.is_dataclass(annotation):
            yield path, annotation, annotation, docs.get(f.name, "")
            yield from _groups_and_fields(annotation, path + ".")
        else:
            yield path, None, annotation, docs.get(f.name, "")


def config_fields(config_type: type) -> list[ConfigField]:
    """Every plain field of ``config_type`` and its groups, in declaration order."""
    defaults = values_by_path(config_type())
    return [
        ConfigField(path, *_plain_type(annotation, f"{config_type.__name__}.{path}"), defaults[path], doc)
        for path, group, annotation, doc in _groups_and_fields(config_type)
        if group is None
    ]


def group_paths(config_type: type) -> dict[str, type]:
    """The path of every group (nested config) and its dataclass."""
    return {path: group for path, group, _, _ in _groups_and_fields(config_type) if group is not None}


def field_names(config_type: type, aliases: Mapping[str, str] | None = None) -> dict[str, ConfigField]:
    """Every name a field answers to: its path, its own name where no other field has it, and
    ``aliases`` (name -> path)."""
    fields = config_fields(config_type)
    by_path = {f.path: f for f in fields}
    counts: dict[str, int] = {}
    for f in fields:
        counts[f.name] = counts.get(f.name, 0) + 1
    names = {f.name: f for f in fields if counts[f.name] == 1}
    for alias, path in (aliases or {}).items():
        if path not in by_path:
            raise ValueError(f"alias {alias!r} names no field of {config_type.__name__}: {path!r}")
        names[alias] = by_path[path]
    return {**names, **by_path}


@functools.cache  # read once per class: validate() walks the fields on every run
def _attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass's source and its dataclass bases' (a subclass's
    own docstring wins; empty where there is no source)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is not object and dataclasses.is_dataclass(klass):
            docs.update(_own_attribute_docs(klass))
    return docs


def _own_attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each field written in ``cls``'s own source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for statement, following in zip(body, body[1:]):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


# ---- values -------------------------------------------------------------------------------------


def values_by_path(config: Any) -> dict[str, Any]:
    """``{path: value}`` of every plain field of ``config``."""
    values = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            values.update({f"{f.name}.{path}": v for path, v in values_by_path(value).items()})
        else:
            values[f.name] = value
    return values


def replace_paths(config: Any, values: Mapping[str, Any]) -> Any:
    """A copy of ``config`` with ``values`` (path -> value) set."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        head, dot, rest = path.partition(".")
        if dot:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    for head, group_values in nested.items():
        top[head] = replace_paths(getattr(config, head), group_values)
    return dataclasses.replace(config, **top)


def check_types(config: Any) -> None:
    """Each field holds its declared type, or a ``ValueError`` naming it (JSON, ``--set`` and callers
    can pass anything). ``int`` is accepted for ``float``; ``bool`` never for numbers."""
    for path, group, annotation, _ in _groups_and_fields(type(config)):
        value, name = _get(config, path), path.rpartition(".")[2]
        if group is not None:
            if not isinstance(value, group):
                fail(name, f"must be a {group.__name__}, got {value!r}")
            continue
        kind, optional = _plain_type(annotation, path)
        if value is None:
            if not optional:
                fail(name, "must be set (it cannot be None), got None")
        elif kind is bool:
            if not isinstance(value, bool):
                fail(name, f"must be true or false, got {value!r}")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                fail(name, f"must be an integer, got {value!r}")
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                fail(name, f"must be a number, got {value!r}")
        elif not isinstance(value, str):
            fail(name, f"must be a string, got {value!r}")


def _get(config: Any, path: str) -> Any:
    for part in path.split("."):
        if not dataclasses.is_dataclass(config):  # a bad group value: its fields cannot be read
            return None
        config = getattr(config, part)
    return config


def from_dict(
    config_type: type,
    data: Mapping[str, Any],
    aliases: Mapping[str, str] | None = None,
    source: str = "config",
) -> Any:
    """A config from a JSON object: nested as ``dataclasses.asdict`` writes it, flat (each field by a
    name ``field_names`` knows, as configs were written before they were nested), or a mix; fields
    not given keep their defaults. Values are not checked (``check_types`` does that)."""
    names, groups = field_names(config_type, aliases), group_paths(config_type)
    values: dict[str, Any] = {}
    unknown: list[str] = []

    def read(items: Mapping[str, Any], prefix: str) -> None:
        for key, value in items.items():
            name = prefix + key
            if name in groups and isinstance(value, Mapping):
                read(value, name + ".")
            elif name in names:
                values[names[name].path] = value
            else:
                unknown.append(name)

    read(data, "")
    if unknown:
        raise ValueError(f"{source} has unknown fields {sorted(unknown)}")
    return replace_paths(config_type(), values)


__all__ = [
    "ConfigField",
    "check_choice",
    "check_positive",
    "check_types",
    "config_fields",
    "fail",
    "field_names",
    "from_dict",
    "group_paths",
    "replace_paths",
    "values_by_path",
]
