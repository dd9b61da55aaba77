"""``read_config``: the one reader of model configs (``config.json`` and dicts) into dataclasses.

Every model's config is a dataclass whose fields are the model's shape, nothing about training or
files. A config dict names its fields; missing fields keep the dataclass default (the published
full-size model), unknown fields are an error (a typo must not silently build another model), and
each value is checked against the field's type, recursing into nested dataclasses so the error
names the full path (``params.initializer.stride``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from unflat.errors import ConfigError

T = TypeVar("T")

# Keys the fixtures' config.json files carry beside the model's fields: which architecture, and
# notes about how the reference vectors were made. They say nothing about the shapes.
FILE_KEYS = ("architecture", "input", "seed", "note")


def read_config(
    kind: type[T],
    values: object,
    where: str,
    *,
    base: T | None = None,
    aliases: dict[str, str] | None = None,
    skip: tuple[str, ...] = FILE_KEYS,
    prefix: str = "",
) -> T:
    """Build dataclass ``kind`` from ``values``, starting from ``base`` (else the defaults).

    A config class with a ``validate()`` method has it called on the result.

    ``where`` names the config in errors (``"depth_pro"``, ``"params.initializer"``);
    ``aliases`` maps other spellings of a field to its name (timm's ``init_values``); keys in
    ``skip`` are ignored at the top level.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"the {where} config must be a JSON object, got {values!r}", _hint(kind))
    fields = {field.name: field for field in dataclasses.fields(kind)}  # type: ignore[arg-type]
    # A file key that is also a field (a training config's seed) is read, not skipped.
    values = {key: value for key, value in values.items() if key not in skip or key in fields}
    for alias, name in (aliases or {}).items():
        if alias in values:
            values.setdefault(name, values.pop(alias))
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {where} config keys: {unknown}", _hint(kind))
    hints = typing.get_type_hints(kind)
    start = base if base is not None else kind()
    read = {name: getattr(start, name) for name in fields if fields[name].init}
    for name, value in values.items():
        label = prefix + name
        read[name] = _read_value(hints[name], value, label, getattr(start, name), aliases)
    config = kind(**read)
    if not prefix and callable(check := getattr(config, "validate", None)):
        check()  # the whole config's own consistency rules, once every field is read
    return config


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``, or a ``ConfigError`` saying what is wrong with the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}", "pass a readable file") from None
    except ValueError as error:
        raise ConfigError(f"{path} is not valid JSON: {error}", "fix the JSON syntax") from None
    except RecursionError:
        # Python's JSON parser recurses once per nested list or object.
        raise ConfigError(f"{path} nests JSON too deeply to read", "fix the JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} holds a JSON {type(data).__name__}, not an object",
            'a config file holds one JSON object, e.g. {"architecture": "depth_pro"}',
        )
    return data


def config_dict(config: object, architecture: str | None = None) -> dict[str, Any]:
    """``config`` as a JSON-able dict (tuples as lists) that ``read_config`` reads back."""
    data = dataclasses.asdict(config)  # type: ignore[call-overload]
    data = json.loads(json.dumps(data))
    return {"architecture": architecture, **data} if architecture else data


def check_range(
    label: str,
    value: float | Sequence[float],
    low: float,
    high: float,
    hint: str,
    *,
    open_low: bool = False,
) -> None:
    """``ConfigError`` naming ``label`` and the allowed range unless ``value`` (each value of a
    list) lies in ``low..high`` (above ``low`` when ``open_low``). For the sizes a model is built
    from: a zero, negative or astronomical width must be refused before it reaches torch as a
    division by zero, a negative dimension or an allocation that never ends."""
    values = list(value) if isinstance(value, Sequence) else [value]
    if all((low < item if open_low else low <= item) and item <= high for item in values):
        return
    if isinstance(low, int) and isinstance(high, int) and not open_low:
        allowed = f"{low}..{high}"
    else:
        allowed = f"{'(' if open_low else '['}{low}, {high}]"
    subject = "each value" if isinstance(value, Sequence) else "it"
    shown = _short(values if isinstance(value, Sequence) else value)
    raise ConfigError(f"{label} is {shown}; {subject} must lie in {allowed}", hint)


def _hint(kind: type) -> str:
    names = [field.name for field in dataclasses.fields(kind)]  # type: ignore[arg-type]
    return f"known keys: {names}"


def _read_value(
    hint: Any, value: object, label: str, default: object, aliases: dict[str, str] | None
) -> Any:
    """``value`` checked against the annotation ``hint`` (nested dataclasses recurse)."""
    options = _union_members(hint)
    if type(None) in options:
        if value is None:
            return None
        options = [option for option in options if option is not type(None)]
    if len(options) != 1:
        return value  # an unusual union: nothing narrower to check against
    (kind,) = options
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        return read_config(
            kind, value, label, base=default, aliases=aliases, skip=(), prefix=label + "."
        )
    if origin is tuple:
        return _read_tuple(kind, value, label)
    return _read_scalar(kind, value, label)


def _union_members(hint: Any) -> list[Any]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return list(typing.get_args(hint))
    return [hint]


def _read_tuple(kind: Any, value: object, label: str) -> tuple:
    args = typing.get_args(kind)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{label} must be a list, got {value!r}", "e.g. [5, 11]")
    if args and args[-1] is not Ellipsis and len(args) != len(value):
        raise ConfigError(
            f"{label} must have {len(args)} values, got {len(value)}", "give one value per slot"
        )
    element = args[0] if args else Any
    return tuple(_read_scalar(element, item, label) for item in value)


def _read_scalar(kind: Any, value: object, label: str) -> Any:
    hint = "use the type of the published field"
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false, got {value!r}", hint)
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{label} must be an integer, got {value!r}", hint)
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{label} must be a number, got {value!r}", hint)
        # NaN, infinity and integers past float's range (1e400 in a file) are no setting.
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"{label} must be a finite number, got {_short(value)}", hint)
        return number
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{label} must be a string, got {value!r}", hint)
        return value
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


__all__ = ["FILE_KEYS", "check_range", "config_dict", "read_config", "read_config_file"]
