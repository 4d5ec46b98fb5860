"""Command lines generated from config dataclasses (``baselines.configs``): one typer option per field.

Each field is an option spelled by its path, ``--model.layers 3`` (dashes for underscores:
``--model.feature-dim 8``), and by every other name the field answers to: its own name where no other
field has it (``--layers 3``) and the config's aliases (``--model softmax`` for ``model.kind``).
``--set KEY=VALUE`` (repeatable, applied after the options) reaches any field by the same names
(``--set model.layers=3``, ``--set layers=3``). Values are read by the field's type: integers,
numbers, ``true``/``false`` (or ``1``/``0``), text, and ``none`` where ``None`` is allowed; a bad one
stops with a ``ValueError`` naming the option. Each option's help is its field's docstring.

A trainer's command: ``options = ConfigOptions(TrainConfig)``, then
``app.command("train")(options.command(run, *arguments))`` where ``run(*arguments, **given)`` turns
``options.values(given)`` (path -> value) into its config.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer

from baselines.configs import ConfigField, field_names

#: The parameter that collects ``--set KEY=VALUE``.
ASSIGNMENTS = "assignments"
_METAVARS = {bool: "BOOL", int: "INT", float: "FLOAT", str: "TEXT"}


def parse_value(field: ConfigField, text: str, option: str) -> Any:
    """The value of ``field`` written as ``text``, or a ``ValueError`` naming ``option``."""
    if field.optional and text.lower() in ("none", "null"):
        return None
    if field.type is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{option} expects true or false; got {text!r}")
        return text.lower() in ("true", "1")
    try:
        if field.type is int:
            return int(text)
        if field.type is float:
            return float(text)
    except ValueError:
        kind = "an integer" if field.type is int else "a number"
        raise ValueError(f"{option} expects {kind}; got {text!r}") from None
    return text


def _spelling(name: str) -> str:
    return "--" + name.replace("_", "-")


class ConfigOptions:
    """The options of ``config_type``'s fields (but those in ``exclude``, e.g. a positional argument).

    ``aliases``: more names (name -> path). ``shown_defaults``: the default to show in the help where
    it is not the field's own (path -> text).
    """

    def __init__(
        self,
        config_type: type,
        *,
        aliases: Mapping[str, str] | None = None,
        exclude: Sequence[str] = (),
        shown_defaults: Mapping[str, str] | None = None,
    ) -> None:
        self.config_type = config_type
        self.names = {
            name: f for name, f in field_names(config_type, aliases).items() if f.path not in exclude
        }
        self.shown_defaults = dict(shown_defaults or {})
        #: The command's parameter of each field (a Python name: ``model__layers``).
        self.parameter_fields = {f.path.replace(".", "__"): f for f in self.names.values()}

    def field(self, name: str) -> ConfigField:
        """The field called ``name`` (dashes read as underscores), or a ``ValueError``."""
        found = self.names.get(name.replace("-", "_"))
        if found is None:
            raise ValueError(f"{self.config_type.__name__} has no field {name!r}")
        return found

    def parameters(self) -> list[inspect.Parameter]:
        """The typer options: one per field, then ``--set``."""
        spellings: dict[str, list[str]] = {}
        for name, f in self.names.items():
            spellings.setdefault(f.path, []).append(_spelling(name))
        parameters = []
        for parameter, f in self.parameter_fields.items():
            declared = sorted(
                spellings[f.path], key=lambda spelling: (spelling != _spelling(f.path), spelling)
            )
            default = self.shown_defaults.get(f.path, f.default)
            option = typer.Option(
                None,  # absent: the config's own value
                *declared,
                help=f"{f.help.replace('``', '')} [default: {default}]",
                metavar=_METAVARS[f.type] + ("|none" if f.optional else ""),
                show_default=False,
            )
            parameters.append(_keyword(parameter, str | None, option))
        assign = typer.Option(
            None,
            "--set",
            help="any field as KEY=VALUE, by path or name (repeatable; after the options)",
            metavar="KEY=VALUE",
        )
        parameters.append(_keyword(ASSIGNMENTS, list[str] | None, assign))
        return parameters

    def assignments(self, items: Sequence[str]) -> dict[str, Any]:
        """``--set KEY=VALUE`` texts as path -> value."""
        values = {}
        for item in items:
            key, sep, text = item.partition("=")
            f = self.names.get(key.replace("-", "_")) if sep else None
            if f is None:
                raise ValueError(
                    f"--set expects KEY=VALUE with KEY a {self.config_type.__name__} field; got {item!r}"
                )
            values[f.path] = parse_value(f, text, f"--set {key}")
        return values

    def values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The fields set on the command line, path -> value: the options typer passed (``None``
        where absent), then the ``--set`` assignments in order."""
        values = {}
        for parameter, f in self.parameter_fields.items():
            if given.get(parameter) is not None:
                values[f.path] = parse_value(f, given[parameter], _spelling(f.path))
        values.update(self.assignments(given.get(ASSIGNMENTS) or ()))
        return values

    def command(self, run: Callable[..., Any], *arguments: inspect.Parameter) -> Callable[..., Any]:
        """``run`` with the signature typer reads: the ``arguments`` (typer arguments of ``run``'s
        own), then the options. Typer calls it with every parameter by name."""

        def command(**given: Any) -> Any:
            return run(**given)

        parameters = [*arguments, *self.parameters()]
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        command.__name__, command.__doc__ = run.__name__, run.__doc__
        return command


def _keyword(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


__all__ = ["ASSIGNMENTS", "ConfigOptions", "parse_value"]
