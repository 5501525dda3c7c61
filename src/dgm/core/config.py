"""Build a model's frozen Config dataclass from ``key=value`` strings, checking keys and types first.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class C:
...     latent_dim: int = 8
>>> parse_overrides(C, ["latent_dim=4"])
C(latent_dim=4)
"""

import dataclasses
import typing
from typing import Any, Literal, get_args, get_origin

from .errors import ConfigError


def _coerce(name: str, text: str, annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Literal:
        choices = get_args(annotation)
        for choice in choices:
            if str(choice) == text:
                return choice
        raise ConfigError(f"{name}={text!r}: expected one of {', '.join(map(str, choices))}")
    if annotation is bool:
        lowered = text.lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
        raise ConfigError(f"{name}={text!r}: expected true or false")
    if annotation in (int, float):
        try:
            return annotation(text)
        except ValueError:
            raise ConfigError(f"{name}={text!r}: expected {annotation.__name__}") from None
    if annotation is str:
        return text
    if origin is tuple:
        (item,) = {a for a in get_args(annotation) if a is not Ellipsis}
        return tuple(_coerce(name, part, item) for part in text.split(",") if part)
    raise ConfigError(f"{name}: values of type {annotation} cannot be set from the command line")


def parse_overrides(config_cls: type, items: list[str]) -> Any:
    """Return ``config_cls(**overrides)`` after checking every key and value.

    ``items`` are ``key=value`` strings. Unknown keys and unparsable values raise ``ConfigError``
    listing what was expected; range checks live in each Config's ``__post_init__``.
    """
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value")
        overrides[key.strip()] = text.strip()
    return config_from_dict(config_cls, overrides, from_strings=True)


def config_from_dict(config_cls: type, values: dict[str, Any], from_strings: bool = False) -> Any:
    """Build a Config from a dict (e.g. read back from ``config.json``), rejecting unknown keys."""
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(
                f"unknown config key {key!r} for {config_cls.__name__}; expected one of: {', '.join(names)}"
            )
        if from_strings:
            value = _coerce(key, value, hints[key])
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return config_cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{config_cls.__name__}: {error}") from None


def check(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition`` holds; for ``__post_init__`` range checks."""
    if not condition:
        raise ConfigError(message)
