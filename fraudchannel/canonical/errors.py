"""The one error canonicalisation raises: a value that cannot be canonicalised."""

from __future__ import annotations


class InvalidTarget(ValueError):
    """The value cannot be canonicalised; never guessed.

    `code` is a machine-readable slug ("url-host-invalid", "iban-checksum", ...; the full list is
    in `fraudchannel.canonical.REJECTION_CODES`); `detail` is one human sentence that may quote
    a short, truncated piece of the input.
    """

    code: str
    detail: str

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[InvalidTarget], tuple[str, str]]:
        """Pickle with both arguments (ValueError's default would pass only the message)."""
        return (InvalidTarget, (self.code, self.detail))


def quote(value: str, limit: int = 60) -> str:
    """Return `value` as a short repr for an error detail (at most `limit` characters shown)."""
    if len(value) > limit:
        value = value[:limit] + "…"
    return repr(value)
