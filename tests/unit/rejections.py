"""The rejection a canonicalisation call raises, for the unit tests."""

from __future__ import annotations

import pytest

from fraudchannel.canonical import InvalidTarget


def code_of(call: object, *args: str) -> str:
    """Call `call(*args)`, which must raise InvalidTarget; return its code."""
    assert callable(call)
    with pytest.raises(InvalidTarget) as info:
        call(*args)
    return info.value.code
