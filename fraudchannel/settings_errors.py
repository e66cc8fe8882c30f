"""Invalid settings in plain words: one line per bad setting, naming the variable the operator
actually set (DATABASE_URL, FRAUDCHANNEL_DATABASE_URL or FRAUDCHANNEL_<NAME>) and why, with no
pydantic wording or links, and never a database URL's value (it may hold a password)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import AliasChoices, ValidationError
from pydantic_core import ErrorDetails

from fraudchannel.settings import ENV_PREFIX, Settings

_DSN_EXAMPLE = "postgresql://USER@HOST:5432/DATABASE"
# Plain words for pydantic's error types:
# https://docs.pydantic.dev/latest/errors/validation_errors/
_REASONS: Mapping[str, str] = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be {expected}",
    "url_scheme": f"must be a PostgreSQL URL starting with postgresql://, like {_DSN_EXAMPLE}",
}


def describe_invalid_settings(
    exc: ValidationError, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Return one line per invalid setting in `exc`: the variable as set, and why, in plain words.

    The variable named is the one that was read: DATABASE_URL or FRAUDCHANNEL_DATABASE_URL,
    whichever Settings took, FRAUDCHANNEL_<NAME> otherwise. The value is repeated, except a
    database URL's (it may hold a password). Example: "invalid setting FRAUDCHANNEL_PORT: must
    be a whole number, not 'abc'".
    """
    env = os.environ if environ is None else environ
    lines = []
    for error in exc.errors():
        field = _field_named(str(error["loc"][0])) if error["loc"] else None
        if field is None:
            lines.append(f"invalid settings: {_plain(error)}")
            continue
        reason = _plain(error)
        if field != "database_url":
            reason += f", not {error['input']!r}"
        lines.append(f"invalid setting {_env_name(field, env)}: {reason}")
    return lines


def _field_named(loc: str) -> str | None:
    """Return the Settings field that `loc` (a field name or one of its aliases) stands for."""
    for name, info in Settings.model_fields.items():
        if loc == name or loc in _env_names(name, info.validation_alias):
            return name
    return None


def _env_names(field: str, alias: object) -> list[str]:
    """Return the variables that set `field`, the one Settings prefers first."""
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias]
    return [ENV_PREFIX + field.upper()]


def _env_name(field: str, environ: Mapping[str, str]) -> str:
    """Return the variable `field` was read from: as spelt in `environ` (case is ignored)."""
    names = _env_names(field, Settings.model_fields[field].validation_alias)
    spelt = {key.upper(): key for key in environ}
    for name in names:
        if name.upper() in spelt:
            return name if name in environ else spelt[name.upper()]
    return names[0]


def _plain(error: ErrorDetails) -> str:
    """Return why a value was refused, in words: "must be at most 65535"."""
    kind, ctx = error["type"], dict(error.get("ctx") or {})
    if kind in _REASONS:
        numbers = {k: f"{v:g}" if isinstance(v, float) else v for k, v in ctx.items()}
        return _REASONS[kind].format(**numbers)
    if kind.startswith("url_"):  # url_parsing, url_syntax_violation, url_too_long, url_type
        fault = str(ctx.get("error", ""))
        why = (
            "this one names no host"
            if "empty host" in fault
            else "its port is not a number from 1 to 65535"
            if "invalid port" in fault
            else "this one is not a URL"
        )
        return f"must be a PostgreSQL URL like {_DSN_EXAMPLE} ({why})"
    message = error["msg"]
    for prefix, plain in (("Input should be ", "must be "), ("Value error, ", "")):
        if message.startswith(prefix):
            return plain + message.removeprefix(prefix)
    return message
